# bench_topics_net.py — report topics for the network benchmarks (bench/net_bench.cpp,
# go/net.hpp and go/http.hpp, against bench/go/net.go: goroutines, net, net/http), in
# scripts/bench_report.py's TOPICS format; loaded by bench_report.py's
# _load_extra_topics().
#
# Same work in both languages, everything in one process over loopback, the runtime
# on every core:
#   net_echo   1,000 connections to an echo server, one task (goroutine) per connection
#              on both sides, 100 round trips of 64 bytes each: ns per round trip
#              (round trips per second = 1e9 / that).
#   http_get   10,000 GETs to the process's own HTTP server through an errgroup with
#              set_limit(100): ns per request; total time as the extra column. Both
#              clients keep up to 100 idle connections (Go: MaxIdleConnsPerHost=100).
#   *_memory   the same work once in a fresh process: RSS growth = VmHWM after the case
#              - VmRSS before it, in MB; peak RSS (VmHWM) as the extra column.
# Targets (issue 6): at least Go's throughput, with less memory.

GO = "Go"

_AT_LEAST_GO = {"anchor": 0, "min_ratio": 1.0, "text": "at least Go's throughput"}
_LESS_MEMORY = {"anchor": 0, "min_ratio": 1.0, "strict": True, "text": "less memory than Go"}

TOPICS = [
    {
        "key": "net_echo",
        "title": "net: loopback echo, 1,000 connections × 100 round trips of 64 bytes (one task per connection per side)",
        "unit": "ns/round trip",
        "gocxx": ("bench", "BM_net_echo", "ns_per_item"),
        "extra": ("total ms", "total_ms"),
        "anchors": [
            (GO + " (goroutines, net.Dial / net.Listen)", ("go", "net_echo", "ns_per_item")),
        ],
        "target": dict(_AT_LEAST_GO),
    },
    {
        "key": "http_get",
        "title": "http: 10,000 GETs to an in-process server through an errgroup with set_limit(100)",
        "unit": "ns/request",
        "gocxx": ("bench", "BM_http_get", "ns_per_item"),
        "extra": ("total ms", "total_ms"),
        "anchors": [
            (GO + " (net/http Server + Client, MaxIdleConnsPerHost=100, errgroup SetLimit(100))",
             ("go", "http_get", "ns_per_item")),
        ],
        "target": dict(_AT_LEAST_GO),
    },
    {
        "key": "net_echo_memory",
        "title": "Memory: the echo case once, fresh process (RSS growth = VmHWM after − VmRSS before)",
        "unit": "MB",
        "gocxx": ("bench", "BM_net_echo_memory", "rss_growth_mb"),
        "extra": ("peak RSS (MB)", "peak_rss_mb"),
        "anchors": [
            (GO + " (same work, same measure)", ("go", "net_echo_memory", "rss_growth_mb")),
        ],
        "target": dict(_LESS_MEMORY),
    },
    {
        "key": "http_get_memory",
        "title": "Memory: the HTTP case once, fresh process (RSS growth = VmHWM after − VmRSS before)",
        "unit": "MB",
        "gocxx": ("bench", "BM_http_get_memory", "rss_growth_mb"),
        "extra": ("peak RSS (MB)", "peak_rss_mb"),
        "anchors": [
            (GO + " (same work, same measure)", ("go", "http_get_memory", "rss_growth_mb")),
        ],
        "target": dict(_LESS_MEMORY),
    },
]
