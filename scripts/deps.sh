#!/usr/bin/env bash
# Installs the Debian packages the build and tests need, only when missing.
# Usage: scripts/deps.sh
set -euo pipefail

pkgs=(g++ meson ninja-build pkg-config dpdk-dev libdpdk-dev libssl-dev libgtest-dev clang
  iproute2 iputils-ping  # the net_tap namespace test
  ngtcp2-client ngtcp2-server  # h3-static interop (gtlsclient; gtlsserver for the client role)
  chromium openssl  # h3-static browser test (headless Chromium over HTTP/3; SPKI pin)
  tshark)  # --pcap test: decrypts the capture with the key log
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "Installing Debian packages: ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "error: need root or sudo to install ${missing[*]}" >&2; exit 2; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y --no-install-recommends "${missing[@]}"
