#!/bin/bash
# h3-static --pcap FILE --keylog K, decrypted by Debian's tshark. A network
# namespace of our own, h3-static inside it on a net_tap vdev, the kernel
# side 198.18.0.1/24, the stack 198.18.0.2/24 (RFC 2544 benchmarking
# addresses; nothing leaves the namespace), as in h3_static_interop_test.sh.
#
# gtlsclient fetches one file over HTTP/3; h3-static is stopped with SIGINT
# (exit 0) and its exit summary must count the frames it captured. Then
# tshark reads the capture:
#   - with the key log: 1-RTT (short header) packets decrypted, STREAM
#     frames on the request stream (quic.stream.stream_id 0), an HTTP/3
#     HEADERS frame whose payload holds the request path, and the file's
#     contents in the decrypted stream data; ARP both ways (the control
#     plane's replies leave through the same capture);
#   - without it: none of that (only the Initial packets, whose keys come
#     from the connection ID, decrypt), so the checks above can fail.
# tshark 4.0 (Debian 12) is built without nghttp3, so it shows HTTP/3 frames
# but cannot expand QPACK field sections: the path is checked as bytes in
# the HEADERS frame. QPACK (RFC 9204 §4.1.2) Huffman-codes a string only
# when that is shorter (nghttp3 and lib/h3 alike); the path below is made of
# characters whose codes are long ('~' is 13 bits), so it travels literally.
#
# Usage: h3_static_pcap_test.sh PATH/TO/h3-static
# Needs root (netns, /dev/net/tun), gtlsclient and tshark: without them it
# FAILS with the reason. Every wait is bounded; only the processes this
# script started are signalled; the namespace and temp directory are removed.
set -u

H3=${1:?usage: $0 PATH/TO/h3-static}
NS=h3p$$
IF=h3pt$$
PORT=4433
SERVER_IP=198.18.0.2
TMP=$(mktemp -d /tmp/h3static-pcap.XXXXXX)
SERVER_PID=
FAILS=0
URI_PATH='/~~pcap~~probe~~'  # 16 bytes; Huffman would take 17
MARKER="dquic-pcap-marker-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"

log() { echo "h3_static_pcap: $*"; }
fail() { log "FAIL: $*"; FAILS=$((FAILS + 1)); }
hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }

. "$(dirname "$0")/../support/tap_server.sh"
cleanup() {
  stop_pid "$SERVER_PID"
  ip netns del "$NS" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

[ "$(id -u)" = 0 ] || { log "FAIL: needs root (network namespaces, /dev/net/tun)"; exit 1; }
command -v gtlsclient >/dev/null || { log "FAIL: gtlsclient not installed (apt-get install ngtcp2-client)"; exit 1; }
command -v tshark >/dev/null || { log "FAIL: tshark not installed (apt-get install tshark)"; exit 1; }
[ -x "$H3" ] || { log "FAIL: $H3 is not executable"; exit 1; }

ROOT=$TMP/root
mkdir -p "$ROOT"
echo "$MARKER" > "$ROOT/${URI_PATH#/}"
PCAP=$TMP/capture.pcap
KEYLOG=$TMP/keylog

# --- an uncreatable capture file: one line, exit 2, before any traffic
ip netns add "$NS" || { log "FAIL: ip netns add"; exit 1; }
ip -n "$NS" link set lo up
timeout 30 ip netns exec "$NS" "$H3" --no-huge --no-shconf --no-pci -m 512 --no-telemetry -l 0 \
  --log-level error --file-prefix "h3p-bad$$" --vdev "net_tap0,iface=${IF}b" -- \
  --root "$ROOT" --addr "$SERVER_IP/24" --pcap "$TMP/no-such-dir/c.pcap" \
  > "$TMP/bad.out" 2> "$TMP/bad.err"
RC=$?
if [ "$RC" = 2 ] && grep -q -- "--pcap: cannot create '$TMP/no-such-dir/c.pcap': No such file or directory" "$TMP/bad.err"; then
  log "ok: uncreatable --pcap file: exit 2, one line"
else fail "uncreatable --pcap file: exit $RC"; cat "$TMP/bad.err"; fi

# --- the server, capturing
tap_server_start "$NS" "$IF" "$TMP/server.out" "$TMP/server.err" "h3p$$" "$H3" -- \
  --root "$ROOT" --addr "$SERVER_IP/24" --port "$PORT" --pcap "$PCAP" --keylog "$KEYLOG" ||
  { log "FAIL: h3-static did not start"; exit 1; }

# --- one fetch over HTTP/3
mkdir -p "$TMP/dl"
if timeout 60 ip netns exec "$NS" gtlsclient --exit-on-all-streams-close --timeout=10s \
     --no-quic-dump --no-http-dump --download="$TMP/dl" \
     "$SERVER_IP" "$PORT" "https://$SERVER_IP:$PORT$URI_PATH" > "$TMP/client.log" 2>&1 \
   && cmp -s "$ROOT/${URI_PATH#/}" "$TMP/dl/${URI_PATH#/}"; then
  log "ok: fetched $URI_PATH"
else fail "gtlsclient fetch of $URI_PATH"; tail -20 "$TMP/client.log"; fi

# --- SIGINT: exit 0, the capture drained and counted in the exit summary
kill -INT "$SERVER_PID"
wait_exit "$SERVER_PID" 300
RC=$WAIT_RC
if [ -z "$RC" ]; then fail "server still running 30 s after SIGINT"
elif [ "$RC" != 0 ]; then fail "server exited $RC after SIGINT"
else log "ok: SIGINT, exit 0"; fi
SERVER_PID=

SUMMARY=$(grep -E "^capture: $PCAP: [0-9]+ frames captured, [0-9]+ dropped" "$TMP/server.out")
CAPTURED=$(echo "$SUMMARY" | sed -nE 's/.*: ([0-9]+) frames captured, ([0-9]+) dropped.*/\1/p')
DROPPED=$(echo "$SUMMARY" | sed -nE 's/.*: ([0-9]+) frames captured, ([0-9]+) dropped.*/\2/p')
FRAMES=$(timeout 60 tshark -r "$PCAP" -T fields -e frame.number 2>/dev/null | wc -l)
if [ -z "$SUMMARY" ]; then fail "no capture line in the exit summary"; tail -20 "$TMP/server.out"
elif [ "$DROPPED" != 0 ] || [ "$CAPTURED" != "$FRAMES" ] || [ "$FRAMES" -lt 10 ]; then
  fail "summary '$SUMMARY' but $FRAMES frames in the file"
else log "ok: $FRAMES frames in the file, as the summary says, none dropped"; fi

# --- tshark with the key log
tsh() { timeout 60 tshark -r "$PCAP" "$@" 2>"$TMP/tshark.err"; }
count() { tsh "$@" | wc -l; }
check_decrypted() {  # LABEL TSHARK_OPTIONS...: sets SHORT STREAM0 HEADERS_HAS_PATH DATA_HAS_MARKER
  SHORT=$(count "$@" -Y 'quic.short && quic.frame_type' -T fields -e frame.number)
  STREAM0=$(count "$@" -Y 'quic.stream.stream_id == 0' -T fields -e frame.number)
  HEADERS=$(tsh "$@" -Y 'http3.frame_type == 1' -T fields -e http3.frame_payload | tr -d ',\n')
  STREAMS=$(tsh "$@" -Y 'quic.stream.stream_id == 0' -T fields -e quic.stream_data | tr -d ',\n')
  HEADERS_HAS_PATH=0; DATA_HAS_MARKER=0
  case "$HEADERS" in *"$(hex "$URI_PATH")"*) HEADERS_HAS_PATH=1 ;; esac
  case "$STREAMS" in *"$(hex "$MARKER")"*) DATA_HAS_MARKER=1 ;; esac
}
check_decrypted -o "tls.keylog_file:$KEYLOG"
if [ "$SHORT" -gt 0 ]; then log "ok: $SHORT 1-RTT packets decrypted"
else fail "no 1-RTT packet decrypted with the key log"; cat "$TMP/tshark.err"; fi
if [ "$STREAM0" -gt 0 ]; then log "ok: STREAM frames on stream 0 in $STREAM0 packets"
else fail "no STREAM frame on stream 0"; fi
if [ "$HEADERS_HAS_PATH" = 1 ]; then log "ok: an HTTP/3 HEADERS frame carries $URI_PATH"
else fail "no HTTP/3 HEADERS frame with $URI_PATH (HEADERS payloads: ${HEADERS:0:200})"; fi
if [ "$DATA_HAS_MARKER" = 1 ]; then log "ok: the response body is in the decrypted stream data"
else fail "the response body is not in the decrypted stream data"; fi
# The verbose dissection names them too (what a reader of -V sees).
if tsh -o "tls.keylog_file:$KEYLOG" -V -Y 'quic.stream.stream_id == 0' \
     | grep -q 'Type: HEADERS' ; then log "ok: tshark -V shows the HEADERS frame"
else fail "tshark -V shows no HEADERS frame"; fi
ARP_IN=$(count -Y "arp.opcode == 1 && arp.dst.proto_ipv4 == $SERVER_IP" -T fields -e frame.number)
ARP_OUT=$(count -Y "arp.opcode == 2 && arp.src.proto_ipv4 == $SERVER_IP" -T fields -e frame.number)
if [ "$ARP_IN" -gt 0 ] && [ "$ARP_OUT" -gt 0 ]; then log "ok: ARP request received and reply sent, both captured"
else fail "ARP: $ARP_IN requests to us, $ARP_OUT replies from us in the capture"; fi

# --- and without it: nothing beyond the Initials decrypts
check_decrypted -o "tls.keylog_file:"
if [ "$SHORT" = 0 ] && [ "$STREAM0" = 0 ] && [ "$HEADERS_HAS_PATH" = 0 ] && [ "$DATA_HAS_MARKER" = 0 ]; then
  log "ok: without the key log no 1-RTT packet, STREAM frame, path or body is visible"
else fail "without the key log: $SHORT 1-RTT, $STREAM0 stream-0 packets, path $HEADERS_HAS_PATH, body $DATA_HAS_MARKER"; fi

if [ "$FAILS" != 0 ]; then
  log "server stdout:"; tail -30 "$TMP/server.out"; log "server stderr:"; tail -10 "$TMP/server.err"
  log "$FAILS failure(s)"; exit 1
fi
log "all passed"
exit 0
