#!/usr/bin/env bash
# tour.sh — builds gocxx and runs the examples tour: the README's main command.
#
# Builds a Release tree in build-tour/ (installing missing Debian packages first) and
# runs every example program in examples/, in the order listed below, then the
# runtime demo (a million tasks).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
scripts/deps.sh build

cmake -S . -B build-tour -G Ninja -DCMAKE_BUILD_TYPE=Release -DGOCXX_BUILD_TESTS=OFF -DGOCXX_BUILD_BENCH=OFF >/dev/null
cmake --build build-tour -j "$(nproc)"

tour=(timeout parallel closure_pitfall child_cancels_parent bounded_fanout md5all bounded_dispatch million_tasks crawler just_errors fetch)
for name in "${tour[@]}"; do
  exe="build-tour/examples/$name"
  [[ -x "$exe" ]] || continue
  echo
  echo "================ examples/$name.cpp ================"
  "$exe"
done
