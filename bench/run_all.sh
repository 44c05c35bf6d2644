#!/bin/sh
# Runs the four load benchmarks one after the other (bench/README.md):
#   bench/run_all.sh [--sextant CMD] [any option common to all four scripts]
# Brings the lab up once (and down at the end only if it was not up before),
# prints every table and also saves the whole output to
# ${BENCH_OUT:-/tmp}/sextant-bench-DATE.txt, the latency plots to
# sextant-bench-DATE-*.png beside it. About 8-10 minutes on 2 cores.
set -u
here=$(cd "$(dirname "$0")" && pwd)
lab=$(dirname "$here")/tests/lab
# The scripts write their plots (PNG) next to this text, with the same stamp.
BENCH_OUT=${BENCH_OUT:-/tmp}
BENCH_STAMP=$(date -u +%Y%m%d-%H%M%S)
export BENCH_OUT BENCH_STAMP
out=$BENCH_OUT/sextant-bench-$BENCH_STAMP.txt

lab_was_up=yes
"$lab/status" 2>/dev/null | awk '$1 != "unbound" && $NF != "ok" {bad = 1} END {exit bad}' ||
  lab_was_up=no
"$lab/up" --wait >/dev/null || { echo "run_all: tests/lab/up failed" >&2; exit 1; }

failed=$out.failed
rm -f "$failed"
{
  echo "Sextant load benchmarks, $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "unbound $(unbound -V 2>/dev/null | sed -n 's/^Version //p'), $(dnsperf -h 2>&1 | sed -n 's/^Version /dnsperf /p'), git $(git -C "$here" rev-parse --short HEAD 2>/dev/null)"
  for bench in cache_hit memory_per_name transports upstream_queries; do
    echo
    echo "=================== $bench ==================="
    start=$(date +%s)
    # Progress lines go to stderr (the terminal); tables to stdout (and $out).
    /usr/bin/python3 "$here/$bench.py" --keep-lab "$@" || { echo "$bench FAILED"; echo "$bench" >> "$failed"; }
    echo "($bench: $(( $(date +%s) - start )) s)"
  done
} | tee "$out"

if [ "$lab_was_up" = no ]; then "$lab/down" >/dev/null; fi
echo "saved to $out"
if [ -s "$failed" ]; then echo "failed: $(tr '\n' ' ' < "$failed")" >&2; rm -f "$failed"; exit 1; fi
exit 0
