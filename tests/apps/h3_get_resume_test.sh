#!/bin/bash
# h3-get --resume / --zero-rtt / --key-update (the QUIC Interop Runner's
# resumption, zerortt and keyupdate cases in the client role) against
# Debian's gtlsserver (ngtcp2 + GnuTLS) over a real kernel path: a network
# namespace of our own, gtlsserver on its kernel side, h3-get on a net_tap
# vdev inside it; the kernel side 198.18.0.1/24, our stack 198.18.0.2/24
# (RFC 2544 benchmarking addresses only; nothing leaves the namespace).
# gtlsserver runs without -q (with --no-quic-dump --no-http-dump) so that
# its log shows the packets it received: type=0RTT, and k=1 for the key
# phase of 1-RTT packets (RFC 9001 §6).
#
# 1. --resume: the first file on a full handshake, the other two on a
#    second connection that resumed (no certificate sent, RFC 8446 §2.2):
#    conn=1 resumed=0 session_tickets>=1, conn=2 resumed=1, no 0-RTT;
#    files byte for byte; exit 0.
# 2. --zero-rtt: the same and the second connection's requests in 0-RTT,
#    accepted: zero_rtt_packets_sent>=1 zero_rtt_accepted=yes; the server
#    logged 0-RTT packets it received.
# 2b. --zero-rtt against a server restarted between the two connections
#    (--resume-delay-ms 4000; GnuTLS makes a new ticket key per process):
#    the ticket is unknown, so a full handshake, 0-RTT rejected; the stack
#    sends the requests again in 1-RTT (RFC 9001 §4.6.2) and the fetch still
#    succeeds: resumed=0 zero_rtt_offered=1 zero_rtt_packets_sent>=1
#    zero_rtt_accepted=no, files byte for byte, exit 0.
# 3. --key-update on a 4 MB fetch: key_updates_initiated=1, key_updates>=1
#    (the server answered in the new phase), key_phase=1; the server logged
#    1-RTT packets with k=1.
#
# Usage: h3_get_resume_test.sh PATH/TO/h3-get
# Needs root (netns, /dev/net/tun), gtlsserver and openssl: without them it
# FAILS with the reason. Every step is bounded in time; only the processes
# this script started are killed, by PID; the namespace and temp directory
# are removed.
set -u

H3GET=${1:?usage: $0 PATH/TO/h3-get}
NS=h3r$$
PORT=4433
SERVER_IP=198.18.0.1
TMP=$(mktemp -d /tmp/h3get-resume.XXXXXX)
SERVER_PID=
GET_PID=
FAILS=0
GETS=0

log() { echo "h3_get_resume: $*"; }
fail() { log "FAIL: $*"; FAILS=$((FAILS + 1)); }

# stop PID: SIGTERM, at most 5 s, then SIGKILL.
# shellcheck source=tests/support/tap_server.sh
. "$(dirname "$0")/../support/tap_server.sh"  # stop_pid
cleanup() {
  stop_pid "$GET_PID"
  stop_pid "$SERVER_PID"
  ip netns del "$NS" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

[ "$(id -u)" = 0 ] || { log "FAIL: needs root (network namespaces, /dev/net/tun)"; exit 1; }
GTLSSERVER=$(command -v gtlsserver || echo /usr/sbin/gtlsserver)
[ -x "$GTLSSERVER" ] || { log "FAIL: gtlsserver not installed (apt-get install ngtcp2-server)"; exit 1; }
command -v openssl >/dev/null || { log "FAIL: openssl not installed"; exit 1; }
[ -x "$H3GET" ] || { log "FAIL: $H3GET is not executable"; exit 1; }

# --- the site and the server's identity (ECDSA P-256, SAN IP:198.18.0.1)
ROOT=$TMP/root
mkdir -p "$ROOT"
head -c 1024 /dev/urandom > "$ROOT/a.bin"
head -c 5000 /dev/urandom > "$ROOT/b.bin"
head -c 70000 /dev/urandom > "$ROOT/c.bin"
head -c $((4 << 20)) /dev/urandom > "$ROOT/4m.bin"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=$SERVER_IP" -addext "subjectAltName=IP:$SERVER_IP" \
  -keyout "$TMP/key.pem" -out "$TMP/cert.pem" > "$TMP/openssl.log" 2>&1 \
  || { log "FAIL: openssl could not make the certificate:"; cat "$TMP/openssl.log"; exit 1; }

# --- the namespace
ip netns add "$NS" || { log "FAIL: ip netns add"; exit 1; }
ip -n "$NS" link set lo up

# server TAG: a fresh gtlsserver (a log of its own) for one case.
server() {
  local tag=$1
  stop_pid "$SERVER_PID"
  ip netns exec "$NS" "$GTLSSERVER" --no-quic-dump --no-http-dump -d "$ROOT" --timeout=30s \
    '*' "$PORT" "$TMP/key.pem" "$TMP/cert.pem" > "$TMP/$tag.server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 50); do
    ip netns exec "$NS" ss -Hlun 2>/dev/null | grep -q ":$PORT\b" && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  log "FAIL: gtlsserver is not listening on UDP $PORT:"; tail -20 "$TMP/$tag.server.log"; exit 1
}

# get TAG ARGS... : h3-get in the namespace on a tap interface of its own
# (the kernel side gets 198.18.0.1/24 once the PMD made it). Waits at most
# 60 s for it to exit; GET_RC is its exit status (empty: it was stopped),
# its output in $TMP/TAG.out and $TMP/TAG.err. get_start and get_wait are
# its two halves.
get_start() {
  local tag=$1; shift
  GETS=$((GETS + 1))
  local ifname=h3r$GETS.$$  # IFNAMSIZ: at most 15 characters
  GET_RC=
  ip netns exec "$NS" "$H3GET" --no-huge --no-shconf --no-pci -m 512 --no-telemetry -l 0 \
    --log-level error --log-level 'pmd.net.tap*:critical' --file-prefix "h3g-resume-$tag$$" \
    --vdev "net_tap0,iface=$ifname" -- \
    --addr 198.18.0.2/24 --server "$SERVER_IP" --port "$PORT" --ca "$TMP/cert.pem" \
    --timeout-ms 30000 "$@" > "$TMP/$tag.out" 2> "$TMP/$tag.err" &
  GET_PID=$!
  for _ in $(seq 100); do
    ip -n "$NS" link show "$ifname" >/dev/null 2>&1 && break
    kill -0 "$GET_PID" 2>/dev/null || break
    sleep 0.1
  done
  if ip -n "$NS" link show "$ifname" >/dev/null 2>&1; then
    ip -n "$NS" addr add "$SERVER_IP/24" dev "$ifname"
    ip -n "$NS" link set "$ifname" up
  fi
}
get_wait() {
  local tag=$1
  for _ in $(seq 600); do
    if ! kill -0 "$GET_PID" 2>/dev/null; then wait "$GET_PID"; GET_RC=$?; break; fi
    sleep 0.1
  done
  if [ -z "$GET_RC" ]; then
    fail "$tag: h3-get still running after 60 s: stopped"
    stop_pid "$GET_PID"
  fi
  GET_PID=
}
get() { get_start "$@"; get_wait "$1"; }
show() {
  log "$1 stdout:"; cat "$TMP/$1.out"; log "$1 stderr:"; cat "$TMP/$1.err"
  log "$1 gtlsserver log (last lines):"; tail -15 "$TMP/$1.server.log"
}
# expect TAG REGEX WHAT: a line of TAG's stdout matches.
expect() {
  if grep -Eq "$2" "$TMP/$1.out"; then log "ok: $1: $3"; else fail "$1: $3: no line matching '$2'"; fi
}
same() {  # same TAG FILE...
  local tag=$1 f; shift
  for f in "$@"; do
    cmp -s "$ROOT/$f" "$TMP/$tag/$f" || fail "$tag: /$f missing or different"
  done
}

# --- 1. --resume
server resume
mkdir -p "$TMP/resume"
get resume --resume --out "$TMP/resume" /a.bin /b.bin /c.bin
if [ "$GET_RC" = 0 ]; then
  same resume a.bin b.bin c.bin
  expect resume '^conn=1 resumed=0 session_tickets=[1-9][0-9]* zero_rtt_offered=0 ' \
    "first connection: full handshake, a ticket"
  expect resume '^conn=2 resumed=1 .*zero_rtt_offered=0 zero_rtt_packets_sent=0 ' \
    "second connection resumed, no 0-RTT"
  expect resume '^quic: connections=2 resumed=1 ' "totals"
  # The server's view: its Handshake-level CRYPTO bytes per connection (in
  # the order they appear): the full handshake carries the certificate, the
  # resumed one only EncryptedExtensions and Finished (RFC 8446 §2.2).
  hs=$(awk '/ frm tx .* Handshake CRYPTO/ {
              for (i = 1; i <= NF; ++i) if ($i ~ /^len=/) n = substr($i, 5)
              if (!($2 in b)) order[++k] = $2
              b[$2] += n
            }
            END { for (i = 1; i <= k; ++i) printf "%s ", b[order[i]] }' "$TMP/resume.server.log")
  read -r hs1 hs2 hs3 <<< "$hs"
  if [ -n "${hs1:-}" ] && [ -n "${hs2:-}" ] && [ -z "${hs3:-}" ] && [ "$hs2" -lt $((hs1 - 300)) ]; then
    log "ok: resume: the server sent $hs1 handshake bytes, then $hs2 (no certificate)"
  else
    fail "resume: server handshake CRYPTO bytes per connection: '${hs}' (want two, the second without a certificate)"
  fi
  [ -s "$TMP/resume.err" ] && fail "resume: stderr not empty: $(cat "$TMP/resume.err")"
  [ "$(grep -c '^200 ' "$TMP/resume.out")" = 3 ] || fail "resume: expected 3 lines of 200"
else
  fail "h3-get --resume exited ${GET_RC:-?}"; show resume
fi

# --- 2. --zero-rtt
server zerortt
mkdir -p "$TMP/zerortt"
get zerortt --zero-rtt --out "$TMP/zerortt" /a.bin /b.bin /c.bin
if [ "$GET_RC" = 0 ]; then
  same zerortt a.bin b.bin c.bin
  expect zerortt '^conn=2 resumed=1 session_tickets=[0-9]+ zero_rtt_offered=1 zero_rtt_packets_sent=[1-9][0-9]* zero_rtt_accepted=yes ' \
    "second connection: requests in 0-RTT, accepted"
  expect zerortt '^quic: connections=2 resumed=1 .*zero_rtt_accepted=yes ' "totals"
  if grep -q 'type=0RTT' "$TMP/zerortt.server.log"; then
    log "ok: zerortt: gtlsserver received 0-RTT packets"
  else
    fail "zerortt: no 0-RTT packet in gtlsserver's log"
  fi
  [ -s "$TMP/zerortt.err" ] && fail "zerortt: stderr not empty: $(cat "$TMP/zerortt.err")"
else
  fail "h3-get --zero-rtt exited ${GET_RC:-?}"; show zerortt
fi

# --- 2b. --zero-rtt, the server restarted in between: 0-RTT rejected. h3-get
# runs in the background (get_start); once the server logged the first
# connection's CONNECTION_CLOSE (at most 20 s) the server is replaced.
server reject
mkdir -p "$TMP/reject"
get_start reject --zero-rtt --resume-delay-ms 4000 --out "$TMP/reject" /a.bin /b.bin /c.bin
closed=
for _ in $(seq 200); do
  grep -q 'frm rx .*CONNECTION_CLOSE' "$TMP/reject.server.log" && { closed=1; break; }
  kill -0 "$GET_PID" 2>/dev/null || break
  sleep 0.1
done
[ -n "$closed" ] || fail "reject: the first connection did not close within 20 s"
server reject2
get_wait reject
if [ "$GET_RC" = 0 ]; then
  same reject a.bin b.bin c.bin
  expect reject '^conn=1 resumed=0 session_tickets=[1-9]' "first connection: a ticket"
  expect reject '^conn=2 resumed=0 session_tickets=[0-9]+ zero_rtt_offered=1 zero_rtt_packets_sent=[1-9][0-9]* zero_rtt_accepted=no ' \
    "second connection: 0-RTT sent, rejected, full handshake"
  expect reject '^quic: connections=2 resumed=0 .*zero_rtt_accepted=no ' "totals"
  [ "$(grep -c '^200 ' "$TMP/reject.out")" = 3 ] || fail "reject: expected 3 lines of 200"
else
  fail "h3-get --zero-rtt (rejected) exited ${GET_RC:-?}"; show reject
fi

# --- 3. --key-update
server keyupdate
mkdir -p "$TMP/keyupdate"
get keyupdate --key-update --out "$TMP/keyupdate" /4m.bin
if [ "$GET_RC" = 0 ]; then
  same keyupdate 4m.bin
  expect keyupdate '^conn=1 .*key_updates_initiated=1 key_updates=[1-9][0-9]* key_phase=1 migrations=0$' \
    "one key update initiated, answered by the server"
  expect keyupdate '^quic: connections=1 resumed=0 .*key_updates_initiated=1 key_updates=[1-9]' \
    "totals"
  if grep -Eq 'type=1RTT.* k=1|type=1RTT\(.*k=1' "$TMP/keyupdate.server.log"; then
    log "ok: keyupdate: gtlsserver received 1-RTT packets in key phase 1"
  else
    fail "keyupdate: no 1-RTT packet with k=1 in gtlsserver's log"
  fi
else
  fail "h3-get --key-update exited ${GET_RC:-?}"; show keyupdate
fi

if [ "$FAILS" != 0 ]; then
  log "$FAILS failure(s)"; exit 1
fi
log "all passed"
exit 0
