// sync / x/sync benchmarks (Google Benchmark), each mirrored by the same-named case
// (without BM_) in bench/go/sync.go. Every case reports `ns_per_item`: wall time per
// operation, summed over all parties (a lock/unlock pair, a map operation, an
// acquire/release pair, a do_call).
//
//   BM_mutex_uncontended    one party, N lock/unlock pairs
//   BM_mutex_contended_2    2 tasks share N lock; ++counter; unlock
//   BM_mutex_contended_8    8 tasks, the same
//   BM_rwmutex_read_mostly  8 tasks, N operations: 1% write-locked, 99% read-locked
//   BM_map_load_heavy       8 tasks, 1024 int keys: 90% load, 10% store (existing keys)
//   BM_map_store_heavy      8 tasks, 1024 int keys: 90% store, 10% load
//   BM_semaphore            8 tasks, Weighted(4): N acquire(1)/release(1) pairs
//   BM_singleflight_100     rounds of 100 tasks calling do_call on one key at once
//
// All parties are tasks (Go: goroutines); the runtime uses every core, as Go does with
// its default GOMAXPROCS. Random keys come from a per-party xorshift generator, the
// same in both languages.
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <shared_mutex>
#include <string>

#include "go/context.hpp"
#include "go/runtime.hpp"
#include "go/semaphore.hpp"
#include "go/singleflight.hpp"
#include "go/sync.hpp"

namespace {

using steady = std::chrono::steady_clock;

constexpr std::int64_t uncontended_n = 10'000'000;
constexpr std::int64_t ops_n = 1'000'000;
constexpr std::int64_t sf_rounds = 1'000;
constexpr int sf_callers = 100;

void report(benchmark::State& state, std::chrono::nanoseconds total, std::int64_t items) {
  state.counters["ns_per_item"] = static_cast<double>(total.count()) / static_cast<double>(items);
  state.SetItemsProcessed(items);
}

struct xorshift {
  std::uint64_t s;
  std::uint64_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
};

// Runs body(party) in `parties` tasks and waits; returns the elapsed time.
template <class F>
std::chrono::nanoseconds run_tasks(int parties, F body) {
  go::sync::WaitGroup wg;
  std::atomic<bool> go_signal{false};
  std::atomic<int> ready{0};
  for (int p = 0; p < parties; ++p) {
    wg.go([&, p] {
      ready.fetch_add(1);
      while (!go_signal.load(std::memory_order_acquire)) go::this_task::yield();
      body(p);
    });
  }
  while (ready.load() < parties) std::this_thread::yield();
  const auto t0 = steady::now();
  go_signal.store(true, std::memory_order_release);
  wg.wait();
  return steady::now() - t0;
}

void BM_mutex_uncontended(benchmark::State& state) {
  go::sync::Mutex m;
  std::chrono::nanoseconds total{0};
  for (auto _ : state) {
    const auto t0 = steady::now();
    for (std::int64_t i = 0; i < uncontended_n; ++i) {
      m.lock();
      m.unlock();
    }
    total += steady::now() - t0;
  }
  report(state, total, uncontended_n * state.iterations());
}

void mutex_contended(benchmark::State& state, int parties) {
  std::chrono::nanoseconds total{0};
  for (auto _ : state) {
    go::sync::Mutex m;
    std::int64_t counter = 0;
    total += run_tasks(parties, [&](int) {
      for (std::int64_t i = 0; i < ops_n / parties; ++i) {
        m.lock();
        ++counter;
        m.unlock();
      }
    });
    benchmark::DoNotOptimize(counter);
  }
  report(state, total, ops_n / parties * parties * state.iterations());
}
void BM_mutex_contended_2(benchmark::State& state) { mutex_contended(state, 2); }
void BM_mutex_contended_8(benchmark::State& state) { mutex_contended(state, 8); }

void BM_rwmutex_read_mostly(benchmark::State& state) {
  constexpr int parties = 8;
  std::chrono::nanoseconds total{0};
  for (auto _ : state) {
    go::sync::RWMutex m;
    std::int64_t data[16] = {};
    std::atomic<std::int64_t> sink{0};
    total += run_tasks(parties, [&](int p) {
      std::int64_t local = 0;
      for (std::int64_t i = 0; i < ops_n / parties; ++i) {
        if (i % 100 == 0) {
          m.lock();
          ++data[i % 16];
          m.unlock();
        } else {
          m.rlock();
          local += data[(i + p) % 16];
          m.runlock();
        }
      }
      sink.fetch_add(local, std::memory_order_relaxed);
    });
  }
  report(state, total, ops_n / parties * parties * state.iterations());
}

void map_mix(benchmark::State& state, unsigned load_percent) {
  constexpr int parties = 8;
  constexpr std::uint64_t keys = 1024;
  std::chrono::nanoseconds total{0};
  for (auto _ : state) {
    go::sync::Map<std::int64_t, std::int64_t> m;
    for (std::uint64_t k = 0; k < keys; ++k) m.store(static_cast<std::int64_t>(k), static_cast<std::int64_t>(k));
    std::atomic<std::int64_t> sink{0};
    total += run_tasks(parties, [&](int p) {
      xorshift rng{0x9E3779B97F4A7C15ull * static_cast<std::uint64_t>(p + 1)};
      std::int64_t local = 0;
      for (std::int64_t i = 0; i < ops_n / parties; ++i) {
        const std::uint64_t r = rng.next();
        const auto k = static_cast<std::int64_t>(r % keys);
        if ((r >> 32) % 100 < load_percent) {
          if (auto v = m.load(k)) local += *v;
        } else {
          m.store(k, i);
        }
      }
      sink.fetch_add(local, std::memory_order_relaxed);
    });
  }
  report(state, total, ops_n / parties * parties * state.iterations());
}
void BM_map_load_heavy(benchmark::State& state) { map_mix(state, 90); }
void BM_map_store_heavy(benchmark::State& state) { map_mix(state, 10); }

void BM_semaphore(benchmark::State& state) {
  constexpr int parties = 8;
  std::chrono::nanoseconds total{0};
  const go::context::Context ctx = go::context::background();
  for (auto _ : state) {
    go::semaphore::Weighted sem(4);
    total += run_tasks(parties, [&](int) {
      for (std::int64_t i = 0; i < ops_n / parties; ++i) {
        if (sem.acquire(ctx, 1)) std::abort();
        sem.release(1);
      }
    });
  }
  report(state, total, ops_n / parties * parties * state.iterations());
}

void BM_singleflight_100(benchmark::State& state) {
  std::chrono::nanoseconds total{0};
  for (auto _ : state) {
    go::singleflight::Group<std::string, std::int64_t> g;
    const std::string key = "key";
    std::atomic<std::int64_t> sink{0};
    const auto t0 = steady::now();
    for (std::int64_t round = 0; round < sf_rounds; ++round) {
      go::sync::WaitGroup wg;
      for (int c = 0; c < sf_callers; ++c) {
        wg.go([&] {
          auto r = g.do_call(key, [&] {
            go::this_task::yield();  // stay in flight a moment, as a real lookup would
            return round;
          });
          sink.fetch_add(r.value, std::memory_order_relaxed);
        });
      }
      wg.wait();
    }
    total += steady::now() - t0;
  }
  report(state, total, sf_rounds * sf_callers * state.iterations());
}

BENCHMARK(BM_mutex_uncontended)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_mutex_contended_2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_mutex_contended_8)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_rwmutex_read_mostly)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_map_load_heavy)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_map_store_heavy)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_semaphore)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_singleflight_100)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
