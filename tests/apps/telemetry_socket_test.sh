#!/bin/bash
# Telemetry and logs of a running program: quic-perf loopback (client and
# server in one process over its own net_ring pair, two lcores, no
# hugepages, telemetry on) with --stats-interval 1 and
# --log-level=dquic.runtime:debug. While it runs, a python3 client of the
# telemetry v2 socket (AF_UNIX SOCK_SEQPACKET, <runtime dir>/dpdk_telemetry.v2)
# reads /dquic/stats, /dquic/top and /dquic/crypto until the server's
# connections show bytes, RTT and cwnd, and checks the JSON; DPDK's
# dpdk-telemetry.py reads /dquic/top too when installed. Afterwards: exit 0,
# "stats: port=..." lines on stdout, and the DEBUG lines of connections
# opened and closed.
#
# Usage: telemetry_socket_test.sh PATH/TO/quic-perf
# Every wait is bounded; only the process this script started is stopped,
# by PID; its runtime directory (a file prefix of its own) is removed.
set -u

QP=${1:?usage: $0 PATH/TO/quic-perf}
PREFIX=dquic-tele-$$
TMP=$(mktemp -d /tmp/telemetry-socket.XXXXXX)
PID=
FAILS=0

log() { echo "telemetry_socket: $*"; }
fail() { log "FAIL: $*"; FAILS=$((FAILS + 1)); }

# The EAL's runtime directory for our prefix (eal_create_runtime_dir).
if [ "$(id -u)" = 0 ]; then
  RUNDIR=/var/run/dpdk/$PREFIX
else
  RUNDIR=${XDG_RUNTIME_DIR:-/tmp}/dpdk/$PREFIX
fi
SOCK=$RUNDIR/dpdk_telemetry.v2

stop_pid() {
  local pid=$1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null
}
cleanup() {
  stop_pid "$PID"
  [ -n "${KEEP_TMP:-}" ] || rm -rf "$TMP"
  rm -f "$RUNDIR"/* 2>/dev/null
  rmdir "$RUNDIR" 2>/dev/null
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

command -v python3 >/dev/null || { log "FAIL: python3 not installed"; exit 1; }
[ -x "$QP" ] || { log "FAIL: $QP is not executable"; exit 1; }
# Two CPUs we may run on: one lcore per side.
CPUS=$(python3 -c 'import os; c = sorted(os.sched_getaffinity(0))[:2]; print(",".join(map(str, c)) if len(c) == 2 else "")')
[ -n "$CPUS" ] || { log "FAIL: loopback needs two CPUs"; exit 1; }

# 8 s of bulk download over 4 connections; --max-seconds bounds the run.
"$QP" -l "$CPUS" --no-huge --no-shconf --no-pci -m 1024 --file-prefix "$PREFIX" \
  --log-level=dquic.runtime:debug -- \
  loopback --conns 4 --duration 8 --max-seconds 60 --quiet --stats-interval 1 \
  >"$TMP/out" 2>"$TMP/err" &
PID=$!

# The socket appears once the EAL is up (--no-shconf still makes the
# runtime directory in DPDK 22.11).
for _ in $(seq 200); do
  [ -S "$SOCK" ] && break
  kill -0 "$PID" 2>/dev/null || break
  sleep 0.1
done
[ -S "$SOCK" ] || fail "no telemetry socket at $SOCK"

# Poll until the server's connections have bytes, an RTT sample and a
# window (at most 40 x 0.25 s after the first connection), then check.
python3 - "$SOCK" "$TMP" "$PID" <<'PYEOF' || FAILS=$((FAILS + 1))
import json, os, socket, sys, time

sock_path, tmp, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
errors = []

def query(cmd):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(5)
    try:
        s.connect(sock_path)
        json.loads(s.recv(16384).decode())  # the info message
        s.send(cmd.encode())
        reply = json.loads(s.recv(65536).decode())
    finally:
        s.close()
    return reply

# /dquic/top is a dict keyed by rank ("0" the largest): as a list.
def ranked(d):
    if not isinstance(d, dict):
        return d
    return [d[k] for k in sorted(d, key=int)]

def alive():
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False

def good_top(top):
    return (isinstance(top, list) and len(top) > 0 and
            all(c["bytes"] > 0 and c["srtt_us"] > 0 and c["min_rtt_us"] > 0 and
                c["cwnd"] > 0 for c in top))

stats = top = crypto = None
deadline = time.monotonic() + 30
while time.monotonic() < deadline and alive():
    try:
        stats = query("/dquic/stats")["/dquic/stats"]
        top = ranked(query("/dquic/top")["/dquic/top"])
        crypto = query("/dquic/crypto")["/dquic/crypto"]
    except (OSError, ValueError, KeyError) as e:
        print("telemetry_socket: query failed (retrying):", e)
        time.sleep(0.25)
        continue
    if (good_top(top) and stats and stats.get("rx_packets", 0) > 0 and crypto
            and crypto.get("sealed", 0) > 0):
        break
    time.sleep(0.25)

with open(os.path.join(tmp, "telemetry.json"), "w") as f:
    json.dump({"stats": stats, "top": top, "crypto": crypto}, f, indent=1)

def check(cond, what):
    if not cond:
        errors.append(what)

check(stats is not None, "/dquic/stats never answered")
check(top is not None, "/dquic/top never answered")
check(crypto is not None, "/dquic/crypto never answered")
if stats:
    check(stats.get("workers") == 1, "stats: workers %r" % stats.get("workers"))
    check(stats.get("rx_packets", 0) > 0 and stats.get("tx_bytes", 0) > 0,
          "stats: no traffic counted")
    check(stats.get("connections_active", 0) >= 1, "stats: no active connection")
if top is not None:
    check(good_top(top), "top: no connection with bytes, RTT and cwnd: %r" % top)
    if isinstance(top, list) and top:
        check(len(top) <= 10, "top: more than the default 10")
        check(len(top) == 4, "top: %d connections, 4 expected" % len(top))
        b = [c["bytes"] for c in top]
        check(b == sorted(b, reverse=True), "top: not sorted by bytes: %r" % b)
        for c in top:
            check(c["bytes"] == c["bytes_sent"] + c["bytes_received"], "top: bytes sum %r" % c)
            check(len(c["cid"]) >= 2 and all(ch in "0123456789abcdef" for ch in c["cid"]),
                  "top: cid %r" % c["cid"])
            check(c["peer"].startswith("198.18.0.2:"), "top: peer %r" % c["peer"])
            check(c["state"] in ("handshaking", "connected", "closing", "draining"),
                  "top: state %r" % c["state"])
            check(c["worker"] == 0, "top: worker %r" % c["worker"])
            # RFC 9002 §5.3: adjusted samples are never below min_rtt.
            check(c["min_rtt_us"] <= c["srtt_us"], "top: min RTT above smoothed %r" % c)
            check("bytes_in_flight" in c and "age_ms" in c, "top: fields missing %r" % c)
    if alive():
        try:
            two = ranked(query("/dquic/top,2")["/dquic/top"])
            check(isinstance(two, list) and 1 <= len(two) <= 2, "top,2: %r" % two)
            check(query("/dquic/top,0")["/dquic/top"] is None, "top,0 is not an error")
            check(query("/dquic/top,x")["/dquic/top"] is None, "top,x is not an error")
        except (OSError, ValueError, KeyError) as e:
            errors.append("top with a parameter: %s" % e)
if crypto:
    check(isinstance(crypto.get("backend"), str) and crypto["backend"].startswith("aead="),
          "crypto: backend %r" % crypto.get("backend"))
    check(crypto.get("aead") in ("inline", "cryptodev", "cpu"), "crypto: aead %r" % crypto.get("aead"))
    check(crypto.get("hp") in ("inline", "cryptodev"), "crypto: hp %r" % crypto.get("hp"))
    check(crypto.get("lanes") == 2, "crypto: lanes %r (shared by both sides)" % crypto.get("lanes"))
    check(crypto.get("sealed", 0) > 0 and crypto.get("opened", 0) > 0, "crypto: nothing sealed/opened")
    w = crypto.get("worker0")
    check(isinstance(w, dict), "crypto: no worker0")
    if isinstance(w, dict):
        check(w.get("lane") == 1, "crypto: the server's worker 0 is lane 1, got %r" % w.get("lane"))
        check(isinstance(w.get("aead_engine"), str) and w["aead_engine"], "crypto: aead_engine")
        check(w.get("sealed") == crypto.get("sealed"), "crypto: one worker, totals differ")
for e in errors:
    print("telemetry_socket: FAIL:", e)
if errors:
    print(json.dumps({"stats_rx": stats and stats.get("rx_packets"), "top": top,
                      "crypto": crypto}, indent=1))
sys.exit(1 if errors else 0)
PYEOF

# DPDK's own client, when installed (Debian's dpdk-dev).
TOOL=$(command -v dpdk-telemetry.py || true)
if [ -n "$TOOL" ] && kill -0 "$PID" 2>/dev/null; then
  OUT=$(echo /dquic/top,1 | timeout 20 "$TOOL" -f "$PREFIX" 2>&1)
  case "$OUT" in
    *'"/dquic/top": {"0": {"cid": "'*) log "dpdk-telemetry.py: $OUT" ;;
    *) fail "dpdk-telemetry.py: unexpected output: $OUT" ;;
  esac
elif [ -z "$TOOL" ]; then
  log "dpdk-telemetry.py not installed: read with python3 only"
fi

# The run ends by itself (--duration 8); bounded at 60 s more.
for _ in $(seq 600); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$PID" 2>/dev/null; then
  fail "quic-perf still running after its duration"
  stop_pid "$PID"
fi
wait "$PID"
RC=$?
PID=
[ "$RC" = 0 ] || fail "quic-perf exited $RC: $(tail -5 "$TMP/err")"

# Both Dataplanes print their own line every second (server and client
# ports), from start to the end of the run.
N=$(grep -c '^stats: port=[0-9]* t=[0-9]*s conns=[0-9]* rx=[0-9.]*[KM]\?pps tx=[0-9.]*[KM]\?pps rx_gbps=[0-9.]* tx_gbps=[0-9.]* drops=[0-9]* handshakes=[0-9]*$' "$TMP/out")
[ "$N" -ge 8 ] || fail "$N stats lines, at least 8 expected (2 ports x 8 s)"
PORTS=$(grep -o '^stats: port=[0-9]*' "$TMP/out" | sort -u | wc -l)
[ "$PORTS" = 2 ] || fail "stats lines for $PORTS ports, 2 expected"
grep -q '^stats: port=[0-9]* t=[0-9]*s conns=[1-9]' "$TMP/out" || fail "no stats line with connections"
grep -q 'rx_gbps=0\.[0-9]*[1-9]\|rx_gbps=[1-9]' "$TMP/out" || fail "no stats line with traffic"
# --log-level=dquic.runtime:debug: each of the 4 connections, both sides.
ALL="$TMP/out $TMP/err"
OPENED=$(cat $ALL | grep -c 'dquic.runtime: worker 0: connection [0-9a-f]* opened, peer 198\.18\.0\.[12]:')
CLOSED=$(cat $ALL | grep -c 'dquic.runtime: worker 0: connection [0-9a-f]* closed ')
[ "$OPENED" -ge 8 ] || fail "$OPENED 'opened' DEBUG lines, 8 expected"
[ "$CLOSED" -ge 4 ] || fail "$CLOSED 'closed' DEBUG lines, at least 4 expected"

if [ "$FAILS" != 0 ]; then
  log "stdout:"; head -60 "$TMP/out"
  log "stderr:"; head -30 "$TMP/err"
  [ -f "$TMP/telemetry.json" ] && cat "$TMP/telemetry.json"
  log "$FAILS failure(s)"
  exit 1
fi
log "OK: $N stats lines, $OPENED opened / $CLOSED closed DEBUG lines, telemetry JSON checked"
exit 0
