#!/bin/sh
# Writes a self-signed EC P-256 certificate for localhost and 127.0.0.1
# (cert.pem) and its unencrypted key (key.pem) into DIR (default: .).
# For tests and local trials only.
#   scripts/make-test-cert.sh [DIR] [DAYS]
set -eu
dir=${1:-.}
days=${2:-30}
mkdir -p "$dir"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout "$dir/key.pem" -out "$dir/cert.pem" -days "$days" \
  -subj "/CN=localhost" \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
chmod 600 "$dir/key.pem"
echo "$dir/cert.pem $dir/key.pem"
