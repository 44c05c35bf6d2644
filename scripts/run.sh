#!/usr/bin/env bash
# Installs what Sextant needs, builds it (Release) and starts it in the
# foreground on its embedded defaults: 127.0.0.1:53 and [::1]:53, IANA root
# hints, DNSSEC validation on.
#
#   scripts/run.sh          resolve from the real root servers
#   scripts/run.sh --lab    bring up the offline lab (tests/lab/up) first and
#                           point Sextant at the lab's root hints and anchor
#   scripts/run.sh -- ARGS  pass ARGS to sextant (e.g. -c my.yaml)
set -euo pipefail
cd "$(dirname "$0")/.."

lab=0
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --lab) lab=1 ;;
    --) shift; args+=("$@"); break ;;
    *) args+=("$1") ;;
  esac
  shift
done

bash scripts/install-deps.sh
build=build/release
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DSEXTANT_BUILD_TESTS=OFF -DSEXTANT_BUILD_BENCH=OFF \
  "${launcher[@]}" >/dev/null
cmake --build "$build" -j "$(nproc)" --target sextant

if [ $lab -eq 1 ]; then
  tests/lab/up
  run_dir="${SEXTANT_LAB_RUN:-$PWD/tests/lab/run}"
  config="$run_dir/sextant-demo.yaml"
  cat > "$config" <<YAML
# Written by scripts/run.sh --lab: Sextant on its defaults, pointed at the lab.
resolver:
  root-hints: $run_dir/root.hints
  query-private-addresses: true
dnssec:
  trust-anchor-file: $run_dir/root-anchor.ds
control:
  socket: $run_dir/sextant.sock
metrics:
  listen: ["127.0.0.1@9153"]
cache:
  warm-restart:
    file: $run_dir/sextant-cache.snapshot
YAML
  echo "run.sh: lab is up; try: dig @127.0.0.1 www.example.com" >&2
  echo "run.sh: and: $build/resolver/sextant control -s $run_dir/sextant.sock stats;" \
       "curl http://127.0.0.1:9153/metrics" >&2
  exec "$build/resolver/sextant" -c "$config" "${args[@]}"
fi
exec "$build/resolver/sextant" "${args[@]}"
