// Channel, select and timer benchmarks: the same work as bench/go/chan.go's cases
// (chan_pingpong, chan_buffered_1p, chan_buffered_4p, select4, after_churn), for the
// side-by-side report (scripts/bench.sh, topics in scripts/bench_topics_chan.py). Each
// case reports the user counter ns_per_item (wall-clock ns per round trip, value or
// timer). Wall-clock (manual) time throughout: the work runs on the workers, with the
// "main goroutine" of each case running as a task, as Go's main does.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <vector>

#include "bench_util.hpp"
#include "go/chan.hpp"
#include "go/runtime.hpp"
#include "go/time.hpp"

namespace {

constexpr int kReps = 5;
constexpr long kPingPongN = 1'000'000;  // round trips
constexpr long kItemsN = 1'000'000;     // values through a buffered channel / select
constexpr std::size_t kBuffer = 128;    // capacity of the buffered channels
constexpr long kTimersN = 1'000'000;    // timers created and fired

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

// Two tasks, two unbuffered channels: ping, pong. ns per round trip.
void BM_chan_pingpong(benchmark::State& state) {
  for (auto _ : state) {
    double ns = 0;
    on_task([&] {
      go::chan<long> ping, pong;
      go::spawn([ping, pong] {
        for (long v : ping) pong.send(v);
        pong.close();
      });
      auto start = clock_type::now();
      for (long i = 0; i < kPingPongN; ++i) {
        ping.send(i);
        (void)pong.recv();
      }
      ns = elapsed_ns(start);
      ping.close();
      (void)pong.recv();
    });
    report(state, ns, kPingPongN);
  }
}
BENCHMARK(BM_chan_pingpong)->UseManualTime()->Repetitions(kReps)->Iterations(1)->Unit(benchmark::kMillisecond);

// `producers` tasks send kItemsN values in all through one channel of capacity
// kBuffer; the main task receives them. ns per value.
void buffered(benchmark::State& state, int producers) {
  for (auto _ : state) {
    double ns = 0;
    long sum = 0;
    on_task([&] {
      go::chan<long> c(kBuffer);
      auto start = clock_type::now();
      const long per = kItemsN / producers;
      for (int p = 0; p < producers; ++p) {
        go::spawn([c, per] {
          for (long i = 0; i < per; ++i) c.send(i);
        });
      }
      for (long i = 0; i < per * producers; ++i) sum += *c.recv();
      ns = elapsed_ns(start);
    });
    if (sum != producers * ((kItemsN / producers) * (kItemsN / producers - 1) / 2)) state.SkipWithError("wrong sum");
    report(state, ns, kItemsN);
  }
}
void BM_chan_buffered_1p(benchmark::State& state) { buffered(state, 1); }
void BM_chan_buffered_4p(benchmark::State& state) { buffered(state, 4); }
BENCHMARK(BM_chan_buffered_1p)->UseManualTime()->Repetitions(kReps)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_chan_buffered_4p)->UseManualTime()->Repetitions(kReps)->Iterations(1)->Unit(benchmark::kMillisecond);

// Four producer tasks, each with its own channel of capacity kBuffer, kItemsN/4 values
// each; the main task receives all of them with a select over the four channels.
// ns per value.
void BM_select4(benchmark::State& state) {
  for (auto _ : state) {
    double ns = 0;
    long sum = 0;
    on_task([&] {
      go::chan<long> c[4] = {go::chan<long>(kBuffer), go::chan<long>(kBuffer), go::chan<long>(kBuffer),
                             go::chan<long>(kBuffer)};
      constexpr long per = kItemsN / 4;
      auto start = clock_type::now();
      for (auto& ch : c) {
        go::spawn([ch] {
          for (long i = 0; i < per; ++i) ch.send(i);
        });
      }
      auto take = [&](long v) { sum += v; };
      for (long i = 0; i < kItemsN; ++i) {
        go::select(go::recv(c[0], take), go::recv(c[1], take), go::recv(c[2], take), go::recv(c[3], take));
      }
      ns = elapsed_ns(start);
    });
    if (sum != 4 * ((kItemsN / 4) * (kItemsN / 4 - 1) / 2)) state.SkipWithError("wrong sum");
    report(state, ns, kItemsN);
  }
}
BENCHMARK(BM_select4)->UseManualTime()->Repetitions(kReps)->Iterations(1)->Unit(benchmark::kMillisecond);

// time::after churn: create kTimersN timers (time::after(i % 1000 µs)), all pending at
// once, then receive from each. ns per timer (create + fire + receive + free).
void BM_after_churn(benchmark::State& state) {
  for (auto _ : state) {
    double ns = 0;
    on_task([&] {
      std::vector<go::recv_chan<go::time::time_point>> chans;
      chans.reserve(kTimersN);
      auto start = clock_type::now();
      for (long i = 0; i < kTimersN; ++i) chans.push_back(go::time::after(std::chrono::microseconds(i % 1000)));
      for (auto& c : chans) (void)c.recv();
      chans.clear();
      ns = elapsed_ns(start);
    });
    report(state, ns, kTimersN);
  }
}
BENCHMARK(BM_after_churn)->UseManualTime()->Repetitions(kReps)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
