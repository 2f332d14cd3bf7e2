#!/usr/bin/env bash
# test.sh — builds gocxx and runs every test: the README's test command, and CI's.
#
# Three builds, each followed by its whole CTest suite:
#   build-test/release  g++, -Werror, tests + examples + benchmarks compiled; the suite
#                       also checks the examples' output and builds a consumer project
#                       against an installed gocxx (find_package) and as a subdirectory
#   build-test/asan     clang, -Werror, AddressSanitizer + UndefinedBehaviorSanitizer
#   build-test/tsan     g++, -Werror, ThreadSanitizer
# Installs missing Debian packages first (scripts/deps.sh). Stops at the first failure.
# Usage: scripts/test.sh [release|asan|tsan]...   (default: all three)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
scripts/deps.sh test

jobs=$(nproc)
configs=("$@")
[[ ${#configs[@]} -eq 0 ]] && configs=(release asan tsan)

for cfg in "${configs[@]}"; do
  dir="build-test/$cfg"
  case "$cfg" in
    release) args=(-DCMAKE_CXX_COMPILER=g++ -DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
    asan) args=(-DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGOCXX_SANITIZE=address
                -DGOCXX_BUILD_BENCH=OFF -DGOCXX_BUILD_EXAMPLES=OFF) ;;
    tsan) args=(-DCMAKE_CXX_COMPILER=g++ -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGOCXX_SANITIZE=thread
                -DGOCXX_BUILD_BENCH=OFF -DGOCXX_BUILD_EXAMPLES=OFF) ;;
    *) echo "test.sh: unknown configuration $cfg (release, asan or tsan)" >&2; exit 2 ;;
  esac
  echo "=== $cfg: configure and build ($dir)"
  cmake -S . -B "$dir" -G Ninja -DGOCXX_WERROR=ON "${args[@]}" >/dev/null
  cmake --build "$dir" -j "$jobs"
  echo "=== $cfg: test"
  # Sanitizer runtimes: fail on the first report; fibers are annotated (no suppressions).
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
  TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1} \
    ctest --test-dir "$dir" -j "$jobs" --output-on-failure
done
