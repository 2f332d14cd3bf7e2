// go/sync.hpp — Go's sync package for gocxx: WaitGroup, Mutex, RWMutex, Once, Cond
// and Map (the algorithms of the later ones are described above each of them).
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
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <new>
#include <stdexcept>
#include <type_traits>
#include <unordered_map>
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


// ===================================================================================
// Mutex, RWMutex, Once, Cond, Map
// ===================================================================================
//
// Mutex algorithm (after Go's sync/mutex.go; the code is gocxx's own). The state is one
// 32-bit atomic word:
//
//   bit 0  locked    the mutex is held
//   bit 1  woken     an unlocker has woken a waiter (or a spinner is about to take the
//                    lock): unlock need not wake another one
//   bit 2  starving  starvation mode (below)
//   3..31  waiters   tasks/threads queued, or about to queue, on the internal semaphore
//
// lock() is one CAS (0 -> locked) when the mutex is free; unlock() is one CAS (locked ->
// 0) when nobody waits. Otherwise both take an out-of-line slow path. Waiters sleep on
// an internal counting semaphore (detail::sema: a count plus a FIFO of wait_nodes under
// a spin_mutex; a parked task frees its worker, a thread blocks on a futex).
//
// Normal mode: waiters queue FIFO, but a woken waiter does not own the mutex: it
// competes with newly arriving lockers, which have the advantage of already running
// (this is what makes the mutex fast). A waiter that loses goes back to the FRONT of
// the queue. A waiter that has waited more than 1 ms switches the mutex to starvation
// mode.
//
// Starvation mode: unlock hands ownership directly to the waiter at the head of the
// queue (the locked bit stays clear in the word during the hand-off, but the starving
// bit makes newcomers queue at the tail without trying to take or spin). The receiver
// switches back to normal mode when it is the last waiter or when it waited less than
// 1 ms. This bounds the wait of every waiter (FIFO), at some throughput cost.
//
// Spinning: a locker spins (a few short pause loops) only in normal mode, while the
// mutex is locked, on a machine with more than one hardware thread, and at most 4
// times before queueing — the holder is likely running on another core and about to
// unlock.
//
// RWMutex algorithm (after Go's sync/rwmutex.go): a writer Mutex serializes writers;
// reader_count_ counts active readers, and a writer subtracts max_readers from it to
// announce itself, so that lock_shared sees a negative count and parks on reader_sem_
// (a waiting writer blocks new readers). reader_wait_ counts the readers the writer
// still waits for (those active when it announced); the last of them to leave wakes
// the writer through writer_sem_. unlock adds max_readers back and releases every
// reader that queued meanwhile.
}  // namespace go::sync

namespace go::detail {

// A counting semaphore for the sync primitives (Go's runtime sema): acquire takes a
// unit, parking the caller when none is available; release adds one, handing it
// directly to the longest waiter if any. acquire(lifo=true) queues at the front (a
// Mutex waiter that has already waited). Thread-safe; never throws.
class sema {
 public:
  void acquire(bool lifo = false) noexcept;
  void release() noexcept;

 private:
  spin_mutex mu_;
  std::atomic<std::uint32_t> count_{0};  // under mu_ (atomic only to allow a lock-free peek)
  wait_queue queue_;                      // under mu_
};

}  // namespace go::detail

namespace go::sync {

// A mutual exclusion lock between tasks and threads: Go's sync.Mutex.
//
// A zero Mutex (default-constructed) is unlocked. It meets the standard Lockable
// requirements, so std::lock_guard, std::unique_lock and std::scoped_lock work.
//
// Blocking: lock() parks a task (its worker runs other tasks) or blocks a thread.
// Fairness: as Go's — normal mode lets a running locker overtake a woken waiter, but
// once a waiter has waited more than 1 ms the mutex enters starvation mode and hands
// itself directly to waiters in FIFO order.
//
// Ownership: as in Go, a locked Mutex is not tied to a task or thread: it may be
// unlocked by another task or thread than the one that locked it (a started task never
// migrates between threads, so this is safe for tasks too). It is not recursive:
// locking it twice from the same task deadlocks that task.
//
// Memory model: the n-th unlock() synchronizes with the return of the m-th lock() for
// every n < m, as in Go: what was written before unlock is visible after lock.
//
// Destruction: a Mutex may be destroyed once it is unlocked and no task or thread uses
// it or waits for it. Thread-safe: every member may be called concurrently.
class Mutex {
 public:
  constexpr Mutex() noexcept = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;
  ~Mutex() = default;

  // Locks the mutex, blocking (parking a task) until it is available. Never throws.
  void lock() noexcept {
    std::uint32_t expected = 0;
    if (state_.compare_exchange_strong(expected, locked_bit, std::memory_order_acquire,
                                       std::memory_order_relaxed)) [[likely]] {
      return;
    }
    lock_slow();
  }

  // Locks the mutex if it is free (and not in starvation mode) and returns true;
  // otherwise returns false at once. Never blocks, never throws. As in Go, correct
  // uses are rare; it may fail spuriously under contention.
  bool try_lock() noexcept {
    std::uint32_t old = state_.load(std::memory_order_relaxed);
    if (old & (locked_bit | starving_bit)) return false;
    return state_.compare_exchange_strong(old, old | locked_bit, std::memory_order_acquire,
                                          std::memory_order_relaxed);
  }

  // Unlocks the mutex, waking one waiter if there are any. Throws std::logic_error
  // ("sync: unlock of unlocked mutex") if the mutex is not locked, leaving it unlocked
  // (Go aborts the program instead). Never blocks.
  void unlock() {
    std::uint32_t expected = locked_bit;
    if (state_.compare_exchange_strong(expected, 0, std::memory_order_release,
                                       std::memory_order_relaxed)) [[likely]] {
      return;
    }
    unlock_slow();
  }

 private:
  static constexpr std::uint32_t locked_bit = 1;
  static constexpr std::uint32_t woken_bit = 2;
  static constexpr std::uint32_t starving_bit = 4;
  static constexpr int waiter_shift = 3;

  void lock_slow() noexcept;
  void unlock_slow();

  std::atomic<std::uint32_t> state_{0};
  detail::sema sema_;
};

// A reader/writer mutual exclusion lock: Go's sync.RWMutex.
//
// Any number of readers (lock_shared, or Go's name rlock) or a single writer (lock)
// may hold it. A zero RWMutex is unlocked. It meets the standard Lockable and
// SharedLockable requirements: std::unique_lock, std::lock_guard and std::shared_lock
// work.
//
// Writer preference, as in Go: once a writer is waiting in lock(), new lock_shared
// calls block until that writer has acquired and released the lock, so a writer is
// never starved by a stream of readers. Consequently, as in Go, recursive read
// locking is forbidden: a reader that calls lock_shared again while a writer waits
// deadlocks.
//
// Blocking: waiting tasks park, waiting threads block. Ownership, as for Mutex, is not
// tied to the task or thread that locked. Memory model: as Go's (each unlock
// synchronizes with the following lock and lock_shared calls; each unlock_shared with
// the following lock). Thread-safe.
class RWMutex {
 public:
  constexpr RWMutex() noexcept = default;
  RWMutex(const RWMutex&) = delete;
  RWMutex& operator=(const RWMutex&) = delete;
  ~RWMutex() = default;

  // Locks for writing, blocking until no reader nor writer holds the lock. Never
  // throws.
  void lock() noexcept;
  // Locks for writing if it is free right now; never blocks, never throws.
  bool try_lock() noexcept;
  // Unlocks for writing and releases the readers that waited. Throws
  // std::logic_error("sync: Unlock of unlocked RWMutex") if not write-locked.
  void unlock();

  // Locks for reading, blocking while a writer holds or waits for the lock. Never
  // throws. One atomic add when no writer is involved.
  void lock_shared() noexcept {
    if (reader_count_.fetch_add(1, std::memory_order_acquire) + 1 < 0) [[unlikely]] {
      reader_sem_.acquire();  // a writer is pending: wait for it
    }
  }
  // Locks for reading if no writer holds or waits for it; never blocks or throws.
  bool try_lock_shared() noexcept;
  // Undoes one lock_shared. Throws std::logic_error("sync: RUnlock of unlocked
  // RWMutex") if there are no readers. Never blocks.
  void unlock_shared() {
    const std::int32_t r = reader_count_.fetch_sub(1, std::memory_order_release) - 1;
    if (r < 0) [[unlikely]] unlock_shared_slow(r);
  }

  // Go's names.
  void rlock() noexcept { lock_shared(); }
  bool try_rlock() noexcept { return try_lock_shared(); }
  void runlock() { unlock_shared(); }

 private:
  static constexpr std::int32_t max_readers = 1 << 30;
  void unlock_shared_slow(std::int32_t r);

  Mutex w_;                                // held by the writer (pending or active)
  std::atomic<std::int32_t> reader_count_{0};  // readers; minus max_readers while a writer is pending
  std::atomic<std::int32_t> reader_wait_{0};   // departing readers the writer waits for
  detail::sema writer_sem_;                // the writer waits here for departing readers
  detail::sema reader_sem_;                // readers wait here for the writer
};

// Runs a function exactly once: Go's sync.Once.
//
// call(f) runs f() if no call of this Once has completed successfully yet; concurrent
// callers block (parking tasks) until the running f returns, so that when any call()
// returns, a successful f has finished and its effects are visible.
//
// DIFFERENCE FROM GO: if f throws, the Once is NOT marked done: the exception
// propagates to that caller, and the next call() (a waiting one, or a later one) runs
// its own f. In Go, a panicking f counts as done. Calling call() from within f on the
// same Once deadlocks, as in Go.
//
// Fast path: one acquire load once done. Thread-safe.
class Once {
 public:
  constexpr Once() noexcept = default;
  Once(const Once&) = delete;
  Once& operator=(const Once&) = delete;

  template <class F>
    requires std::invocable<F&>
  void call(F&& f) {
    if (done_.load(std::memory_order_acquire)) [[likely]] return;
    std::lock_guard<Mutex> lock(m_);
    if (done_.load(std::memory_order_relaxed)) return;
    f();
    done_.store(true, std::memory_order_release);
  }

  // Whether a call has completed successfully (a snapshot). Lock-free.
  bool done() const noexcept { return done_.load(std::memory_order_acquire); }

 private:
  std::atomic<bool> done_{false};
  Mutex m_;
};

// A condition variable bound to a Mutex: Go's sync.Cond.
//
// wait() must be called with the Mutex locked: it atomically unlocks it and suspends
// the caller (a task parks, a thread blocks); when woken by signal() or broadcast() it
// locks the Mutex again before returning. As in Go, there are no spurious wakeups in
// the implementation, but a woken waiter cannot assume the condition holds (another
// party may have run first): wait in a loop. signal() wakes the longest waiter, if
// any; broadcast() wakes all current waiters. Neither needs the Mutex to be held.
//
// The Mutex must outlive the Cond. Thread-safe. No member throws, except wait() if the
// Mutex is not locked by anyone (std::logic_error from Mutex::unlock).
class Cond {
 public:
  explicit Cond(Mutex& m) noexcept : l_(m) {}
  Cond(const Cond&) = delete;
  Cond& operator=(const Cond&) = delete;

  // The bound Mutex (Go's L).
  Mutex& mutex() const noexcept { return l_; }

  void wait();
  void signal() noexcept;
  void broadcast() noexcept;

 private:
  Mutex& l_;
  detail::spin_mutex mu_;
  detail::wait_queue queue_;
};

// ===================================================================================
// Map
// ===================================================================================
//
// Memory reclamation for Map: epoch-based reclamation (EBR), in detail::ebr_*.
//
// Every thread that touches a Map owns an ebr_record (registered on first use, kept on
// a global list, recycled when the thread exits). A reader brackets its lock-free
// accesses with an ebr_guard: entering announces the current global epoch in the
// record (one atomic exchange, which is also the full fence the scheme needs) and
// re-checks that the epoch did not move; leaving clears the announcement (a release
// store). Guards nest (a counter per thread), which also covers tasks: a task never
// migrates between threads, and a nested guard keeps the outermost announcement.
//
// A writer that unlinks an object (an old value, a replaced snapshot) retires it to
// its thread's limbo list, stamped with the global epoch read after the unlink. Every
// so often a retiring thread tries to advance the global epoch: it may when every
// active record announces the current epoch. An object retired at epoch e is freed once
// the global epoch reaches e + 2: by then every guard that could have seen it has
// ended. Limbo lists of exiting threads go to a global orphan list, freed the same way.
//
// What is lock-free: entering and leaving a guard (no waiting ever), and thus every
// Map read on its fast path. Retiring is lock-free: an append to a thread-local list,
// plus, every 64 retires, a scan of the record list and of the thread's own list (and,
// if nobody else holds its lock, of the orphan list). A thread's first guard
// registers its record (a CAS push onto the global list, plus an allocation); handing
// limbo lists over at thread exit takes a spin_mutex. Reclamation is deferred, never
// waited for:
// a guard held for long (a Map::range callback that parks, say) delays freeing, it
// never blocks anyone.
}  // namespace go::sync

namespace go::detail {

struct ebr_retired {
  void* p;
  void (*del)(void*) noexcept;
  std::uint64_t epoch;
};

struct ebr_record {
  std::atomic<std::uint64_t> announced{0};  // epoch << 1 | 1 while in a guard; 0 outside
  std::atomic<bool> in_use{false};
  ebr_record* next = nullptr;                // the global list; immutable once published
  std::uint32_t nest = 0;                    // owner thread only
  std::uint32_t since_scan = 0;              // owner thread only
  std::uint64_t scanned_epoch = ~std::uint64_t{0};  // owner only: epoch of the last limbo scan
  ebr_retired* limbo = nullptr;              // owner thread only: a growable array
  std::size_t limbo_size = 0;
  std::size_t limbo_cap = 0;
};

extern std::atomic<std::uint64_t> ebr_global_epoch;
extern constinit thread_local ebr_record* ebr_tls;

ebr_record* ebr_register();                                  // first use by a thread
void ebr_retire_slow(ebr_record* r, ebr_retired item) noexcept;  // grow/scan

inline ebr_record* ebr_self() {
  ebr_record* r = ebr_tls;
  if (r == nullptr) [[unlikely]] r = ebr_register();
  return r;
}

// An EBR critical section (see above). Not copyable; the destructor leaves it.
class ebr_guard {
 public:
  ebr_guard() : r_(ebr_self()) {
    if (r_->nest++ == 0) {
      std::uint64_t g = ebr_global_epoch.load(std::memory_order_relaxed);
      for (;;) {
        r_->announced.exchange(g << 1 | 1, std::memory_order_seq_cst);
        const std::uint64_t g2 = ebr_global_epoch.load(std::memory_order_seq_cst);
        if (g2 == g) break;
        g = g2;
      }
    }
  }
  ebr_guard(const ebr_guard&) = delete;
  ebr_guard& operator=(const ebr_guard&) = delete;
  ~ebr_guard() {
    if (--r_->nest == 0) r_->announced.store(0, std::memory_order_release);
  }

 private:
  ebr_record* r_;
};

// Retires p (already unreachable for new readers): `del(p)` runs once no guard that
// could have seen it remains — later, on this thread's next scans (or, after the
// thread exits, on another thread's). Never blocks, never throws; aborts the program
// if memory for the limbo list runs out (freeing early would be unsafe). del must
// not throw, and must not use a Map (it may run inside a Map operation).
inline void ebr_retire(void* p, void (*del)(void*) noexcept) noexcept {
  ebr_record* r = ebr_tls;
  const std::uint64_t e = ebr_global_epoch.load(std::memory_order_seq_cst);
  if (r != nullptr && r->limbo_size < r->limbo_cap && ++r->since_scan < 64) [[likely]] {
    r->limbo[r->limbo_size++] = ebr_retired{p, del, e};
    return;
  }
  ebr_retire_slow(r, ebr_retired{p, del, e});
}

template <class T>
void ebr_delete(void* p) noexcept {
  delete static_cast<T*>(p);
}

}  // namespace go::detail

namespace go::sync {

// A concurrent map: Go's sync.Map, for any number of tasks and threads.
//
// Keys are compared with Eq and hashed with Hash (std::unordered_map's requirements);
// K and V must be copy-constructible. Values are returned by copy (a Map owns its
// values; a loaded copy stays valid whatever happens to the map afterwards). The
// compare_* members also need V to be equality-comparable.
//
// As in Go, the Map is optimized for two uses: a key written once and read many times
// (caches that only grow), and tasks that read, write and overwrite disjoint sets of
// keys. For other mixes a Mutex around a std::unordered_map may be faster.
//
// Algorithm (Go's read-mostly design, gocxx's code). The map keeps a read-only
// snapshot, published through an atomic pointer, and a "dirty" std::unordered_map
// guarded by a Mutex. Both map keys to entry objects; an entry holds an atomic pointer
// to the current value box, which is null (deleted) or "expunged" (deleted and absent
// from the dirty map). Operations on keys present in the snapshot are lock-free: a
// load reads the entry's box; a store to a live key swaps in a new box with one CAS; a
// delete CASes the box to null. Keys not in the snapshot go to the dirty map under the
// Mutex; each such miss is counted, and once the misses reach the dirty map's size the
// dirty map becomes the new snapshot (amortized O(1) per miss). The first new key after
// a promotion copies the snapshot's live entries into a new dirty map, expunging the
// deleted ones.
//
// Invariants (under the Mutex): while the dirty map exists, it holds every entry of the
// snapshot that is not expunged, plus the keys added since (the snapshot is then
// "amended"); an expunged entry is in the snapshot only; an entry unreachable from both
// maps is retired exactly once.
//
// Reclamation: replaced value boxes, snapshots and dropped entries are freed by
// epoch-based reclamation (detail::ebr_*, above): every operation runs inside a guard,
// so no object it reads is freed under it.
//
// Lock-freedom, precisely: load, and store/swap/erase/compare_*/load_or_store on keys
// present in the current snapshot, take no lock (a few atomic operations, one
// allocation for the new value box of a store). Operations on keys absent from the
// snapshot, the snapshot's promotion, clear, and range when the snapshot is amended
// take the Mutex (parking a task when contended). A thread's first Map operation
// registers it with the reclaimer (lock-free, but it allocates).
//
// range(f) sees each key at most once, calls f with no lock held, and sees a
// consistent snapshot of the key set (values are read as f reaches them); as in Go,
// it is not a consistent snapshot of the whole Map. f runs inside a reclamation guard:
// while it runs (and, if f parks, while its task is parked), memory retired by Map
// operations on the same OS thread is not freed — keep range callbacks short.
//
// Performance (bench/sync_bench.cpp): a load is one atomic exchange (the guard), a
// hash lookup and a copy; a store to a present key allocates a value box, CASes it in
// and retires the old one. Values are boxed, so a store costs an allocation, as in Go.
//
// Memory model, as Go's: a store synchronizes with any load that observes its value.
//
// Exceptions: operations that insert or store allocate and may throw std::bad_alloc
// (or whatever K's or V's copy constructors throw), leaving the Map unchanged. Others
// do not throw except from K's/V's copy constructors and the hash/equality functors.
//
// Destruction: the Map must not be in use when destroyed. Thread-safe otherwise.
template <class K, class V, class Hash = std::hash<K>, class Eq = std::equal_to<K>>
class Map {
  struct box {
    V v;
  };
  struct entry {
    std::atomic<box*> p;
    explicit entry(box* b) noexcept : p(b) {}
    ~entry() {
      box* b = p.load(std::memory_order_relaxed);
      if (is_value(b)) delete b;
    }
  };
  using table = std::unordered_map<K, entry*, Hash, Eq>;
  struct snapshot {
    table* m;        // shared between successive snapshots with the same key set
    bool amended;    // the dirty map holds keys absent from m
  };

  static box* expunged() noexcept { return reinterpret_cast<box*>(std::uintptr_t{1}); }
  static bool is_value(box* b) noexcept { return b != nullptr && b != expunged(); }

 public:
  using key_type = K;
  using mapped_type = V;

  // An empty map. Throws std::bad_alloc if memory runs out.
  Map() : read_(new snapshot{new table(), false}) {}
  Map(const Map&) = delete;
  Map& operator=(const Map&) = delete;

  ~Map() {
    snapshot* s = read_.load(std::memory_order_relaxed);
    free_entries(s->m, dirty_.get());
    delete s->m;
    delete s;
  }

  // Go's Load: a copy of the value stored for key, or nullopt. Lock-free when the key
  // is in the snapshot (or the snapshot is not amended).
  std::optional<V> load(const K& key) const {
    {
      detail::ebr_guard g;
      const snapshot* s = read_.load(std::memory_order_acquire);
      if (auto it = s->m->find(key); it != s->m->end()) return value_of(it->second);
      if (!s->amended) return std::nullopt;
    }
    // Never lock mu_ (which may park) inside a guard: a parked guard would hold back
    // reclamation for its whole worker thread.
    return load_slow(key);
  }

  // Whether key is present (load(key).has_value(), without copying the value).
  bool contains(const K& key) const {
    {
      detail::ebr_guard g;
      const snapshot* s = read_.load(std::memory_order_acquire);
      if (auto it = s->m->find(key); it != s->m->end()) return is_value(it->second->p.load(std::memory_order_acquire));
      if (!s->amended) return false;
    }
    std::lock_guard<Mutex> lock(mu_);
    detail::ebr_guard g;
    return locate_locked(key, [](entry* e) { return is_value(e->p.load(std::memory_order_acquire)); });
  }

  // Go's Store: sets the value for key.
  void store(const K& key, V value) { (void)swap(key, std::move(value)); }

  // Go's Swap: sets the value for key and returns the previous one, or nullopt.
  std::optional<V> swap(const K& key, V value) {
    auto nb = std::make_unique<box>(box{std::move(value)});
    {
      detail::ebr_guard g;
      const snapshot* s = read_.load(std::memory_order_acquire);
      if (auto it = s->m->find(key); it != s->m->end()) {
        entry* e = it->second;
        box* old = e->p.load(std::memory_order_acquire);
        while (old != expunged()) {
          if (e->p.compare_exchange_weak(old, nb.get(), std::memory_order_acq_rel, std::memory_order_acquire)) {
            nb.release();
            return take_retired(old);
          }
        }
      }
    }
    std::lock_guard<Mutex> lock(mu_);
    detail::ebr_guard g;
    const snapshot* s = read_.load(std::memory_order_relaxed);
    entry* e = nullptr;
    if (auto it = s->m->find(key); it != s->m->end()) {
      e = it->second;
      if (e->p.load(std::memory_order_relaxed) == expunged()) {
        dirty_->emplace(key, e);  // may throw: nothing changed yet
        e->p.store(nullptr, std::memory_order_relaxed);
      }
    } else if (dirty_) {
      if (auto jt = dirty_->find(key); jt != dirty_->end()) e = jt->second;
    }
    if (e != nullptr) {
      box* old = e->p.exchange(nb.release(), std::memory_order_acq_rel);
      return take_retired(old);
    }
    insert_new_locked(key, nb);
    return std::nullopt;
  }

  // Go's LoadOrStore: if key is present, returns {its value, true}; otherwise stores
  // value and returns {value, false}.
  std::pair<V, bool> load_or_store(const K& key, V value) {
    {
      detail::ebr_guard g;
      const snapshot* s = read_.load(std::memory_order_acquire);
      if (auto it = s->m->find(key); it != s->m->end()) {
        std::unique_ptr<box> nb;
        if (auto r = try_load_or_store(it->second, value, nb)) return std::move(*r);
      }
    }
    std::lock_guard<Mutex> lock(mu_);
    detail::ebr_guard g;
    const snapshot* s = read_.load(std::memory_order_relaxed);
    entry* e = nullptr;
    bool from_dirty = false;
    if (auto it = s->m->find(key); it != s->m->end()) {
      e = it->second;
      if (e->p.load(std::memory_order_relaxed) == expunged()) {
        dirty_->emplace(key, e);
        e->p.store(nullptr, std::memory_order_relaxed);
      }
    } else if (dirty_) {
      if (auto jt = dirty_->find(key); jt != dirty_->end()) {
        e = jt->second;
        from_dirty = true;
      }
    }
    if (e != nullptr) {
      std::unique_ptr<box> nb;
      auto r = try_load_or_store(e, value, nb);  // never expunged here (under mu_)
      if (from_dirty) miss_locked();
      return std::move(*r);
    }
    auto nb = std::make_unique<box>(box{value});
    insert_new_locked(key, nb);
    return {std::move(value), false};
  }

  // Go's LoadAndDelete: removes key, returning its value, or nullopt if absent.
  std::optional<V> load_and_delete(const K& key) {
    {
      detail::ebr_guard g;
      const snapshot* s = read_.load(std::memory_order_acquire);
      if (auto it = s->m->find(key); it != s->m->end()) return delete_entry(it->second);
      if (!s->amended) return std::nullopt;
    }
    std::lock_guard<Mutex> lock(mu_);
    detail::ebr_guard g;
    const snapshot* s = read_.load(std::memory_order_relaxed);
    if (auto it = s->m->find(key); it != s->m->end()) return delete_entry(it->second);
    if (!s->amended) return std::nullopt;
    auto jt = dirty_->find(key);
    if (jt == dirty_->end()) {
      miss_locked();
      return std::nullopt;
    }
    entry* e = jt->second;
    dirty_->erase(jt);
    miss_locked();
    // The entry is in no map now; it was never in a snapshot (it was created after the
    // current snapshot's promotion), so only holders of mu_ could reach it. Retire it
    // anyway (its destructor frees its value box).
    std::optional<V> out = value_of(e);
    detail::ebr_retire(e, &detail::ebr_delete<entry>);
    return out;
  }

  // Go's Delete: removes key if present. Returns whether it was present (Go returns
  // nothing).
  bool erase(const K& key) { return load_and_delete(key).has_value(); }

  // Go's CompareAndSwap: if key's value equals old, replaces it with desired and
  // returns true; otherwise returns false.
  bool compare_and_swap(const K& key, const V& old, V desired)
    requires std::equality_comparable<V>
  {
    auto nb = std::make_unique<box>(box{std::move(desired)});
    {
      detail::ebr_guard g;
      const snapshot* s = read_.load(std::memory_order_acquire);
      if (auto it = s->m->find(key); it != s->m->end()) return try_cas(it->second, old, nb);
      if (!s->amended) return false;
    }
    std::lock_guard<Mutex> lock(mu_);
    detail::ebr_guard g;
    const snapshot* s = read_.load(std::memory_order_relaxed);
    if (auto it = s->m->find(key); it != s->m->end()) return try_cas(it->second, old, nb);
    if (!s->amended) return false;
    auto jt = dirty_->find(key);
    bool swapped = false;
    if (jt != dirty_->end()) swapped = try_cas(jt->second, old, nb);
    miss_locked();
    return swapped;
  }

  // Go's CompareAndDelete: if key's value equals old, deletes it and returns true.
  bool compare_and_delete(const K& key, const V& old)
    requires std::equality_comparable<V>
  {
    {
      detail::ebr_guard g;
      const snapshot* s = read_.load(std::memory_order_acquire);
      if (auto it = s->m->find(key); it != s->m->end()) return try_cad(it->second, old);
      if (!s->amended) return false;
    }
    std::lock_guard<Mutex> lock(mu_);
    detail::ebr_guard g;
    const snapshot* s = read_.load(std::memory_order_relaxed);
    if (auto it = s->m->find(key); it != s->m->end()) return try_cad(it->second, old);
    if (!s->amended) return false;
    auto jt = dirty_->find(key);
    bool deleted = false;
    if (jt != dirty_->end()) deleted = try_cad(jt->second, old);
    miss_locked();
    return deleted;
  }

  // Go's Range: calls f(key, value) for each key present, in unspecified order; if f
  // returns false (when it returns bool), stops. Each key is visited at most once; f
  // runs with no lock held and may call any member of this Map (stores of new keys
  // made during the range are not visited). Values are copied before f sees them.
  // Takes the Mutex first only when the snapshot is amended (it promotes the dirty
  // map, as Go does). While range runs, memory retired by any Map is not freed.
  template <class F>
    requires std::invocable<F&, const K&, const V&>
  void range(F&& f) const {
    if (amended_now()) {
      std::lock_guard<Mutex> lock(mu_);
      detail::ebr_guard g;
      if (read_.load(std::memory_order_relaxed)->amended) promote_locked();
    }
    detail::ebr_guard g;
    const snapshot* s = read_.load(std::memory_order_acquire);
    for (const auto& [k, e] : *s->m) {
      std::optional<V> v = value_of(e);
      if (!v) continue;
      if constexpr (std::is_convertible_v<std::invoke_result_t<F&, const K&, const V&>, bool>) {
        if (!f(k, *v)) break;
      } else {
        f(k, *v);
      }
    }
  }

  // Go's Clear: deletes every entry.
  void clear() {
    {
      detail::ebr_guard g;
      const snapshot* s = read_.load(std::memory_order_acquire);
      if (s->m->empty() && !s->amended) return;
    }
    auto fresh = std::make_unique<snapshot>(snapshot{nullptr, false});
    auto fresh_table = std::make_unique<table>();
    std::lock_guard<Mutex> lock(mu_);
    detail::ebr_guard g;
    snapshot* s = read_.load(std::memory_order_relaxed);
    fresh->m = fresh_table.release();
    read_.store(fresh.release(), std::memory_order_release);
    retire_entries(s->m, dirty_.get());
    detail::ebr_retire(s->m, &detail::ebr_delete<table>);
    detail::ebr_retire(s, &detail::ebr_delete<snapshot>);
    dirty_.reset();
    misses_ = 0;
  }

 private:
  // Whether the current snapshot is amended (read under a guard).
  bool amended_now() const {
    detail::ebr_guard g;
    return read_.load(std::memory_order_acquire)->amended;
  }

  static std::optional<V> value_of(entry* e) {
    box* b = e->p.load(std::memory_order_acquire);
    if (!is_value(b)) return std::nullopt;
    return b->v;
  }

  // Retires a value box replaced by a swap and returns the value it held, copied.
  static std::optional<V> take_retired(box* old) {
    if (!is_value(old)) return std::nullopt;
    std::optional<V> out(old->v);  // guarded readers may still read it: copy, not move
    detail::ebr_retire(old, &detail::ebr_delete<box>);
    return out;
  }

  static std::optional<V> delete_entry(entry* e) {
    box* b = e->p.load(std::memory_order_acquire);
    for (;;) {
      if (!is_value(b)) return std::nullopt;
      if (e->p.compare_exchange_weak(b, nullptr, std::memory_order_acq_rel, std::memory_order_acquire)) {
        return take_retired(b);
      }
    }
  }

  // Go's tryLoadOrStore on an entry: nullopt if expunged.
  static std::optional<std::pair<V, bool>> try_load_or_store(entry* e, const V& value, std::unique_ptr<box>& nb) {
    box* b = e->p.load(std::memory_order_acquire);
    for (;;) {
      if (b == expunged()) return std::nullopt;
      if (b != nullptr) return std::pair<V, bool>(b->v, true);
      if (!nb) nb = std::make_unique<box>(box{value});
      if (e->p.compare_exchange_weak(b, nb.get(), std::memory_order_acq_rel, std::memory_order_acquire)) {
        nb.release();
        return std::pair<V, bool>(value, false);
      }
    }
  }

  static bool try_cas(entry* e, const V& old, std::unique_ptr<box>& nb) {
    box* b = e->p.load(std::memory_order_acquire);
    for (;;) {
      if (!is_value(b) || !(b->v == old)) return false;
      if (e->p.compare_exchange_weak(b, nb.get(), std::memory_order_acq_rel, std::memory_order_acquire)) {
        nb.release();
        detail::ebr_retire(b, &detail::ebr_delete<box>);
        return true;
      }
    }
  }

  static bool try_cad(entry* e, const V& old) {
    box* b = e->p.load(std::memory_order_acquire);
    for (;;) {
      if (!is_value(b) || !(b->v == old)) return false;
      if (e->p.compare_exchange_weak(b, nullptr, std::memory_order_acq_rel, std::memory_order_acquire)) {
        detail::ebr_retire(b, &detail::ebr_delete<box>);
        return true;
      }
    }
  }

  std::optional<V> load_slow(const K& key) const {
    std::lock_guard<Mutex> lock(mu_);
    detail::ebr_guard g;
    const snapshot* s = read_.load(std::memory_order_relaxed);
    if (auto it = s->m->find(key); it != s->m->end()) return value_of(it->second);
    if (!s->amended) return std::nullopt;
    std::optional<V> out;
    if (auto jt = dirty_->find(key); jt != dirty_->end()) out = value_of(jt->second);
    miss_locked();
    return out;
  }

  template <class Pred>
  bool locate_locked(const K& key, Pred pred) const {
    const snapshot* s = read_.load(std::memory_order_relaxed);
    if (auto it = s->m->find(key); it != s->m->end()) return pred(it->second);
    if (!s->amended) return false;
    bool r = false;
    if (auto jt = dirty_->find(key); jt != dirty_->end()) r = pred(jt->second);
    miss_locked();
    return r;
  }

  // A new key, absent from both maps: under mu_.
  void insert_new_locked(const K& key, std::unique_ptr<box>& nb) {
    snapshot* s = read_.load(std::memory_order_relaxed);
    if (!s->amended) {
      dirty_locked();
      auto fresh = std::make_unique<snapshot>(snapshot{s->m, true});
      auto e = std::make_unique<entry>(nullptr);
      dirty_->emplace(key, e.get());
      e->p.store(nb.release(), std::memory_order_relaxed);
      e.release();
      read_.store(fresh.release(), std::memory_order_release);
      detail::ebr_retire(s, &detail::ebr_delete<snapshot>);  // the table lives on
      return;
    }
    auto e = std::make_unique<entry>(nullptr);
    dirty_->emplace(key, e.get());
    e->p.store(nb.release(), std::memory_order_relaxed);
    e.release();
  }

  // Go's dirtyLocked: builds the dirty map from the snapshot, expunging deleted
  // entries.
  void dirty_locked() {
    if (dirty_) return;
    const snapshot* s = read_.load(std::memory_order_relaxed);
    auto d = std::make_unique<table>();
    d->reserve(s->m->size());
    for (const auto& [k, e] : *s->m) {
      box* b = e->p.load(std::memory_order_relaxed);
      while (b == nullptr) {
        if (e->p.compare_exchange_weak(b, expunged(), std::memory_order_acq_rel, std::memory_order_relaxed)) {
          b = expunged();
        }
      }
      if (b != expunged()) d->emplace(k, e);
    }
    // Allocation may throw above; an entry expunged then stays expunged (it is
    // deleted), which is a valid state whether or not the dirty map is built.
    dirty_ = std::move(d);
  }

  void miss_locked() const {
    if (++misses_ < dirty_->size()) return;
    promote_locked();
  }

  // The dirty map becomes the snapshot; the old snapshot's expunged entries (absent
  // from the dirty map) are retired with it.
  void promote_locked() const {
    snapshot* s = read_.load(std::memory_order_relaxed);
    auto fresh = std::make_unique<snapshot>(snapshot{dirty_.get(), false});
    read_.store(fresh.release(), std::memory_order_release);
    dirty_.release();
    misses_ = 0;
    for (const auto& [k, e] : *s->m) {
      if (e->p.load(std::memory_order_relaxed) == expunged()) detail::ebr_retire(e, &detail::ebr_delete<entry>);
    }
    detail::ebr_retire(s->m, &detail::ebr_delete<table>);
    detail::ebr_retire(s, &detail::ebr_delete<snapshot>);
  }

  // Every entry reachable from the snapshot table m or the dirty map d, once each (by
  // the invariant: if d exists, m's entries absent from d are the expunged ones).
  template <class Fn>
  static void for_each_entry(table* m, table* d, Fn fn) {
    if (d == nullptr) {
      for (const auto& [k, e] : *m) fn(e);
      return;
    }
    // m's expunged entries first: fn may free the entries of d, which m shares.
    for (const auto& [k, e] : *m) {
      if (e->p.load(std::memory_order_relaxed) == expunged()) fn(e);
    }
    for (const auto& [k, e] : *d) fn(e);
  }
  static void free_entries(table* m, table* d) {
    for_each_entry(m, d, [](entry* e) { delete e; });
  }
  static void retire_entries(table* m, table* d) {
    for_each_entry(m, d, [](entry* e) { detail::ebr_retire(e, &detail::ebr_delete<entry>); });
  }

  // Members touched by the const readers' slow paths (as Go's Load does) are mutable.
  mutable std::atomic<snapshot*> read_;
  mutable Mutex mu_;                      // guards dirty_, misses_ and replacing read_
  mutable std::unique_ptr<table> dirty_;  // null when not amended
  mutable std::size_t misses_ = 0;
};

}  // namespace go::sync
