# Sourced by the scripts that run h3-static inside a network namespace of
# their own on a net_tap vdev (the interop, browser and capture tests, and
# scripts/run.sh): the start-up wait and the bounded stop they all need.
#
# The PMD creates the tap interface in the namespace h3-static runs in; the
# kernel side then needs nothing but an address (issue 9), TAP_KERNEL_IP
# (198.18.0.1/24: RFC 2544 benchmarking addresses, nothing leaves the
# namespace). Every wait is bounded; only the PID started here is signalled.

TAP_KERNEL_IP=${TAP_KERNEL_IP:-198.18.0.1/24}

# tap_server_start NS IF OUT ERR PREFIX H3 [EAL ARGS...] -- [H3 OPTIONS...]
#   Starts H3 in NS with `--vdev net_tap0,iface=IF` and the test EAL set
#   (no hugepages, no shared config, file prefix PREFIX), stdout to OUT and
#   stderr to ERR (the same file is fine); waits up to 10 s for IF, gives
#   the kernel side TAP_KERNEL_IP, waits up to 10 s for "serving". Sets
#   SERVER_PID (also on failure, for the caller's cleanup). Returns 1 with
#   the reason and the server's output on stdout when it did not start.
tap_server_start() {
  local ns=$1 ifname=$2 out=$3 err=$4 prefix=$5 bin=$6
  shift 6
  local eal=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do eal+=("$1"); shift; done
  [ $# -gt 0 ] && shift  # the --
  local cmd=(ip netns exec "$ns" "$bin" --no-huge --no-shconf --no-pci -m 512 --no-telemetry -l 0
    --log-level error --file-prefix "$prefix" --vdev "net_tap0,iface=$ifname" "${eal[@]}" -- "$@")
  if [ "$out" = "$err" ]; then "${cmd[@]}" > "$out" 2>&1 &
  else "${cmd[@]}" > "$out" 2> "$err" &
  fi
  SERVER_PID=$!
  local _
  for _ in $(seq 100); do
    ip -n "$ns" link show "$ifname" >/dev/null 2>&1 && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  if ! ip -n "$ns" link show "$ifname" >/dev/null 2>&1; then
    echo "interface $ifname never appeared; the server said:"; cat "$out"
    [ "$out" = "$err" ] || cat "$err"
    return 1
  fi
  ip -n "$ns" addr add "$TAP_KERNEL_IP" dev "$ifname"
  ip -n "$ns" link set "$ifname" up
  for _ in $(seq 100); do
    grep -q serving "$out" 2>/dev/null && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  if ! grep -q serving "$out"; then
    echo "the server did not start:"; cat "$out"
    [ "$out" = "$err" ] || cat "$err"
    return 1
  fi
}

# wait_exit PID TENTHS: waits up to TENTHS x 0.1 s for PID (a child of this
# shell: not from a $(...) subshell) to exit; sets WAIT_RC to its exit
# status, or to "" if it is still running.
wait_exit() {
  local pid=$1 tenths=$2 _
  WAIT_RC=
  for _ in $(seq "$tenths"); do
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid"
      WAIT_RC=$?
      return
    fi
    sleep 0.1
  done
}

# stop_pid PID: SIGTERM, up to 10 s, then SIGKILL (cleanup paths).
stop_pid() {
  local pid=$1 _
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null
}
