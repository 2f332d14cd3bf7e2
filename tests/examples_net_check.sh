#!/usr/bin/env bash
# examples_net_check.sh — runs the HTTP examples (examples/fetch.cpp,
# examples/just_errors.cpp) and checks their output. Each starts its own HTTP server on
# 127.0.0.1 (a port the kernel picks) and fetches from it; nothing leaves the machine.
#
# Usage: tests/examples_net_check.sh BUILD_DIR
# The programs are expected in BUILD_DIR/examples/<name> (targets example_<name>, built
# when GOCXX_BUILD_EXAMPLES is on). Each expected line must appear in the program's
# output as a whole line, in the order given (other lines may come between: the lines
# that carry a port are not checked). A line starting with "re:" is an extended regular
# expression matched against whole lines. Exits non-zero, naming the program and the
# missing line, on any mismatch, on a program that fails or takes longer than 60 s, or
# on a missing program.
set -u

# check NAME LINE... (tests/examples_lib.sh, which also reads BUILD_DIR): runs NAME,
# then checks that every LINE appears, in order.
source "$(dirname "${BASH_SOURCE[0]}")/examples_lib.sh"

# The failure (/fail answers 500 after 300 ms) cancels both /slow GETs (2 s each)
# through the group's context, the whole run stays under 1 s, and the server's /slow
# handlers see their request's context done.
check fetch \
  "== run 1: three good URLs ==" \
  "Successfully fetched all URLs." \
  "== run 2: a failing URL cancels the slow ones ==" \
  "  /good: ok" \
  "  /slow: cancelled (GET /slow: context canceled)" \
  "  /fail: failed (GET /fail: 500 Internal Server Error)" \
  "  /slow: cancelled (GET /slow: context canceled)" \
  "  /good: ok" \
  "one of the requests returned an error: GET /fail: 500 Internal Server Error" \
  "finished in under 1s (the slow route takes 2s)" \
  "server: /slow handlers that saw their request's context done: 2 of 2"

# Go's ExampleGroup_justErrors: all good, then one URL on a closed port.
check just_errors \
  "== every URL answers ==" \
  "Successfully fetched all URLs." \
  "== one URL points at a port where nothing listens ==" \
  're:error: Get "http://127\.0\.0\.1:[0-9]+/somestupidname": .*connection refused' \
  "the first error is a connection refused: yes"

exit $status
