#!/usr/bin/env bash
# Packet-protection benchmark: our seal/open per backend (protect_bench) side
# by side with dpdk-test-crypto-perf's raw AEAD encrypt on the same software
# crypto devices, same buffer size (1350 B) and burst (32), in one run.
# Usage: scripts/bench-protection.sh [path/to/protect_bench]
set -euo pipefail
cd "$(dirname "$0")/.."
bench=${1:-build/release/tests/bench/protect_bench}
[ -x "$bench" ] || { echo "error: $bench not built (ninja -C build/release)" >&2; exit 2; }
command -v dpdk-test-crypto-perf >/dev/null || { echo "error: dpdk-test-crypto-perf not found (package dpdk-dev)" >&2; exit 2; }

eal=(--no-huge --no-shconf --no-pci -m 1024 --log-level error)
ours=$("$bench" -l 0 "${eal[@]}" --file-prefix "pb$$" \
  --vdev crypto_aesni_gcm0 --vdev crypto_aesni_mb0 --vdev crypto_chacha20_poly1305_0 --vdev crypto_openssl0)
echo "$ours"
echo

# Median of five dpdk-test-crypto-perf runs: Cycles/Buf of AEAD encrypt
# (empty when the device cannot run the algorithm).
raw() {
  local dev=$1 algo=$2 keysz=$3
  for _ in 1 2 3 4 5; do
    dpdk-test-crypto-perf -l 0,1 "${eal[@]}" --file-prefix "cp$$" --vdev "${dev}0" -- \
      --ptest throughput --devtype "$dev" --optype aead --aead-algo "$algo" --aead-op encrypt \
      --aead-key-sz "$keysz" --aead-iv-sz 12 --aead-aad-sz 16 --digest-sz 16 \
      --buffer-sz 1350 --burst-sz 32 --total-ops 1000000 2>/dev/null |
      awk '$2 == 1350 && $3 == 32 {print $10}' || true
  done | sort -n | sed -n 3p
}

# Our seal for a pairing ("-" when that pairing does not exist here).
ours_of() { awk -v b="$1" -v a="$2" -v f="$3" '$1 == b && $2 == a {for (i = 3; i < NF; i++) if ($i == f) print $(i + 1)}' <<<"$ours"; }

printf '%-26s %-18s %10s %12s %12s %10s\n' device algorithm raw_aead seal_cpu seal_async seal/raw
for row in "crypto_aesni_gcm aes-gcm 16 AES-128-GCM" "crypto_aesni_mb aes-gcm 16 AES-128-GCM" \
           "crypto_openssl aes-gcm 16 AES-128-GCM" "crypto_chacha20_poly1305 chacha20-poly1305 32 ChaCha20-Poly1305" \
           "crypto_aesni_mb chacha20-poly1305 32 ChaCha20-Poly1305" "crypto_openssl chacha20-poly1305 32 ChaCha20-Poly1305"; do
  read -r dev algo keysz name <<<"$row"
  r=$(raw "$dev" "$algo" "$keysz")
  vdev=${dev}0
  [ "$dev" = crypto_chacha20_poly1305 ] && vdev=${dev}_0
  cpu=$(ours_of "${vdev}_cpu" "$name" seal)
  async=$(ours_of "${vdev}_async" "$name" seal)
  best=${cpu:-$async}
  ratio=-
  [ -n "$r" ] && [ -n "$best" ] && ratio=$(awk -v s="$best" -v r="$r" 'BEGIN {printf "%.2f", s / r}')
  printf '%-26s %-18s %10s %12s %12s %10s\n' "$dev" "$name" "${r:--}" "${cpu:--}" "${async:--}" "$ratio"
done
