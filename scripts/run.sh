#!/usr/bin/env bash
# The main job. The programs (h3-static, quic-perf) are not built yet, so this
# builds the release tree and runs what exists: the wire-codec and
# packet-protection benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh || exit 2
. scripts/configure.sh
configure_build build/release --buildtype=release -Dtests=true
ninja -C build/release -j"$(nproc)"
echo "h3-static and quic-perf are not built yet; running the codec, TLS handshake and packet-protection benchmarks."
meson test -C build/release --benchmark --verbose
