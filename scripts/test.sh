#!/usr/bin/env bash
# The test command: builds and runs the unit tests twice (release, then debug
# with ASan/UBSan), and runs each libFuzzer target briefly when clang exists.
# Ends with Meson's test summary of the sanitizer run.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh || exit 2
. scripts/configure.sh
jobs=$(nproc)
failed=()

step() { echo; echo "=== $* ==="; }

# Names the tests of a finished run that did not pass, with the end of their
# output, so a failure early in the run is still visible next to the final
# summary (CI may show only the end of the log).
failures_of() {
  python3 - "$1/meson-logs/testlog.json" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    t = json.loads(line)
    if t["result"] in ("OK", "SKIP", "EXPECTEDFAIL"):
        continue
    print(f"  {t['name']}: {t['result']} (exit {t['returncode']}, {t['duration']:.0f} s); its last lines:")
    for l in (t.get("stdout") or "").splitlines()[-12:]:
        print("    | " + l[:400])
PY
}

step "release build and unit tests (build/release)"
configure_build build/release --buildtype=release -Dtests=true -Dwerror=true || exit 2
ninja -C build/release -j"$jobs" || exit 2
meson test -C build/release --suite unit --suite interop --print-errorlogs || failed+=("release")

if command -v clang++ >/dev/null; then
  step "fuzz targets, ${FUZZ_SECONDS:-20} s each (build/fuzz, clang + ASan/UBSan)"
  CXX=clang++ configure_build build/fuzz --buildtype=debugoptimized -Dtests=false -Dfuzz=true -Dwerror=true \
    -Dfuzz_seconds="${FUZZ_SECONDS:-20}" -Db_sanitize=address,undefined -Db_lundef=false || exit 2
  ninja -C build/fuzz -j"$jobs" || exit 2
  meson test -C build/fuzz --suite fuzz --print-errorlogs || failed+=("fuzz")
else
  step "clang++ not found: fuzz targets not run"
fi

step "debug build with ASan/UBSan and unit tests (build/asan)"
configure_build build/asan --buildtype=debug -Dtests=true -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false || exit 2
ninja -C build/asan -j"$jobs" || exit 2
if [ ${#failed[@]} -gt 0 ]; then
  echo "failed so far: ${failed[*]} (see above)"
  for b in "${failed[@]}"; do failures_of "build/$b"; done
fi
# The full simulator sweep (1000 seeds per profile) runs in the release step;
# under the sanitizers 100 seeds per profile keep the run short.
DQUIC_SIM_SEEDS="${DQUIC_SIM_SEEDS_ASAN:-100}" meson test -C build/asan --suite unit --suite interop --print-errorlogs ||
  failed+=("asan")

[ ${#failed[@]} -eq 0 ]
