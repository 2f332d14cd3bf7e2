// go/time.hpp — Go's time package for gocxx: sleep_for / sleep_until, after, Timer,
// Ticker, after_func, tick.
//
// gocxx measures time with std::chrono::steady_clock (monotonic), as Go's runtime
// does for timers. Timers are kept by the runtime's timer heap (go/detail/timer.hpp)
// and fired by its timer thread: sleeping tasks and pending timers cost no thread, a
// million pending timers cost memory only (about 300 bytes each).
//
// Timer channels. A Timer's or Ticker's channel (and after()'s) carries a steady-clock
// time_point: for after() and Timer the time the value was due (its deadline, as Go
// 1.23 sends), for a Ticker the time of the tick. It is buffered with capacity 1, as
// in Go before 1.23, but we implement Go 1.23's guarantee: after stop() or reset()
// returns, no value prepared before the call is received (the buffered value, if
// any, is discarded by stop/reset). Stop and reset results follow Go 1.23 too: a timer
// whose value was due but not yet received still counts as active.
//
// As in Go 1.23, the value of after() and Timer is delivered lazily: their timer is in
// the runtime's heap only while some receive or select waits on the channel; any
// other look at the channel (try_recv, a select's poll, size()) first delivers a value
// that is due. The difference is invisible — a value is there from its deadline on for
// whoever looks — except that a timer nobody waits on costs no heap work at all.
//
// Lifetime (Go 1.23 semantics as well): a Timer, Ticker or after() channel that nobody
// references any more is stopped and freed at once — there is no need to call stop()
// to release it. after_func timers are the exception: a pending after_func keeps
// itself alive until it fires or is stopped, as in Go.
//
// Thread safety: every function and member may be called concurrently from any tasks
// and threads; one Timer/Ticker *variable* must not be assigned while another thread
// uses it (as with std::shared_ptr).
//
//   select(recv(ctx.done(), [&] { ... }),
//          recv(go::time::after(2s), [&] { ... }));        // a timeout
//
//   go::time::Ticker tk(100ms);
//   for (;;) go::select(go::recv(tk.c(), [&](auto) { poll(); }), go::recv(ctx.done(), ...));
#pragma once

#include <chrono>
#include <functional>

#include "go/chan.hpp"

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

namespace internal {

// now + d, saturated at time_point::max() (and at now for negative d).
template <class Rep, class Period>
time_point deadline_after(std::chrono::duration<Rep, Period> d) noexcept {
  return go::context::done_channel::deadline_after(d);
}

// A positive duration, saturated (for periods).
template <class Rep, class Period>
duration to_period(std::chrono::duration<Rep, Period> d) noexcept {
  if (d <= d.zero()) return duration::zero();
  if (std::chrono::duration<double>(d) >= std::chrono::duration<double>(duration::max())) return duration::max();
  return std::chrono::ceil<duration>(d);
}

// The implementation (src/time.cpp). A timer's state is a channel state
// (chan_base) with a runtime timer attached; handles hold references to it.
enum class timer_kind { channel, func, ticker };
go::detail::chan_base* make_timer(timer_kind kind, time_point when, duration period, std::function<void()> f);
bool timer_stop(go::detail::chan_base* t);
bool timer_reset(go::detail::chan_base* t, time_point when, duration period);
go::detail::chan_base* timer_chan(go::detail::chan_base* t) noexcept;  // a new reference, or null
[[noreturn]] void throw_uninitialized(const char* what);

}  // namespace internal

// Go's time.After: a channel that receives, once, the time it was due: at least d
// from now (at once for d <= 0). The timer is released when the channel is dropped,
// whether or not it fired (a timer dropped before its deadline never fires). Never
// blocks. Throws std::bad_alloc, or std::system_error if the runtime's timer thread
// cannot be started.
template <class Rep, class Period>
recv_chan<time_point> after(std::chrono::duration<Rep, Period> d) {
  return recv_chan<time_point>(internal::make_timer(internal::timer_kind::channel, internal::deadline_after(d),
                                                  duration::zero(), nullptr));
}

// Go's time.Timer: a single event. The time it was due is sent on c() (a channel timer), or
// f is started in its own task (after_func). A default-constructed Timer is nil: its
// members throw std::logic_error ("time: Stop called on uninitialized Timer"), as Go
// panics. A cheap copyable handle; copies refer to the same timer.
class Timer {
 public:
  Timer() noexcept = default;

  // Go's time.NewTimer(d): fires once, at least d from now, sending on c().
  template <class Rep, class Period>
  explicit Timer(std::chrono::duration<Rep, Period> d)
      : s_(internal::make_timer(internal::timer_kind::channel, internal::deadline_after(d), duration::zero(), nullptr)) {}

  // The channel the time it was due is sent on; the nil channel for after_func timers.
  recv_chan<time_point> c() const noexcept { return recv_chan<time_point>(s_ ? internal::timer_chan(s_.get()) : nullptr); }

  // Go's Stop: prevents the timer from firing. Returns true if the call stopped the
  // timer — it was pending, or (channel timers) it had fired but its value was not yet
  // received, which is discarded — and false if it had already expired (value
  // received, or after_func's f started) or been stopped. Does not wait for an
  // after_func f that has started. After stop() returns, c() yields no value until the
  // next reset. May wait briefly for the timer thread if it is firing this timer at
  // that moment. Throws std::logic_error on a nil Timer.
  bool stop() {
    if (!s_) internal::throw_uninitialized("time: Stop called on uninitialized Timer");
    return internal::timer_stop(s_.get());
  }

  // Go's Reset: re-arms the timer to fire d from now (stopped or expired ones too);
  // any value not yet received is discarded. Returns what stop() would have returned
  // (whether the timer was active). Throws std::logic_error on a nil Timer.
  template <class Rep, class Period>
  bool reset(std::chrono::duration<Rep, Period> d) {
    if (!s_) internal::throw_uninitialized("time: Reset called on uninitialized Timer");
    return internal::timer_reset(s_.get(), internal::deadline_after(d), duration::zero());
  }

  bool is_nil() const noexcept { return !s_; }

 private:
  friend Timer after_func_impl(time_point, std::function<void()>);
  explicit Timer(go::detail::chan_base* adopt) noexcept : s_(adopt) {}
  go::detail::chan_ref<go::detail::chan_base> s_;
};

// Go's time.NewTimer.
template <class Rep, class Period>
Timer new_timer(std::chrono::duration<Rep, Period> d) {
  return Timer(d);
}

Timer after_func_impl(time_point when, std::function<void()> f);

// Go's time.AfterFunc: after at least d, starts f() in its own task (go::spawn).
// Returns a Timer whose stop() cancels the call if f has not started, and whose
// reset(d) schedules it again (f may then run again). c() is nil. A pending call keeps
// the timer alive even if the returned Timer is dropped. Throws std::invalid_argument
// for an empty f, std::bad_alloc.
template <class Rep, class Period>
Timer after_func(std::chrono::duration<Rep, Period> d, std::function<void()> f) {
  return after_func_impl(internal::deadline_after(d), std::move(f));
}

// Go's time.Ticker: sends the time on c() every period. A slow receiver misses ticks:
// the channel holds at most one, and later ticks are dropped while it is full (the
// next one comes at the next multiple of the period), as in Go. A default-constructed
// Ticker is nil (members throw std::logic_error). A cheap copyable handle; dropping
// every handle and channel stops it.
class Ticker {
 public:
  Ticker() noexcept = default;

  // Go's time.NewTicker(d). Throws std::invalid_argument("non-positive interval for
  // NewTicker") if d <= 0, as Go panics.
  template <class Rep, class Period>
  explicit Ticker(std::chrono::duration<Rep, Period> d) : s_(make(internal::to_period(d))) {}

  recv_chan<time_point> c() const noexcept { return recv_chan<time_point>(s_ ? internal::timer_chan(s_.get()) : nullptr); }

  // Go's Stop: no more ticks are sent; a tick not yet received is discarded (Go 1.23).
  // Does not close the channel. Throws std::logic_error on a nil Ticker.
  void stop() {
    if (!s_) internal::throw_uninitialized("time: Stop called on uninitialized Ticker");
    internal::timer_stop(s_.get());
  }

  // Go's Reset: stops the ticker, discards a pending tick and restarts it with period
  // d (first tick d from now). Throws std::invalid_argument("non-positive interval for
  // Ticker.Reset") if d <= 0, std::logic_error on a nil Ticker.
  template <class Rep, class Period>
  void reset(std::chrono::duration<Rep, Period> d) {
    if (!s_) internal::throw_uninitialized("time: Reset called on uninitialized Ticker");
    const duration p = internal::to_period(d);
    if (p <= duration::zero()) throw std::invalid_argument("non-positive interval for Ticker.Reset");
    internal::timer_reset(s_.get(), internal::deadline_after(p), p);
  }

  bool is_nil() const noexcept { return !s_; }

 private:
  static go::detail::chan_base* make(duration period);
  go::detail::chan_ref<go::detail::chan_base> s_;
};

// Go's time.NewTicker.
template <class Rep, class Period>
Ticker new_ticker(std::chrono::duration<Rep, Period> d) {
  return Ticker(d);
}

// Go's time.Tick: the channel of a new Ticker, or the nil channel if d <= 0. The
// ticker stops when the channel is dropped.
template <class Rep, class Period>
recv_chan<time_point> tick(std::chrono::duration<Rep, Period> d) {
  if (d <= d.zero()) return {};
  return Ticker(d).c();
}

}  // namespace go::time
