// Anchor benchmarks: the work of gocxx's runtime benchmarks done with other C++
// concurrency libraries, so that scripts/bench.sh can report gocxx as a ratio against
// anchors measured in the same run on the same machine.
//
//   BM_tbb_task_group_spawn_wait   oneTBB tbb::task_group: run 1,000,000 empty tasks, wait
//   BM_fiber_spawn_join            Boost.Fiber: launch 100,000 empty fibers, join each
//                                  (default fixedsize_stack, 128 KiB malloc'd per fiber)
//   BM_fiber_spawn_join_pooled     the same with boost::fibers::pooled_fixedsize_stack,
//                                  Boost's allocator for many short-lived fibers
//   BM_fiber_pingpong              Boost.Fiber: two fibers, unbuffered_channel ping-pong
//   BM_thread_spawn_join           std::thread: start 10,000 empty threads, join each
//
// Every case runs 5 repetitions (bench_report.py uses the median) and reports the
// user counter `ns_per_item` (wall-clock nanoseconds per task,
// fiber, thread or round trip) and SetItemsProcessed. Times are wall-clock
// (UseRealTime): the work runs on threads other than the benchmark's.
//
// Boost.Fiber runs on the calling thread with its default round_robin scheduler (one
// thread, no work sharing) — its out-of-the-box configuration. oneTBB uses its default
// arena (one worker per core, the calling thread joining in while it waits).
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#if defined(GOCXX_ANCHOR_TBB)
#include <oneapi/tbb/task_group.h>
#endif
#if defined(GOCXX_ANCHOR_FIBER)
#include <boost/fiber/all.hpp>
#endif

namespace {

// Each case runs kReps times; scripts/bench_report.py takes the median.
constexpr int kReps = 5;

// Runs body() once per benchmark iteration; body handles items_per_iteration items.
// Reports items processed and ns_per_item over the whole timed loop. Unless *warmed,
// body() first runs once untimed, so that the allocator has grown its heap (the
// first run of a big batch otherwise pays for mmap and page faults); once per process.
template <class Body>
void per_item(benchmark::State& state, std::int64_t items_per_iteration, Body&& body, bool* warmed) {
  if (warmed != nullptr && !*warmed) {
    body();
    *warmed = true;
  }
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) body();
  const auto t1 = std::chrono::steady_clock::now();
  const auto items = static_cast<std::int64_t>(state.iterations()) * items_per_iteration;
  state.SetItemsProcessed(items);
  const double ns = static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
  state.counters["ns_per_item"] = items > 0 ? ns / static_cast<double>(items) : 0.0;
}

#if defined(GOCXX_ANCHOR_TBB)
constexpr std::int64_t kTbbTasks = 1'000'000;

void BM_tbb_task_group_spawn_wait(benchmark::State& state) {
  static bool warmed = false;
  per_item(state, kTbbTasks, [] {
    tbb::task_group tg;
    for (std::int64_t i = 0; i < kTbbTasks; ++i) tg.run([] {});
    tg.wait();
  }, &warmed);
}
BENCHMARK(BM_tbb_task_group_spawn_wait)->UseRealTime()->Repetitions(kReps)->Unit(benchmark::kMillisecond);
#endif

#if defined(GOCXX_ANCHOR_FIBER)
constexpr std::int64_t kFibers = 100'000;

void BM_fiber_spawn_join(benchmark::State& state) {
  static bool warmed = false;
  std::vector<boost::fibers::fiber> fibers;
  fibers.reserve(kFibers);
  per_item(state, kFibers, [&] {
    for (std::int64_t i = 0; i < kFibers; ++i) fibers.emplace_back([] {});
    for (auto& f : fibers) f.join();
    fibers.clear();
  }, &warmed);
}
BENCHMARK(BM_fiber_spawn_join)->UseRealTime()->Repetitions(kReps)->Unit(benchmark::kMillisecond);

void BM_fiber_spawn_join_pooled(benchmark::State& state) {
  static bool warmed = false;
  boost::fibers::pooled_fixedsize_stack stacks;
  std::vector<boost::fibers::fiber> fibers;
  fibers.reserve(kFibers);
  per_item(state, kFibers, [&] {
    for (std::int64_t i = 0; i < kFibers; ++i) fibers.emplace_back(std::allocator_arg, stacks, [] {});
    for (auto& f : fibers) f.join();
    fibers.clear();
  }, &warmed);
}
BENCHMARK(BM_fiber_spawn_join_pooled)->UseRealTime()->Repetitions(kReps)->Unit(benchmark::kMillisecond);

void BM_fiber_pingpong(benchmark::State& state) {
  boost::fibers::unbuffered_channel<int> ping;
  boost::fibers::unbuffered_channel<int> pong;
  boost::fibers::fiber echo([&] {
    int v = 0;
    while (ping.pop(v) == boost::fibers::channel_op_status::success) pong.push(v);
    pong.close();
  });
  int i = 0;
  per_item(state, 1, [&] {
    ping.push(i);
    int v = 0;
    pong.pop(v);
    benchmark::DoNotOptimize(v);
    ++i;
  }, nullptr);
  ping.close();
  echo.join();
}
BENCHMARK(BM_fiber_pingpong)->UseRealTime()->Repetitions(kReps)->Unit(benchmark::kNanosecond);
#endif

constexpr std::int64_t kThreads = 10'000;

void BM_thread_spawn_join(benchmark::State& state) {
  static bool warmed = false;
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  per_item(state, kThreads, [&] {
    for (std::int64_t i = 0; i < kThreads; ++i) threads.emplace_back([] {});
    for (auto& t : threads) t.join();
    threads.clear();
  }, &warmed);
}
BENCHMARK(BM_thread_spawn_join)->UseRealTime()->Repetitions(kReps)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
