#!/bin/bash
# h3-get (our HTTP/3 client role) against Debian's gtlsserver (ngtcp2 +
# nghttp3 + GnuTLS) over a real kernel path: a network namespace of our own,
# gtlsserver on its kernel side, h3-get started inside it on a net_tap vdev
# (so the tap interface is created in the namespace); the kernel side gets
# 198.18.0.1/24, the stack 198.18.0.2/24 (RFC 2544 benchmarking addresses
# only; nothing leaves the namespace).
#
# 1. files of 0 B, 1 KB, 1 MB and 10 MB fetched in parallel streams of one
#    connection, verified against a self-signed certificate made here
#    (--ca), compared byte for byte with cmp; exit 0, one line each. The
#    0 B one is gtlsserver's generated content for "/0" (N zero bytes for
#    "/N"): ngtcp2 0.12's server mmaps the file it serves and answers 404
#    for an empty file on disk (mmap: EINVAL).
# 2. a 404 among good paths: exit 1, the 404 line, one error line naming
#    the path; the good file is still written, the 404 body is not.
# 3. a certificate that does not match (--sni other.test): exit 1, one
#    handshake line.
# 4. an address nobody answers for: handshake timeout, exit 1, one line.
#
# Usage: h3_get_interop_test.sh PATH/TO/h3-get
# Needs root (netns, /dev/net/tun), gtlsserver and openssl: without them it
# FAILS with the reason. Every step is bounded in time; only the processes
# this script started are killed, by PID; the namespace and temp directory
# are removed.
set -u

H3GET=${1:?usage: $0 PATH/TO/h3-get}
NS=h3g$$
PORT=4433
SERVER_IP=198.18.0.1
TMP=$(mktemp -d /tmp/h3get-interop.XXXXXX)
SERVER_PID=
GET_PID=
FAILS=0

log() { echo "h3_get_interop: $*"; }
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
: > "$ROOT/empty.bin"
head -c 1024 /dev/urandom > "$ROOT/1k.bin"
head -c $((1 << 20)) /dev/urandom > "$ROOT/1m.bin"
head -c $((10 << 20)) /dev/urandom > "$ROOT/10m.bin"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=$SERVER_IP" -addext "subjectAltName=IP:$SERVER_IP" \
  -keyout "$TMP/key.pem" -out "$TMP/cert.pem" > "$TMP/openssl.log" 2>&1 \
  || { log "FAIL: openssl could not make the certificate:"; cat "$TMP/openssl.log"; exit 1; }

# --- the namespace and gtlsserver inside it (any address: the tap that
# carries 198.18.0.1 appears only when h3-get starts)
ip netns add "$NS" || { log "FAIL: ip netns add"; exit 1; }
ip -n "$NS" link set lo up
ip netns exec "$NS" "$GTLSSERVER" -q -d "$ROOT" --timeout=30s '*' "$PORT" \
  "$TMP/key.pem" "$TMP/cert.pem" > "$TMP/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 50); do
  ip netns exec "$NS" ss -Hlun 2>/dev/null | grep -q ":$PORT\b" && break
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.1
done
if ! ip netns exec "$NS" ss -Hlun 2>/dev/null | grep -q ":$PORT\b"; then
  log "FAIL: gtlsserver is not listening on UDP $PORT:"; cat "$TMP/server.log"; exit 1
fi

# get TAG ARGS... : h3-get in the namespace on a tap interface of its own;
# the kernel side gets 198.18.0.1/24 once the PMD made it. Waits at most
# 90 s for it to exit; GET_RC is its exit status (empty: it was stopped),
# its output in $TMP/TAG.out and $TMP/TAG.err.
get() {
  local tag=$1; shift
  local ifname=h3g$tag$$
  GET_RC=
  ip netns exec "$NS" "$H3GET" --no-huge --no-shconf --no-pci -m 512 --no-telemetry -l 0 \
    --log-level error --log-level 'pmd.net.tap*:critical' --file-prefix "h3g-interop-$tag$$" --vdev "net_tap0,iface=$ifname" -- \
    --addr 198.18.0.2/24 --server "$SERVER_IP" --port "$PORT" "$@" \
    > "$TMP/$tag.out" 2> "$TMP/$tag.err" &
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
  for _ in $(seq 900); do
    if ! kill -0 "$GET_PID" 2>/dev/null; then wait "$GET_PID"; GET_RC=$?; break; fi
    sleep 0.1
  done
  if [ -z "$GET_RC" ]; then
    fail "$tag: h3-get still running after 90 s: stopped"
    stop_pid "$GET_PID"
  fi
  GET_PID=
}
show() { log "$1 stdout:"; cat "$TMP/$1.out"; log "$1 stderr:"; cat "$TMP/$1.err"; }

# --- 1. the files, in parallel streams of one connection, byte for byte
mkdir -p "$TMP/dl"
get files --ca "$TMP/cert.pem" --out "$TMP/dl" /0 /1k.bin /1m.bin /10m.bin
if [ "$GET_RC" = 0 ]; then
  log "ok: h3-get exited 0"
  for f in 0 1k.bin 1m.bin 10m.bin; do
    ref=$ROOT/$f
    [ "$f" = 0 ] && ref=$ROOT/empty.bin
    size=$(stat -c %s "$ref")
    if [ ! -f "$TMP/dl/$f" ]; then fail "$f: not written"
    elif cmp -s "$ref" "$TMP/dl/$f"; then log "ok: /$f ($size bytes) identical"
    else fail "/$f: content differs ($(stat -c %s "$TMP/dl/$f") bytes received)"; fi
    grep -q "^200 $size bytes .* /$f\$" "$TMP/files.out" || fail "/$f: no line \"200 $size bytes ... /$f\""
  done
  [ -s "$TMP/files.err" ] && fail "stderr not empty on success: $(cat "$TMP/files.err")"
  [ "$(wc -l < "$TMP/files.out")" = 4 ] || fail "expected 4 response lines"
  ls "$TMP/dl" | grep -q '\.part$' && fail "a .part file was left behind"
else
  fail "h3-get (files) exited ${GET_RC:-?}"; show files
fi
[ "$FAILS" = 0 ] && cat "$TMP/files.out"

# --- 1b. the same over three connections (--conns 3: path i on connection
# i mod 3, each from its own port), byte for byte, with the --stats line
mkdir -p "$TMP/dl3"
get conns --ca "$TMP/cert.pem" --out "$TMP/dl3" --conns 3 --stats /1k.bin /1m.bin /10m.bin
if [ "$GET_RC" = 0 ]; then
  for f in 1k.bin 1m.bin 10m.bin; do
    if cmp -s "$ROOT/$f" "$TMP/dl3/$f"; then log "ok: --conns 3: /$f identical"
    else fail "--conns 3: /$f missing or different"; fi
  done
  total=$(( $(stat -c %s "$ROOT/1k.bin") + $(stat -c %s "$ROOT/1m.bin") + $(stat -c %s "$ROOT/10m.bin") ))
  grep -q "^stats: 3 responses, $total body bytes in " "$TMP/conns.out" \
    && log "ok: --stats line" || fail "--stats line missing or wrong: $(tail -1 "$TMP/conns.out")"
else
  fail "h3-get --conns 3 exited ${GET_RC:-?}"; show conns
fi

# --- 2. a 404 among good paths: exit 1 and one error line
mkdir -p "$TMP/nf"
get nf --ca "$TMP/cert.pem" --out "$TMP/nf" /1k.bin /no-such-file
if [ "$GET_RC" = 1 ] && grep -q '^404 .* /no-such-file' "$TMP/nf.out" \
   && [ "$(wc -l < "$TMP/nf.err")" = 1 ] && grep -q '^h3-get: .*/no-such-file: status 404' "$TMP/nf.err"; then
  log "ok: 404 -> exit 1, one line: $(cat "$TMP/nf.err")"
else
  fail "404: exit ${GET_RC:-?}"; show nf
fi
cmp -s "$ROOT/1k.bin" "$TMP/nf/1k.bin" || fail "404 run: 1k.bin not identical"
[ -e "$TMP/nf/no-such-file" ] && fail "404 run: the error body was written"

# --- 3. a name the certificate does not have: the handshake fails, exit 1
get badname --ca "$TMP/cert.pem" --sni other.test /1k.bin
if [ "$GET_RC" = 1 ] && grep -q 'handshake' "$TMP/badname.err" \
   && [ "$(wc -l < "$TMP/badname.err")" = 1 ]; then
  log "ok: certificate name mismatch -> exit 1, one line: $(cat "$TMP/badname.err")"
else
  fail "name mismatch: exit ${GET_RC:-?}"; show badname
fi

# --- 4. nobody at the address (no ARP answer): handshake timeout, exit 1
get nobody --server 198.18.0.3 --ca "$TMP/cert.pem" --handshake-timeout-ms 1500 /1k.bin
if [ "$GET_RC" = 1 ] && grep -q '^h3-get: handshake timeout' "$TMP/nobody.err" \
   && [ "$(wc -l < "$TMP/nobody.err")" = 1 ]; then
  log "ok: no server -> exit 1, one line: $(cat "$TMP/nobody.err")"
else
  fail "no server: exit ${GET_RC:-?}"; show nobody
fi

if [ "$FAILS" != 0 ]; then
  log "gtlsserver log:"; tail -20 "$TMP/server.log"
  log "$FAILS failure(s)"; exit 1
fi
log "all passed"
exit 0
