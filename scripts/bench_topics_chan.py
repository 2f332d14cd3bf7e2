"""Benchmark report topics for gocxx's channels, select and timers (go/chan.hpp,
go/time.hpp). Loaded by scripts/bench_report.py, which appends TOPICS to its own.

gocxx figures come from bench/chan_bench.cpp; Go anchors from bench/go/chan.go; the
Boost.Fiber anchor for ping-pong from bench/anchors/anchors.cpp (BM_fiber_pingpong).
"""

GO = "Go"

TOPICS = [
    {
        "key": "chan_pingpong",
        "title": "Channels: unbuffered ping-pong between two tasks (1,000,000 round trips)",
        "unit": "ns/round trip",
        "gocxx": ("bench", "BM_chan_pingpong", "ns_per_item"),
        "anchors": [
            (GO + " (two goroutines, unbuffered chan)", ("go", "pingpong", "ns_per_item")),
            ("Boost.Fiber unbuffered_channel (1 thread)", ("bench", "BM_fiber_pingpong", "ns_per_item")),
            ("gocxx park/wake floor (BM_pingpong: a baton, no channel)", ("bench", "BM_pingpong", "ns_per_item")),
        ],
        "target": {"anchor": 0, "min_ratio": 5.0, "text": "≤ 1/5 of Go's round trip"},
    },
    {
        "key": "chan_buffered_1p",
        "title": "Channels: buffered (capacity 128), 1 producer → 1 consumer, 1,000,000 values",
        "unit": "ns/value",
        "gocxx": ("bench", "BM_chan_buffered_1p", "ns_per_item"),
        "anchors": [
            (GO + " (buffered chan, 128)", ("go", "chan_buffered_1p", "ns_per_item")),
        ],
        "target": {"anchor": 0, "min_ratio": 1.0, "strict": True, "text": "faster than Go"},
    },
    {
        "key": "chan_buffered_4p",
        "title": "Channels: buffered (capacity 128), 4 producers → 1 consumer, 1,000,000 values",
        "unit": "ns/value",
        "gocxx": ("bench", "BM_chan_buffered_4p", "ns_per_item"),
        "anchors": [
            (GO + " (buffered chan, 128)", ("go", "chan_buffered_4p", "ns_per_item")),
        ],
        "target": {"anchor": 0, "min_ratio": 1.0, "strict": True, "text": "faster than Go"},
    },
    {
        "key": "select4",
        "title": "select over 4 buffered channels, one producer each, 1,000,000 values",
        "unit": "ns/value",
        "gocxx": ("bench", "BM_select4", "ns_per_item"),
        "anchors": [
            (GO + " (select with 4 receive cases)", ("go", "select4", "ns_per_item")),
        ],
        "target": {"anchor": 0, "min_ratio": 1.0, "strict": True, "text": "faster than Go"},
    },
    {
        "key": "after_churn",
        "title": "time::after churn: create 1,000,000 timers (0–999 µs), all pending, receive each",
        "unit": "ns/timer",
        "gocxx": ("bench", "BM_after_churn", "ns_per_item"),
        "anchors": [
            (GO + " (time.After)", ("go", "after_churn", "ns_per_item")),
        ],
        "target": {"anchor": 0, "min_ratio": 1.0, "strict": True, "text": "faster than Go"},
    },
]
