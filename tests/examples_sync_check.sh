#!/usr/bin/env bash
# examples_sync_check.sh — runs the sync / x/sync tour's example program (crawler) and
# checks its output.
#
# Usage: tests/examples_sync_check.sh BUILD_DIR
# The program is expected in BUILD_DIR/examples/<name> (target example_<name>, built
# when GOCXX_BUILD_EXAMPLES is on). Each expected line must appear in the program's
# standard output as a whole line, in the order given (other lines may come between).
# Exits non-zero, naming the program and the missing line, on any mismatch, on a
# program that fails or takes longer than 60 s, or on a missing program.
set -u

if [[ $# -ne 1 ]]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
bin_dir="$1/examples"
status=0

# check NAME LINE... : runs NAME, then checks that every LINE appears, in order.
# A LINE starting with "re:" is an extended regular expression matched against whole
# lines; any other LINE must match exactly.
check() {
  local name="$1"
  shift
  local exe="$bin_dir/$name"
  if [[ ! -x "$exe" ]]; then
    echo "FAIL $name: $exe not found (build with -DGOCXX_BUILD_EXAMPLES=ON)"
    status=1
    return
  fi
  local out rc
  out="$(timeout 60 "$exe" 2>&1)"
  rc=$?
  if [[ $rc -ne 0 ]]; then
    echo "FAIL $name: exit status $rc"
    printf '%s\n' "$out" | sed 's/^/    /'
    status=1
    return
  fi
  local rest="$out" want line found
  for want in "$@"; do
    found=0
    while IFS= read -r line; do
      rest="${rest#*$'\n'}"
      [[ "$rest" == "$line" ]] && rest=""  # consumed the last line
      if [[ "$want" == re:* ]]; then
        [[ "$line" =~ ^${want#re:}$ ]] && found=1
      else
        [[ "$line" == "$want" ]] && found=1
      fi
      [[ $found -eq 1 ]] && break
    done <<<"$rest"
    if [[ $found -ne 1 ]]; then
      echo "FAIL $name: expected line not found (in order): $want"
      printf '%s\n' "$out" | sed 's/^/    /'
      status=1
      return
    fi
  done
  echo "ok   $name"
}

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
