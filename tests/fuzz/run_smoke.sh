#!/bin/sh
# ctest's fuzz_wire_smoke: builds the libFuzzer targets with clang++-16 in
# their own build tree and runs each on its committed seed corpus.
# Usage: run_smoke.sh SOURCE_DIR BUILD_DIR SECONDS [CLANGXX]
# The wire format gets SECONDS; the other targets share another SECONDS
# equally (at least 3 s each), so adding a target does not lengthen CI much.
# Exits 77 (ctest SKIP_RETURN_CODE) when clang++-16 is not installed.
set -eu
source_dir=$1
build_dir=$2
seconds=$3
clangxx=${4:-/usr/bin/clang++-16}

if [ ! -x "$clangxx" ]; then
  echo "clang++-16 not found ($clangxx): skipping the fuzz smoke test"
  exit 77
fi

cmake -S "$source_dir/tests/fuzz/standalone" -B "$build_dir" \
  -DSEXTANT_ROOT="$source_dir" -DCMAKE_CXX_COMPILER="$clangxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build_dir" -j2

# target  seed corpus (tests/fuzz/...)  max_len  extra libFuzzer flags
TARGETS="
fuzz_http_head    corpus-http       2048
fuzz_doh_http1    corpus-doh-http1  4096
fuzz_doh_json     corpus-doh-json   2048
fuzz_doh_http2    corpus-doh-http2  12288
fuzz_proxy_v2     corpus-proxy      1200
fuzz_config_zones corpus-config     1024 -timeout=10
fuzz_cache_snapshot corpus-snapshot 8192
fuzz_policy       corpus-policy     4096
fuzz_cookie       corpus-cookie     128
fuzz_ecs          corpus-ecs        64
fuzz_anchor_state corpus-anchor-state 4096
fuzz_zone_transfer corpus-xfr       8192
"
count=$(printf '%s\n' "$TARGETS" | grep -c .)
share=$((seconds / count))
[ "$share" -ge 3 ] || share=3

cd "$build_dir"
# Scratch copies of the seeds, so that inputs found during the run do not
# land in the source tree.
run() {
  target=$1 corpus=$2 max_len=$3 time=$4
  shift 4
  work="$build_dir/$corpus-work"
  rm -rf "$work"
  mkdir -p "$work"
  cp "$source_dir/tests/fuzz/$corpus"/* "$work"/
  echo "== $target: ${time}s"
  "./$target" -max_total_time="$time" -max_len="$max_len" -rss_limit_mb=2048 \
    -print_final_stats=1 "$@" "$work"
}
printf '%s\n' "$TARGETS" | while read -r target corpus max_len extra; do
  [ -n "$target" ] || continue
  # shellcheck disable=SC2086  # $extra is zero or more flags
  run "$target" "$corpus" "$max_len" "$share" $extra
done
run fuzz_wire corpus 4096 "$seconds"
