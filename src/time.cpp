// time.cpp — go::time's timers: after, Timer, Ticker, after_func (go/time.hpp).
//
// A timer's state is a timer_state: a channel of time_point with capacity 1 (its one
// buffer slot stored inline) plus a runtime timer (go/detail/timer.hpp) whose callback
// runs on the timer thread. Handles (Timer, Ticker, the recv_chans) share the state's
// reference count, so the state lives while anyone can observe it; its destructor
// stops the runtime timer (waiting out a callback that is running), so a timer nobody
// references is gone from the heap (Go 1.23's collectable timers).
//
// Callbacks (fire) never block and never drop a reference on the timer thread, so a
// state is never destroyed by the callback that is running on it:
//   channel  a non-blocking send of the fire time (the buffer is empty then: stop and
//            reset drain it, and a one-shot timer fires once per arming);
//   ticker   a non-blocking send (dropped when the buffer is full: a slow receiver
//            misses ticks), then — under tm_, if still active_ — re-arms itself at
//            the next multiple of the period after now;
//   func     spawns a task running f; the reference held by the pending timer moves
//            to that task, which drops it when f returns.
//
// Stop/reset (serialized per timer by op_mu_): for a ticker, clear active_ under tm_
// first (so the callback cannot re-arm any more); then stop the runtime timer twice —
// the first call removes a pending fire (or waits for a running callback that did not
// re-arm), the second waits for a callback that re-armed before active_ was cleared
// and is still returning; then drain the channel (Go 1.23: no stale value after stop
// or reset). The result, as Go 1.23: the timer was pending, or its value was sent but
// not yet received.
//
// after_func reference accounting: "the runtime timer is pending" owns one reference.
// Arming a timer that was not pending takes one (reset); a stop that removed a
// pending fire drops it; a fire hands it to the spawned task.
#include <mutex>
#include <stdexcept>

#include "go/detail/timer.hpp"
#include "go/runtime.hpp"
#include "go/time.hpp"

namespace go::time::internal {

namespace {

using go::detail::chan_base;

class timer_state final : public chan_base {
 public:
  timer_state(timer_kind kind, duration period, std::function<void()> f)
      : chan_base(&go::detail::chan_ops_for<time_point>, 1, sizeof(time_point), slot_, &destroy),
        kind_(kind),
        period_(period),
        f_(std::move(f)),
        t_([this] { fire(); }) {}

  void arm(time_point when) {
    if (kind_ == timer_kind::ticker) {
      std::lock_guard g(tm_);
      active_ = true;
      next_ = when;
    }
    if (kind_ == timer_kind::func) add_ref();  // owned by the pending fire
    t_.start(when);  // a new timer: the cheaper start()
  }

  bool stop() {
    std::lock_guard op(op_mu_);
    return stop_locked();
  }

  bool reset(time_point when, duration period) {
    std::lock_guard op(op_mu_);
    const bool was = stop_locked();
    if (kind_ == timer_kind::ticker) {
      std::lock_guard g(tm_);
      period_ = period;
      active_ = true;
      next_ = when;
      t_.reset(when);
      return was;
    }
    if (kind_ == timer_kind::func) add_ref();
    t_.reset(when);
    return was;
  }

  timer_kind kind() const noexcept { return kind_; }

 private:
  // t_ is the last member, so it is destroyed first: its destructor stops the runtime
  // timer (waiting out a running callback) while everything the callback uses is
  // still alive. A ticker's callback may re-arm itself until active_ is cleared, so
  // for tickers: clear it, stop once here, and t_'s destructor stops again (the
  // double stop of stop_locked).
  ~timer_state() {
    if (kind_ == timer_kind::ticker) {
      {
        std::lock_guard g(tm_);
        active_ = false;
      }
      t_.stop();
    }
  }

  static void destroy(chan_base* b) noexcept { delete static_cast<timer_state*>(b); }

  bool stop_locked() {
    if (kind_ == timer_kind::ticker) {
      std::lock_guard g(tm_);
      active_ = false;
    }
    const bool prevented = t_.stop();
    t_.stop();  // waits for a callback still returning (see the file comment)
    if (kind_ == timer_kind::func) {
      if (prevented) release();  // never the last reference: the caller holds one
      return prevented;
    }
    const bool drained = drain();
    return prevented || drained;
  }

  void fire() {
    time_point now = clock::now();
    switch (kind_) {
      case timer_kind::channel:
        send(&now, false);
        break;
      case timer_kind::ticker: {
        send(&now, false);  // dropped if the last tick was not received
        std::lock_guard g(tm_);
        if (!active_) break;
        next_ += period_;
        if (next_ <= now) next_ += ((now - next_) / period_ + 1) * period_;
        t_.reset(next_);
        break;
      }
      case timer_kind::func:
        go::spawn([this] {
          struct drop {
            timer_state* s;
            ~drop() { s->release(); }
          } d{this};
          f_();
        });
        break;
    }
  }

  alignas(time_point) unsigned char slot_[sizeof(time_point)];
  const timer_kind kind_;
  go::detail::spin_mutex op_mu_;  // serializes stop and reset
  go::detail::spin_mutex tm_;     // guards active_, period_, next_ (tickers)
  bool active_ = false;
  duration period_;
  time_point next_{};
  const std::function<void()> f_;
  go::detail::timer t_;
};

}  // namespace

go::detail::chan_base* make_timer(timer_kind kind, time_point when, duration period, std::function<void()> f) {
  auto* s = new timer_state(kind, period, std::move(f));
  try {
    s->arm(when);
  } catch (...) {
    s->release();
    throw;
  }
  return s;
}

bool timer_stop(go::detail::chan_base* t) { return static_cast<timer_state*>(t)->stop(); }

bool timer_reset(go::detail::chan_base* t, time_point when, duration period) {
  return static_cast<timer_state*>(t)->reset(when, period);
}

go::detail::chan_base* timer_chan(go::detail::chan_base* t) noexcept {
  if (static_cast<timer_state*>(t)->kind() == timer_kind::func) return nullptr;
  t->add_ref();
  return t;
}

void throw_uninitialized(const char* what) { throw std::logic_error(what); }

}  // namespace go::time::internal

namespace go::time {

Timer after_func_impl(time_point when, std::function<void()> f) {
  if (!f) throw std::invalid_argument("go::time::after_func: empty function");
  return Timer(internal::make_timer(internal::timer_kind::func, when, duration::zero(), std::move(f)));
}

go::detail::chan_base* Ticker::make(duration period) {
  if (period <= duration::zero()) throw std::invalid_argument("non-positive interval for NewTicker");
  return internal::make_timer(internal::timer_kind::ticker, clock::now() + period, period, nullptr);
}

}  // namespace go::time
