#!/usr/bin/env bash
# deps.sh — installs the Debian packages gocxx needs, when missing.
#
# Usage: scripts/deps.sh build|test|bench
#   build  compilers, CMake, Ninja, Boost.Context, GoogleTest, Google Benchmark
#   test   build + clang (the ASan+UBSan build) and its sanitizer runtimes, and the
#          openssl command (the HTTPS test runs openssl s_server)
#   bench  build + Go and x/sync, oneTBB, Boost.Fiber (the benchmark anchors)
# Uses sudo when not root. Prints nothing when everything is already there.
set -euo pipefail

build_pkgs=(g++ cmake ninja-build libboost-context-dev libgtest-dev libbenchmark-dev pkg-config libssl-dev libcurl4-openssl-dev libhttp-parser-dev)
test_pkgs=(clang libclang-rt-14-dev openssl)
bench_pkgs=(golang-go golang-golang-x-sync-dev libtbb-dev libboost-fiber-dev)

case "${1:-build}" in
  build) want=("${build_pkgs[@]}") ;;
  test) want=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
  bench) want=("${build_pkgs[@]}" "${bench_pkgs[@]}") ;;
  *) echo "usage: $0 build|test|bench" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo=""
[[ $(id -u) -ne 0 ]] && sudo="sudo"
echo "deps.sh: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
