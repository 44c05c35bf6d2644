#!/usr/bin/env bash
# Installs every Debian 12 package that building, testing, the lab and the
# benchmarks need. Idempotent: when everything is present it prints nothing.
# Daemons that Debian would start on install (unbound, knot, dnsdist, kresd,
# pdns-recursor) are kept from
# starting, so nothing grabs 127.0.0.1:53 behind the project's back.
set -euo pipefail

PACKAGES=(
  # build
  cmake g++ pkg-config make ccache
  libuv1-dev libssl-dev libnghttp2-dev libngtcp2-dev libngtcp2-crypto-gnutls-dev libnghttp3-dev
  libgnutls28-dev catch2 libfmt-dev libyaml-cpp-dev libbenchmark-dev
  # fuzzing (clang 14 cannot compile libstdc++ 12 <ranges>)
  clang-16 libclang-rt-16-dev
  # the lab: authoritative servers, zone signing and checks
  knot knot-dnsutils ldnsutils bind9-dnsutils openssl iproute2 procps
  python3-cryptography  # dnspython's DNSSEC checks in tests/lab/selfcheck (only Recommended)
  # clients and peers for integration tests and benchmarks
  dnsperf unbound python3 python3-dnspython python3-httpx python3-h2 python3-yaml
  nghttp2-client curl
  knot-resolver pdns-recursor  # peers of bench/flood.py (random-subdomain flood)
  python3-prometheus-client  # parses /metrics in tests/integration/operations_test.py
  libfstrm-dev libprotobuf-c-dev protobuf-c-compiler fstrm-bin dnstap-ldns  # dnstap query logs
  dnsdist              # the load balancer of docs/deploy/dnsdist.md and its integration test
  python3-matplotlib   # bench/: latency distributions as PNG plots
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}" >&2
# Keep package scripts from starting services (policy-rc.d "action forbidden").
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"
  created_policy=1
fi
trap '[ $created_policy -eq 1 ] && $SUDO rm -f "$policy"' EXIT
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
