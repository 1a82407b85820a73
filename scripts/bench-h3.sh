#!/usr/bin/env bash
# HTTP/3 benchmark (issue 9): h3-static serving, our h3-get as the client,
# two processes joined by a net_memif pair (no NIC, no hugepages, traffic
# stays in this machine's memory), one lcore each, AES-128-GCM on
# crypto_aesni_gcm: the client on CPU crypto, the server zero-copy (async on
# the device, file pages gathered) unless H3_STATIC_OPTS="--zero-copy off"
# (CPU crypto, file bytes copied into packets). Scenarios, each RUNS times (default 3),
# medians printed:
#   - one connection, one 100 MB file (single-connection throughput);
#   - one connection, REQS requests (default and at most 1000) for a 1 KB file, all
#     issued at once and capped by the server's stream limit (100 in flight);
#   - the same REQS requests spread over CONNS connections (default 16,
#     h3-get --conns), each handshake included.
# Usage: scripts/bench-h3.sh [build dir]   (env: RUNS, REQS, CONNS, H3_STATIC_OPTS)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
runs=${RUNS:-3}
reqs=${REQS:-1000}
conns=${CONNS:-16}
server=$build/apps/h3-static/h3-static
client=$build/apps/h3-get/h3-get
for b in "$server" "$client"; do
  [ -x "$b" ] || { echo "error: $b not built (ninja -C $build)" >&2; exit 2; }
done
[ "$(nproc)" -ge 2 ] || { echo "error: needs two CPUs" >&2; exit 2; }

tmp=$(mktemp -d)
spid=
cleanup() {
  if [ -n "$spid" ] && kill -0 "$spid" 2>/dev/null; then
    kill -TERM "$spid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$spid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$tmp/root"
head -c 1024 /dev/urandom >"$tmp/root/1k.bin"
head -c 100000000 /dev/urandom >"$tmp/root/100m.bin"

eal=(--no-huge --no-shconf --no-pci -m 1024 --log-level error)
sock=$tmp/memif.sock
"$server" -l 1 "${eal[@]}" --file-prefix "bh3s$$" --vdev crypto_aesni_gcm0 \
  --vdev "net_memif0,role=server,socket=$sock" -- --root "$tmp/root" --addr 198.18.0.1/24 \
  --port 4433 --write-cert "$tmp/cert.pem" ${H3_STATIC_OPTS:-} >"$tmp/server.out" 2>&1 &
spid=$!
for _ in $(seq 100); do
  grep -q serving "$tmp/server.out" 2>/dev/null && break
  kill -0 "$spid" 2>/dev/null || break
  sleep 0.1
done
grep -q serving "$tmp/server.out" || { echo "error: h3-static did not start:" >&2; cat "$tmp/server.out" >&2; exit 1; }

# fetch NAME PATH...: one h3-get run, its stats line kept.
fetch() {
  local name=$1
  shift
  timeout 120 "$client" -l 0 "${eal[@]}" --file-prefix "bh3g$$" --vdev crypto_aesni_gcm0 \
    --vdev "net_memif0,role=client,socket=$sock" -- --addr 198.18.0.2/24 --server 198.18.0.1 \
    --port 4433 --ca "$tmp/cert.pem" --stats "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" ||
    { echo "error: h3-get $name failed:" >&2; tail -3 "$tmp/$name.err" >&2; exit 1; }
  grep '^stats:' "$tmp/$name.out" >>"$tmp/$name.stats"
}
paths=()
for _ in $(seq "$reqs"); do paths+=(/1k.bin); done
for i in $(seq "$runs"); do
  fetch big /100m.bin
  fetch small "${paths[@]}"
  fetch many --conns "$conns" "${paths[@]}"
done

# stats: N responses, B body bytes in S s: R responses/s, G Gbit/s
median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
big=$(awk '{print $(NF - 1)}' "$tmp/big.stats" | median)
rate=$(awk '{print $(NF - 3)}' "$tmp/small.stats" | median)
many=$(awk '{print $(NF - 3)}' "$tmp/many.stats" | median)
echo "h3-static <- h3-get over net_memif, one lcore each, AES-128-GCM (crypto_aesni_gcm), medians of $runs:"
echo "  server $(grep -m1 '^crypto:' "$tmp/server.out")"
echo "  one connection, 100 MB file:              $big Gbit/s"
echo "  one connection, $reqs x 1 KB (100 in flight): $rate responses/s"
echo "  $conns connections, $reqs x 1 KB, handshakes included: $many responses/s"
