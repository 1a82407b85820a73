# shellcheck shell=bash disable=SC2034
# Helpers shared by tests/interop/run_interop.sh (sourced): the namespace,
# our two programs on net_tap inside it, Debian's ngtcp2 peers on its kernel
# side, bounded waits, evidence extraction and the result table.
#
# Addresses (RFC 2544 / RFC 4193 ranges only; nothing leaves the namespace):
# kernel side 198.18.0.1/24 and fd00:18::1/64, our stack 198.18.0.2/24 and
# fd00:18::2/64; 198.18.0.12 is the address our NAT stage gives the client in
# rebind-addr. Every process started here is stopped by its PID.

IOP_NS=iop$$
IOP_K4=198.18.0.1
IOP_S4=198.18.0.2
IOP_K6=fd00:18::1
IOP_S6=fd00:18::2
IOP_N4=198.18.0.12
IOP_PORT=4433
IOP_SEQ=0
SRV_PID=
GET_PID=
PEER_PID=
RESULTS=()

say() { echo "interop: $*"; }

# stop_pid PID: SIGTERM, at most 5 s, then SIGKILL.
stop_pid() {
  local pid=$1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
}

ns_create() {
  ip netns add "$IOP_NS" || return 1
  ip -n "$IOP_NS" link set lo up
}
ns_remove() {
  stop_pid "$GET_PID"
  stop_pid "$SRV_PID"
  stop_pid "$PEER_PID"
  ip netns del "$IOP_NS" 2>/dev/null
}

# record CASE ROLE STATUS REASON: one row of the matrix (ROLE: ours).
record() {
  local peer=gtlsclient
  [ "$2" = client ] && peer=gtlsserver
  RESULTS+=("$1|$peer|$2|$3|$4")
  say "$1 / $2 vs $peer: $3 -- $4"
}

# new_if: a fresh tap name (<= 15 characters).
new_if() { IOP_SEQ=$((IOP_SEQ + 1)); IF=iop$IOP_SEQ.$$; IF=${IF:0:15}; }

# tap_up IF PID: wait (<= 10 s) for the PMD to create IF in the namespace,
# then give the kernel side its addresses.
tap_up() {
  local ifn=$1 pid=$2
  for _ in $(seq 100); do
    ip -n "$IOP_NS" link show "$ifn" >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  ip -n "$IOP_NS" link show "$ifn" >/dev/null 2>&1 || return 1
  ip -n "$IOP_NS" addr add "$IOP_K4/24" dev "$ifn"
  ip -n "$IOP_NS" addr add "$IOP_K6/64" dev "$ifn" nodad 2>/dev/null
  ip -n "$IOP_NS" link set "$ifn" up
}

eal_args() {
  echo "--no-huge --no-shconf --no-pci -m 512 --no-telemetry -l 0 --log-level error" \
    "--log-level pmd.net.tap*:critical --file-prefix iop$1.$$ --vdev net_tap0,iface=$1"
}

# srv_start TAG OPTIONS...: h3-static in the namespace; its stdout/stderr in
# $TMP/TAG.srv.{out,err}. Returns 1 (reason in SRV_WHY) if it did not serve.
srv_start() {
  local tag=$1; shift
  new_if
  SRV_OUT=$TMP/$tag.srv.out
  SRV_WHY=
  # shellcheck disable=SC2046
  ip netns exec "$IOP_NS" "$H3_STATIC" $(eal_args "$IF") -- --root "$WWW" \
    --addr "$IOP_S4/24" --addr6 "$IOP_S6/64" --port "$IOP_PORT" "$@" \
    > "$SRV_OUT" 2> "$TMP/$tag.srv.err" &
  SRV_PID=$!
  if ! tap_up "$IF" "$SRV_PID"; then
    SRV_WHY="tap $IF never appeared: $(head -c 300 "$TMP/$tag.srv.err")"
    stop_pid "$SRV_PID"; SRV_PID=; return 1
  fi
  for _ in $(seq 100); do
    grep -q "serving" "$SRV_OUT" 2>/dev/null && return 0
    kill -0 "$SRV_PID" 2>/dev/null || break
    sleep 0.1
  done
  SRV_WHY="h3-static did not start: $(head -c 300 "$TMP/$tag.srv.err")"
  stop_pid "$SRV_PID"; SRV_PID=; return 1
}

# srv_stop: SIGTERM, at most 40 s; SRV_RC its exit status ("" if killed).
srv_stop() {
  SRV_RC=
  [ -n "$SRV_PID" ] || return 0
  kill -TERM "$SRV_PID" 2>/dev/null
  for _ in $(seq 400); do
    if ! kill -0 "$SRV_PID" 2>/dev/null; then wait "$SRV_PID"; SRV_RC=$?; break; fi
    sleep 0.1
  done
  [ -n "$SRV_RC" ] || stop_pid "$SRV_PID"
  SRV_PID=
}

# gc TAG TIMEOUT [OPTIONS] HOST PORT URI...: gtlsclient (verbose frame log,
# no payload dumps) in the namespace, at most TIMEOUT s; GC_RC, the log in
# $TMP/TAG.gc.log, downloads in $TMP/TAG.dl/.
gc() {
  local tag=$1 t=$2; shift 2
  GC_LOG=$TMP/$tag.gc.log
  GC_DL=$TMP/$tag.dl
  mkdir -p "$GC_DL"
  timeout "$t" ip netns exec "$IOP_NS" gtlsclient --exit-on-all-streams-close --timeout=10s \
    --no-quic-dump --no-http-dump --download="$GC_DL" "$@" > "$GC_LOG" 2>&1
  GC_RC=$?
}

# peer_start TAG OPTIONS...: gtlsserver on the kernel side (any address,
# UDP $IOP_PORT), serving $WWW with $TMP/peer.{key,cert}.pem (or $PEER_KEY,
# $PEER_CERT when set); log in $TMP/TAG.peer.log.
peer_start() {
  local tag=$1; shift
  PEER_LOG=$TMP/$tag.peer.log
  ip netns exec "$IOP_NS" "$GTLSSERVER" --no-quic-dump --no-http-dump -d "$WWW" --timeout=30s \
    "$@" '*' "$IOP_PORT" "${PEER_KEY:-$TMP/peer.key.pem}" "${PEER_CERT:-$TMP/peer.cert.pem}" > "$PEER_LOG" 2>&1 &
  PEER_PID=$!
  for _ in $(seq 50); do
    ip netns exec "$IOP_NS" ss -Hlun 2>/dev/null | grep -q ":$IOP_PORT\b" && return 0
    kill -0 "$PEER_PID" 2>/dev/null || break
    sleep 0.1
  done
  return 1
}
peer_stop() { stop_pid "$PEER_PID"; PEER_PID=; }

# get TAG TIMEOUT ARGS...: h3-get (--verbose: the dataplane summary on
# stderr) in the namespace against the kernel side; GET_RC ("" if it had to
# be stopped), output in $TMP/TAG.get.{out,err}, files in $TMP/TAG.dl/; it
# trusts $TMP/peer.cert.pem (or $GET_CA when set).
get() {
  local tag=$1 t=$2; shift 2
  new_if
  GET_OUT=$TMP/$tag.get.out
  GET_ERR=$TMP/$tag.get.err
  GET_DL=$TMP/$tag.dl
  GET_RC=
  mkdir -p "$GET_DL"
  # shellcheck disable=SC2046
  ip netns exec "$IOP_NS" "$H3_GET" $(eal_args "$IF") -- --verbose --out "$GET_DL" \
    --ca "${GET_CA:-$TMP/peer.cert.pem}" --port "$IOP_PORT" "$@" > "$GET_OUT" 2> "$GET_ERR" &
  GET_PID=$!
  tap_up "$IF" "$GET_PID"
  for _ in $(seq $((t * 10))); do
    if ! kill -0 "$GET_PID" 2>/dev/null; then wait "$GET_PID"; GET_RC=$?; break; fi
    sleep 0.1
  done
  [ -n "$GET_RC" ] || stop_pid "$GET_PID"
  GET_PID=
}
get4() { get "$1" "$2" --addr "$IOP_S4/24" --server "$IOP_K4" "${@:3}"; }

# counter FILE "total GROUP" KEY: a number from a dataplane summary line.
counter() {
  sed -n "s/^$2 .*\b$3=\([0-9]*\).*/\1/p" "$1" | head -1
}

# same_files SRC_DIR DST_DIR NAME...: every NAME byte-identical; prints the
# first that is not.
same_files() {
  local src=$1 dst=$2; shift 2
  local f
  for f in "$@"; do
    cmp -s "$src/$f" "$dst/$f" || { echo "$f differs or missing"; return 1; }
  done
}
