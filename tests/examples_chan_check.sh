#!/usr/bin/env bash
# examples_chan_check.sh — runs the channel examples and checks their output.
#
# Usage: tests/examples_chan_check.sh BUILD_DIR SOURCE_DIR
# The programs are expected in BUILD_DIR/examples/<name> (targets example_<name>).
#   md5all SOURCE_DIR/src   must list every regular file under SOURCE_DIR/src once,
#                           sorted, as "md5  path", each digest equal to md5sum's, then
#                           "files: N";
#   bounded_dispatch        must report the first failure, a cancelled context, an
#                           early-stopped producer and every worker returned.
# Exits non-zero, naming the program and the problem, on any mismatch, on a program
# that fails or takes longer than 60 s, or on a missing program.
set -u

if [[ $# -ne 2 ]]; then
  echo "usage: $0 BUILD_DIR SOURCE_DIR" >&2
  exit 2
fi
src_dir="$2/src"

# fail MESSAGE, run NAME ARGS... (sets $out): tests/examples_lib.sh.
source "$(dirname "${BASH_SOURCE[0]}")/examples_lib.sh" "$1"

# ---- md5all ---------------------------------------------------------------------
if run md5all "$src_dir"; then
  ok=1
  want_files=$(find "$src_dir" -type f | wc -l)
  got_lines=$(printf '%s\n' "$out" | grep -cE '^[0-9a-f]{32}  ')
  if [[ "$got_lines" -ne "$want_files" ]]; then
    fail "md5all: $got_lines digest lines, want $want_files (files under $src_dir)"
    ok=0
  fi
  if ! printf '%s\n' "$out" | grep -qx "files: $want_files"; then
    fail "md5all: summary line 'files: $want_files' missing"
    ok=0
  fi
  # Sorted by path, each path once.
  paths=$(printf '%s\n' "$out" | grep -E '^[0-9a-f]{32}  ' | cut -c35-)
  if [[ "$paths" != "$(printf '%s\n' "$paths" | LC_ALL=C sort -u)" ]]; then
    fail "md5all: paths not sorted or not unique"
    ok=0
  fi
  # Every digest agrees with md5sum (the same "md5  path" format).
  want_sums=$(find "$src_dir" -type f -print0 | xargs -0 md5sum | LC_ALL=C sort -k2)
  got_sums=$(printf '%s\n' "$out" | grep -E '^[0-9a-f]{32}  ' | LC_ALL=C sort -k2)
  if [[ "$want_sums" != "$got_sums" ]]; then
    fail "md5all: digests differ from md5sum's"
    diff <(printf '%s\n' "$want_sums") <(printf '%s\n' "$got_sums") | head -20 | sed 's/^/    /'
    ok=0
  fi
  [[ $ok -eq 1 ]] && echo "ok   md5all ($want_files files, digests match md5sum)"
fi
# A missing directory is an error, reported, not a crash.
if out="$(timeout 60 "$bin_dir/md5all" "$src_dir/does-not-exist" 2>&1)"; then
  fail "md5all: succeeded on a missing directory"
elif [[ "$out" != md5all:* ]]; then
  fail "md5all: unexpected output for a missing directory: $out"
fi

# ---- bounded_dispatch -----------------------------------------------------------
if run bounded_dispatch; then
  ok=1
  for want in \
    "workers: 4, queue capacity: 8, jobs: 100" \
    "job 37 failed: invalid input" \
    "wait: job 37: invalid input" \
    "ctx.err(): context canceled" \
    "cause: job 37: invalid input" \
    "producer stopped early: yes" \
    "all workers returned: yes"; do
    if ! printf '%s\n' "$out" | grep -qxF -- "$want"; then
      fail "bounded_dispatch: expected line not found: $want"
      printf '%s\n' "$out" | sed 's/^/    /'
      ok=0
      break
    fi
  done
  for re in '^dispatched: [0-9]+ of 100$' '^processed: [0-9]+$' '^left in queue: [0-8]$'; do
    if [[ $ok -eq 1 ]] && ! printf '%s\n' "$out" | grep -qE -- "$re"; then
      fail "bounded_dispatch: no line matching $re"
      ok=0
    fi
  done
  [[ $ok -eq 1 ]] && echo "ok   bounded_dispatch"
fi

exit $status
