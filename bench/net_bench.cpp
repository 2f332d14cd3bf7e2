// Network benchmarks (Google Benchmark) for go/net.hpp and go/http.hpp, the gocxx side
// of bench/go/net.go (the same work with goroutines, net and net/http). Everything runs
// in this process over loopback, the runtime on every core.
//
//   BM_net_echo         1,000 connections to an echo server (one task per connection on
//                       both sides); once all are connected, every client does 100
//                       round trips of a 64-byte message (write 64 bytes, read_full 64
//                       bytes back). Timed: from the start signal until every client
//                       has done its round trips and closed its connection
//                       (connecting before, and the server's tear-down after, are
//                       not timed).
//                       ns_per_item: ns per round trip (wall time / 100,000);
//                       round_trips_per_s.
//   BM_http_get         10,000 GETs of a 13-byte body from a go::http::Server through a
//                       go::errgroup with set_limit(100), each task calling
//                       go::http::get, spawned from a task (as Go's main goroutine
//                       spawns); the client reuses connections (libcurl's cache
//                       keeps up to 100 idle connections, as Go's transport with
//                       MaxIdleConnsPerHost=100 does). Timed: the 10,000 GETs (server
//                       start and stop not timed). ns_per_item: ns per request;
//                       total_ms.
//   BM_net_echo_memory, BM_http_get_memory
//                       the same work once, in a fresh process (scripts/bench.sh runs
//                       every case named *memory* alone): rss_growth_mb = VmHWM after
//                       the case - VmRSS before it (runtime already started), MB
//                       (1 MB = 2^20 bytes); peak_rss_mb = VmHWM; bytes_per_conn
//                       (echo: growth / 1,000 connections). bench/go/net.go measures Go
//                       identically (after a runtime.GC()).
#include <benchmark/benchmark.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <string_view>
#include <utility>

#include "bench_util.hpp"
#include "go/context.hpp"
#include "go/errgroup.hpp"
#include "go/errors.hpp"
#include "go/http.hpp"
#include "go/io.hpp"
#include "go/net.hpp"
#include "go/runtime.hpp"
#include "go/sync.hpp"

namespace {

using steady = std::chrono::steady_clock;

constexpr int echo_conns = 1'000;
constexpr int echo_round_trips = 100;  // per connection
constexpr std::size_t echo_msg = 64;
constexpr int http_requests = 10'000;
constexpr int http_limit = 100;
constexpr std::string_view http_body = "hello, world\n";
constexpr int reps = 5;

long status_kb(const char* field) {
  std::ifstream f("/proc/self/status");
  std::string line;
  const std::size_t n = std::strlen(field);
  while (std::getline(f, line)) {
    if (line.compare(0, n, field) == 0) return std::stol(line.substr(n + 1));
  }
  return 0;
}

// ---- echo -----------------------------------------------------------------------------

// One echo run: listen, accept with one task per connection, connect `echo_conns`
// client tasks, release them together, time the round trips, tear down. Returns the
// timed part, or a negative duration on an error (message in *err).
std::chrono::nanoseconds echo_run(std::string* err) {
  auto [ln, lerr] = go::net::listen("tcp", "127.0.0.1:0");
  if (lerr) {
    *err = lerr.message();
    return std::chrono::nanoseconds(-1);
  }
  const std::string addr = ln.addr().address;
  go::net::Listener listener = ln;

  go::sync::WaitGroup servers;  // the accept loop and every server connection task
  servers.add(1);
  go::spawn([listener, &servers]() mutable {
    for (;;) {
      go::result<go::net::Conn> r = listener.accept();
      if (r.err) break;  // closed below
      servers.add(1);
      go::spawn([c = r.value, &servers]() mutable {
        std::array<char, 4096> buf;
        for (;;) {
          auto [n, rerr] = c.read(buf);
          if (n > 0 && c.write(std::string_view(buf.data(), n)).err) break;
          if (rerr) break;  // io::eof: the client is done
        }
        c.close();
        servers.done();
      });
    }
    servers.done();
  });

  std::atomic<int> failures{0};
  go::sync::WaitGroup connected, start, clients;
  connected.add(echo_conns);
  clients.add(echo_conns);
  start.add(1);
  for (int i = 0; i < echo_conns; ++i) {
    go::spawn([&] {
      go::result<go::net::Conn> d = go::net::dial("tcp", addr);
      connected.done();
      start.wait();
      if (d.err) {
        failures.fetch_add(1);
      } else {
        go::net::Conn c = d.value;
        std::array<char, echo_msg> out, in;
        out.fill('x');
        for (int k = 0; k < echo_round_trips; ++k) {
          if (c.write(std::string_view(out.data(), out.size())).err ||
              go::io::read_full(c, in).err) {
            failures.fetch_add(1);
            break;
          }
        }
        c.close();
      }
      clients.done();
    });
  }
  connected.wait();
  const auto t0 = steady::now();
  start.done();
  clients.wait();
  const auto elapsed = steady::now() - t0;
  listener.close();
  servers.wait();
  if (failures.load() != 0) {
    *err = std::to_string(failures.load()) + " connections failed";
    return std::chrono::nanoseconds(-1);
  }
  return std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed);
}

void report_echo(benchmark::State& state, std::chrono::nanoseconds d) {
  const double n = static_cast<double>(echo_conns) * echo_round_trips;
  const double ns = static_cast<double>(d.count());
  state.SetIterationTime(ns / 1e9);
  state.counters["ns_per_item"] = ns / n;
  state.counters["round_trips_per_s"] = n / (ns / 1e9);
  state.counters["total_ms"] = ns / 1e6;
}

// One run per iteration: run(&err) returns the timed part, or a negative duration with
// the message in err (then the case is skipped); report(state, d) sets the counters.
template <class Run, class Report>
void timed_case(benchmark::State& state, Run run, Report report) {
  for (auto _ : state) {
    std::string err;
    const auto d = run(&err);
    if (d.count() < 0) {
      state.SkipWithError(err.c_str());
      return;
    }
    report(state, d);
  }
}

void BM_net_echo(benchmark::State& state) { timed_case(state, echo_run, report_echo); }
BENCHMARK(BM_net_echo)->UseManualTime()->Repetitions(reps)->Iterations(1)->Unit(benchmark::kMillisecond);

// ---- HTTP -----------------------------------------------------------------------------

using gocxx_bench::on_task;

// One HTTP run: a server on 127.0.0.1:0, then `http_requests` GETs through an errgroup
// limited to `http_limit` tasks. Returns the timed part (the GETs), or a negative
// duration on an error (message in *err).
std::chrono::nanoseconds http_run(std::string* err) {
  go::http::ServeMux mux;
  mux.handle("/", [](go::http::ResponseWriter& w, const go::http::Request&) {
    w.header().set("Content-Type", "text/plain");
    w.write(http_body);
  });
  go::http::Server srv(mux);
  auto [ln, lerr] = go::net::listen("tcp", "127.0.0.1:0");
  if (lerr) {
    *err = lerr.message();
    return std::chrono::nanoseconds(-1);
  }
  const std::string url = "http://" + ln.addr().address + "/";
  go::sync::WaitGroup serving;
  serving.go([&srv, l = ln] { srv.serve(l); });

  // The spawner is a task, as Go's main goroutine is (a plain thread blocked by
  // set_limit would pay a futex wake-up per slot hand-off).
  go::error werr;
  const auto t0 = steady::now();
  on_task([&] {
    go::errgroup::Group g;
    g.set_limit(http_limit);
    for (int i = 0; i < http_requests; ++i) {
      g.go([&url]() -> go::error {
        auto [resp, gerr] = go::http::get(go::context::background(), url);
        if (gerr) return gerr;
        if (resp.status_code != go::http::status_ok || resp.body != http_body)
          return go::errors::make("unexpected response: " + resp.status);
        return {};
      });
    }
    werr = g.wait();
  });
  const auto elapsed = steady::now() - t0;
  srv.close();
  serving.wait();
  if (werr) {
    *err = werr.message();
    return std::chrono::nanoseconds(-1);
  }
  return std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed);
}

void report_http(benchmark::State& state, std::chrono::nanoseconds d) {
  const double ns = static_cast<double>(d.count());
  state.SetIterationTime(ns / 1e9);
  state.counters["ns_per_item"] = ns / http_requests;
  state.counters["total_ms"] = ns / 1e6;
}

void BM_http_get(benchmark::State& state) { timed_case(state, http_run, report_http); }
BENCHMARK(BM_http_get)->UseManualTime()->Repetitions(reps)->Iterations(1)->Unit(benchmark::kMillisecond);

// ---- memory (fresh process each) ------------------------------------------------------

// Runs `run` once and reports rss_growth_mb = VmHWM after - VmRSS before, peak_rss_mb
// and, when conns > 0, bytes_per_conn = growth / conns.
template <class Run, class Report>
void memory_case(benchmark::State& state, Run run, Report report, int conns) {
  long before = 0, peak = 0;
  auto measured_run = [&](std::string* err) {
    go::runtime::max_procs();  // start the runtime before the baseline
    before = status_kb("VmRSS:");
    const auto d = run(err);
    peak = status_kb("VmHWM:");
    return d;
  };
  auto measured_report = [&](benchmark::State& st, std::chrono::nanoseconds d) {
    report(st, d);
    st.counters["rss_growth_mb"] = static_cast<double>(peak - before) / 1024.0;
    st.counters["peak_rss_mb"] = static_cast<double>(peak) / 1024.0;
    if (conns > 0) st.counters["bytes_per_conn"] = static_cast<double>(peak - before) * 1024.0 / conns;
  };
  timed_case(state, measured_run, measured_report);
}

void BM_net_echo_memory(benchmark::State& state) { memory_case(state, echo_run, report_echo, echo_conns); }
BENCHMARK(BM_net_echo_memory)->UseManualTime()->Iterations(1)->Unit(benchmark::kMillisecond);

void BM_http_get_memory(benchmark::State& state) { memory_case(state, http_run, report_http, 0); }
BENCHMARK(BM_http_get_memory)->UseManualTime()->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
