// errgroup benchmarks (Google Benchmark). Every case reports `ns_per_item`: wall time
// per task (or, for BM_cancel_fanout, per parked task woken by the cancellation).
//
//   BM_spawn_join_waitgroup        baseline: N bare go::spawn + sync::WaitGroup add(1)
//                                  and done() per task, wait
//   BM_spawn_join_waitgroup_from_task  the same baseline with the spawner a task: the
//                                  bookkeeping a Group does per task (Go's errgroup
//                                  too: wg.Add(1) per Go), without the Group
//   BM_errgroup_spawn_wait         N empty tasks through a zero Group, wait
//   BM_errgroup_spawn_wait_limit8  the same with set_limit(8)
//   BM_errgroup_spawn_wait_from_task, BM_errgroup_spawn_wait_limit8_from_task
//                                  the same two with the spawner a task (as in Go)
//   BM_cancel_fanout               N tasks parked on the group's context; one task
//                                  fails; time from its failure until wait() returns
//
// The spawn cases repeat 5 times and report the median: single runs of 1,000,000
// spawns from a thread are bimodal (150 to 500 ns per task, depending on whether the
// workers keep up with the spawner), too noisy for a ratio.
//
// The errgroup design target is BM_errgroup_spawn_wait <= 1.25x BM_spawn_join_waitgroup
// (same run, same machine), and the same from a task against
// BM_spawn_join_waitgroup_from_task. (runtime_bench's BM_spawn_join_from_task adds N to
// its WaitGroup once, as Go's spawn_join anchor does: the Go comparison, not this one.)
#include <benchmark/benchmark.h>

#include <atomic>
#include <utility>
#include <chrono>
#include <cstdint>
#include <thread>

#include "bench_util.hpp"
#include "go/context.hpp"
#include "go/errgroup.hpp"
#include "go/errors.hpp"
#include "go/runtime.hpp"
#include "go/sync.hpp"

namespace {

using steady = std::chrono::steady_clock;

constexpr std::int64_t spawn_n = 1'000'000;
constexpr std::int64_t fanout_n = 100'000;

void report(benchmark::State& state, std::chrono::nanoseconds total, std::int64_t items) {
  state.counters["ns_per_item"] = static_cast<double>(total.count()) / static_cast<double>(items);
  state.SetItemsProcessed(items);
}

// n bare tasks, each counted in a WaitGroup with add(1) before its spawn and done() at
// its end, then wait.
std::chrono::nanoseconds bare_spawn_wait(std::int64_t n) {
  const auto t0 = steady::now();
  go::sync::WaitGroup wg;
  for (std::int64_t i = 0; i < n; ++i) {
    wg.add(1);
    go::spawn([&wg] { wg.done(); });
  }
  wg.wait();
  return steady::now() - t0;
}

void BM_spawn_join_waitgroup(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  std::chrono::nanoseconds total{0};
  for (auto _ : state) total += bare_spawn_wait(n);
  report(state, total, n * state.iterations());
}

// Spawns n empty tasks through a Group with the given limit (-1: none) and waits.
std::chrono::nanoseconds group_spawn_wait(std::int64_t n, int limit, benchmark::State& state) {
  const auto t0 = steady::now();
  go::errgroup::Group g;
  g.set_limit(limit);
  for (std::int64_t i = 0; i < n; ++i) g.go([] {});
  go::error err = g.wait();
  if (err) state.SkipWithError("unexpected error");
  return steady::now() - t0;
}

using gocxx_bench::on_task;

void BM_spawn_join_waitgroup_from_task(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  std::chrono::nanoseconds total{0};
  for (auto _ : state) on_task([&] { total += bare_spawn_wait(n); });
  report(state, total, n * state.iterations());
}

// The spawner is the benchmark's thread (from_task false) or a task; limit -1: none.
template <bool from_task, int limit>
void BM_group(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  std::chrono::nanoseconds total{0};
  for (auto _ : state) {
    if constexpr (from_task) {
      on_task([&] { total += group_spawn_wait(n, limit, state); });
    } else {
      total += group_spawn_wait(n, limit, state);
    }
  }
  report(state, total, n * state.iterations());
}

void BM_cancel_fanout(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  const go::error fail = go::errors::make("fail");
  std::chrono::nanoseconds total{0};
  for (auto _ : state) {
    auto [g, ctx] = go::errgroup::with_context(go::context::background());
    std::atomic<std::int64_t> ready{0};
    for (std::int64_t i = 0; i < n; ++i) {
      if (i % 2 == 0) {
        g.go([c = ctx, &ready] {
          ready.fetch_add(1, std::memory_order_relaxed);
          c.wait();
        });
      } else {
        g.go([d = ctx.done(), &ready] {
          ready.fetch_add(1, std::memory_order_relaxed);
          d.wait();
        });
      }
    }
    // Let every task reach its park.
    while (ready.load(std::memory_order_relaxed) < n) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));

    std::atomic<std::int64_t> failed_at{0};
    g.go([&failed_at, fail]() -> go::error {
      failed_at.store(steady::now().time_since_epoch().count(), std::memory_order_release);
      return fail;
    });
    go::error err = g.wait();
    const auto t1 = steady::now();
    const auto t0 = steady::time_point(steady::duration(failed_at.load(std::memory_order_acquire)));
    const auto elapsed = std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0);
    state.SetIterationTime(std::chrono::duration<double>(elapsed).count());
    total += elapsed;
    if (err != fail) state.SkipWithError("wait() did not return the failure");
  }
  report(state, total, n * state.iterations());
}

BENCHMARK(BM_spawn_join_waitgroup)->Arg(spawn_n)->Repetitions(5)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_spawn_join_waitgroup_from_task)->Arg(spawn_n)->Repetitions(5)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_group<false, -1>)->Name("BM_errgroup_spawn_wait")->Arg(spawn_n)->Repetitions(5)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_group<false, 8>)->Name("BM_errgroup_spawn_wait_limit8")->Arg(spawn_n)->Repetitions(5)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_group<true, -1>)->Name("BM_errgroup_spawn_wait_from_task")->Arg(spawn_n)->Repetitions(5)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_group<true, 8>)->Name("BM_errgroup_spawn_wait_limit8_from_task")->Arg(spawn_n)->Repetitions(5)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_cancel_fanout)->Arg(fanout_n)->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
