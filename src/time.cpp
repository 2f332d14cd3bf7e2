// time.cpp — go::time's timers: after, Timer, Ticker, after_func (go/time.hpp).
//
// A timer's state is a timer_state: a channel of time_point with capacity 1 (its one
// buffer slot stored inline) plus a runtime timer (go/detail/timer.hpp) whose callback
// runs on the timer thread. Handles (Timer, Ticker, the recv_chans) share the state's
// reference count, so the state lives while anyone can observe it; its destructor
// stops the runtime timer (waiting out a callback that is running), so a timer nobody
// references is gone from the heap (Go 1.23's collectable timers).
//
// Lazy channel timers (kind channel: after() and Timer), as Go 1.23's. armed_ says a
// value is owed at when_. The runtime timer is started only when a receiver is about
// to park on the channel (the block hook, called by chan.cpp's recv and select after
// enqueueing and before parking) and stays started for that arming (runtime_armed_);
// blocked_ counts the parked receivers, so that a reset re-arms it for them. Every
// other look at the channel first calls deliver_due, which sends the owed value if
// when_ has passed. Delivering (deliver_locked, from deliver_due or the callback)
// clears armed_ and sends while holding tm_, so a stop — which clears armed_ under
// tm_ and then drains — never lets a value of the arming it stopped through. Lock
// order: tm_, then the channel's lock (the send) or the heap's (start); the hooks run
// with no channel lock held.
//
// Callbacks (fire) never block and never drop a reference on the timer thread, so a
// state is never destroyed by the callback that is running on it:
//   channel  delivers the owed value, if still owed (a non-blocking send of when_;
//            the buffer is empty then: stop and reset drain it, and a one-shot timer
//            delivers once per arming);
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
// or reset). A channel timer clears armed_ under tm_ first instead, and stops the
// runtime timer only if it was started. The result, as Go 1.23: the timer was pending
// (a value owed), or its value was sent but not yet received.
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
        t_([this] { fire(); }) {
    if (kind_ == timer_kind::channel) set_timer_hooks(&lazy_hooks);
  }

  void arm(time_point when) {
    switch (kind_) {
      case timer_kind::channel: {
        go::detail::timer::ensure_started();  // so that block() never has to start it
        std::lock_guard g(tm_);
        when_ = when;
        armed_.store(true, std::memory_order_relaxed);
        return;  // armed lazily: see block()
      }
      case timer_kind::ticker: {
        std::lock_guard g(tm_);
        active_ = true;
        next_ = when;
        break;
      }
      case timer_kind::func:
        add_ref();  // owned by the pending fire
        break;
    }
    t_.start(when);  // a new timer: the cheaper start()
  }

  bool stop() {
    std::lock_guard op(op_mu_);
    return stop_locked();
  }

  bool reset(time_point when, duration period) {
    std::lock_guard op(op_mu_);
    const bool was = stop_locked();
    switch (kind_) {
      case timer_kind::channel: {
        std::lock_guard g(tm_);
        when_ = when;
        armed_.store(true, std::memory_order_relaxed);
        // Receivers parked now armed the old timer, which stop_locked stopped.
        if (blocked_ > 0) arm_runtime_locked();
        return was;
      }
      case timer_kind::ticker: {
        std::lock_guard g(tm_);
        period_ = period;
        active_ = true;
        next_ = when;
        t_.reset(when);
        return was;
      }
      case timer_kind::func:
        add_ref();
        t_.reset(when);
        return was;
    }
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
    bool owed = false;  // a channel timer's value not yet delivered
    if (kind_ == timer_kind::ticker) {
      std::lock_guard g(tm_);
      active_ = false;
    } else if (kind_ == timer_kind::channel) {
      std::lock_guard g(tm_);
      owed = armed_.load(std::memory_order_relaxed);
      armed_.store(false, std::memory_order_relaxed);
      // A callback that runs from now on delivers nothing; one running holds tm_ until
      // its value is in the buffer, which the drain below discards.
      if (!runtime_armed_) return drain() || owed;
      runtime_armed_ = false;
    }
    const bool prevented = t_.stop();
    t_.stop();  // waits for a callback still returning (see the file comment)
    if (kind_ == timer_kind::func) {
      if (prevented) release();  // never the last reference: the caller holds one
      return prevented;
    }
    const bool drained = drain();
    return owed || prevented || drained;
  }

  // The lazy channel timer (kind channel; file comment). Caller holds tm_.
  void arm_runtime_locked() noexcept {
    if (!armed_.load(std::memory_order_relaxed) || runtime_armed_) return;
    runtime_armed_ = true;
    t_.start(when_);  // idle: never armed, or stopped by stop_locked
  }

  // Sends the owed value (the time it was due, as Go 1.23 does). Caller holds tm_, so
  // a stop cannot drain the buffer between our claim and the send.
  void deliver_locked() noexcept {
    armed_.store(false, std::memory_order_relaxed);
    time_point v = when_;
    send(&v, false);  // the buffer is empty: one value per arming, drained by stop
  }

  static void deliver_due(chan_base* c) noexcept {
    auto* self = static_cast<timer_state*>(c);
    if (!self->armed_.load(std::memory_order_relaxed)) return;  // delivered or stopped
    // The latest clock reading of this thread: the clock is monotonic (and the same
    // for every thread), so a deadline not after it is due without reading it again.
    thread_local time_point seen{};
    std::lock_guard g(self->tm_);
    if (!self->armed_.load(std::memory_order_relaxed)) return;
    if (self->when_ > seen && self->when_ > (seen = clock::now())) return;
    self->deliver_locked();
  }
  static void block(chan_base* c) noexcept {
    auto* self = static_cast<timer_state*>(c);
    std::lock_guard g(self->tm_);
    ++self->blocked_;
    self->arm_runtime_locked();
  }
  static void unblock(chan_base* c) noexcept {
    auto* self = static_cast<timer_state*>(c);
    std::lock_guard g(self->tm_);
    --self->blocked_;  // a pending runtime timer stays: it fires into the buffer
  }
  static constexpr go::detail::timer_chan_hooks lazy_hooks{&deliver_due, &block, &unblock};

  void fire() {
    switch (kind_) {
      case timer_kind::channel: {
        std::lock_guard g(tm_);
        if (armed_.load(std::memory_order_relaxed)) deliver_locked();
        break;
      }
      case timer_kind::ticker: {
        time_point now = clock::now();
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
  go::detail::spin_mutex tm_;     // guards what follows but f_ and t_
  // Tickers.
  bool active_ = false;
  duration period_;
  time_point next_{};
  // Channel timers (lazy).
  std::atomic<bool> armed_{false};  // a value is owed at when_ (written under tm_)
  bool runtime_armed_ = false;       // t_ was started for this arming
  int blocked_ = 0;                  // receivers parked on the channel (between block and unblock)
  time_point when_{};
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
