#!/usr/bin/env bash
# examples_check.sh — runs the tour's example programs (errgroup, sync) and checks their
# output. (The channel examples have their own checker: examples_chan_check.sh.)
#
# Usage: tests/examples_check.sh BUILD_DIR
# The programs are expected in BUILD_DIR/examples/<name> (targets example_<name>, built
# when GOCXX_BUILD_EXAMPLES is on). Each expected line must appear in the program's
# standard output as a whole line, in the order given (other lines may come between).
# Exits non-zero, naming the program and the missing line, on any mismatch, on a
# program that fails or takes longer than 60 s, or on a missing program.
set -u

# check NAME LINE... (tests/examples_lib.sh, which also reads BUILD_DIR): runs NAME,
# then checks that every LINE appears, in order.
source "$(dirname "${BASH_SOURCE[0]}")/examples_lib.sh"

check timeout \
  "== no deadline ==" \
  "task 1 done" \
  "task 2 done" \
  "wait: <nil>" \
  "== 2.5 s deadline ==" \
  "task 1 done" \
  "task 2 cancelled" \
  "wait: context deadline exceeded"

check parallel \
  'web result for "golang"' \
  'image result for "golang"' \
  'video result for "golang"'

check closure_pitfall \
  "squares by slot: 0 1 4 9 16 25 36 49 64 81" \
  "appended (sorted): 0 1 4 9 16 25 36 49 64 81" \
  "sum: 285" \
  "slots and appends agree: yes"

check child_cancels_parent \
  "searching 8 shards for 4242" \
  "shard 4 found the target and cancelled the others" \
  "wait: <nil>" \
  "ctx.err(): context canceled" \
  "cause: found 4242 in shard 4" \
  "--- a failing child ---" \
  "wait: shard 2: disk on fire" \
  "cause: shard 2: disk on fire" \
  "siblings stopped: 7"

check bounded_fanout \
  "jobs done: 1000" \
  "limit: 8" \
  "re:peak concurrency: [1-8]" \
  "peak within limit: yes"

check crawler \
  "visited pages (sorted):" \
  "  /" \
  "  /about" \
  "  /blog" \
  "  /blog/hello" \
  "  /blog/tasks" \
  "  /docs" \
  "  /docs/context" \
  "  /docs/start" \
  "  /docs/sync" \
  "  /team" \
  "all 3 crawl jobs visited the same 10 pages: yes" \
  "fetches: 10 (distinct pages: 10)" \
  "in-flight bound: 3" \
  "peak in-flight within bound: yes"

exit $status
