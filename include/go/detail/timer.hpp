// go/detail/timer.hpp — the runtime's timers.
//
// All timers of gocxx (sleeps, park deadlines, context deadlines, go::time::after,
// Timer, Ticker, after_func) live in one min-heap kept by the runtime and served by
// its timer thread: a million pending timers cost memory (one heap slot each), never a
// thread each. A timer's callback runs on the timer thread at or after its deadline —
// never before — in deadline order; callbacks must be short and must not block (they
// notify waiters, close channels, spawn tasks).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>

namespace go::detail {

class timer {
 public:
  using clock = std::chrono::steady_clock;

  // A disarmed timer that will run fn each time it fires. Never blocks.
  explicit timer(std::function<void()> fn);
  timer(const timer&) = delete;
  timer& operator=(const timer&) = delete;
  // Stops the timer (see stop()).
  ~timer();

  // Arms the timer to fire at `when` (re-arming it if pending). Returns whether it
  // was pending. Thread-safe; may be called from the callback itself.
  bool reset(clock::time_point when);

  // Arms a timer that is idle — never armed, or stopped, and not firing — to fire at
  // `when`. The same as reset(when) for such a timer, but cheaper under contention: the
  // timer is handed to the timer thread through a lock-free list instead of the heap's
  // lock. Precondition: no reset or start of this timer runs concurrently and it is
  // not pending (stop() may run concurrently; if it does, it may or may not see the
  // timer pending, as with reset). Thread-safe otherwise; never blocks.
  void start(clock::time_point when);

  // Disarms the timer. Returns true if this prevented a pending fire. If the callback
  // is running on the timer thread at that moment (and this is not the callback
  // itself), waits for it to return, so that after stop() the callback is neither
  // running nor pending. Thread-safe.
  bool stop();

  // Starts the timer thread if it is not running yet, so that start() and reset() of
  // any timer never have to. Thread-safe. Throws std::system_error if the thread
  // cannot be started.
  static void ensure_started();

 private:
  friend struct timer_heap;
  std::function<void()> fn_;
  clock::time_point when_{};
  std::size_t index_;                 // heap position, or npos; under the heap lock
  timer* next_started_ = nullptr;     // link in the timer thread's list of started timers
  std::atomic<bool> firing_{false};   // the callback is running
  std::atomic<bool> used_{false};     // ever armed: stop() of a never-armed timer is free
};

}  // namespace go::detail
