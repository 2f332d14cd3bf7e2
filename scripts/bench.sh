#!/usr/bin/env bash
# Side-by-side benchmarks: gocxx against Go, oneTBB, Boost.Fiber and std::thread,
# measured in one run on this machine; writes BENCHMARKS.md.
#
# Usage (from anywhere; paths are relative to the repository root):
#   scripts/bench.sh [--no-install] [--no-go] [--out FILE] [--build DIR]
#
#   --no-install  do not apt-get missing packages (just report what is missing)
#   --no-go       skip the Go anchors
#   --out FILE    report to write (default: BENCHMARKS.md)
#   --build DIR   build folder (default: build-bench)
# Environment: GOCXX_BENCH_TIMEOUT  seconds allowed per benchmark process (default 300)
#              GOCXX_BENCH_MEMORY_RUNS  fresh processes per memory case, median kept (default 3)
#
# Steps: install missing Debian packages; configure and build a Release build of
# gocxx with its benchmarks and the anchors (bench/anchors.cmake); run every
# executable in <build>/bench/ with --benchmark_format=json --benchmark_out=..., the
# memory cases (names containing "memory") each in fresh processes (the median of
# several runs is kept: scripts/bench_median.py); build and run
# the Go programs of bench/go offline (their memory cases, too, one process each);
# then scripts/bench_report.py writes the report.
# If gocxx does not build, the anchors are built on their own (bench/anchors/) and
# gocxx's figures show as n/a. Results land in <build>/results/.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1

INSTALL=1
RUN_GO=1
REPORT=BENCHMARKS.md
BUILD=build-bench
REPRO="scripts/bench.sh"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --no-install) INSTALL=0; REPRO+=" $1" ;;
    --no-go) RUN_GO=0; REPRO+=" $1" ;;
    --out) REPORT=$2; REPRO+=" $1 $2"; shift ;;
    --build) BUILD=$2; REPRO+=" $1 $2"; shift ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
TIMEOUT=${GOCXX_BENCH_TIMEOUT:-300}
MEM_RUNS=${GOCXX_BENCH_MEMORY_RUNS:-3}
JOBS=$(nproc 2>/dev/null || echo 2)
RESULTS=$BUILD/results
START=$(date +%s)

log() { printf '\n== %s (%ds)\n' "$*" $(( $(date +%s) - START )); }
warn() { printf 'bench.sh: warning: %s\n' "$*" >&2; }

# ---- 1. packages -------------------------------------------------------------
PACKAGES=(golang-go golang-golang-x-sync-dev libtbb-dev libboost-fiber-dev libbenchmark-dev cmake g++ python3)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  log "installing missing packages: ${missing[*]}"
  if [[ $INSTALL -eq 0 ]]; then
    warn "--no-install: not installing ${missing[*]}; the cases that need them are skipped"
  else
    SUDO=()
    [[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null && SUDO=(sudo)
    if ! { "${SUDO[@]}" apt-get update -qq &&
           DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"; }; then
      warn "apt-get failed; continuing with what is installed"
    fi
  fi
fi

# ---- 2. build ----------------------------------------------------------------
log "configuring a Release build in $BUILD"
BENCH_DIR=$BUILD/bench
mkdir -p "$BUILD"
if cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DGOCXX_BUILD_TESTS=OFF \
     -DGOCXX_BUILD_EXAMPLES=OFF -DGOCXX_BUILD_BENCH=ON > "$BUILD/configure.log" 2>&1; then
  grep -E 'gocxx anchors' "$BUILD/configure.log" || true
  log "building the benchmarks (-j$JOBS)"
  if ! cmake --build "$BUILD" -j "$JOBS" > "$BUILD/build.log" 2>&1; then
    warn "the full build failed (see $BUILD/build.log); building each benchmark on its own"
    tail -n 20 "$BUILD/build.log" >&2
    targets=(anchors_bench)
    for src in bench/*_bench.cpp; do [[ -e $src ]] && targets+=("$(basename "$src" .cpp)"); done
    for t in "${targets[@]}"; do
      if ! cmake --build "$BUILD" -j "$JOBS" --target "$t" >> "$BUILD/build.log" 2>&1; then
        warn "$t does not build; its cases show as n/a"
        rm -f "$BENCH_DIR/$t"  # never report a stale binary's figures
      fi
    done
  fi
else
  warn "configuring gocxx failed (see $BUILD/configure.log); building the anchors alone"
  tail -n 20 "$BUILD/configure.log" >&2
  BENCH_DIR=$BUILD/anchors-only
  mkdir -p "$BENCH_DIR"
  if cmake -S bench/anchors -B "$BENCH_DIR" -DCMAKE_BUILD_TYPE=Release > "$BENCH_DIR/configure.log" 2>&1 &&
     cmake --build "$BENCH_DIR" -j "$JOBS" > "$BENCH_DIR/build.log" 2>&1; then
    grep -E 'gocxx anchors' "$BENCH_DIR/configure.log" || true
  else
    warn "the anchors do not build either (see $BENCH_DIR/*.log)"
  fi
fi

# ---- 3. C++ benchmarks ---------------------------------------------------------
rm -rf "$RESULTS"
mkdir -p "$RESULTS"

# run_bench EXE OUT.json [extra args]: one process, JSON out; its stdout/stderr go to OUT.log.
run_bench() {
  local exe=$1 out=$2; shift 2
  if ! timeout "$TIMEOUT" "$exe" --benchmark_format=json --benchmark_out="$out" \
        --benchmark_out_format=json "$@" > "${out%.json}.log" 2>&1; then
    warn "$(basename "$exe") $* failed or timed out (see ${out%.json}.log)"
    tail -n 5 "${out%.json}.log" >&2
  fi
}

shopt -s nullglob
for exe in "$BENCH_DIR"/*; do
  [[ -f $exe && -x $exe ]] || continue
  name=$(basename "$exe")
  # Base names of the cases (text before the first "/"), memory cases apart.
  mapfile -t cases < <(timeout 60 "$exe" --benchmark_list_tests=true 2>/dev/null | sed 's,/.*,,' | awk '!seen[$0]++')
  if [[ ${#cases[@]} -eq 0 ]]; then
    warn "$name lists no benchmarks; skipped"
    continue
  fi
  normal=() memory=()
  for c in "${cases[@]}"; do
    if [[ $c == *memory* || $c == *Memory* ]]; then memory+=("$c"); else normal+=("$c"); fi
  done
  if [[ ${#normal[@]} -gt 0 ]]; then
    log "running $name (${#normal[@]} cases)"
    filter="^($(IFS='|'; echo "${normal[*]}"))(/|\$)"
    run_bench "$exe" "$RESULTS/$name.json" --benchmark_filter="$filter"
  fi
  for c in "${memory[@]}"; do
    log "running $name $c (fresh process, $MEM_RUNS times; the median is kept)"
    runs=()
    for ((k = 1; k <= MEM_RUNS; ++k)); do
      run_bench "$exe" "$RESULTS/$name.$c.run$k.json" --benchmark_filter="^$c(/|\$)"
      runs+=("$RESULTS/$name.$c.run$k.json")
    done
    python3 scripts/bench_median.py "$RESULTS/$name.$c.json" "${runs[@]}" ||
      warn "$name $c: no run produced a result"
    rm -f "${runs[@]}" "${runs[@]/%.json/.log}"
  done
done

# ---- 4. Go ---------------------------------------------------------------------
if [[ $RUN_GO -eq 1 ]]; then
  if command -v go >/dev/null; then
    log "building bench/go offline (GOPATH mode, Debian's golang.org/x/sync)"
    GOWORK_DIR=$(cd "$BUILD" && pwd)/go
    mkdir -p "$GOWORK_DIR/gopath"
    if (cd bench/go && GO111MODULE=off GOFLAGS='' GOPROXY=off \
          GOPATH="/usr/share/gocode:$GOWORK_DIR/gopath" GOCACHE="$GOWORK_DIR/cache" \
          go build -o "$GOWORK_DIR/gobench" .) > "$GOWORK_DIR/build.log" 2>&1; then
      log "running the Go anchors"
      timeout "$TIMEOUT" "$GOWORK_DIR/gobench" > "$RESULTS/go.json" 2> "$RESULTS/go.log" ||
        { warn "gobench failed (see $RESULTS/go.log)"; rm -f "$RESULTS/go.json"; }
      # The memory cases (parked_memory, net.go's *_memory), each in a fresh process.
      for c in $("$GOWORK_DIR/gobench" -list | grep memory); do
        log "running Go $c (fresh process, $MEM_RUNS times; the median is kept)"
        runs=()
        for ((k = 1; k <= MEM_RUNS; ++k)); do
          timeout "$TIMEOUT" "$GOWORK_DIR/gobench" -case "$c" > "$RESULTS/go.$c.run$k.json" 2>> "$RESULTS/go.log" ||
            warn "gobench -case $c failed (see $RESULTS/go.log)"
          runs+=("$RESULTS/go.$c.run$k.json")
        done
        python3 scripts/bench_median.py "$RESULTS/go.$c.json" "${runs[@]}" || warn "Go $c: no run produced a result"
        rm -f "${runs[@]}"
      done
    else
      warn "bench/go does not build (see $GOWORK_DIR/build.log)"
      cat "$GOWORK_DIR/build.log" >&2
    fi
  else
    warn "no go toolchain (apt-get install golang-go golang-golang-x-sync-dev); Go anchors skipped"
  fi
fi

# ---- 5. report -----------------------------------------------------------------
log "writing $REPORT"
python3 scripts/bench_report.py --results "$RESULTS" --out "$REPORT" --build "$BUILD" --command "$REPRO" || exit 1
log "done"
