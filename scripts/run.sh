#!/usr/bin/env bash
# The main job: build the release tree, then
#  1. h3-static serving the bundled sample site (apps/h3-static/sample-site)
#     on a net_tap port inside a network namespace of our own (kernel side
#     198.18.0.1/24, the stack 198.18.0.2/24: benchmarking addresses only,
#     nothing leaves the namespace), fetched over HTTP/3 by Debian's
#     gtlsclient, with what came back shown;
#  2. a short quic-perf loopback run (client and server on two lcores joined
#     by a net_ring pair, no NIC, no hugepages) and its summary.
# Everything is bounded in time; only processes started here are stopped;
# the namespace and temporary files are removed. Safe to run twice.
set -uo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "run.sh: needs root (network namespace, /dev/net/tun)" >&2; exit 2; }
scripts/deps.sh || exit 2
. scripts/configure.sh
configure_build build/release --buildtype=release -Dtests=true || exit 2
ninja -C build/release -j"$(nproc)" apps/h3-static/h3-static apps/quic-perf/quic-perf || exit 2

H3=build/release/apps/h3-static/h3-static
PERF=build/release/apps/quic-perf/quic-perf
SITE=apps/h3-static/sample-site
NS=dquic-demo$$
IF=dqdemo$$
SERVER_IP=198.18.0.2
PORT=4433
TMP=$(mktemp -d /tmp/dquic-demo.XXXXXX)
SERVER_PID=

. tests/support/tap_server.sh
cleanup() {
  stop_pid "$SERVER_PID"
  ip netns del "$NS" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

echo "== 1. h3-static serving $SITE over HTTP/3 (namespace $NS, net_tap $IF)"
ip netns add "$NS" || exit 1
ip -n "$NS" link set lo up
# The only set-up the kernel side needs: an address on the tap (198.18.0.1/24).
tap_server_start "$NS" "$IF" "$TMP/server.out" "$TMP/server.out" "dquic-demo$$" "$H3" -- \
  --root "$SITE" --addr "$SERVER_IP/24" --port "$PORT" --alt-svc --access-log "$TMP/access.log" ||
  { echo "run.sh: h3-static did not start"; exit 1; }
sed 's/^/  server: /' "$TMP/server.out"

URL=https://$SERVER_IP:$PORT
echo
echo "-- gtlsclient GET / /style.css /app.js /img/quic.svg (one connection, parallel streams)"
mkdir -p "$TMP/dl"
timeout 60 ip netns exec "$NS" gtlsclient --exit-on-all-streams-close --timeout=10s \
  --no-quic-dump --download="$TMP/dl" "$SERVER_IP" "$PORT" \
  "$URL/" "$URL/style.css" "$URL/app.js" "$URL/img/quic.svg" > "$TMP/client.log" 2>&1
RC=$?
grep -E '(:status|content-type|content-length|alt-svc): ' "$TMP/client.log" | sed 's/^/  /' |
  head -40 || true
OK=1
[ "$RC" = 0 ] || { echo "run.sh: gtlsclient exited $RC"; tail -20 "$TMP/client.log"; OK=0; }
for f in index.html style.css app.js; do
  if cmp -s "$SITE/$f" "$TMP/dl/$f"; then echo "  $f: $(stat -c %s "$TMP/dl/$f") bytes, identical to the file"
  else echo "  /$f: NOT identical"; OK=0; fi
done
if cmp -s "$SITE/img/quic.svg" "$TMP/dl/quic.svg"; then echo "  /img/quic.svg: identical"; else echo "  /img/quic.svg: NOT identical"; OK=0; fi
echo "-- the page as received (/):"
sed 's/^/  | /' "$TMP/dl/index.html" 2>/dev/null | head -20
echo "-- gtlsclient GET /about/ (a directory: its index.html)"
mkdir -p "$TMP/about"
timeout 60 ip netns exec "$NS" gtlsclient --exit-on-all-streams-close --timeout=10s \
  --no-quic-dump --no-http-dump --download="$TMP/about" "$SERVER_IP" "$PORT" "$URL/about/" \
  > "$TMP/about.log" 2>&1 || OK=0
if cmp -s "$SITE/about/index.html" "$TMP/about/index.html"; then
  sed 's/^/  | /' "$TMP/about/index.html"
else echo "  /about/: NOT identical"; OK=0; fi
echo "-- access log:"
kill -TERM "$SERVER_PID"
wait_exit "$SERVER_PID" 100
SRC=${WAIT_RC:-"none: still running after 10 s"}
[ -n "$WAIT_RC" ] && SERVER_PID=
sed 's/^/  /' "$TMP/access.log"
echo "-- h3-static stopped on SIGTERM (exit $SRC)"
[ "$SRC" = 0 ] || OK=0

echo
echo "== 2. quic-perf loopback: 1 GB download, AES-128-GCM, client and server on lcores 0 and 1"
timeout 120 "$PERF" -l 0,1 --no-huge --no-shconf --no-pci -m 1024 --no-telemetry --log-level error \
  --file-prefix "dquic-perf$$" --vdev crypto_aesni_gcm0 -- loopback --download 1G --quiet \
  > "$TMP/perf.out" 2>&1
PRC=$?
sed -n '/results/,$p' "$TMP/perf.out" | grep -v '^worker\|^total' | sed 's/^/  /'
[ "$PRC" = 0 ] || { echo "run.sh: quic-perf exited $PRC"; tail -20 "$TMP/perf.out"; OK=0; }

echo
if [ "$OK" = 1 ]; then echo "main job: done"; exit 0; fi
echo "main job: FAILED (see above)"; exit 1
