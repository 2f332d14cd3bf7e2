// million_tasks: the runtime at a glance. Spawns 1,000,000 tasks three ways and
// prints what it measured:
//   1. run-to-completion tasks (no stack of their own, no context switch),
//   2. 1,000,000 tasks parked at once on a WaitGroup (one small stack each),
//   3. a skynet-style tree of tasks, each waiting for its 10 children.
#include <go/runtime.hpp>
#include <go/sync.hpp>
#include <go/time.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

namespace {

using clock_type = std::chrono::steady_clock;

double ms_since(clock_type::time_point t) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t).count();
}

long rss_kb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

long tree(long num, long size) {
  if (size == 1) return num;
  long sums[10];
  go::sync::WaitGroup wg;
  for (long i = 0; i < 10; ++i) {
    wg.go([&sums, i, num, size] { sums[i] = tree(num + i * (size / 10), size / 10); });
  }
  wg.wait();
  long total = 0;
  for (long s : sums) total += s;
  return total;
}

}  // namespace

int main() {
  constexpr long n = 1'000'000;
  std::printf("gocxx runtime: %d workers\n", go::runtime::max_procs());

  {
    std::atomic<long> sum{0};
    go::sync::WaitGroup wg;
    auto start = clock_type::now();
    wg.add(static_cast<int>(n));
    for (long i = 0; i < n; ++i) {
      go::spawn([&sum, &wg, i] {
        sum.fetch_add(i, std::memory_order_relaxed);
        wg.done();
      });
    }
    wg.wait();
    double ms = ms_since(start);
    std::printf("1. spawned and joined %ld tasks in %.0f ms (%.0f ns per task); sum %s\n", n, ms, ms * 1e6 / n,
                sum.load() == n * (n - 1) / 2 ? "correct" : "WRONG");
  }

  {
    long before = rss_kb();
    go::sync::WaitGroup parked, release, finished;
    parked.add(static_cast<int>(n));
    finished.add(static_cast<int>(n));
    release.add(1);
    auto start = clock_type::now();
    for (long i = 0; i < n; ++i) {
      go::spawn([&] {
        parked.done();
        release.wait();
        finished.done();
      });
    }
    parked.wait();
    double park_ms = ms_since(start);
    long live = go::runtime::num_goroutine();
    long during = rss_kb();
    auto stats = go::runtime::get_stats();
    release.done();
    finished.wait();
    std::printf("2. %ld tasks parked at once after %.0f ms; memory %.0f bytes per parked task; "
                "%ld stacks of %zu KiB address space, %ld of them with a guard page\n",
                live, park_ms, (during - before) * 1024.0 / n, stats.stacks, stats.stack_size / 1024,
                stats.guarded_stacks);
  }

  {
    auto start = clock_type::now();
    long result = 0;
    go::sync::WaitGroup wg;
    wg.go([&] { result = tree(0, n); });
    wg.wait();
    std::printf("3. a tree of %ld leaf tasks (each node waits for its 10 children) summed to %ld in %.0f ms\n",
                n, result, ms_since(start));
  }
  std::printf("tasks left: %ld\n", go::runtime::num_goroutine());
}
