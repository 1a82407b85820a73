#!/bin/bash
# A real browser loads a page from h3-static over HTTP/3 (issue 9): Debian's
# Chromium, headless, inside a network namespace of the test's own, with
# QUIC forced for the origin and the server's self-signed certificate
# pinned by its SPKI hash. h3-static runs on a net_tap vdev in the same
# namespace (kernel side 198.18.0.1/24, the stack 198.18.0.2/24; RFC 2544
# benchmarking addresses only, nothing leaves the namespace).
#
# The page (tests/apps/h3_static/chromium-site, plus a BMP made here) pulls
# a stylesheet, a deferred script and an image; on `load` the script writes
# into the DOM the stylesheet's computed values, the image's natural size and
# every resource's nextHopProtocol, then the statuses of fetch()es: a range
# (206), a revalidation with the ETag (304), a missing file (404) and 20 in
# parallel (--virtual-time-budget makes --dump-dom wait for them). The test
# passes only if the dumped DOM holds exactly the expected lines (all "h3"),
# the server's access log has the requests, and Chromium's net log records
# the QUIC session and HTTP/3 headers. There is no TCP listener at 198.18.0.2
# at all: the page cannot arrive any other way. Done twice: with the default
# server, then with one that sends a Retry to every new connection.
#
# Usage: h3_static_chromium_test.sh PATH/TO/h3-static
# Needs root (netns, /dev/net/tun) and chromium: without them it FAILS with
# the reason. Every step is bounded in time; only the processes this script
# started are killed; the namespace and temp directory are removed.
set -u

H3=${1:?usage: $0 PATH/TO/h3-static}
SITE=$(cd "$(dirname "$0")/h3_static/chromium-site" && pwd)
NS=h3c$$
PORT=4433
SERVER_IP=198.18.0.2
TMP=$(mktemp -d /tmp/h3static-chromium.XXXXXX)
SERVER_PID=
BROWSER_PID=
OUT=
TAG=
FAILS=0

log() { echo "h3_static_chromium: $*"; }
fail() { log "FAIL: $*"; FAILS=$((FAILS + 1)); }

. "$(dirname "$0")/../support/tap_server.sh"
cleanup() {
  # timeout(1) runs the browser in a process group of its own (its PID):
  # whatever of it is left (renderer, GPU, zygote) goes with it.
  if [ -n "$BROWSER_PID" ]; then kill -KILL -- "-$BROWSER_PID" 2>/dev/null; fi
  stop_pid "$SERVER_PID"
  ip netns del "$NS" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

[ "$(id -u)" = 0 ] || { log "FAIL: needs root (network namespaces, /dev/net/tun)"; exit 1; }
CHROMIUM=$(command -v chromium) || { log "FAIL: chromium not installed (apt-get install chromium; scripts/deps.sh)"; exit 1; }
[ -x "$H3" ] || { log "FAIL: $H3 is not executable"; exit 1; }
[ -f "$SITE/index.html" ] || { log "FAIL: site not found at $SITE"; exit 1; }

# --- the site: the files of the repository and a 300x200 24-bit BMP of noise
# (BITMAPFILEHEADER + BITMAPINFOHEADER, rows of 900 bytes, bottom-up), big
# enough to need many packets and flow-control credit.
ROOT=$TMP/root
mkdir -p "$ROOT/img"
cp "$SITE/index.html" "$SITE/style.css" "$SITE/app.js" "$ROOT/"
# shellcheck disable=SC2059  # the format is the escaped bytes themselves
le32() { printf "\\x$(printf %02x $(($1 & 255)))\\x$(printf %02x $((($1 >> 8) & 255)))\\x$(printf %02x $((($1 >> 16) & 255)))\\x$(printf %02x $((($1 >> 24) & 255)))"; }
W=300 H=200
PIXELS=$((W * 3 * H))
{
  printf 'BM'; le32 $((54 + PIXELS)); le32 0; le32 54
  le32 40; le32 $W; le32 $H; printf '\x01\x00\x18\x00'; le32 0; le32 $PIXELS
  le32 2835; le32 2835; le32 0; le32 0
  head -c $PIXELS /dev/urandom
} > "$ROOT/img/noise.bmp"
EXPECTED="css=123px,rgb(10, 20, 30) img=${W}x${H} nav=h3 res=/app.js=h3 /img/noise.bmp=h3 /style.css=h3"
EXPECTED_FETCHES="range=206,10,bytes 3-12/$(stat -c %s "$ROOT/style.css") inm=304 missing=404 parallel=20"

# --- the namespace; the server and the browser run inside it
ip netns add "$NS" || { log "FAIL: ip netns add"; exit 1; }
ip -n "$NS" link set lo up

# start_server TAG EXTRA_OPTIONS... : h3-static on a tap interface of its own
# (tests/support/tap_server.sh); output under $TMP/TAG. Exits on failure.
start_server() {
  local tag=$1; shift
  OUT=$TMP/$tag
  IF=h3c${tag:0:1}$$  # IFNAMSIZ: 15 characters at most
  mkdir -p "$OUT"
  tap_server_start "$NS" "$IF" "$OUT/server.out" "$OUT/server.err" "h3s-chromium-$tag$$" "$H3" -- \
    --root "$ROOT" --addr "$SERVER_IP/24" --port "$PORT" --write-cert "$OUT/cert.pem" \
    --access-log "$OUT/access.log" --keylog "$OUT/keylog" "$@" ||
    { log "FAIL: start_server $tag"; exit 1; }
}

# stop_server: SIGTERM, at most 10 s, exit status 0 expected.
stop_server() {
  kill -TERM "$SERVER_PID"
  wait_exit "$SERVER_PID" 100
  [ "$WAIT_RC" = 0 ] || fail "$TAG: server exit status '$WAIT_RC' after SIGTERM"
  SERVER_PID=
}

# browse: Chromium loads the page from the running server into $OUT/dom.html,
# its net log into $OUT/netlog.json. Over QUIC it ignores
# --ignore-certificate-errors; it takes a self-signed certificate pinned by
# SPKI hash (with a fresh profile).
browse() {
  local spki
  spki=$(openssl x509 -pubkey -noout -in "$OUT/cert.pem" | openssl pkey -pubin -outform der \
    | openssl dgst -sha256 -binary | base64)
  [ -n "$spki" ] || { fail "$TAG: no SPKI hash from $OUT/cert.pem"; return; }
  # shellcheck disable=SC2054  # --disable-features takes a comma list
  local args=(--headless --no-sandbox --disable-gpu --disable-dev-shm-usage
    --user-data-dir="$OUT/profile" --no-first-run --no-default-browser-check
    --disable-background-networking --disable-component-update --disable-sync
    --disable-extensions --disable-features=MediaRouter,OptimizationHints
    --host-resolver-rules="MAP * ~NOTFOUND, EXCLUDE $SERVER_IP"
    --enable-quic --origin-to-force-quic-on="$SERVER_IP:$PORT"
    --ignore-certificate-errors-spki-list="$spki"
    --log-net-log="$OUT/netlog.json" --net-log-capture-mode=Everything
    --virtual-time-budget=10000 --dump-dom "https://$SERVER_IP:$PORT/")
  local start rc
  start=$(date +%s%N)
  # Own process group (timeout's default), 60 s at most, then KILL after 5 more.
  HOME=$OUT timeout -k 5 60 ip netns exec "$NS" "$CHROMIUM" "${args[@]}" \
    > "$OUT/dom.html" 2> "$OUT/chromium.err" &
  BROWSER_PID=$!
  wait "$BROWSER_PID"
  rc=$?
  kill -KILL -- "-$BROWSER_PID" 2>/dev/null
  BROWSER_PID=
  log "$TAG: chromium exited $rc after $((($(date +%s%N) - start) / 1000000)) ms"
}

# check: the DOM the page's script produced, the access log, the net log.
check() {
  local got
  got=$(sed -n 's:.*<p id="result">\(.*\)</p>.*:\1:p' "$OUT/dom.html")
  if [ "$got" = "$EXPECTED" ]; then log "ok: $TAG: DOM: $got"
  else
    fail "$TAG: DOM result is '$got', expected '$EXPECTED'"
    log "dumped DOM:"; head -c 3000 "$OUT/dom.html"; echo
    log "chromium stderr (without D-Bus noise):"; grep -v 'dbus/' "$OUT/chromium.err" | tail -20
  fi
  got=$(sed -n 's:.*<p id="fetches">\(.*\)</p>.*:\1:p' "$OUT/dom.html")
  if [ "$got" = "$EXPECTED_FETCHES" ]; then log "ok: $TAG: DOM: $got"
  else fail "$TAG: DOM fetches are '$got', expected '$EXPECTED_FETCHES'"; fi

  # The server saw the page's four requests and the script's.
  local p
  for p in / /style.css /app.js /img/noise.bmp; do
    grep -q "GET \"$p\" 200" "$OUT/access.log" || fail "$TAG: access log lacks GET $p 200"
  done
  grep -q 'GET "/style.css" 206 10 ' "$OUT/access.log" || fail "$TAG: access log lacks the 206"
  grep -q 'GET "/style.css" 304 ' "$OUT/access.log" || fail "$TAG: access log lacks the 304"

  # Chromium's net log (event types are numbers, named in its constants): a
  # QUIC session to the server and decoded HTTP/3 response headers.
  if [ ! -s "$OUT/netlog.json" ]; then fail "$TAG: no net log"; return; fi
  local ev code
  for ev in QUIC_SESSION HTTP3_HEADERS_DECODED; do
    code=$(grep -o "\"$ev\":[0-9]*" "$OUT/netlog.json" | head -1 | cut -d: -f2)
    if [ -z "$code" ] || ! grep -q "\"type\":${code}[,}]" "$OUT/netlog.json"; then
      fail "$TAG: net log has no $ev event"
    fi
  done
  grep -q "\"host\":\"$SERVER_IP\"" "$OUT/netlog.json" || fail "$TAG: net log names no QUIC session to $SERVER_IP"
  grep -q '"content-type: image/bmp"' "$OUT/netlog.json" || fail "$TAG: net log has no HTTP/3 response with content-type image/bmp"
}

# --- 1. the page, the default server
TAG=plain
start_server "$TAG"
browse
check
stop_server

# --- 2. the same with a Retry to every new connection (RFC 9000 §8.1):
# Chromium must echo the token and check retry_source_connection_id.
TAG=retry
start_server "$TAG" --retry always
browse
check
grep -q 'retry_source_connection_id' "$OUT/netlog.json" \
  || fail "$TAG: Chromium's transport parameters show no retry_source_connection_id"
stop_server  # the counters are printed at exit
grep -Eq 'total stateless .*retry=[1-9]' "$OUT/server.out" || fail "$TAG: the server counted no Retry"

# H3_CHROMIUM_KEEP=DIR keeps the net log, keylog, DOM and server output.
if [ -n "${H3_CHROMIUM_KEEP:-}" ]; then
  cp -r "$TMP" "$H3_CHROMIUM_KEEP" && log "artefacts kept in $H3_CHROMIUM_KEEP"
fi
if [ "$FAILS" != 0 ]; then
  for d in "$TMP"/plain "$TMP"/retry; do
    [ -d "$d" ] || continue
    log "${d##*/}: server stderr:"; tail -20 "$d/server.err"
    log "${d##*/}: server stdout:"; tail -30 "$d/server.out"
    log "${d##*/}: access log:"; cat "$d/access.log"
  done
  log "$FAILS failure(s)"; exit 1
fi
log "all passed"
exit 0
