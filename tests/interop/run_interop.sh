#!/bin/bash
# Interop conformance suite (issue 11): the QUIC Interop Runner's test cases
# between our programs and Debian's ngtcp2 0.12 peers, over net_tap in a
# network namespace this script creates and removes (198.18.0.0/15 and
# fd00::/8 only). Role "server": our h3-static against gtlsclient; role
# "client": our h3-get against gtlsserver. Each case's verdict comes from
# evidence -- the bytes compared, our programs' exit summaries (counters),
# the peer's frame log -- never from the mere absence of an error.
#
# Usage: run_interop.sh [--h3-static P] [--h3-get P] [--cases a,b,...]
#                       [--roles server,client] [--write-doc FILE] [--keep]
# Exit 1 if any case fails (unsupported ones do not fail). Needs root,
# ngtcp2-client, ngtcp2-server and openssl.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
H3_STATIC=$REPO/build/release/apps/h3-static/h3-static
H3_GET=$REPO/build/release/apps/h3-get/h3-get
CASES=
ROLES=server,client
DOC=
KEEP=0
while [ $# -gt 0 ]; do
  case $1 in
    --h3-static) H3_STATIC=$2; shift 2 ;;
    --h3-get) H3_GET=$2; shift 2 ;;
    --cases) CASES=$2; shift 2 ;;
    --roles) ROLES=$2; shift 2 ;;
    --write-doc) DOC=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    *) echo "usage: $0 [--h3-static P] [--h3-get P] [--cases a,b] [--roles server,client] [--write-doc FILE] [--keep]" >&2; exit 2 ;;
  esac
done
ALL_CASES="handshake transfer http3 multiplexing chacha20 retry resumption zerortt keyupdate v2 ipv6
  transferloss handshakeloss transfercorruption handshakecorruption longrtt rebind-port rebind-addr
  connectionmigration blackhole amplificationlimit ecn"
[ -n "$CASES" ] || CASES=$(echo $ALL_CASES | tr ' ' ,)

# shellcheck source=tests/interop/lib.sh
. "$HERE/lib.sh"
TMP=$(mktemp -d /tmp/interop.XXXXXX)
cleanup() {
  ns_remove
  if [ "$KEEP" = 1 ]; then say "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

[ "$(id -u)" = 0 ] || { say "FAIL: needs root (network namespaces, /dev/net/tun)"; exit 1; }
command -v gtlsclient >/dev/null || { say "FAIL: gtlsclient missing (ngtcp2-client)"; exit 1; }
GTLSSERVER=$(command -v gtlsserver || echo /usr/sbin/gtlsserver)
[ -x "$GTLSSERVER" ] || { say "FAIL: gtlsserver missing (ngtcp2-server)"; exit 1; }
command -v openssl >/dev/null || { say "FAIL: openssl missing"; exit 1; }
for p in "$H3_STATIC" "$H3_GET"; do [ -x "$p" ] || { say "FAIL: $p not executable"; exit 1; }; done
PEER_VERSION=$(dpkg-query -W -f='${Version}' ngtcp2-client 2>/dev/null || echo unknown)
START=$(date +%s)

# --- the site (the Interop Runner's /www) and the peer's identity
WWW=$TMP/www
mkdir -p "$WWW"
head -c 1024 /dev/urandom > "$WWW/1k.bin"
head -c $((1 << 20)) /dev/urandom > "$WWW/1m.bin"
head -c $((5 << 20)) /dev/urandom > "$WWW/5m.bin"
head -c $((10 << 20)) /dev/urandom > "$WWW/10m.bin"
MANY=()
for i in $(seq -w 0 999); do head -c 64 /dev/urandom > "$WWW/m$i"; MANY+=("m$i"); done
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=$IOP_K4" -addext "subjectAltName=IP:$IOP_K4,IP:$IOP_K6" \
  -keyout "$TMP/peer.key.pem" -out "$TMP/peer.cert.pem" > "$TMP/openssl.log" 2>&1 \
  || { say "FAIL: openssl:"; cat "$TMP/openssl.log"; exit 1; }

ns_create || { say "FAIL: ip netns add $IOP_NS"; exit 1; }
U=https://$IOP_S4:$IOP_PORT
HP="$IOP_S4 $IOP_PORT"

# --- evidence helpers over gtlsclient's log
hs_done() { grep -q '^QUIC handshake has completed' "$1"; }
nlines() { grep -Ec "$2" "$1"; }
# srv_line: our exit line of h3-static totals.
srv_line() { grep '^h3-static: [0-9]* connections (' "$SRV_OUT"; }
srv_ok() { [ "$SRV_RC" = 0 ] || { echo "h3-static exited ${SRV_RC:-(killed)}"; return 1; }; }

# ================= role server: h3-static vs gtlsclient =================

s_handshake() {
  srv_start hs || { record handshake server fail "$SRV_WHY"; return; }
  gc hs 30 $HP "$U/1k.bin"; srv_stop
  local why
  if [ "$GC_RC" != 0 ]; then why="gtlsclient exited $GC_RC"
  elif ! hs_done "$GC_LOG"; then why="peer never logged the handshake as completed"
  elif ! why=$(same_files "$WWW" "$GC_DL" 1k.bin); then :
  elif [ "$(counter "$SRV_OUT" "total handshakes" completed)" != 1 ]; then why="server counted $(counter "$SRV_OUT" "total handshakes" completed) handshakes, not 1"
  elif ! why=$(srv_ok); then :
  else record handshake server pass "peer: handshake completed, ALPN h3; 1k.bin byte-exact; our counters: handshakes completed=1, exit 0"; return; fi
  record handshake server fail "$why"
}

s_transfer() {
  srv_start tr || { record transfer server fail "$SRV_WHY"; return; }
  # Small client windows: our sender must stop at the peer's limits and go
  # on when MAX_DATA / MAX_STREAM_DATA raise them.
  gc tr 120 --max-data=512K --max-stream-data-bidi-local=256K --max-window=512K --max-stream-window=256K \
    $HP "$U/1k.bin" "$U/1m.bin" "$U/5m.bin"; srv_stop
  local md why
  md=$(nlines "$GC_LOG" 'frm tx [0-9]+ 1RTT MAX_(STREAM_)?DATA\(0x1[01]\)')
  if [ "$GC_RC" != 0 ]; then why="gtlsclient exited $GC_RC"
  elif ! why=$(same_files "$WWW" "$GC_DL" 1k.bin 1m.bin 5m.bin); then :
  elif [ "$md" -lt 10 ]; then why="only $md MAX_DATA/MAX_STREAM_DATA frames from the peer: flow control not exercised"
  elif ! srv_line | grep -q ', 3 responses completed, 0 aborted, 6292480 body bytes$'; then why="server totals: $(srv_line)"
  elif ! why=$(srv_ok); then :
  else record transfer server pass "3 files (1 KB, 1 MB, 5 MB) byte-exact in one connection; peer windows 512K/256K, it sent $md MAX_DATA/MAX_STREAM_DATA; server: 3 responses, 6292480 body bytes"; return; fi
  record transfer server fail "$why"
}

s_http3() {
  srv_start h3 --access-log "$TMP/h3.access" || { record http3 server fail "$SRV_WHY"; return; }
  gc h3 30 $HP "$U/1k.bin" "$U/1m.bin"; srv_stop
  local why
  if [ "$GC_RC" != 0 ]; then why="gtlsclient exited $GC_RC"
  elif ! grep -q '^Negotiated ALPN is h3$' "$GC_LOG"; then why="ALPN h3 not negotiated"
  elif [ "$(grep -c ':status: 200' "$GC_LOG")" != 2 ]; then why="peer saw $(grep -c ':status: 200' "$GC_LOG") :status 200 responses, not 2"
  elif ! why=$(same_files "$WWW" "$GC_DL" 1k.bin 1m.bin); then :
  elif [ "$(grep -c '" 200 ' "$TMP/h3.access")" != 2 ]; then why="access log: $(cat "$TMP/h3.access")"
  elif ! why=$(srv_ok); then :
  else record http3 server pass "ALPN h3; peer decoded 2 HEADERS with :status 200, bodies byte-exact; 2 access-log lines"; return; fi
  record http3 server fail "$why"
}

s_multiplexing() {
  srv_start mx || { record multiplexing server fail "$SRV_WHY"; return; }
  local uris=() f
  for f in "${MANY[@]}"; do uris+=("$U/$f"); done
  gc mx 180 $HP "${uris[@]}"; srv_stop
  local ms why
  ms=$(nlines "$GC_LOG" 'frm rx [0-9]+ 1RTT MAX_STREAMS\(0x12\)')
  if [ "$GC_RC" != 0 ]; then why="gtlsclient exited $GC_RC"
  elif ! why=$(same_files "$WWW" "$GC_DL" "${MANY[@]}"); then :
  elif ! srv_line | grep -q '^h3-static: 1 connections (.*), 1000 requests (0 in 0-RTT), 1000 responses completed'; then why="server totals: $(srv_line)"
  elif [ "$ms" -lt 1 ]; then why="no MAX_STREAMS from the server (1000 streams > our limit of 128 needs them)"
  elif ! why=$(srv_ok); then :
  else record multiplexing server pass "1000 requests on 1000 streams of 1 connection (server: 1 connection, 1000 responses), $ms MAX_STREAMS raised the 128-stream limit, all 1000 files byte-exact"; return; fi
  record multiplexing server fail "$why"
}

CHACHA='NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+CHACHA20-POLY1305'
s_chacha20() {
  srv_start cc || { record chacha20 server fail "$SRV_WHY"; return; }
  gc cc 30 --ciphers="$CHACHA" $HP "$U/1m.bin"; srv_stop
  local why
  if [ "$GC_RC" != 0 ]; then why="gtlsclient exited $GC_RC"
  elif ! grep -q '^Negotiated cipher suite is CHACHA20-POLY1305' "$GC_LOG"; then why="$(grep 'Negotiated cipher' "$GC_LOG")"
  elif ! why=$(same_files "$WWW" "$GC_DL" 1m.bin); then :
  elif ! why=$(srv_ok); then :
  else record chacha20 server pass "peer offered only ChaCha20-Poly1305 and logged it negotiated; 1m.bin byte-exact"; return; fi
  record chacha20 server fail "$why"
}

s_retry() {
  srv_start rt --retry always || { record retry server fail "$SRV_WHY"; return; }
  gc rt 30 $HP "$U/1m.bin"; srv_stop
  local why
  if [ "$GC_RC" != 0 ]; then why="gtlsclient exited $GC_RC"
  elif ! grep -Eq 'pkt rx .*type=Retry' "$GC_LOG"; then why="the peer received no Retry"
  elif [ "$(counter "$SRV_OUT" "total stateless" retry)" != 1 ]; then why="server sent $(counter "$SRV_OUT" "total stateless" retry) Retry packets, not 1"
  elif [ "$(counter "$SRV_OUT" "total connections" opened)" != 1 ]; then why="server opened $(counter "$SRV_OUT" "total connections" opened) connections"
  elif ! why=$(same_files "$WWW" "$GC_DL" 1m.bin); then :
  elif ! why=$(srv_ok); then :
  else record retry server pass "server sent 1 Retry (counter), the peer logged it; the connection was opened only on the token's Initial (connections opened=1) and 1m.bin is byte-exact"; return; fi
  record retry server fail "$why"
}

# rx Handshake CRYPTO bytes in a gtlsclient log (the server's flight).
hs_crypto() { sed -n 's/.*frm rx [0-9]* Handshake CRYPTO(0x06) offset=[0-9]* len=\([0-9]*\).*/\1/p' "$1" | awk '{s+=$1} END {print s+0}'; }
zero_rtt_sent() { grep -Eq 'frm tx [0-9]+ 0RTT STREAM\(0x0[0-9a-f]\) id=0x0 ' "$1"; }

s_resumption() {
  srv_start rs || { record resumption server fail "$SRV_WHY"; return; }
  gc rs1 30 --disable-early-data --session-file="$TMP/rs.sess" --tp-file="$TMP/rs.tp" $HP "$U/1k.bin"
  local rc1=$GC_RC log1=$GC_LOG
  gc rs2 30 --disable-early-data --session-file="$TMP/rs.sess" --tp-file="$TMP/rs.tp" $HP "$U/1m.bin"
  srv_stop
  local c1 c2 why
  c1=$(hs_crypto "$log1"); c2=$(hs_crypto "$GC_LOG")
  if [ "$rc1" != 0 ] || [ "$GC_RC" != 0 ]; then why="gtlsclient exited $rc1 / $GC_RC"
  elif ! srv_line | grep -q '^h3-static: 2 connections (0 refused, 1 resumed,'; then why="server totals: $(srv_line)"
  elif [ "$c2" -ge $((c1 / 2)) ]; then why="second Handshake flight $c2 bytes vs $c1: a certificate was sent again"
  elif ! why=$(same_files "$WWW" "$TMP/rs2.dl" 1m.bin); then :
  elif ! why=$(srv_ok); then :
  else record resumption server pass "second connection resumed (server: 1 resumed of 2); its server Handshake flight $c2 bytes vs $c1 with the certificate; 1m.bin byte-exact"; return; fi
  record resumption server fail "$why"
}

s_zerortt() {
  srv_start zr --early-data || { record zerortt server fail "$SRV_WHY"; return; }
  gc zr1 30 --session-file="$TMP/zr.sess" --tp-file="$TMP/zr.tp" $HP "$U/1k.bin"
  local rc1=$GC_RC
  gc zr2 30 --session-file="$TMP/zr.sess" --tp-file="$TMP/zr.tp" $HP "$U/1m.bin"
  srv_stop
  local why
  if [ "$rc1" != 0 ] || [ "$GC_RC" != 0 ]; then why="gtlsclient exited $rc1 / $GC_RC"
  elif ! zero_rtt_sent "$GC_LOG"; then why="the peer sent no request in 0-RTT"
  elif grep -q 'Early data was rejected' "$GC_LOG"; then why="0-RTT rejected"
  elif ! srv_line | grep -q '^h3-static: 2 connections (0 refused, 1 resumed, 1 with 0-RTT accepted), 2 requests (1 in 0-RTT)'; then why="server totals: $(srv_line)"
  elif ! why=$(same_files "$WWW" "$GC_DL" 1m.bin); then :
  elif ! why=$(srv_ok); then :
  else record zerortt server pass "peer sent its request in 0-RTT STREAM frames, not rejected; server: 1 with 0-RTT accepted, 1 request in 0-RTT; 1m.bin byte-exact"; return; fi
  record zerortt server fail "$why"
}

s_keyupdate() {
  srv_start ku || { record keyupdate server fail "$SRV_WHY"; return; }
  gc ku 60 --key-update=5ms $HP "$U/5m.bin"; srv_stop
  local k1 why
  k1=$(nlines "$GC_LOG" 'pkt rx .*type=1RTT k=1')
  if [ "$GC_RC" != 0 ]; then why="gtlsclient exited $GC_RC"
  elif ! grep -q '^Initiate key update' "$GC_LOG"; then why="the peer did not initiate a key update"
  elif ! grep -q 'cry key update confirmed' "$GC_LOG"; then why="the peer never saw the key update confirmed"
  elif [ "$k1" -lt 10 ]; then why="only $k1 packets from the server in key phase 1"
  elif ! why=$(same_files "$WWW" "$GC_DL" 5m.bin); then :
  elif ! why=$(srv_ok); then :
  else record keyupdate server pass "peer initiated a key update, logged it confirmed, received $k1 of our packets in key phase 1; 5m.bin byte-exact"; return; fi
  record keyupdate server fail "$why"
}

v2_probe() {
  local out
  out=$(timeout 5 "$1" --preferred-versions=0x6b3343cf "${@:2}" 2>&1 | head -1)
  echo "$out"
}
s_v2() {
  local out
  out=$(v2_probe gtlsclient "$IOP_S4" "$IOP_PORT")
  if echo "$out" | grep -q 'unsupported version'; then
    record v2 server unsupported "ngtcp2 $PEER_VERSION knows only QUIC v2 draft (0x709a50c4), not RFC 9369 v2 (0x6b3343cf) that we implement: gtlsclient says '$out'"
  else
    record v2 server fail "gtlsclient accepted 0x6b3343cf ('$out'): a v2 case should be written"
  fi
}

s_ipv6() {
  srv_start v6 || { record ipv6 server fail "$SRV_WHY"; return; }
  gc v6 30 "$IOP_S6" "$IOP_PORT" "https://[$IOP_S6]:$IOP_PORT/1m.bin"; srv_stop
  local why
  if [ "$GC_RC" != 0 ]; then why="gtlsclient exited $GC_RC"
  elif ! grep -q "^Received packet: local=\[$IOP_K6\]:[0-9]* remote=\[$IOP_S6\]:$IOP_PORT" "$GC_LOG"; then why="no packet from [$IOP_S6]:$IOP_PORT in the peer's log"
  elif ! why=$(same_files "$WWW" "$GC_DL" 1m.bin); then :
  elif ! why=$(srv_ok); then :
  else record ipv6 server pass "peer received from [$IOP_S6]:$IOP_PORT; 1m.bin byte-exact"; return; fi
  record ipv6 server fail "$why"
}

s_transferloss() {
  srv_start tl --impair drop=2%,seed=11 || { record transferloss server fail "$SRV_WHY"; return; }
  gc tl 120 -r 0.02 $HP "$U/5m.bin"; srv_stop
  local d l why
  d=$(counter "$SRV_OUT" "total impair" dropped); l=$(nlines "$GC_LOG" 'Simulated incoming packet loss')
  if [ "$GC_RC" != 0 ]; then why="gtlsclient exited $GC_RC"
  elif [ "${d:-0}" -lt 1 ] || [ "$l" -lt 10 ]; then why="loss not exercised: we dropped ${d:-0}, the peer $l"
  elif ! why=$(same_files "$WWW" "$GC_DL" 5m.bin); then :
  elif ! why=$(srv_ok); then :
  else record transferloss server pass "2% loss each way: our impairment dropped $d received packets, the peer $l; 5m.bin byte-exact"; return; fi
  record transferloss server fail "$why"
}

# Handshakes at 30% loss each way: with exponential PTO backoff the
# client's Initial goes out at 0, 1, 3, 7, 15, 31 and 63 s. Both ends' 10 s
# handshake bound (ngtcp2's default and ours) and 30 s idle timeout gave up
# on about 0.2% of such handshakes (a run of 20 failed about once in 20;
# measured by tests/sim/sim_loss_test.cc's sweep, which finds none with 70 s
# for both). The runner gives these cases 300 s: both ends get 70 s here.
SLOW_HS_OURS=(--handshake-timeout-ms 70000 --idle-timeout-ms 70000)
SLOW_HS_PEER=(--handshake-timeout=70s --timeout=70s)

# many_conns TAG N SRV_OPTIONS -- CLIENT_OPTIONS: N short connections, 5 at
# a time, each fetching 1k.bin; MC_OK how many were byte-exact.
many_conns() {
  local tag=$1 n=$2; shift 2
  local sopts=() copts=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do sopts+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  copts=("$@")
  MC_OK=0
  srv_start "$tag" "${sopts[@]}" || return 1
  local i pids=()
  for i in $(seq "$n"); do
    gc "$tag$i" 100 "${SLOW_HS_PEER[@]}" "${copts[@]}" $HP "$U/1k.bin" &
    pids+=($!)
    if [ ${#pids[@]} -ge 5 ]; then wait "${pids[@]}"; pids=(); fi
  done
  [ ${#pids[@]} -gt 0 ] && wait "${pids[@]}"
  srv_stop
  MC_BAD=
  for i in $(seq "$n"); do
    if cmp -s "$WWW/1k.bin" "$TMP/$tag$i.dl/1k.bin"; then MC_OK=$((MC_OK + 1)); continue; fi
    # Evidence for the report: what of our flight the peer ever got.
    local l=$TMP/$tag$i.gc.log
    MC_BAD+=" [connection $i: peer received $(grep -c 'frm rx [0-9]* Initial CRYPTO' "$l") Initial CRYPTO frames,"
    MC_BAD+=" $(grep -Ec 'pkt rx .*type=Handshake' "$l") Handshake packets, $(grep -Ec 'frm rx [0-9]* Initial PING' "$l") PING-only Initial probes;"
    MC_BAD+=" $(grep -q '^QUIC handshake has completed' "$l" && echo 'handshake completed' || echo 'no handshake');"
    MC_BAD+=" it received $(grep -c '^Received packet' "$l") datagrams ($(grep -c 'Simulated incoming packet loss' "$l") dropped by its -r)"
    MC_BAD+=" and sent $(grep -Ec 'pkt tx .*type=Initial' "$l") Initial, $(grep -Ec 'pkt tx .*type=Handshake' "$l") Handshake packets]"
  done
  return 0
}

s_handshakeloss() {
  many_conns hl 20 --impair drop=30%,seed=12 "${SLOW_HS_OURS[@]}" -- -r 0.3 || { record handshakeloss server fail "$SRV_WHY"; return; }
  local d why
  d=$(counter "$SRV_OUT" "total impair" dropped)
  if [ "$MC_OK" != 20 ]; then why="$MC_OK of 20 connections fetched 1k.bin byte-exact:$MC_BAD"
  elif [ "${d:-0}" -lt 5 ]; then why="loss not exercised: we dropped ${d:-0}"
  elif [ "$(counter "$SRV_OUT" "total handshakes" completed)" != 20 ]; then why="server completed $(counter "$SRV_OUT" "total handshakes" completed) handshakes"
  elif ! why=$(srv_ok); then :
  else record handshakeloss server pass "20 connections at 30% loss each way (we dropped $d received packets, the peer's -r 0.3 the others): 20 handshakes completed (counter), 20 x 1k.bin byte-exact"; return; fi
  record handshakeloss server fail "$why"
}

s_transfercorruption() {
  srv_start tc --impair corrupt=2%,seed=13 || { record transfercorruption server fail "$SRV_WHY"; return; }
  gc tc 120 $HP "$U/5m.bin"; srv_stop
  local c why
  c=$(counter "$SRV_OUT" "total impair" corrupted)
  if [ "$GC_RC" != 0 ]; then why="gtlsclient exited $GC_RC"
  elif [ "${c:-0}" -lt 1 ]; then why="nothing corrupted"
  elif ! why=$(same_files "$WWW" "$GC_DL" 5m.bin); then :
  elif ! why=$(srv_ok); then :
  else record transfercorruption server pass "2% of received packets corrupted by our impairment ($c; client->server direction only: the peer cannot corrupt); 5m.bin byte-exact"; return; fi
  record transfercorruption server fail "$why"
}

s_handshakecorruption() {
  many_conns hc 20 --impair corrupt=30%,seed=14 "${SLOW_HS_OURS[@]}" -- || { record handshakecorruption server fail "$SRV_WHY"; return; }
  local c why
  c=$(counter "$SRV_OUT" "total impair" corrupted)
  if [ "$MC_OK" != 20 ]; then why="$MC_OK of 20 connections fetched 1k.bin byte-exact:$MC_BAD"
  elif [ "${c:-0}" -lt 5 ]; then why="corruption not exercised: ${c:-0}"
  elif ! why=$(srv_ok); then :
  else record handshakecorruption server pass "20 connections with 30% of received packets corrupted ($c, client->server only): 20 x 1k.bin byte-exact"; return; fi
  record handshakecorruption server fail "$why"
}

s_longrtt() {
  # No netem here: our receive path holds every packet 1.5 s, the same
  # 1.5 s RTT as the runner's 750 ms each way.
  srv_start lr --impair delay=1500ms,queue=65536 || { record longrtt server fail "$SRV_WHY"; return; }
  gc lr 120 --handshake-timeout=60s --timeout=30s $HP "$U/1m.bin"; srv_stop
  local rtt why
  rtt=$(sed -n 's/.*rcv latest_rtt=\([0-9]*\) .*/\1/p' "$GC_LOG" | sort -n | tail -1)
  if [ "$GC_RC" != 0 ]; then why="gtlsclient exited $GC_RC"
  elif [ "${rtt:-0}" -lt 1500 ]; then why="largest RTT sample ${rtt:-none} ms < 1500"
  elif ! why=$(same_files "$WWW" "$GC_DL" 1m.bin); then :
  elif ! why=$(srv_ok); then :
  else record longrtt server pass "RTT >= 1.5 s (peer's largest sample ${rtt} ms; delay on our receive path, $(counter "$SRV_OUT" "total impair" delayed) packets held); 1m.bin byte-exact"; return; fi
  record longrtt server fail "$why"
}

s_rebind_port() {
  # gtlsclient --nat-rebinding moves to a new port without probing, and
  # from then on ignores what reaches its old one ("ignore packet from
  # unknown path"): rebound in the middle of a download it has nothing to
  # send and both sides wait for the idle timeout. So it rebinds 50 ms after
  # the handshake and sends its request at 300 ms (--delay-stream): the
  # whole response then follows the new port, which we must validate.
  srv_start rp || { record rebind-port server fail "$SRV_WHY"; return; }
  gc rp 120 --change-local-addr=50ms --nat-rebinding --delay-stream=300ms $HP "$U/10m.bin"; srv_stop
  local newp why
  newp=$(sed -n 's/^Local address is now \[.*\]:\([0-9]*\)$/\1/p' "$GC_LOG" | head -1)
  if [ "$GC_RC" != 0 ]; then why="gtlsclient exited $GC_RC"
  elif [ -z "$newp" ]; then why="the peer did not rebind"
  elif ! grep -q "^Sent packet: local=\[$IOP_K4\]:$newp " "$GC_LOG"; then why="the peer sent nothing from its new port $newp"
  elif ! grep -Eq 'frm rx [0-9]+ 1RTT PATH_CHALLENGE' "$GC_LOG"; then why="we sent no PATH_CHALLENGE to the new port (RFC 9000 §9.3)"
  elif ! grep -q '^h3-static: 1 connections changed path$' "$SRV_OUT"; then why="server did not count the path change"
  elif ! why=$(same_files "$WWW" "$GC_DL" 10m.bin); then :
  elif ! why=$(srv_ok); then :
  else record rebind-port server pass "peer rebound to port $newp without probing (before its request: see the runner); we sent PATH_CHALLENGE there and counted the path change; 10m.bin byte-exact"; return; fi
  record rebind-port server fail "$why"
}

# gtlsclient can move only its port (--change-local-addr binds the same IP),
# and there is no kernel NAT here: our NAT stage stands in front of the
# client instead. After 300 received frames (mid-transfer: gtlsclient sends about 900 while it downloads 10 MB) the client's
# address as we see it becomes $IOP_N4, and what we send there goes to its
# real one (runtime/nat_rebind.h); gtlsclient never knows. We must validate
# the new path (RFC 9000 §9.3) and carry on there.
s_rebind_addr() {
  srv_start ra --impair "peer_rebind_addr=300frames,rebind_to=$IOP_N4" || { record rebind-addr server fail "$SRV_WHY"; return; }
  gc ra 120 $HP "$U/10m.bin"; srv_stop
  local rx tx ch why
  rx=$(counter "$SRV_OUT" "total impair_rebound" rx); tx=$(counter "$SRV_OUT" "total impair_rebound" tx)
  ch=$(nlines "$GC_LOG" 'frm rx [0-9]+ 1RTT PATH_CHALLENGE')
  if [ "$GC_RC" != 0 ]; then why="gtlsclient exited $GC_RC"
  elif [ "${rx:-0}" -lt 1 ]; then why="the NAT stage never rebound (rx=${rx:-0})"
  elif [ "${tx:-0}" -lt 10 ]; then why="we sent only ${tx:-0} datagrams to the new address $IOP_N4"
  elif [ "$ch" -lt 1 ]; then why="we sent no PATH_CHALLENGE to the new address (RFC 9000 §9.3)"
  elif ! grep -q '^h3-static: 1 connections changed path$' "$SRV_OUT"; then why="server did not count the path change"
  elif ! why=$(same_files "$WWW" "$GC_DL" 10m.bin); then :
  elif ! why=$(srv_ok); then :
  else record rebind-addr server pass "our NAT stage moved the peer from $IOP_K4 to $IOP_N4 mid-transfer ($rx frames rewritten); we sent PATH_CHALLENGE there (the peer received $ch), counted the path change and sent $tx datagrams to $IOP_N4; 10m.bin byte-exact"; return; fi
  record rebind-addr server fail "$why"
}

s_connectionmigration() {
  srv_start cm --preferred-address "$IOP_S4:$((IOP_PORT + 1))" || { record connectionmigration server fail "$SRV_WHY"; return; }
  gc cm 60 $HP "$U/5m.bin"; srv_stop
  local why
  if [ "$GC_RC" != 0 ]; then why="gtlsclient exited $GC_RC"
  elif ! grep -q "cry remote transport_parameters preferred_address" "$GC_LOG"; then why="no preferred_address in our transport parameters"
  elif ! grep -q "^Received packet: local=.* remote=\[$IOP_S4\]:$((IOP_PORT + 1)) " "$GC_LOG"; then why="the peer received nothing from the preferred address"
  elif ! grep -q '^h3-static: 1 connections changed path$' "$SRV_OUT"; then why="server did not count the path change"
  elif ! why=$(same_files "$WWW" "$GC_DL" 5m.bin); then :
  elif ! why=$(srv_ok); then :
  else record connectionmigration server pass "we offered preferred_address :$((IOP_PORT + 1)); the peer moved there (received from it), server counted 1 connection that changed path; 5m.bin byte-exact"; return; fi
  record connectionmigration server fail "$why"
}

# Blackhole: our impairment stage drops everything, both directions, for 2 s
# every 5 s from 150 ms after the first packet (mid-transfer: 10 MB takes
# longer here); the transfer must resume afterwards (PTO probes, RFC 9002
# §6.2.4) and complete.
BLACKHOLE=blackhole=2s/5s,blackhole_start=150ms
s_blackhole() {
  srv_start bh --impair "$BLACKHOLE" || { record blackhole server fail "$SRV_WHY"; return; }
  gc bh 120 $HP "$U/10m.bin"; srv_stop
  local rx tx why
  rx=$(counter "$SRV_OUT" "total impair_blackholed" rx); tx=$(counter "$SRV_OUT" "total impair_blackholed" tx)
  if [ "$GC_RC" != 0 ]; then why="gtlsclient exited $GC_RC"
  # Frames dropped on receive show the window fell mid-transfer. Sent ones
  # need a send of ours inside it: a PTO backed off past the window (seen
  # under ASan) sends none, so tx may be 0 (reported, not required).
  elif [ "${rx:-0}" -lt 1 ]; then why="blackhole not exercised: rx=${rx:-0} tx=${tx:-0}"
  elif ! why=$(same_files "$WWW" "$GC_DL" 10m.bin); then :
  elif ! why=$(srv_ok); then :
  else record blackhole server pass "2 s of 100% loss every 5 s both ways ($BLACKHOLE; we dropped $rx received and ${tx:-0} sent frames in the window); the transfer resumed: 10m.bin byte-exact"; return; fi
  record blackhole server fail "$why"
}

# make_chain DIR IP: in DIR, chain.pem (an ECDSA leaf for IP under three
# RSA-4096 intermediates: a first flight far above 3 x 1200 bytes), leaf.key
# and the root ca0.pem. Returns 1 with the reason in CHAIN_WHY.
make_chain() {
  local d=$1 ip=$2
  mkdir -p "$d"
  (
    cd "$d" || exit 1
    openssl req -x509 -newkey rsa:4096 -nodes -days 2 -subj /CN=root -keyout ca0.key -out ca0.pem
    for i in 1 2 3; do
      openssl req -newkey rsa:4096 -nodes -subj "/CN=intermediate$i" -keyout ca$i.key -out ca$i.csr
      printf 'basicConstraints=critical,CA:TRUE\n' > ext
      openssl x509 -req -in ca$i.csr -CA ca$((i - 1)).pem -CAkey ca$((i - 1)).key -CAcreateserial -days 2 -extfile ext -out ca$i.pem
    done
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$ip" -keyout leaf.key -out leaf.csr
    printf 'subjectAltName=IP:%s\n' "$ip" > ext
    openssl x509 -req -in leaf.csr -CA ca3.pem -CAkey ca3.key -CAcreateserial -days 2 -extfile ext -out leaf.pem
    cat leaf.pem ca3.pem ca2.pem ca1.pem > chain.pem
  ) > "$d.log" 2>&1 || { CHAIN_WHY="openssl chain: $(tail -2 "$d.log")"; return 1; }
}

s_amplificationlimit() {
  local d=$TMP/chain
  make_chain "$d" "$IOP_S4" || { record amplificationlimit server fail "$CHAIN_WHY"; return; }
  # Our receive path holds every packet 300 ms: for that long after the
  # peer's second datagram left, nothing it sent since its first can have
  # reached us, so what it receives until then was sent on the strength of
  # its first datagram alone: at most 3 x that (RFC 9000 §8.1).
  srv_start am --cert "$d/chain.pem" --key "$d/leaf.key" --impair delay=300ms || { record amplificationlimit server fail "$SRV_WHY"; return; }
  gc am 30 $HP "$U/1k.bin"; srv_stop
  local first got total why
  read -r first got total < <(awk '/^I[0-9]+ / { t = substr($1, 2) + 0 }
      /^Sent packet:/ { n++; if (n == 1) f = $(NF-1); if (n == 2) t2 = t }
      / con recv packet len=/ { l = substr($NF, 5) + 0; if (n < 2 || t < t2 + 250) r += l; if (!hs) tot += l }
      / pkt tx .*type=1RTT/ { hs = 1 }
      END { print f + 0, r + 0, tot + 0 }' "$GC_LOG")
  if [ "$GC_RC" != 0 ]; then why="gtlsclient exited $GC_RC"
  elif [ "${first:-0}" = 0 ]; then why="could not read the peer's datagram log"
  elif [ "$total" -le $((3 * first)) ]; then why="our handshake flight ($total bytes) does not exceed 3 x $first: limit not exercised"
  elif [ "$got" -gt $((3 * first)) ]; then why="we sent $got bytes on the strength of a $first-byte datagram (> 3x)"
  elif [ "$got" -le $((2 * first)) ]; then why="only $got bytes before the peer's second datagram could arrive: limit not reached"
  elif ! why=$(same_files "$WWW" "$GC_DL" 1k.bin); then :
  elif ! why=$(srv_ok); then :
  else record amplificationlimit server pass "4-certificate chain: our flight before the peer's 1-RTT was $total bytes; in the 250 ms after its second datagram left (our receive path holds packets 300 ms) it had received $got bytes <= 3 x $first, the rest later; 1k.bin byte-exact"; return; fi
  record amplificationlimit server fail "$why"
}

# ECN (RFC 9000 §13.4): the peer marks ECT(0) and we count it in ACK_ECN
# frames; we mark ECT(0) too, and keep marking past the 10 testing packets
# only once the peer's ACK_ECN counts validated the path (§13.4.2).
s_ecn() {
  srv_start en || { record ecn server fail "$SRV_WHY"; return; }
  gc en 30 $HP "$U/1m.bin"; srv_stop
  local ect0 marked why
  ect0=$(sed -n 's/.*frm rx [0-9]* [A-Za-z0-9]* ACK(0x03) ect0=\([0-9]*\).*/\1/p' "$GC_LOG" | sort -n | tail -1)
  marked=$(grep -c '^Received packet: .* ecn=0x2 ' "$GC_LOG")
  if [ "$GC_RC" != 0 ]; then why="gtlsclient exited $GC_RC"
  elif [ "${ect0:-0}" -lt 1 ]; then why="our ACK frames carried no ECT(0) count"
  elif [ "$marked" -le 10 ]; then why="the peer received only $marked ECT(0) packets from us: validation failed or never ran"
  elif ! why=$(same_files "$WWW" "$GC_DL" 1m.bin); then :
  elif ! why=$(srv_ok); then :
  else record ecn server pass "our ACK_ECN frames counted the peer's ECT(0) (up to ect0=$ect0); the peer received $marked of our packets marked ECT(0), more than the 10 testing ones: our validation succeeded; 1m.bin byte-exact"; return; fi
  record ecn server fail "$why"
}

# ================= role client: h3-get vs gtlsserver =================

c_simple() {  # c_simple CASE TAG PEER_OPTS -- GET_OPTS -- FILES...
  local case=$1 tag=$2; shift 2
  local popts=() gopts=() files=()
  while [ "$1" != -- ]; do popts+=("$1"); shift; done; shift
  while [ "$1" != -- ]; do gopts+=("$1"); shift; done; shift
  files=("$@")
  C_WHY=
  peer_start "$tag" "${popts[@]}" || { C_WHY="gtlsserver did not listen: $(head -3 "$PEER_LOG" | tr '\n' ' ')"; peer_stop; return 1; }
  local paths=() f
  for f in "${files[@]}"; do paths+=("/$f"); done
  get4 "$tag" 120 "${gopts[@]}" "${paths[@]}"
  peer_stop
  C_WHY=
  if [ "$GET_RC" != 0 ]; then C_WHY="h3-get exited ${GET_RC:-(stopped)}: $(grep '^h3-get' "$GET_ERR" | head -1)"
  elif ! C_WHY=$(same_files "$WWW" "$GET_DL" "${files[@]}"); then :
  else return 0; fi
  return 1
}

c_handshake() {
  c_simple handshake hs -- -- 1k.bin || { record handshake client fail "$C_WHY"; return; }
  if ! grep -q '^QUIC handshake has completed' "$PEER_LOG"; then record handshake client fail "peer did not log the handshake completed"
  elif [ "$(counter "$GET_ERR" "total handshakes" completed)" != 1 ]; then record handshake client fail "h3-get counted $(counter "$GET_ERR" "total handshakes" completed) handshakes"
  else record handshake client pass "peer logged the handshake completed; our counters: handshakes completed=1; 1k.bin byte-exact"; fi
}

c_transfer() {
  c_simple transfer tr --max-data=512K --max-stream-data-bidi-local=256K -- -- 1k.bin 1m.bin 5m.bin \
    || { record transfer client fail "$C_WHY"; return; }
  local md
  md=$(nlines "$PEER_LOG" 'frm rx [0-9]+ 1RTT MAX_(STREAM_)?DATA\(0x1[01]\)')
  if [ "$md" -lt 5 ]; then record transfer client fail "only $md MAX_DATA/MAX_STREAM_DATA from us: our flow control not exercised"
  else record transfer client pass "3 files (1 KB, 1 MB, 5 MB) byte-exact in one connection; our receiver sent $md MAX_DATA/MAX_STREAM_DATA (peer log)"; fi
}

c_http3() {
  c_simple http3 h3 -- -- 1k.bin 1m.bin || { record http3 client fail "$C_WHY"; return; }
  if ! grep -q '^Negotiated ALPN is h3' "$PEER_LOG"; then record http3 client fail "peer did not negotiate h3"
  elif [ "$(grep -c '^200 ' "$GET_OUT")" != 2 ]; then record http3 client fail "h3-get printed: $(cat "$GET_OUT")"
  else record http3 client pass "ALPN h3 (peer log); 2 responses 200 decoded by our HTTP/3 client, bodies byte-exact"; fi
}

c_multiplexing() {
  c_simple multiplexing mx --max-streams-bidi=100 -- -- "${MANY[@]}" || { record multiplexing client fail "$C_WHY"; return; }
  local ms
  ms=$(nlines "$PEER_LOG" 'frm tx [0-9]+ 1RTT MAX_STREAMS\(0x12\)')
  if [ "$(grep -c '^200 64 bytes' "$GET_OUT")" != 1000 ]; then record multiplexing client fail "$(grep -c '^200 ' "$GET_OUT") responses of 1000"
  elif [ "$(counter "$GET_ERR" "total connections" opened)" != 1 ]; then record multiplexing client fail "$(counter "$GET_ERR" "total connections" opened) connections"
  elif [ "$ms" -lt 1 ]; then record multiplexing client fail "the peer never raised MAX_STREAMS: not exercised"
  else record multiplexing client pass "1000 requests on 1 connection (our counter), peer's limit of 100 raised by $ms MAX_STREAMS; 1000 files byte-exact"; fi
}

c_chacha20() {
  c_simple chacha20 cc --ciphers="$CHACHA" -- -- 1m.bin || { record chacha20 client fail "$C_WHY"; return; }
  if ! grep -q '^QUIC handshake has completed' "$PEER_LOG"; then record chacha20 client fail "peer did not complete the handshake"
  else record chacha20 client pass "the peer accepted only ChaCha20-Poly1305 (--ciphers) and completed the handshake, so it ran on it; 1m.bin byte-exact (h3-get offers all 3 TLS 1.3 suites: no option restricts its offer)"; fi
}

c_retry() {
  c_simple retry rt -V -- -- 1m.bin || { record retry client fail "$C_WHY"; return; }
  if ! grep -q '^Sending Retry packet to' "$PEER_LOG"; then record retry client fail "the peer sent no Retry"
  elif ! grep -q '^Token was successfully validated' "$PEER_LOG"; then record retry client fail "the peer never validated a token from us"
  else record retry client pass "peer (-V) logged 'Sending Retry packet' then 'Token was successfully validated' (our next Initial carried it); 1m.bin byte-exact"; fi
}

c_unsupported() { record "$1" client unsupported "$2"; }

c_ipv6() {
  peer_start v6 || { record ipv6 client fail "gtlsserver did not listen"; return; }
  get v6 60 --addr6 "$IOP_S6/64" --server "$IOP_K6" /1m.bin
  peer_stop
  if [ "$GET_RC" != 0 ]; then record ipv6 client fail "h3-get exited ${GET_RC:-(stopped)}: $(grep '^h3-get' "$GET_ERR" | head -1)"
  elif ! grep -q "\[$IOP_S6\]" "$PEER_LOG"; then record ipv6 client fail "peer never saw [$IOP_S6]"
  elif ! why=$(same_files "$WWW" "$GET_DL" 1m.bin); then record ipv6 client fail "$why"
  else record ipv6 client pass "peer logged packets from [$IOP_S6]; 1m.bin byte-exact"; fi
}

c_transferloss() {
  c_simple transferloss tl -q -r 0.02 -- --impair drop=2%,seed=21 -- 5m.bin || { record transferloss client fail "$C_WHY"; return; }
  local d
  d=$(counter "$GET_ERR" "total impair" dropped)
  if [ "${d:-0}" -lt 1 ]; then record transferloss client fail "our impairment dropped nothing"
  else record transferloss client pass "2% loss each way (we dropped $d received packets; the peer -r 0.02 those toward it); 5m.bin byte-exact"; fi
}

c_handshakeloss() {
  local files=() i
  for i in $(seq -w 0 19); do files+=("m0$i"); done
  c_simple handshakeloss hl -q -r 0.3 "${SLOW_HS_PEER[@]}" -- --impair drop=30%,seed=22 --conns 20 "${SLOW_HS_OURS[@]}" --timeout-ms 110000 -- "${files[@]}" \
    || { record handshakeloss client fail "$C_WHY"; return; }
  local d h
  d=$(counter "$GET_ERR" "total impair" dropped); h=$(counter "$GET_ERR" "total handshakes" completed)
  if [ "$h" != 20 ]; then record handshakeloss client fail "$h handshakes of 20"
  elif [ "${d:-0}" -lt 5 ]; then record handshakeloss client fail "loss not exercised ($d)"
  else record handshakeloss client pass "20 connections (--conns 20) at 30% loss each way (we dropped $d received packets; the peer -r 0.3 those toward it): 20 handshakes (counter), 20 files byte-exact"; fi
}

c_transfercorruption() {
  c_simple transfercorruption tc -q -- --impair corrupt=2%,seed=23 -- 5m.bin || { record transfercorruption client fail "$C_WHY"; return; }
  local c
  c=$(counter "$GET_ERR" "total impair" corrupted)
  if [ "${c:-0}" -lt 1 ]; then record transfercorruption client fail "nothing corrupted"
  else record transfercorruption client pass "$c received packets corrupted (server->client only); 5m.bin byte-exact"; fi
}

c_handshakecorruption() {
  local files=() i
  for i in $(seq -w 0 19); do files+=("m1$i"); done
  c_simple handshakecorruption hc "${SLOW_HS_PEER[@]}" -- --impair corrupt=30%,seed=24 --conns 20 "${SLOW_HS_OURS[@]}" --timeout-ms 110000 -- "${files[@]}" \
    || { record handshakecorruption client fail "$C_WHY"; return; }
  local c
  c=$(counter "$GET_ERR" "total impair" corrupted)
  if [ "${c:-0}" -lt 5 ]; then record handshakecorruption client fail "corruption not exercised ($c)"
  else record handshakecorruption client pass "20 connections with 30% of received packets corrupted ($c, server->client only); 20 files byte-exact"; fi
}

c_longrtt() {
  c_simple longrtt lr -- --impair delay=1500ms,queue=65536 --handshake-timeout-ms 60000 --timeout-ms 120000 -- 1m.bin \
    || { record longrtt client fail "$C_WHY"; return; }
  local rtt
  rtt=$(sed -n 's/.*rcv latest_rtt=\([0-9]*\) .*/\1/p' "$PEER_LOG" | sort -n | tail -1)
  if [ "${rtt:-0}" -lt 1500 ]; then record longrtt client fail "peer's largest RTT sample ${rtt:-none} ms"
  else record longrtt client pass "RTT >= 1.5 s (peer's largest sample $rtt ms; delay on our receive path); 1m.bin byte-exact"; fi
}

c_resumption() {
  c_simple resumption rs -- --resume -- 1k.bin 1m.bin || { record resumption client fail "$C_WHY"; return; }
  # The peer's Handshake CRYPTO bytes per connection, in order.
  local hs h1 h2 h3
  hs=$(awk '/ frm tx .* Handshake CRYPTO/ { for (i = 1; i <= NF; ++i) if ($i ~ /^len=/) n = substr($i, 5)
              if (!($2 in b)) order[++k] = $2; b[$2] += n }
            END { for (i = 1; i <= k; ++i) printf "%s ", b[order[i]] }' "$PEER_LOG")
  read -r h1 h2 h3 <<< "$hs"
  if ! grep -q '^conn=2 resumed=1 ' "$GET_OUT"; then record resumption client fail "second connection not resumed: $(grep '^conn=' "$GET_OUT" | tr '\n' ' ')"
  elif [ -z "${h2:-}" ] || [ -n "${h3:-}" ] || [ "$h2" -ge $((h1 / 2)) ]; then record resumption client fail "peer's Handshake CRYPTO bytes per connection: '$hs' (want two, the second without a certificate)"
  else record resumption client pass "1k.bin on a first connection, 1m.bin on a second that resumed (our counters: conn=2 resumed=1); the peer's Handshake flight $h2 bytes vs $h1 with the certificate; files byte-exact"; fi
}

c_zerortt() {
  c_simple zerortt zr -- --zero-rtt -- 1k.bin 1m.bin || { record zerortt client fail "$C_WHY"; return; }
  local n
  n=$(nlines "$PEER_LOG" 'pkt rx .*type=0RTT')
  if ! grep -Eq '^conn=2 resumed=1 .*zero_rtt_packets_sent=[1-9][0-9]* zero_rtt_accepted=yes ' "$GET_OUT"; then record zerortt client fail "our counters: $(grep '^conn=2' "$GET_OUT")"
  elif [ "$n" -lt 1 ]; then record zerortt client fail "the peer logged no 0-RTT packet"
  else record zerortt client pass "second connection resumed and sent its request in 0-RTT, accepted (our counters); the peer received $n 0-RTT packets; files byte-exact"; fi
}

c_keyupdate() {
  c_simple keyupdate ku -- --key-update -- 5m.bin || { record keyupdate client fail "$C_WHY"; return; }
  local k1
  k1=$(nlines "$PEER_LOG" 'pkt rx .*type=1RTT k=1')
  if ! grep -Eq '^quic: .*key_updates_initiated=1 key_updates=[1-9]' "$GET_OUT"; then record keyupdate client fail "our counters: $(grep '^quic:' "$GET_OUT")"
  elif [ "$k1" -lt 10 ]; then record keyupdate client fail "the peer received only $k1 of our packets in key phase 1"
  else record keyupdate client pass "we initiated a key update and the peer answered in the new phase (our counters); the peer received $k1 of our packets in key phase 1; 5m.bin byte-exact"; fi
}

# RFC 9000 §9.6: the peer offers a preferred_address (its second port); our
# client validates it (PATH_CHALLENGE there) and moves, with a new CID.
c_connectionmigration() {
  local pa=$((IOP_PORT + 1))
  # gtlsserver binds its preferred address at start, before h3-get's tap
  # (and the kernel side's address on it) exists: the address goes on lo
  # first (local delivery takes it on any interface).
  ip -n "$IOP_NS" addr add "$IOP_K4/32" dev lo 2>/dev/null
  c_simple connectionmigration cm "--preferred-ipv4-addr=$IOP_K4:$pa" -- -- 5m.bin
  local rc=$?
  ip -n "$IOP_NS" addr del "$IOP_K4/32" dev lo 2>/dev/null
  [ "$rc" = 0 ] || { record connectionmigration client fail "$C_WHY"; return; }
  local on_pa ch
  on_pa=$(grep -c "^Received packet: local=\[$IOP_K4\]:$pa " "$PEER_LOG")
  ch=$(nlines "$PEER_LOG" 'frm rx [0-9]+ 1RTT PATH_CHALLENGE')
  if ! grep -Eq '^quic: .* migrations=[1-9]' "$GET_OUT"; then record connectionmigration client fail "we did not move: $(grep '^quic:' "$GET_OUT" || echo 'no summary line')"
  elif [ "$on_pa" -lt 10 ]; then record connectionmigration client fail "the peer received only $on_pa packets on its preferred address :$pa"
  elif [ "$ch" -lt 1 ]; then record connectionmigration client fail "no PATH_CHALLENGE from us in the peer's log"
  else record connectionmigration client pass "the peer offered preferred_address :$pa; we sent $ch PATH_CHALLENGE and moved (our counters: migrations=1); the peer received $on_pa packets there; 5m.bin byte-exact"; fi
}

# NAT rebinding under the client: our impairment stage moves the UDP port
# the peer sees by 10000 after 2000 received frames (mid-transfer of the
# ~7500 of 10 MB, however fast it runs) and maps replies back
# (runtime/nat_rebind.h); h3-get never knows. The peer must validate the
# new path (RFC 9000 §9.3) and carry on there.
c_rebind_port() {
  c_simple rebind-port rp -- --impair rebind_port=2000frames -- 10m.bin || { record rebind-port client fail "$C_WHY"; return; }
  local ports first moved ch
  ports=$(sed -n "s/^Received packet: local=.* remote=\[$IOP_S4\]:\([0-9]*\) .*/\1/p" "$PEER_LOG" | uniq)
  first=$(echo "$ports" | head -1); moved=$(echo "$ports" | tail -1)
  ch=$(nlines "$PEER_LOG" 'frm tx [0-9]+ 1RTT PATH_CHALLENGE')
  if [ -z "$first" ] || [ "$moved" != $(((first + 10000) % 65536)) ]; then record rebind-port client fail "the peer saw our ports: $(echo $ports)"
  elif [ "$ch" -lt 1 ]; then record rebind-port client fail "the peer never sent PATH_CHALLENGE to our new port"
  else record rebind-port client pass "our NAT stage moved the port the peer sees from $first to $moved mid-transfer; the peer sent $ch PATH_CHALLENGE and went on with the new port; 10m.bin byte-exact"; fi
}

# NAT rebinding of our address: after 2000 received frames the peer sees us
# at $IOP_N4 (our stage answers ARP for it, as a NAT owns its public address,
# and maps replies back: runtime/nat_rebind.h); h3-get never knows. The peer
# must validate the new path (RFC 9000 §9.3) and carry on there.
c_rebind_addr() {
  c_simple rebind-addr ra -- --impair "rebind_addr=2000frames,rebind_to=$IOP_N4" -- 10m.bin || { record rebind-addr client fail "$C_WHY"; return; }
  local before after ch tx
  before=$(grep -c "^Received packet: local=.* remote=\[$IOP_S4\]:" "$PEER_LOG")
  after=$(grep -c "^Received packet: local=.* remote=\[$IOP_N4\]:" "$PEER_LOG")
  ch=$(nlines "$PEER_LOG" 'frm tx [0-9]+ 1RTT PATH_CHALLENGE')
  tx=$(counter "$GET_ERR" "total impair_rebound" tx)
  if [ "$before" -lt 1 ] || [ "$after" -lt 10 ]; then record rebind-addr client fail "the peer received $before packets from $IOP_S4 and $after from $IOP_N4"
  elif [ "$ch" -lt 1 ]; then record rebind-addr client fail "the peer never sent PATH_CHALLENGE to our new address"
  else record rebind-addr client pass "our NAT stage moved the address the peer sees from $IOP_S4 to $IOP_N4 mid-transfer ($tx datagrams rewritten); the peer received $before packets from the old and $after from the new, sent $ch PATH_CHALLENGE and went on there; 10m.bin byte-exact"; fi
}

# amplificationlimit with our client, as the runner runs it: the peer serves
# a big chain and the network drops the client's 2nd to 7th datagrams (the
# runner's droplist; here our drop_sent stage), so the server stays at its
# limit until our client's probes get through (RFC 9002 §6.2.2.1: a client
# keeps its PTO armed until the server's address validation is known). The
# peer's log shows what it sent before it first received a Handshake packet
# from us (RFC 9000 §8.1: what validates our address), against 3x what it
# had received by then.
c_amplificationlimit() {
  local d=$TMP/chain_c
  make_chain "$d" "$IOP_K4" || { record amplificationlimit client fail "$CHAIN_WHY"; return; }
  PEER_KEY=$d/leaf.key PEER_CERT=$d/chain.pem GET_CA=$d/ca0.pem \
    c_simple amplificationlimit al -- --impair drop_sent=2-7 -- 1k.bin || { record amplificationlimit client fail "$C_WHY"; return; }
  local dropped rcvd sent flight
  dropped=$(counter "$GET_ERR" "total impair" dropped_sent)
  # Per received datagram: its bytes count, and a Handshake packet in it
  # validates the address; what the peer sent before that is bounded.
  read -r rcvd sent flight < <(awk '
      /^Received packet:/ { if (!valid) r += $(NF-1) }
      / pkt rx .*type=Handshake / { valid = 1 }
      /^Sent packet:/ { if (!valid) s += $(NF-1) }
      / frm tx [0-9]+ Handshake CRYPTO/ { for (i = 1; i <= NF; ++i) if ($i ~ /^len=/) f += substr($i, 5) }
      END { print r + 0, s + 0, f + 0 }' "$PEER_LOG")
  if [ "${dropped:-0}" != 6 ]; then record amplificationlimit client fail "our stage dropped ${dropped:-0} of our datagrams, not 6"
  elif [ "$flight" -le 3600 ]; then record amplificationlimit client fail "the peer's Handshake flight was only $flight bytes: limit not exercised"
  elif [ "$rcvd" -lt 1200 ] || [ "$sent" -gt $((3 * rcvd)) ]; then record amplificationlimit client fail "before our first Handshake packet reached it, the peer sent $sent bytes for $rcvd received (> 3x)"
  else record amplificationlimit client pass "4-certificate chain ($flight bytes of Handshake CRYPTO); our 2nd to 7th datagrams dropped (drop_sent=2-7); before our first Handshake packet reached it the peer sent $sent bytes for $rcvd received (<= 3x), and our client's probes carried the handshake through; 1k.bin byte-exact"; fi
}

c_blackhole() {
  c_simple blackhole bh -- --impair "$BLACKHOLE" -- 10m.bin || { record blackhole client fail "$C_WHY"; return; }
  local rx tx
  rx=$(counter "$GET_ERR" "total impair_blackholed" rx); tx=$(counter "$GET_ERR" "total impair_blackholed" tx)
  # A receiver with nothing in flight sends nothing while nothing arrives
  # (no ACKs to send, no PTO armed): its tx count may be 0.
  if [ "${rx:-0}" -lt 1 ]; then record blackhole client fail "blackhole not exercised: rx=${rx:-0} tx=${tx:-0}"
  else record blackhole client pass "2 s of 100% loss every 5 s both ways ($BLACKHOLE; we dropped $rx received and ${tx:-0} sent frames in the window: a receiver with nothing in flight sends nothing then); the transfer resumed: 10m.bin byte-exact"; fi
}

c_ecn() {
  c_simple ecn en -- -- 1m.bin || { record ecn client fail "$C_WHY"; return; }
  local marked theirs
  marked=$(grep -c '^Received packet: .* ecn=0x2 ' "$PEER_LOG")
  theirs=$(grep -c '^Sent packet: .* ecn=0x2 ' "$PEER_LOG")
  if [ "$theirs" -lt 1 ]; then record ecn client fail "the peer marked nothing"
  elif [ "$marked" -le 10 ]; then record ecn client fail "the peer received only $marked ECT(0) packets from us: validation failed or never ran"
  else record ecn client pass "both ends mark ECT(0): the peer sent $theirs marked packets and received $marked of ours, more than the 10 testing ones (our validation of its ACK_ECN counts succeeded); 1m.bin byte-exact"; fi
}

run_case() {
  local c=$1 role=$2 fn
  fn=${c//-/_}
  if [ "$role" = server ]; then
    "s_$fn"
  else
    case $c in
      v2) local out; out=$(v2_probe "$GTLSSERVER" '*' 1 k c)
          c_unsupported v2 "ngtcp2 $PEER_VERSION knows only QUIC v2 draft (0x709a50c4), not RFC 9369 v2 (0x6b3343cf): gtlsserver says '$out'" ;;
      *) "c_$fn" ;;
    esac
  fi
}

for c in ${CASES//,/ }; do
  for r in ${ROLES//,/ }; do
    t0=$(date +%s)
    run_case "$c" "$r"
    say "  ($c/$r: $(($(date +%s) - t0)) s)"
  done
done
ELAPSED=$(($(date +%s) - START))

# --- the matrix
matrix() {
  echo "| case | peer | our role | result | evidence / reason |"
  echo "|------|------|----------|--------|-------------------|"
  local row
  for row in "${RESULTS[@]}"; do
    IFS='|' read -r c p r s why <<< "$row"
    echo "| $c | $p | $r | $s | ${why//|//} |"
  done
}
echo
matrix
NFAIL=0; NPASS=0; NUNS=0
for row in "${RESULTS[@]}"; do
  case $(echo "$row" | cut -d'|' -f4) in
    pass) NPASS=$((NPASS + 1)) ;; fail) NFAIL=$((NFAIL + 1)) ;; *) NUNS=$((NUNS + 1)) ;;
  esac
done
echo
# Failures again, last, so that the end of a long log names them.
for row in "${RESULTS[@]}"; do
  IFS='|' read -r c p r s why <<< "$row"
  [ "$s" = fail ] && say "FAILED: $c / $r vs $p -- $why"
done
say "$NPASS pass, $NFAIL fail, $NUNS unsupported in ${ELAPSED} s"
if [ -n "$DOC" ]; then
  {
    echo "# Interop matrix"
    echo
    echo "Generated by \`tests/interop/run_interop.sh --write-doc docs/INTEROP.md\` on"
    echo "$(date -u +%Y-%m-%d) against Debian's ngtcp2 $PEER_VERSION (\`gtlsclient\`, \`gtlsserver\`)"
    echo "over net_tap in a network namespace (198.18.0.0/24, fd00:18::/64)."
    echo "Role \"server\": our \`h3-static\` against \`gtlsclient\`; role \"client\":"
    echo "our \`h3-get\` against \`gtlsserver\`. Every verdict is drawn from evidence"
    echo "(bytes compared, our exit-summary counters, the peer's frame log); the"
    echo "test (\`meson test -C build/release interop/matrix\`) fails if any case fails."
    echo "Whole run: ${ELAPSED} s; $NPASS pass, $NFAIL fail, $NUNS unsupported."
    echo
    matrix
    echo
    cat "$HERE/INTEROP-NOTES.md" 2>/dev/null
  } > "$DOC"
  say "wrote $DOC"
fi
[ "$NFAIL" = 0 ]
