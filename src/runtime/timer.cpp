// timer.cpp — the runtime's timer heap and the thread that serves it.
//
// One 4-ary min-heap ordered by deadline, under one lock. Each heap slot holds the
// deadline next to the timer pointer, as Go's timer heap does, so sifting compares
// slots of one contiguous array (four children share a cache line) instead of chasing
// a pointer per comparison — with a million pending timers, that chase was the timer
// thread's main cost. Each timer knows its slot, so stop and reset are O(log n). The timer
// thread sleeps until the earliest deadline (or a new, earlier one is added), then
// pops every due timer and runs its callback with the lock released.
//
// The same thread is the runtime's monitor: while any worker is running it wakes every
// few milliseconds to call monitor_tick() (scheduler.cpp), which detects workers stuck
// in user code.
//
// Starting an idle timer (start(), the common case: after(), a context's deadline, a
// timed park) does not take the heap's lock: the timer is pushed on started_list, a
// lock-free stack, and whoever next holds the lock — the timer thread, or a stop or
// reset — first moves every started timer into the heap (take_started). So the
// creator and the timer thread share one cache line per timer instead of the top of
// the heap and its lock. The timer thread must not sleep past a started timer's
// deadline: before sleeping it publishes its wake-up time in sleeping_until and then
// looks at started_list again; start() pushes and then reads sleeping_until, and
// notifies (under the lock, which the thread holds until it waits) if it is
// earlier. Both sides are sequentially consistent, so at least one sees the other.
//
// Stop while firing: the thread marks a timer `firing_` before it releases the lock to
// run the callback and clears it after. stop() that finds a timer neither pending nor
// done waits for firing_ to clear (unless it is the callback calling), so that once
// stop() returns, the timer's owner may destroy it.
#include <atomic>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <thread>
#include <vector>

#include "go/detail/timer.hpp"
#include "go/time.hpp"
#include "runtime/scheduler.hpp"

namespace go::detail {

namespace {
constexpr std::size_t npos = std::numeric_limits<std::size_t>::max();
constexpr auto monitor_period = std::chrono::milliseconds(5);
}  // namespace

struct timer_heap {
  spin_mutex mu;              // short critical sections, taken by every timer operation
  std::condition_variable_any cv;  // the timer thread sleeps on it
  struct slot {
    std::chrono::steady_clock::time_point when;  // == t->when_
    timer* t;
  };
  std::vector<slot> heap;
  std::thread::id thread_id;
  std::atomic<bool> started{false};
  bool monitor_idle = true;  // the monitor found every worker idle last time
  // What start() touches, last and on a cache line of its own (alignas also rounds the
  // struct's size up to whole lines): the lock's line is written by every lock and
  // unlock of the timer thread.
  // Started timers not yet in the heap (a stack linked through next_started_).
  alignas(64) std::atomic<timer*> started_list{nullptr};
  // When the timer thread will wake up by itself (time_point::min while it is awake);
  // a new earliest timer notifies it only if earlier. Written under the lock.
  std::atomic<std::chrono::steady_clock::time_point> sleeping_until{std::chrono::steady_clock::time_point::min()};

  static timer_heap& get() {
    static timer_heap* h = new timer_heap;  // never destroyed (see runtime exit rules)
    return *h;
  }

  static constexpr std::size_t arity = 4;

  void place(std::size_t i, const slot& e) {
    heap[i] = e;
    e.t->index_ = i;
  }

  void up(std::size_t i) {
    const slot e = heap[i];
    while (i > 0) {
      std::size_t p = (i - 1) / arity;
      if (!(e.when < heap[p].when)) break;
      place(i, heap[p]);
      i = p;
    }
    place(i, e);
  }

  void down(std::size_t i) {
    const slot e = heap[i];
    const std::size_t n = heap.size();
    for (;;) {
      std::size_t c = arity * i + 1;
      if (c >= n) break;
      const std::size_t end = c + arity < n ? c + arity : n;
      std::size_t m = c;
      for (std::size_t k = c + 1; k < end; ++k) {
        if (heap[k].when < heap[m].when) m = k;
      }
      if (!(heap[m].when < e.when)) break;
      place(i, heap[m]);
      i = m;
    }
    place(i, e);
  }

  void push(timer* t) {
    heap.push_back({t->when_, t});
    up(heap.size() - 1);
  }

  void erase(timer* t) {
    std::size_t i = t->index_;
    const slot last = heap.back();
    heap.pop_back();
    t->index_ = npos;
    if (i < heap.size()) {
      place(i, last);
      up(i);
      down(last.t->index_);
    }
  }

  // Moves every started timer into the heap. Caller holds the lock.
  void take_started() {
    // acq_rel: a start() whose push follows this exchange (it reads the emptied list)
    // also sees what the caller did before it, as it would have under the lock — a
    // cancel's done flag, set before its stop() found nothing to stop, is visible to
    // the context's arm_timer, which looks at it right after start().
    timer* t = started_list.exchange(nullptr, std::memory_order_acq_rel);
    while (t != nullptr) {
      timer* next = t->next_started_;
      t->next_started_ = nullptr;
      push(t);
      t = next;
    }
  }

  void ensure_thread(std::unique_lock<spin_mutex>& lock) {
    if (started.load(std::memory_order_relaxed)) return;
    started.store(true, std::memory_order_relaxed);
    lock.unlock();
    ensure_runtime();
    std::thread([this] { run(); }).detach();
    lock.lock();
  }

  void run() {
    std::unique_lock lock(mu);
    thread_id = std::this_thread::get_id();
    auto next_monitor = std::chrono::steady_clock::now() + monitor_period;
    for (;;) {
      // Fire every due timer, one per lock acquisition: a callback may stop or destroy
      // other timers, so a timer leaves the heap only right before it fires. The clock
      // is read once per round: `now` only grows stale, so nothing fires early.
      take_started();
      auto now = std::chrono::steady_clock::now();
      while (!heap.empty() && heap[0].when <= now) {
        timer* t = heap[0].t;
        erase(t);
        t->firing_.store(true, std::memory_order_relaxed);
        lock.unlock();
        t->fn_();
        t->firing_.store(false, std::memory_order_release);  // t may be destroyed after this
        lock.lock();
        take_started();
        if (heap.empty() || heap[0].when > now) now = std::chrono::steady_clock::now();
      }
      if (now >= next_monitor) {
        lock.unlock();
        bool busy = monitor_tick();
        lock.lock();
        monitor_idle = !busy;
        next_monitor = now + monitor_period;
      }
      auto wake = heap.empty() ? std::chrono::steady_clock::time_point::max() : heap[0].when;
      if (!monitor_idle && next_monitor < wake) wake = next_monitor;
      const bool idle = wake == std::chrono::steady_clock::time_point::max();
      // Sleep until a timer is added, checking on the workers now and then.
      if (idle) wake = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
      sleeping_until.store(wake);
      if (started_list.load() == nullptr) {  // else a start() may have missed sleeping_until
        cv.wait_until(lock, wake);
        if (idle) monitor_idle = false;
      }
      sleeping_until.store(std::chrono::steady_clock::time_point::min(), std::memory_order_relaxed);  // awake
    }
  }
};

timer::timer(std::function<void()> fn) : fn_(std::move(fn)), index_(npos) {}

timer::~timer() { stop(); }

void timer::ensure_started() {
  timer_heap& h = timer_heap::get();
  if (h.started.load(std::memory_order_relaxed)) return;
  std::unique_lock lock(h.mu);
  h.ensure_thread(lock);
}

bool timer::reset(clock::time_point when) {
  timer_heap& h = timer_heap::get();
  used_.store(true, std::memory_order_relaxed);
  std::unique_lock lock(h.mu);
  h.ensure_thread(lock);
  h.take_started();
  bool was_pending = index_ != npos;
  when_ = when;
  if (was_pending) {
    h.heap[index_].when = when;
    h.up(index_);
    h.down(index_);
  } else {
    h.push(this);
  }
  // Wake the timer thread only if it sleeps past this deadline (when it is awake, it
  // looks at the heap before sleeping again).
  if (index_ == 0 && when < h.sleeping_until.load(std::memory_order_relaxed)) h.cv.notify_one();
  return was_pending;
}

void timer::start(clock::time_point when) {
  timer_heap& h = timer_heap::get();
  if (!h.started.load(std::memory_order_relaxed)) {
    reset(when);  // starts the timer thread
    return;
  }
  when_ = when;
  used_.store(true, std::memory_order_relaxed);
  timer* head = h.started_list.load(std::memory_order_relaxed);
  do {
    next_started_ = head;
  } while (!h.started_list.compare_exchange_weak(head, this));
  if (when < h.sleeping_until.load()) {
    std::lock_guard lock(h.mu);
    h.cv.notify_one();
  }
}

bool timer::stop() {
  // Never armed (a lazy timer channel nobody waited on): nothing to stop. A start()
  // racing with this stop may be missed, as stop's contract allows.
  if (!used_.load(std::memory_order_relaxed)) return false;
  timer_heap& h = timer_heap::get();
  {
    std::lock_guard lock(h.mu);
    h.take_started();
    if (index_ != npos) {
      h.erase(this);
      return true;
    }
    if (!firing_.load(std::memory_order_acquire) || std::this_thread::get_id() == h.thread_id) return false;
  }
  while (firing_.load(std::memory_order_acquire)) std::this_thread::yield();
  return false;
}

}  // namespace go::detail

namespace go::time {

void sleep_until(time_point t) noexcept {
  // Nobody else knows this waiter, so only the deadline can end the wait.
  detail::waiter w;
  w.park_until(t);
}

}  // namespace go::time
