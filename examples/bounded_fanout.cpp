// bounded_fanout.cpp — 1,000 jobs, at most 8 running at once (Group::set_limit).
//
// go() blocks while 8 jobs are active, so the loop that starts them is throttled:
// no more than 8 tasks (and their memory) exist at any time. Each job records how
// many jobs are active while it runs; the peak can never exceed the limit.
#include <atomic>
#include <chrono>
#include <iostream>

#include "go/errgroup.hpp"
#include "go/time.hpp"

int main() {
  constexpr int jobs = 1000;
  constexpr int limit = 8;

  go::errgroup::Group g;
  g.set_limit(limit);
  std::atomic<int> active{0}, peak{0}, done{0};
  for (int i = 0; i < jobs; ++i) {
    g.go([&] {
      const int now = active.fetch_add(1) + 1;
      int p = peak.load();
      while (now > p && !peak.compare_exchange_weak(p, now)) {
      }
      go::time::sleep_for(std::chrono::microseconds(200));  // the "work"
      active.fetch_sub(1);
      done.fetch_add(1);
    });
  }
  if (go::error err = g.wait()) {
    std::cerr << "error: " << err << std::endl;
    return 1;
  }
  std::cout << "jobs done: " << done.load() << std::endl;
  std::cout << "limit: " << limit << std::endl;
  std::cout << "peak concurrency: " << peak.load() << std::endl;
  std::cout << "peak within limit: " << (peak.load() <= limit ? "yes" : "no") << std::endl;
}
