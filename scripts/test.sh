#!/usr/bin/env bash
# The test command: installs what it needs (Debian packages), builds Sextant
# with AddressSanitizer + UndefinedBehaviorSanitizer and warnings as errors,
# then runs every test through ctest: unit tests, the lab (real
# authoritative servers on loopback) with the integration tests that use it,
# and a short libFuzzer run. ctest's summary line is the last thing printed.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

build="${SEXTANT_TEST_BUILD:-build/test}"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DSEXTANT_SANITIZE=ON -DSEXTANT_WERROR=ON \
  "${launcher[@]}" >/dev/null
cmake --build "$build" -j "$(nproc)"

# Make sure no lab from an earlier, interrupted run is still up.
[ -x tests/lab/down ] && tests/lab/down >/dev/null 2>&1 || true

cd "$build"
exec ctest --output-on-failure --timeout 600 "$@"
