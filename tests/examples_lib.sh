# examples_lib.sh — the output checker shared by the examples' checks
# (tests/examples_check.sh, tests/examples_net_check.sh); sourced, not run.
# Sourced with the caller's arguments: BUILD_DIR, whose examples/ holds the programs.
# check() sets status=1 on a failure; the caller ends with `exit $status`.

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
