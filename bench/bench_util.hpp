// bench_util.hpp — what the gocxx benchmarks share.
#pragma once

#include <utility>

#include "go/sync.hpp"

namespace gocxx_bench {

// Runs f on a task and blocks the calling (benchmark) thread until it returns: the
// spawner of a case is then a task, as Go's main goroutine is (a plain thread blocked
// by, say, errgroup's set_limit would pay a futex wake-up per hand-off; a task parks).
template <class F>
void on_task(F&& f) {
  go::sync::WaitGroup wg;
  wg.go(std::forward<F>(f));
  wg.wait();
}

}  // namespace gocxx_bench
