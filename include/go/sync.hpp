// go/sync.hpp — Go's sync package for gocxx: WaitGroup (and, with later issues,
// Mutex, RWMutex, Once, Cond, Pool, Map).
//
// Every primitive here blocks the way all of gocxx does (go/detail/waiter.hpp): a task
// that must wait parks, freeing its worker for other tasks; a plain OS thread (main(),
// a std::thread) blocks on a futex. Tasks and threads may be mixed freely on both
// sides of every primitive: a thread may wait for tasks, a task for threads, and so on.
//
// As in Go, the types here must not be copied or moved after first use; they are
// neither copyable nor movable in C++, which enforces that.
//
// WaitGroup algorithm. The whole state is one 64-bit atomic word, as in Go's runtime:
// the high 32 bits hold the counter (a signed 32-bit value), the low 32 bits the number
// of registered waiters. add/done are a single fetch_add on that word; they take the
// slow path (out of line) only when the counter went negative (misuse: the change is
// undone and std::logic_error thrown) or reached zero while waiters are registered
// (then they are woken). A waiter registers under the WaitGroup's internal lock by
// incrementing the waiter count with a CAS that also checks the counter is still
// non-zero, and queues a wait_node; the done() that brings the counter to zero takes
// the lock, claims every queued waiter, releases the lock, subtracts the waiters it
// claimed from the state word and only then wakes them. That last subtraction is the
// final access the waker makes to the WaitGroup, and wait() returns on its fast path
// only when the whole word is zero (counter and waiter count), so a WaitGroup may be
// destroyed as soon as any wait() returns: no done() still touches it.
#pragma once

#include <atomic>
#include <concepts>
#include <cstdint>
#include <memory>
#include <new>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "go/detail/waiter.hpp"
#include "go/runtime.hpp"

namespace go::errgroup {
class Group;
}

namespace go::sync {

// A WaitGroup waits for a collection of tasks (or threads) to finish: Go's
// sync.WaitGroup.
//
// The waiting party calls add(n) to set the number of things to wait for; each of
// them calls done() when finished; wait() blocks until the counter drops to zero.
// go(f) does all three for a task: add(1), start f as a task, done() when f returns.
// A zero WaitGroup (default-constructed) has a counter of zero.
//
// Memory model: a done() (or an add() with negative delta) "synchronizes with" the
// return of every wait() it unblocks, as in Go: what a task wrote before done() is
// visible to the waiter after wait() returns.
//
// Reuse: a WaitGroup may be reused to wait for several independent sets of events,
// but, as in Go, new add() calls must happen after all previous wait() calls have
// returned, and an add() with positive delta that starts when the counter is zero
// must happen before the wait() it is meant to delay.
//
// Destruction: a WaitGroup may be destroyed as soon as any of its wait() calls has
// returned (or as soon as the counter is known to be zero and nobody waits). It must
// not be destroyed while a wait() is blocked on it.
//
// Thread safety: every member function may be called concurrently from any number of
// tasks and threads.
class WaitGroup {
 public:
  // A WaitGroup with a zero counter. Never throws, never blocks.
  constexpr WaitGroup() noexcept = default;
  WaitGroup(const WaitGroup&) = delete;
  WaitGroup& operator=(const WaitGroup&) = delete;
  ~WaitGroup() = default;

  // Adds delta (which may be negative) to the counter. If the counter becomes zero,
  // every task and thread blocked in wait() is released. If the counter would become
  // negative, throws std::logic_error("sync: negative WaitGroup counter") and leaves
  // the counter as it was (Go panics instead). Never blocks. One atomic operation
  // when no waiter must be woken.
  void add(int delta) {
    const std::uint64_t d = static_cast<std::uint64_t>(static_cast<std::int64_t>(delta)) << 32;
    const std::uint64_t s = state_.fetch_add(d, std::memory_order_acq_rel) + d;
    if (counter_of(s) > 0 || s == 0) return;  // the fast path: nobody to wake
    add_slow(s, delta);
  }

  // Decrements the counter by one: add(-1). Throws std::logic_error if the counter
  // is already zero (leaving it at zero). Never blocks.
  void done() { add(-1); }

  // Blocks until the counter is zero: a task parks, a thread blocks. Returns at once
  // if it is zero already. Any number of tasks and threads may wait at once; all are
  // released together. Never throws.
  void wait() noexcept {
    if (state_.load(std::memory_order_acquire) == 0) return;
    wait_slow();
  }

  // Go 1.25's WaitGroup.Go: add(1), then starts f() as a new task (go::spawn) that
  // calls done() after f returns. f's closure (and everything it captured) is
  // destroyed before that done(), so captured objects never outlive the wait() that
  // the done() releases. Does not block.
  //
  // Throws std::invalid_argument if f is an empty std::function or a null function
  // pointer, std::bad_alloc if memory runs out, or std::runtime_error from the
  // runtime's first start (bad GOCXX_MAXPROCS); in every case the counter is left
  // unchanged. As with go::spawn, an exception escaping f terminates the program
  // (use go::errgroup::Group to propagate failures instead). Thread-safe.
  template <class F>
    requires std::invocable<std::decay_t<F>&>
  void go(F&& f) {
    using D = std::decay_t<F>;
    go::detail::check_callable<D>(f);
    auto* t = go_task<D>::make(this, std::forward<F>(f));
    add(1);
    try {
      go::detail::submit(t);  // discards t itself if it throws
    } catch (...) {
      done();
      throw;
    }
  }

 private:
  friend class go::errgroup::Group;

  // The task of go(f): the runtime's task header, the WaitGroup and f, in one block
  // of the runtime's task memory.
  template <class F>
  struct go_task final : go::detail::task {
    template <class G>
    go_task(WaitGroup* w, G&& g) : go::detail::task{&invoke, nullptr, &discard}, wg(w), fn(std::forward<G>(g)) {}

    template <class G>
    static go_task* make(WaitGroup* w, G&& g) {
      void* mem = go::detail::alloc_task(sizeof(go_task));
      try {
        return new (mem) go_task(w, std::forward<G>(g));
      } catch (...) {
        go::detail::free_task(mem, sizeof(go_task));
        throw;
      }
    }
    static void destroy(go_task* self) noexcept {
      self->~go_task();
      go::detail::free_task(self, sizeof(go_task));
    }
    static void invoke(go::detail::task* t) {
      auto* self = static_cast<go_task*>(t);
      WaitGroup* wg = self->wg;
      self->fn();  // an escaping exception terminates the program, as for go::spawn
      destroy(self);
      wg->done();
    }
    // A task that will never run (the runtime failed to start): just destroyed; go()
    // undoes its add(1) when submit throws.
    static void discard(go::detail::task* t) noexcept { destroy(static_cast<go_task*>(t)); }

    WaitGroup* wg;
    F fn;
  };

  static constexpr std::int32_t counter_of(std::uint64_t s) noexcept {
    return static_cast<std::int32_t>(static_cast<std::uint32_t>(s >> 32));
  }
  static constexpr std::uint32_t waiters_of(std::uint64_t s) noexcept {
    return static_cast<std::uint32_t>(s);
  }

  // The counter now (a snapshot); used by errgroup's set_limit.
  std::int32_t count() const noexcept { return counter_of(state_.load(std::memory_order_acquire)); }

  void add_slow(std::uint64_t s, int delta);
  void wake_all() noexcept;
  void wait_slow() noexcept;

  std::atomic<std::uint64_t> state_{0};  // counter << 32 | waiters
  go::detail::spin_mutex mu_;            // guards queue_ and waiter registration
  go::detail::wait_queue queue_;
};

}  // namespace go::sync
