#!/usr/bin/env python3
"""bench_median.py — keeps the median run of a memory case.

Memory cases run in a fresh process each, several times (scripts/bench.sh); one run's
RSS figures vary by a megabyte or more with the allocator's and the kernel's moods.
This picks, among the JSON results given, the run whose memory figure is the median
and copies it to OUT, so the report compares medians on both sides.

Usage: bench_median.py OUT RUN.json...   (Google Benchmark or bench/go JSON)
The figure is the first of rss_growth_mb, bytes_per_task found in the run's first
result. Runs that are missing or unreadable are ignored; with none left, OUT is not
written.
"""
import json
import shutil
import sys

METRICS = ("rss_growth_mb", "bytes_per_task")


def figure(path):
    try:
        with open(path) as f:
            d = json.load(f)
    except (OSError, ValueError):
        return None
    rows = d.get("benchmarks") or d.get("results") or []
    if not rows:
        return None
    for m in METRICS:
        if m in rows[0]:
            return float(rows[0][m])
    return None


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    out, runs = argv[1], argv[2:]
    scored = sorted((v, p) for p in runs if (v := figure(p)) is not None)
    if not scored:
        return 1
    shutil.copyfile(scored[(len(scored) - 1) // 2][1], out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
