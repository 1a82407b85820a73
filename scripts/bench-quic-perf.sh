#!/usr/bin/env bash
# quic-perf loopback benchmark side by side with the raw AEAD figure of
# dpdk-test-crypto-perf for the same device and packet size, in one run
# (issue 8). Each quic-perf scenario runs RUNS times (default 3); the table
# shows medians. Needs two CPUs; no hugepages, no NIC.
# Usage: scripts/bench-quic-perf.sh [path/to/quic-perf]   (env: RUNS, SIZE)
set -euo pipefail
cd "$(dirname "$0")/.."
qp=${1:-build/release/apps/quic-perf/quic-perf}
runs=${RUNS:-3}
size=${SIZE:-2G}
[ -x "$qp" ] || { echo "error: $qp not built (ninja -C build/release apps/quic-perf/quic-perf)" >&2; exit 2; }
command -v dpdk-test-crypto-perf >/dev/null || { echo "error: dpdk-test-crypto-perf not found (package dpdk-dev)" >&2; exit 2; }
[ "$(nproc)" -ge 2 ] || { echo "error: needs two CPUs" >&2; exit 2; }

eal=(-l 0,1 --no-huge --no-shconf --no-pci -m 1024 --log-level error)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Raw AES-128-GCM encrypt, 1350-byte buffers, burst 32: median of five
# Cycles/Buf on the device quic-perf uses by default.
raw=$(for _ in 1 2 3 4 5; do
  dpdk-test-crypto-perf "${eal[@]}" --file-prefix "bq$$" --vdev crypto_aesni_gcm0 -- \
    --ptest throughput --devtype crypto_aesni_gcm --optype aead --aead-algo aes-gcm \
    --aead-op encrypt --aead-key-sz 16 --aead-iv-sz 12 --aead-aad-sz 16 --digest-sz 16 \
    --buffer-sz 1350 --burst-sz 32 --total-ops 1000000 2>/dev/null |
    awk '$2 == 1350 && $3 == 32 {print $10}' || true
done | sort -n | sed -n 3p)

# One scenario, RUNS times, each writing its JSON object.
scenario() {
  local name=$1
  shift
  for i in $(seq "$runs"); do
    "$qp" "${eal[@]}" --file-prefix "bq$$" --vdev crypto_aesni_gcm0 -- loopback --quiet \
      --json "$tmp/$name.$i.json" "$@" >"$tmp/$name.$i.out" 2>&1 ||
      { echo "error: quic-perf $name run $i failed:" >&2; tail -5 "$tmp/$name.$i.out" >&2; exit 1; }
  done
}
scenario bulk --download "$size"
scenario loss1 --download 100M --impair drop=1%,seed=3
scenario loss5 --download 100M --impair drop=5%,seed=3
scenario handshakes --handshakes 2000 --conns 16
scenario requests --requests 100000 --conns 4 --streams 16

python3 - "$tmp" "$runs" "${raw:-}" <<'EOF'
import json, statistics, sys
tmp, runs, raw = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def load(name):
    return [json.load(open(f"{tmp}/{name}.{i}.json")) for i in range(1, runs + 1)]
def med(rows, *path):
    vals = []
    for r in rows:
        v = r
        for p in path:
            v = v.get(p) if isinstance(v, dict) else None
        if isinstance(v, (int, float)):
            vals.append(v)
    return statistics.median(vals) if vals else None
def fmt(v, d=1):
    return "-" if v is None else f"{v:.{d}f}"
print(f"raw AES-128-GCM encrypt, 1350 B, crypto_aesni_gcm (dpdk-test-crypto-perf, median of 5): "
      f"{raw or '-'} cycles/buffer")
print(f"quic-perf loopback, one lcore per side, medians of {runs} runs:")
print(f"{'scenario':<12} {'goodput Gb/s':>12} {'cyc/pkt c':>10} {'cyc/pkt s':>10} {'rx c':>8} "
      f"{'tx s':>8} {'busy c':>7} {'busy s':>7} {'lost':>7} {'rate/s':>9}")
for name in ["bulk", "loss1", "loss5", "handshakes", "requests"]:
    rows = load(name)
    rate = med(rows, "handshakes_per_s") or med(rows, "requests_per_s")
    print(f"{name:<12} {fmt(med(rows, 'goodput_gbps'), 3):>12} "
          f"{fmt(med(rows, 'cycles_per_packet', 'client')):>10} "
          f"{fmt(med(rows, 'cycles_per_packet', 'server')):>10} "
          f"{fmt(med(rows, 'receive_cycles_per_packet', 'client')):>8} "
          f"{fmt(med(rows, 'send_cycles_per_packet', 'server')):>8} "
          f"{fmt(med(rows, 'busy_share', 'client'), 2):>7} {fmt(med(rows, 'busy_share', 'server'), 2):>7} "
          f"{fmt(med(rows, 'packets_lost'), 0):>7} {fmt(rate, 0):>9}")
    if name == "handshakes":
        s = med(rows, "cycles_per_handshake", "server")
        c = med(rows, "cycles_per_handshake", "client")
        print(f"{'':<12} busy cycles per handshake: client {fmt(c, 0)}, server {fmt(s, 0)}")
bulk = load("bulk")
s = med(bulk, "send_cycles_per_packet", "server")
if raw and s:
    print(f"server send phase per packet / raw AEAD per buffer: {s / float(raw):.2f}")
EOF
