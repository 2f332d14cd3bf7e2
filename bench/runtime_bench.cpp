// Runtime benchmarks: the same work as bench/go/main.go's spawn_join, pingpong, skynet
// and parked_memory, for the side-by-side report (scripts/bench.sh). Each case reports
// a user counter: ns_per_item (per task or per round trip), or bytes_per_task and
// peak_rss_mb for memory. Wall-clock time throughout: the work runs on the workers.
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>

#include "bench_util.hpp"
#include "go/detail/waiter.hpp"
#include "go/runtime.hpp"
#include "go/sync.hpp"

namespace gd = go::detail;

namespace {

constexpr int kReps = 5;
constexpr long kSpawnN = 1'000'000;
constexpr long kPingPongN = 1'000'000;
constexpr long kParkedN = 1'000'000;

using clock_type = std::chrono::steady_clock;

double elapsed_ns(clock_type::time_point since) {
  return std::chrono::duration<double, std::nano>(clock_type::now() - since).count();
}

using gocxx_bench::on_task;

void report(benchmark::State& state, double total_ns, long items) {
  state.SetIterationTime(total_ns / 1e9);
  state.counters["ns_per_item"] = total_ns / static_cast<double>(items);
  state.SetItemsProcessed(items);
}

// Spawn 1,000,000 empty tasks from a plain thread and wait for them (WaitGroup).
void BM_spawn_join(benchmark::State& state) {
  for (auto _ : state) {
    auto start = clock_type::now();
    go::sync::WaitGroup wg;
    wg.add(static_cast<int>(kSpawnN));
    for (long i = 0; i < kSpawnN; ++i) go::spawn([&wg] { wg.done(); });
    wg.wait();
    report(state, elapsed_ns(start), kSpawnN);
  }
}
BENCHMARK(BM_spawn_join)->UseManualTime()->Repetitions(kReps)->Iterations(1)->Unit(benchmark::kMillisecond);

// The same from a task, as Go's main goroutine does it.
void BM_spawn_join_from_task(benchmark::State& state) {
  for (auto _ : state) {
    double ns = 0;
    on_task([&] {
      auto start = clock_type::now();
      go::sync::WaitGroup wg;
      wg.add(static_cast<int>(kSpawnN));
      for (long i = 0; i < kSpawnN; ++i) go::spawn([&wg] { wg.done(); });
      wg.wait();
      ns = elapsed_ns(start);
    });
    report(state, ns, kSpawnN);
  }
}
BENCHMARK(BM_spawn_join_from_task)->UseManualTime()->Repetitions(kReps)->Iterations(1)->Unit(benchmark::kMillisecond);

// A one-waiter signal on the parking primitive: the park/wake pair behind every
// blocking operation (an unbuffered channel hand-off without the value).
class baton {
 public:
  void post() noexcept {
    std::uintptr_t v = slot_.load(std::memory_order_acquire);
    for (;;) {
      if (v == 0) {
        if (slot_.compare_exchange_weak(v, 1, std::memory_order_acq_rel)) return;  // posted ahead
        continue;
      }
      if (slot_.compare_exchange_weak(v, 0, std::memory_order_acq_rel)) {
        reinterpret_cast<gd::waiter*>(v)->notify();
        return;
      }
    }
  }
  void wait() noexcept {
    gd::waiter w;
    std::uintptr_t expected = 0;
    if (!slot_.compare_exchange_strong(expected, reinterpret_cast<std::uintptr_t>(&w),
                                       std::memory_order_acq_rel)) {
      slot_.store(0, std::memory_order_release);  // was posted ahead
      return;
    }
    w.park();
  }

 private:
  std::atomic<std::uintptr_t> slot_{0};  // 0 empty, 1 posted, else a parked waiter
};

// Two tasks hand a baton back and forth: ns per round trip (two park/wake pairs).
void BM_pingpong(benchmark::State& state) {
  for (auto _ : state) {
    double ns = 0;
    on_task([&] {
      baton ping, pong;
      go::sync::WaitGroup wg;
      wg.add(1);
      go::spawn([&] {
        for (long i = 0; i < kPingPongN; ++i) {
          ping.wait();
          pong.post();
        }
        wg.done();
      });
      auto start = clock_type::now();
      for (long i = 0; i < kPingPongN; ++i) {
        ping.post();
        pong.wait();
      }
      ns = elapsed_ns(start);
      wg.wait();
    });
    report(state, ns, kPingPongN);
  }
}
BENCHMARK(BM_pingpong)->UseManualTime()->Repetitions(kReps)->Iterations(1)->Unit(benchmark::kMillisecond);

// Skynet: a tree of 1,000,000 leaf tasks, 10 children per node; every node sums its
// children's results. Reported as total time per tree.
long skynet(long num, long size) {
  if (size == 1) return num;
  long sums[10];
  long child = size / 10;
  go::sync::WaitGroup wg;
  wg.add(10);
  for (long i = 0; i < 10; ++i) {
    go::spawn([&sums, &wg, i, num, child] {
      sums[i] = skynet(num + i * child, child);
      wg.done();
    });
  }
  wg.wait();
  long total = 0;
  for (long s : sums) total += s;
  return total;
}

void BM_skynet(benchmark::State& state) {
  for (auto _ : state) {
    long result = 0;
    auto start = clock_type::now();
    on_task([&] { result = skynet(0, 1'000'000); });
    double ns = elapsed_ns(start);
    if (result != 499999500000L) state.SkipWithError("wrong sum");
    state.SetIterationTime(ns / 1e9);
    state.counters["total_ms"] = ns / 1e6;
  }
}
BENCHMARK(BM_skynet)->UseManualTime()->Repetitions(kReps)->Iterations(1)->Unit(benchmark::kMillisecond);

long status_kb(const char* field) {
  std::ifstream f("/proc/self/status");
  std::string line;
  std::size_t n = std::strlen(field);
  while (std::getline(f, line)) {
    if (line.compare(0, n, field) == 0) return std::stol(line.substr(n + 1));
  }
  return 0;
}

// 1,000,000 tasks parked at once (each on a WaitGroup): peak memory per task, as
// (VmHWM with every task parked - VmRSS before) / N. Run in a fresh process.
void BM_parked_memory(benchmark::State& state) {
  for (auto _ : state) {
    go::runtime::max_procs();  // start the runtime before the baseline
    long before = status_kb("VmRSS:");
    auto start = clock_type::now();
    go::sync::WaitGroup parked, release, finished;
    parked.add(static_cast<int>(kParkedN));
    finished.add(static_cast<int>(kParkedN));
    release.add(1);
    for (long i = 0; i < kParkedN; ++i) {
      go::spawn([&] {
        parked.done();
        release.wait();
        finished.done();
      });
    }
    parked.wait();
    long peak = status_kb("VmHWM:");
    release.done();
    finished.wait();
    state.SetIterationTime(elapsed_ns(start) / 1e9);
    state.counters["bytes_per_task"] = static_cast<double>(peak - before) * 1024.0 / kParkedN;
    state.counters["peak_rss_mb"] = static_cast<double>(peak) / 1024.0;
  }
}
BENCHMARK(BM_parked_memory)->UseManualTime()->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
