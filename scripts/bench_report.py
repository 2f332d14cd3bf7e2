#!/usr/bin/env python3
"""Turns the results of scripts/bench.sh into BENCHMARKS.md.

Reads, from one results folder:
  *.json written by Google Benchmark executables (--benchmark_out), gocxx's own
         (runtime_bench, errgroup_bench, ...) and the anchors (anchors_bench);
  go*.json written by bench/go (gobench), recognised by their "go_version" key.

Every gocxx figure is set against anchors measured in the same run on the same
machine; the ratio is anchor / gocxx, i.e. how many times faster (or smaller) gocxx
is. A case whose result is missing (not written yet, failed to build, crashed)
shows as n/a instead of failing the report.

Stdlib only. Usage:
  scripts/bench_report.py --results build-bench/results --out BENCHMARKS.md \
      [--command 'scripts/bench.sh'] [--build build-bench]
"""

from __future__ import annotations

import argparse
import datetime
import glob
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys

# ---------------------------------------------------------------------------
# What is compared with what.
#
# A figure is (source, case, metric):
#   source "bench": a Google Benchmark case, found by its name up to the first "/"
#                   in any benchmark JSON of the results folder;
#   source "go":    a case of bench/go's JSON output.
# metric: "ns_per_item" (counter ns_per_item, else derived from items_per_second),
#         "total_ms" (wall time of one iteration / one Go run, in ms),
#         "bytes_per_task", "peak_rss_mb" (memory counters).
#
# target: which anchor row the spec's target applies to, and the smallest
# acceptable ratio (anchor / gocxx). strict: the ratio must exceed it.

GO = "Go"
TOPICS = [
    {
        "key": "spawn_join",
        "title": "Spawn and join 1,000,000 empty tasks (from a thread)",
        "unit": "ns/task",
        "gocxx": ("bench", "BM_spawn_join", "ns_per_item"),
        "anchors": [
            (GO + " (goroutines + sync.WaitGroup)", ("go", "spawn_join", "ns_per_item")),
            ("oneTBB task_group (1,000,000 tasks)", ("bench", "BM_tbb_task_group_spawn_wait", "ns_per_item")),
            ("Boost.Fiber, default stacks (100,000 fibers, 1 thread)", ("bench", "BM_fiber_spawn_join", "ns_per_item")),
            ("Boost.Fiber, pooled stacks (100,000 fibers, 1 thread)", ("bench", "BM_fiber_spawn_join_pooled", "ns_per_item")),
            ("std::thread (10,000 threads)", ("bench", "BM_thread_spawn_join", "ns_per_item")),
        ],
        "target": {"anchor": 0, "min_ratio": 8.0, "text": "≤ 1/8 of Go's per-task time"},
    },
    {
        "key": "spawn_join_from_task",
        "title": "Spawn and join 1,000,000 empty tasks (from a task)",
        "unit": "ns/task",
        "gocxx": ("bench", "BM_spawn_join_from_task", "ns_per_item"),
        "anchors": [
            # Go's main is itself a goroutine: its spawn_join is spawning from a task.
            (GO + " (goroutines + sync.WaitGroup)", ("go", "spawn_join", "ns_per_item")),
            ("oneTBB task_group (1,000,000 tasks)", ("bench", "BM_tbb_task_group_spawn_wait", "ns_per_item")),
            ("Boost.Fiber, pooled stacks (100,000 fibers, 1 thread)", ("bench", "BM_fiber_spawn_join_pooled", "ns_per_item")),
        ],
        "target": {"anchor": 0, "min_ratio": 8.0, "text": "≤ 1/8 of Go's per-task time"},
    },
    {
        "key": "errgroup_spawn_wait",
        "title": "errgroup: spawn 1,000,000 tasks from a thread and Wait (no limit)",
        "unit": "ns/task",
        "gocxx": ("bench", "BM_errgroup_spawn_wait", "ns_per_item"),
        "anchors": [
            ("gocxx bare spawn + WaitGroup add(1)/done() per task, from a thread (BM_spawn_join_waitgroup)",
             ("bench", "BM_spawn_join_waitgroup", "ns_per_item")),
            (GO + " errgroup.Group", ("go", "errgroup_spawn_wait", "ns_per_item")),
            ("oneTBB task_group (1,000,000 tasks)", ("bench", "BM_tbb_task_group_spawn_wait", "ns_per_item")),
        ],
        "target": {"anchor": 0, "min_ratio": 0.8, "text": "≤ 1.25× gocxx's bare spawn"},
    },
    {
        "key": "errgroup_spawn_wait_from_task",
        "title": "errgroup: spawn 1,000,000 tasks from a task and Wait (no limit)",
        "unit": "ns/task",
        "gocxx": ("bench", "BM_errgroup_spawn_wait_from_task", "ns_per_item"),
        "anchors": [
            ("gocxx bare spawn + WaitGroup add(1)/done() per task, from a task (BM_spawn_join_waitgroup_from_task)",
             ("bench", "BM_spawn_join_waitgroup_from_task", "ns_per_item")),
            ("gocxx bare spawn, one WaitGroup add(N) for all, from a task (BM_spawn_join_from_task)",
             ("bench", "BM_spawn_join_from_task", "ns_per_item")),
            (GO + " errgroup.Group", ("go", "errgroup_spawn_wait", "ns_per_item")),
        ],
        "target": {"anchor": 0, "min_ratio": 0.8, "text": "≤ 1.25× gocxx's bare spawn"},
    },
    {
        "key": "errgroup_spawn_wait_limit8",
        "title": "errgroup with SetLimit(8): spawn 1,000,000 tasks from a thread and Wait",
        "unit": "ns/task",
        "gocxx": ("bench", "BM_errgroup_spawn_wait_limit8", "ns_per_item"),
        "anchors": [
            (GO + " errgroup.Group, SetLimit(8)", ("go", "errgroup_spawn_wait_limit8", "ns_per_item")),
        ],
        "target": None,
    },
    {
        "key": "errgroup_spawn_wait_limit8_from_task",
        "title": "errgroup with SetLimit(8): spawn 1,000,000 tasks from a task and Wait",
        "unit": "ns/task",
        "gocxx": ("bench", "BM_errgroup_spawn_wait_limit8_from_task", "ns_per_item"),
        "anchors": [
            (GO + " errgroup.Group, SetLimit(8) (Go's spawner is its main goroutine)",
             ("go", "errgroup_spawn_wait_limit8", "ns_per_item")),
        ],
        "target": None,
    },
    {
        "key": "pingpong",
        "title": "Ping-pong over unbuffered channels",
        "unit": "ns/round trip",
        "gocxx": ("bench", "BM_pingpong", "ns_per_item"),
        "anchors": [
            (GO + " (two goroutines, unbuffered chan)", ("go", "pingpong", "ns_per_item")),
            ("Boost.Fiber unbuffered_channel (1 thread)", ("bench", "BM_fiber_pingpong", "ns_per_item")),
        ],
        "target": {"anchor": 0, "min_ratio": 5.0, "text": "≤ 1/5 of Go's round trip"},
    },
    {
        "key": "skynet",
        "title": "Skynet (1,000,000 leaf tasks, fan-out 10, sums over channels)",
        "unit": "ms total",
        "gocxx": ("bench", "BM_skynet", "total_ms"),
        "anchors": [
            (GO, ("go", "skynet", "total_ms")),
        ],
        "target": {"anchor": 0, "min_ratio": 1.0, "strict": True, "text": "faster than Go"},
    },
    {
        "key": "parked_memory",
        "title": "Memory: 1,000,000 parked tasks (fresh process each)",
        "unit": "bytes/task",
        "gocxx": ("bench", "BM_parked_memory", "bytes_per_task"),
        "extra": ("peak RSS (MB)", "peak_rss_mb"),
        "anchors": [
            (GO + " (goroutines parked on a channel)", ("go", "parked_memory", "bytes_per_task")),
        ],
        "target": {"anchor": 0, "min_ratio": 0.5, "text": "≤ 2× Go's bytes per task"},
    },
    {
        "key": "cancel_fanout",
        "title": "Cancel fan-out: 100,000 tasks parked on ctx.Done(), one fails; failure → Wait() returns",
        "unit": "ns/parked task",
        "gocxx": ("bench", "BM_cancel_fanout", "ns_per_item"),
        "anchors": [
            (GO + " errgroup.WithContext", ("go", "cancel_fanout", "ns_per_item")),
        ],
        "target": {"anchor": 0, "min_ratio": 5.0, "text": "≤ 1/5 of Go's time"},
    },
]

# More topics, one module per gocxx package: scripts/bench_topics_<package>.py, each
# defining a TOPICS list in the format above; appended in file-name order.
def _load_extra_topics():
    import importlib.util
    import pathlib
    here = pathlib.Path(__file__).resolve().parent
    for path in sorted(here.glob("bench_topics_*.py")):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        TOPICS.extend(getattr(mod, "TOPICS", []))


_load_extra_topics()

NA = "n/a"

# ---------------------------------------------------------------------------
# Loading results.

_UNIT_TO_MS = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}


def _load_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        print(f"bench_report: skipping {path}: {e}", file=sys.stderr)
        return None


class Results:
    def __init__(self, folder):
        self.bench = {}  # base name -> list of benchmark entries
        self.bench_errors = {}  # base name -> error message
        self.go = {}  # case -> entry
        self.go_version = None
        self.gomaxprocs = None
        self.contexts = []  # Google Benchmark "context" objects
        self.files = []
        for path in sorted(glob.glob(os.path.join(folder, "*.json"))):
            doc = _load_json(path)
            if not isinstance(doc, dict):
                continue
            self.files.append(os.path.basename(path))
            if "go_version" in doc:
                self.go_version = doc.get("go_version")
                self.gomaxprocs = doc.get("gomaxprocs")
                for r in doc.get("results", []):
                    self.go[r.get("name")] = r
            elif "benchmarks" in doc:
                if "context" in doc:
                    self.contexts.append(doc["context"])
                for b in doc["benchmarks"]:
                    base = (b.get("run_name") or b.get("name", "")).split("/")[0]
                    if b.get("error_occurred"):
                        self.bench_errors[base] = b.get("error_message", "error")
                        continue
                    self.bench.setdefault(base, []).append(b)

    # -- one figure ---------------------------------------------------------
    @staticmethod
    def _bench_value(entry, metric):
        if metric == "total_ms":
            t = entry.get("real_time")
            if t is None:
                return None
            return float(t) * _UNIT_TO_MS.get(entry.get("time_unit", "ns"), 1e-6)
        v = entry.get(metric)
        if v is None and metric == "ns_per_item":
            ips = entry.get("items_per_second")
            if ips:
                v = 1e9 / float(ips)
        return None if v is None else float(v)

    def value(self, ref):
        """Returns (value or None, note)."""
        source, case, metric = ref
        if source == "go":
            r = self.go.get(case)
            if r is None:
                return None, "not run"
            v = r.get(metric)
            return (None, "no " + metric) if v is None else (float(v), "")
        entries = self.bench.get(case)
        if not entries:
            err = self.bench_errors.get(case)
            return None, ("error: " + err) if err else "not run"
        # One benchmark may be registered with several arguments; use the first.
        first = entries[0].get("run_name") or entries[0]["name"]
        entries = [e for e in entries if (e.get("run_name") or e["name"]) == first]
        medians = [e for e in entries if e.get("run_type") == "aggregate" and e.get("aggregate_name") == "median"]
        if medians:
            v = self._bench_value(medians[0], metric)
        else:
            vals = [self._bench_value(e, metric) for e in entries if e.get("run_type", "iteration") == "iteration"]
            vals = [x for x in vals if x is not None]
            v = statistics.median(vals) if vals else None
        return (None, "no " + metric) if v is None else (v, "")


# ---------------------------------------------------------------------------
# Formatting.


def fmt(v, unit=""):
    if v is None:
        return NA
    if abs(v) >= 1000:
        s = f"{v:,.0f}"
    elif abs(v) >= 100:
        s = f"{v:.0f}"
    elif abs(v) >= 10:
        s = f"{v:.1f}"
    else:
        s = f"{v:.2f}"
    return f"{s} {unit}".rstrip()


def ratio(anchor, gocxx):
    if anchor is None or gocxx is None or gocxx <= 0:
        return None
    return anchor / gocxx


def fmt_ratio(r):
    return NA if r is None else f"{r:.2f}×"


def met(r, target):
    if r is None:
        return NA
    ok = r > target["min_ratio"] if target.get("strict") else r >= target["min_ratio"]
    return "yes" if ok else "**no**"


def target_ratio_text(target):
    op = ">" if target.get("strict") else "≥"
    return f"{target['text']} (ratio {op} {target['min_ratio']:g})"


# ---------------------------------------------------------------------------
# Machine.


def _run(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
        text = (out.stdout or out.stderr).strip()
        return text.splitlines()[0] if text else None
    except (OSError, subprocess.SubprocessError):
        return None


def cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or NA


def cmake_cache(build, key):
    path = os.path.join(build, "CMakeCache.txt") if build else None
    if not path or not os.path.exists(path):
        return None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = re.match(rf"^{re.escape(key)}(:[A-Z]+)?=(.*)$", line.strip())
            if m:
                return m.group(2)
    return None


def machine_lines(args, res):
    try:
        nproc = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        nproc = os.cpu_count()
    cxx = None
    for b in [args.build, os.path.join(args.build or "", "anchors-only")]:
        cxx = cxx or cmake_cache(b, "CMAKE_CXX_COMPILER")
    cxx_version = _run([cxx, "--version"]) if cxx else None
    go_version = res.go_version or (_run(["go", "version"]) if shutil.which("go") else None)
    kernel = platform.release()
    try:
        with open("/proc/loadavg", encoding="utf-8") as f:
            load_now = " ".join(f.read().split()[:3])
    except OSError:
        load_now = NA
    loads = [c.get("load_avg") for c in res.contexts if c.get("load_avg")]
    mem_gb = None
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem_gb = int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    lib_build = sorted({c.get("library_build_type") for c in res.contexts if c.get("library_build_type")})
    lines = [
        f"- Date: {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}",
        f"- CPU: {cpu_model()} — {nproc} cores available (nproc)",
        f"- Memory: {mem_gb:.1f} GiB" if mem_gb else "- Memory: n/a",
        f"- OS: {platform.system()} {kernel}",
        f"- C++ compiler: {cxx_version or NA}" + (f" (`{cxx}`)" if cxx else ""),
        f"- Go: {go_version or NA}" + (f", GOMAXPROCS={res.gomaxprocs}" if res.gomaxprocs else ""),
        f"- Google Benchmark library build: {', '.join(lib_build) or NA}",
        f"- Load average when benchmarks started: {', '.join(' '.join(f'{x:.2f}' for x in l) for l in loads) or NA}; at report time: {load_now}",
    ]
    return lines


# ---------------------------------------------------------------------------
# Report.


def build_report(args, res):
    out = []
    w = out.append
    w("# gocxx benchmarks")
    w("")
    w("Every figure below was measured in one run of `scripts/bench.sh` on one machine. "
      "gocxx is compared with anchors measured in that same run: Go (goroutines, channels, "
      "golang.org/x/sync/errgroup), oneTBB, Boost.Fiber and std::thread. "
      "**Ratio = anchor / gocxx**: how many times faster (or, for memory, smaller) gocxx is; "
      "above 1 means gocxx wins. *n/a* means that result is missing (the benchmark does not exist "
      "yet, failed to build, or failed to run).")
    w("")
    w("Figures are medians (Google Benchmark: median of 5 repetitions where the case repeats; "
      "Go: median of 5 runs after a warm-up), wall-clock time. Per-item times are the total "
      "divided by the number of tasks / round trips. Memory figures come from fresh processes, the "
      "median of 3 runs per case on each side: bytes per task = (peak RSS with every task parked − "
      "RSS before) / tasks; RSS growth = peak RSS after the case − RSS before it.")
    w("")
    w("## Machine")
    w("")
    out.extend(machine_lines(args, res))
    w("")
    w("## Reproduce")
    w("")
    w("From the repository root:")
    w("")
    w("```sh")
    w(args.command)
    w("```")
    w("")
    w("Raw results: " + (", ".join(f"`{f}`" for f in res.files) or NA) + f" in `{args.results_display}`.")
    w("")

    # Summary.
    w("## Summary against the targets")
    w("")
    w("| Topic | gocxx | Anchor | Anchor figure | Ratio (anchor / gocxx) | Target | Met |")
    w("|---|---|---|---|---|---|---|")
    for t in TOPICS:
        g, _ = res.value(t["gocxx"])
        tgt = t.get("target")
        if not tgt:
            continue
        name, ref = t["anchors"][tgt["anchor"]]
        a, _ = res.value(ref)
        r = ratio(a, g)
        w(f"| {t['key']} | {fmt(g, t['unit'])} | {name} | {fmt(a, t['unit'])} | {fmt_ratio(r)} | "
          f"{target_ratio_text(tgt)} | {met(r, tgt)} |")
    w("")

    # One table per topic.
    w("## Details")
    for t in TOPICS:
        g, gnote = res.value(t["gocxx"])
        w("")
        w(f"### {t['title']}")
        w("")
        gsrc = t["gocxx"][1]
        line = f"gocxx `{gsrc}`: **{fmt(g, t['unit'])}**"
        if gnote:
            line += f" ({gnote})"
        if "extra" in t:
            label, metric = t["extra"]
            ev, _ = res.value((t["gocxx"][0], t["gocxx"][1], metric))
            line += f"; {label}: {fmt(ev)}"
        w(line)
        w("")
        extra_col = "extra" in t
        head = "| Anchor | Anchor figure | gocxx | Ratio (anchor / gocxx) | Target | Met |"
        if extra_col:
            head = head.replace("| gocxx |", f"| Anchor {t['extra'][0]} | gocxx |")
        w(head)
        w("|" + "---|" * (head.count("|") - 1))
        tgt = t.get("target")
        for i, (name, ref) in enumerate(t["anchors"]):
            a, anote = res.value(ref)
            r = ratio(a, g)
            src = f"`{ref[1]}`" + (" (Go)" if ref[0] == "go" else "")
            afig = fmt(a, t["unit"]) + (f" ({anote})" if anote else "")
            is_t = tgt is not None and tgt["anchor"] == i
            cells = [f"{name} — {src}", afig]
            if extra_col:
                ev, _ = res.value((ref[0], ref[1], t["extra"][1]))
                cells.append(fmt(ev))
            cells += [fmt(g, t["unit"]), fmt_ratio(r),
                      target_ratio_text(tgt) if is_t else "—",
                      met(r, tgt) if is_t else "—"]
            w("| " + " | ".join(cells) + " |")
    w("")
    w("## Notes")
    w("")
    w("- Go runs with its default GOMAXPROCS (all cores); gocxx with its default worker count "
      "(all cores); oneTBB with its default arena. Boost.Fiber runs on one thread with its default "
      "round_robin scheduler, once with its default stack allocator and once with "
      "`pooled_fixedsize_stack`.")
    w("- The work per case is fixed: 1,000,000 tasks for spawn/join and errgroup (Go, gocxx, oneTBB), "
      "100,000 fibers (Boost.Fiber), 10,000 threads (std::thread), 1,000,000 round trips (Go "
      "ping-pong), 1,000,000 skynet leaves, 1,000,000 parked tasks, 100,000 parked tasks for cancel fan-out; "
      "network: 1,000 loopback connections x 100 echo round trips of 64 bytes, and 10,000 HTTP GETs through an "
      "errgroup with a limit of 100 (client and server in the same process, connections reused on both sides).")
    w("- Network memory: RSS growth (peak RSS after the case minus RSS before it) in a fresh process, "
      "measured the same way for Go (after a runtime.GC()) and gocxx.")
    w("- Sources: `bench/go/main.go` (Go), `bench/anchors/anchors.cpp` (oneTBB, Boost.Fiber, std::thread), "
      "`bench/*_bench.cpp` (gocxx); the comparison table lives in `scripts/bench_report.py`.")
    w("- A loaded machine (see the load averages above) makes every figure noisier; ratios are "
      "steadier than absolute times because both sides ran in the same window.")
    return "\n".join(out) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--results", required=True, help="folder with the *.json results")
    p.add_argument("--out", default="BENCHMARKS.md", help="Markdown file to write ('-' for stdout)")
    p.add_argument("--command", default="scripts/bench.sh", help="command that reproduces the run")
    p.add_argument("--build", default=None, help="CMake build folder (for the compiler's name)")
    args = p.parse_args(argv)
    if not os.path.isdir(args.results):
        p.error(f"no results folder {args.results}")
    rel = os.path.relpath(args.results)
    args.results_display = args.results if rel.startswith("..") else rel
    res = Results(args.results)
    text = build_report(args, res)
    # The hand-written analysis of missed targets (bench/analysis.md), kept across runs.
    analysis = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench", "analysis.md")
    if os.path.exists(analysis):
        with open(analysis, encoding="utf-8") as f:
            text = text.rstrip("\n") + "\n\n" + f.read()
    if args.out == "-":
        sys.stdout.write(text)
    else:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"bench_report: wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
