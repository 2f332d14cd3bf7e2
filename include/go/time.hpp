// go/time.hpp — Go's time package for gocxx: sleeping (and, with the channels
// issue, after / Timer / Ticker / after_func).
//
// gocxx measures time with std::chrono::steady_clock (monotonic), as Go's runtime
// does for timers. Every timer is kept by the runtime's timer heap (go/detail/timer.hpp):
// sleeping tasks cost no thread.
#pragma once

#include <chrono>

namespace go::time {

using clock = std::chrono::steady_clock;
using duration = clock::duration;
using time_point = clock::time_point;

// Blocks until `t` has passed (a task parks; a thread blocks). Returns at once if t
// is in the past. Never returns early. Never throws. Thread-safe.
void sleep_until(time_point t) noexcept;

// Blocks for at least d (see sleep_until). A zero or negative d returns at once,
// as Go's time.Sleep does.
template <class Rep, class Period>
void sleep_for(std::chrono::duration<Rep, Period> d) noexcept {
  if (d <= d.zero()) return;
  sleep_until(clock::now() + std::chrono::ceil<duration>(d));
}

}  // namespace go::time
