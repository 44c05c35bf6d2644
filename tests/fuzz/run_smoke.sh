#!/bin/sh
# ctest's fuzz_wire_smoke: builds the libFuzzer targets with clang++-16 in
# their own build tree and runs each on its committed seed corpus.
# Usage: run_smoke.sh SOURCE_DIR BUILD_DIR SECONDS [CLANGXX]
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

# Scratch copies of the seeds, so that new inputs found during the run do not
# land in the source tree.
work_corpus="$build_dir/corpus-work"
http_corpus="$build_dir/corpus-http-work"
doh_http1_corpus="$build_dir/corpus-doh-http1-work"
doh_json_corpus="$build_dir/corpus-doh-json-work"
proxy_corpus="$build_dir/corpus-proxy-work"
policy_corpus="$build_dir/corpus-policy-work"
rm -rf "$work_corpus" "$http_corpus" "$doh_http1_corpus" "$doh_json_corpus" "$proxy_corpus" "$policy_corpus"
mkdir -p "$work_corpus" "$http_corpus" "$doh_http1_corpus" "$doh_json_corpus" "$proxy_corpus" "$policy_corpus"
cp "$source_dir"/tests/fuzz/corpus/* "$work_corpus"/
cp "$source_dir"/tests/fuzz/corpus-http/* "$http_corpus"/
cp "$source_dir"/tests/fuzz/corpus-doh-http1/* "$doh_http1_corpus"/
cp "$source_dir"/tests/fuzz/corpus-doh-json/* "$doh_json_corpus"/
cp "$source_dir"/tests/fuzz/corpus-proxy/* "$proxy_corpus"/
cp "$source_dir"/tests/fuzz/corpus-policy/* "$policy_corpus"/

cd "$build_dir"
# The metrics endpoint's HTTP parser: a third of the time; DoH's HTTP/1.1
# request handling and JSON API: a third each; the PROXY v2 parser and the
# policy parsers (lists, hosts, RPZ, local data): a sixth each; then the
# wire format.
./fuzz_http_head -max_total_time="$((seconds / 3 + 1))" -max_len=2048 -rss_limit_mb=2048 \
  -print_final_stats=1 "$http_corpus"
./fuzz_doh_http1 -max_total_time="$((seconds / 3 + 1))" -max_len=4096 -rss_limit_mb=2048 \
  -print_final_stats=1 "$doh_http1_corpus"
./fuzz_doh_json -max_total_time="$((seconds / 3 + 1))" -max_len=2048 -rss_limit_mb=2048 \
  -print_final_stats=1 "$doh_json_corpus"
./fuzz_proxy_v2 -max_total_time="$((seconds / 6 + 1))" -max_len=1200 -rss_limit_mb=2048 \
  -print_final_stats=1 "$proxy_corpus"
./fuzz_policy -max_total_time="$((seconds / 6 + 1))" -max_len=4096 -rss_limit_mb=2048 \
  -print_final_stats=1 "$policy_corpus"
exec ./fuzz_wire -max_total_time="$seconds" -max_len=4096 -rss_limit_mb=2048 \
  -print_final_stats=1 "$work_corpus"
