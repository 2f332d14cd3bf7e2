# bench_topics_sync.py — report topics for the sync / x/sync benchmarks
# (bench/sync_bench.cpp against bench/go/sync.go), in scripts/bench_report.py's TOPICS
# format; loaded by bench_report.py's _load_extra_topics().
#
# Every case: same work in both languages, all parties tasks (goroutines), the runtime
# on every core; ns per operation (lock/unlock pair, map op, acquire/release pair,
# do_call). Target for each: faster than Go.

GO = "Go"

_FASTER = {"anchor": 0, "min_ratio": 1.0, "strict": True, "text": "faster than Go"}


def _topic(key, title, unit, go_what):
    return {
        "key": key,
        "title": title,
        "unit": unit,
        "gocxx": ("bench", "BM_" + key, "ns_per_item"),
        "anchors": [(GO + " " + go_what, ("go", key, "ns_per_item"))],
        "target": dict(_FASTER),
    }


TOPICS = [
    _topic("mutex_uncontended", "sync.Mutex: uncontended lock/unlock (one party)", "ns/pair",
           "sync.Mutex"),
    _topic("mutex_contended_2", "sync.Mutex: 2 tasks contending (lock; ++counter; unlock)", "ns/pair",
           "sync.Mutex, 2 goroutines"),
    _topic("mutex_contended_8", "sync.Mutex: 8 tasks contending (lock; ++counter; unlock)", "ns/pair",
           "sync.Mutex, 8 goroutines"),
    _topic("rwmutex_read_mostly", "sync.RWMutex: 8 tasks, 99% read-locked, 1% write-locked", "ns/op",
           "sync.RWMutex, 8 goroutines"),
    _topic("map_load_heavy", "sync.Map: 8 tasks, 1024 keys, 90% load / 10% store", "ns/op",
           "sync.Map, 8 goroutines"),
    _topic("map_store_heavy", "sync.Map: 8 tasks, 1024 keys, 10% load / 90% store", "ns/op",
           "sync.Map, 8 goroutines"),
    _topic("semaphore", "semaphore.Weighted(4): 8 tasks, acquire(1)/release(1)", "ns/pair",
           "x/sync semaphore.Weighted, 8 goroutines"),
    _topic("singleflight_100", "singleflight: rounds of 100 concurrent do_call on one key", "ns/call",
           "x/sync singleflight.Group, 100 goroutines"),
]
