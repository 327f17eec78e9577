#!/usr/bin/env bash
# Installs the Debian tools the tests and benchmarks use: dig (bind9-dnsutils)
# and dnsperf. Needs root (or sudo) when something is missing.
set -euo pipefail
need=()
command -v dig >/dev/null 2>&1 || need+=(bind9-dnsutils)
command -v dnsperf >/dev/null 2>&1 || need+=(dnsperf)
[ ${#need[@]} -eq 0 ] && exit 0
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing ${need[*]}..." >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
