#!/usr/bin/env bash
# install_test.sh — installs gocxx from BUILD_DIR into a temporary prefix, builds
# tests/consumer against it with find_package(gocxx), then builds the same consumer
# with add_subdirectory(gocxx), and runs both.
# Usage: tests/install_test.sh SOURCE_DIR BUILD_DIR CXX_COMPILER
set -euo pipefail
src=$1 build=$2 cxx=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
cmake -S "$src/tests/consumer" -B "$tmp/pkg" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/pkg" >/dev/null
"$tmp/pkg/consumer"
"$tmp/pkg/consumer_http"

cmake -S "$src/tests/consumer" -B "$tmp/sub" -DCMAKE_CXX_COMPILER="$cxx" -DGOCXX_SOURCE_DIR="$src" >/dev/null
cmake --build "$tmp/sub" -j 2 >/dev/null
"$tmp/sub/consumer"
"$tmp/sub/consumer_http"
