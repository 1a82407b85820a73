#!/bin/bash
# The QUIC Interop Runner's endpoint contract (what a runner image would run
# as its entry point), mapped onto our two programs:
#   ROLE=server  -> h3-static serving /www with /certs/cert.pem, /certs/priv.key
#   ROLE=client  -> h3-get fetching $REQUESTS (space-separated URLs) into /downloads
#   TESTCASE     -> the case; exit 127 if we do not support it (the runner
#                   then shows it as unsupported)
#   SSLKEYLOGFILE-> TLS secrets (NSS key log) for the runner's decryption
#   QLOGDIR      -> one qlog file per connection there (both programs read it)
#   SERVER_PARAMS / CLIENT_PARAMS -> appended to the program's options
# The dataplane needs a DPDK port: IFACE (default eth0) is driven through
# net_af_packet, with the interface's own IPv4/IPv6 addresses.
# IOP_DRY_RUN=1 prints the command instead of running it.
# `run_endpoint.sh --self-test` checks the case mapping (no network).
# Not run in CI beyond --self-test: the image is not built here (issue 11).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
H3_STATIC=${H3_STATIC:-$REPO/build/release/apps/h3-static/h3-static}
H3_GET=${H3_GET:-$REPO/build/release/apps/h3-get/h3-get}

SERVER_CASES="handshake transfer http3 multiplexing chacha20 retry resumption zerortt keyupdate v2
  ipv6 transferloss handshakeloss transfercorruption handshakecorruption longrtt rebind-port
  rebind-addr connectionmigration blackhole amplificationlimit ecn"
# h3-get: no cipher restriction or v2 offer (docs/H3-GET.md). Rebinding is
# the network's doing (both kinds tested in run_interop.sh with our NAT stage).
CLIENT_CASES="handshake transfer http3 multiplexing retry resumption zerortt keyupdate ipv6
  transferloss handshakeloss transfercorruption handshakecorruption longrtt rebind-port
  rebind-addr connectionmigration blackhole amplificationlimit ecn"

supported() {  # supported ROLE CASE
  local list=$SERVER_CASES
  [ "$1" = client ] && list=$CLIENT_CASES
  case " $(echo $list) " in *" $2 "*) return 0 ;; esac
  return 1
}

if [ "${1:-}" = --self-test ]; then
  fails=0
  for c in v2 chacha20 no-such-case; do
    [ "$c" != v2 ] || continue
    ROLE=client TESTCASE=$c IOP_DRY_RUN=1 "$0" > /dev/null 2>&1
    rc=$?; [ "$rc" = 127 ] || { echo "client $c: exit $rc, expected 127"; fails=$((fails + 1)); }
  done
  for c in no-such-case; do
    ROLE=server TESTCASE=$c IOP_DRY_RUN=1 "$0" > /dev/null 2>&1
    rc=$?; [ "$rc" = 127 ] || { echo "server $c: exit $rc, expected 127"; fails=$((fails + 1)); }
  done
  out=$(ROLE=server TESTCASE=retry IFACE=lo IOP_DRY_RUN=1 "$0" 2>&1)
  echo "$out" | grep -q -- '--retry always' || { echo "server retry: no --retry always in: $out"; fails=$((fails + 1)); }
  out=$(ROLE=client TESTCASE=multiplexing IFACE=lo REQUESTS="https://127.0.0.1:443/a https://127.0.0.1:443/b" \
    IOP_DRY_RUN=1 "$0" 2>&1)
  echo "$out" | grep -q -- '--server 127.0.0.1 --port 443 .* /a /b' || { echo "client: bad command: $out"; fails=$((fails + 1)); }
  for c in resumption:--resume zerortt:--zero-rtt keyupdate:--key-update; do
    out=$(ROLE=client TESTCASE=${c%%:*} IFACE=lo REQUESTS="https://127.0.0.1:443/a https://127.0.0.1:443/b" \
      IOP_DRY_RUN=1 "$0" 2>&1)
    echo "$out" | grep -q -- " ${c#*:} " || { echo "client ${c%%:*}: no ${c#*:} in: $out"; fails=$((fails + 1)); }
  done
  ROLE=tester TESTCASE=handshake IOP_DRY_RUN=1 "$0" > /dev/null 2>&1
  [ $? = 127 ] || { echo "ROLE=tester: expected 127"; fails=$((fails + 1)); }
  [ "$fails" = 0 ] && echo "run_endpoint self-test: ok"
  exit "$fails"
fi

ROLE=${ROLE:-}
TESTCASE=${TESTCASE:-}
[ "$ROLE" = server ] || [ "$ROLE" = client ] || { echo "ROLE must be server or client" >&2; exit 127; }
supported "$ROLE" "$TESTCASE" || { echo "unsupported test case: $TESTCASE ($ROLE)" >&2; exit 127; }

IFACE=${IFACE:-eth0}
addr4=$(ip -4 -o addr show dev "$IFACE" 2>/dev/null | awk '{print $4; exit}')
addr6=$(ip -6 -o addr show dev "$IFACE" scope global 2>/dev/null | awk '{print $4; exit}')
eal=(--no-huge --no-shconf --no-pci -m 512 --no-telemetry -l 0 --log-level error
  --vdev "net_af_packet0,iface=$IFACE")
[ "$IFACE" = lo ] && eal=(--no-huge --no-shconf --no-pci -m 512 --no-telemetry -l 0 --vdev net_null0)
common=()
[ -n "$addr4" ] && common+=(--addr "$addr4")
[ -n "$addr6" ] && common+=(--addr6 "$addr6")
[ -n "${SSLKEYLOGFILE:-}" ] && common+=(--keylog "$SSLKEYLOGFILE")

run() {
  if [ "${IOP_DRY_RUN:-0}" = 1 ]; then echo "$*"; exit 0; fi
  exec "$@"
}

if [ "$ROLE" = server ]; then
  opts=(--root /www --port 443 --cert /certs/cert.pem --key /certs/priv.key)
  case $TESTCASE in
    retry) opts+=(--retry always) ;;
    zerortt) opts+=(--early-data) ;;
    connectionmigration) [ -n "$addr4" ] && opts+=(--preferred-address "${addr4%/*}:4433") ;;
    *) opts+=(--retry never) ;;
  esac
  # shellcheck disable=SC2086
  run "$H3_STATIC" "${eal[@]}" -- "${common[@]}" "${opts[@]}" ${SERVER_PARAMS:-}
fi

# Client: every URL names the same origin; paths in order.
server='' port=443 paths=()
for url in ${REQUESTS:-}; do
  rest=${url#https://}
  hostport=${rest%%/*}
  paths+=("/${rest#*/}")
  case $hostport in
    \[*\]:*) server=${hostport%%]:*}; server=${server#[}; port=${hostport##*]:} ;;
    \[*\]) server=${hostport#[}; server=${server%]} ;;
    *:*) server=${hostport%:*}; port=${hostport##*:} ;;
    *) server=$hostport ;;
  esac
done
[ -n "$server" ] || { echo "REQUESTS is empty" >&2; exit 1; }
# A name, not an address: resolve it (the runner's "server" host).
if ! [[ $server =~ ^[0-9.]+$ || $server == *:* ]]; then
  server=$(getent ahosts "$server" | awk '{print $1; exit}')
fi
opts=(--server "$server" --port "$port" --out /downloads --insecure-no-verify)
[ "$TESTCASE" = handshakeloss ] || [ "$TESTCASE" = handshakecorruption ] \
  && opts+=(--conns "$(( ${#paths[@]} < 64 ? ${#paths[@]} : 64 ))")
[ "$TESTCASE" = longrtt ] && opts+=(--handshake-timeout-ms 60000)
# Resumption and 0-RTT: the first URL on one connection, the rest on a
# second that resumes (with 0-RTT requests); keyupdate: we initiate one.
[ "$TESTCASE" = resumption ] && opts+=(--resume)
[ "$TESTCASE" = zerortt ] && opts+=(--zero-rtt)
[ "$TESTCASE" = keyupdate ] && opts+=(--key-update)
# shellcheck disable=SC2086
run "$H3_GET" "${eal[@]}" -- "${common[@]}" "${opts[@]}" ${CLIENT_PARAMS:-} "${paths[@]}"
