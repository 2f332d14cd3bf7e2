# examples_lib.sh — what the examples' checks share (tests/examples_check.sh,
# tests/examples_net_check.sh, tests/examples_chan_check.sh); sourced, not run.
# Sourced with BUILD_DIR as its first argument, whose examples/ holds the programs.
# fail, run and check set status=1 on a failure; the caller ends with `exit $status`.

if [[ $# -lt 1 ]]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
bin_dir="$1/examples"
status=0

# fail MESSAGE : reports a failure.
fail() {
  echo "FAIL $1"
  status=1
}

# run NAME ARGS... : runs the program (60 s at most), its output in $out; returns
# non-zero, reported, if it is missing or fails.
run() {
  local name="$1"
  shift
  local exe="$bin_dir/$name"
  if [[ ! -x "$exe" ]]; then
    fail "$name: $exe not found (build with -DGOCXX_BUILD_EXAMPLES=ON)"
    return 1
  fi
  out="$(timeout 60 "$exe" "$@" 2>&1)"
  local rc=$?
  if [[ $rc -ne 0 ]]; then
    fail "$name: exit status $rc"
    printf '%s\n' "$out" | sed 's/^/    /'
    return 1
  fi
  return 0
}

# check NAME LINE... : runs NAME, then checks that every LINE appears, in order.
# A LINE starting with "re:" is an extended regular expression matched against whole
# lines; any other LINE must match exactly.
check() {
  local name="$1"
  shift
  run "$name" || return
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
      fail "$name: expected line not found (in order): $want"
      printf '%s\n' "$out" | sed 's/^/    /'
      return
    fi
  done
  echo "ok   $name"
}
