// scheduler.hpp — the runtime's internal structures: fibers, workers, the scheduler.
// See scheduler.cpp for the algorithm and docs/design.md for the overview.
#pragma once

#include <boost/context/detail/fcontext.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>

#include "go/detail/waiter.hpp"
#include "go/runtime.hpp"
#include "runtime/runq.hpp"
#include "runtime/stack.hpp"

namespace go::detail {

namespace bctx = boost::context::detail;

struct worker;

// The C++ exception state of one execution context: libsupc++'s __cxa_eh_globals
// (the chain of caught exceptions and the uncaught count), swapped on every switch.
struct eh_state {
  void* caught = nullptr;
  unsigned int uncaught = 0;
};

// An execution context of a worker: the worker thread's own stack (native) or a
// pooled stack. A fiber runs the scheduler loop and the tasks that loop starts
// inline; when a task parks, the fiber parks with it and the worker continues on
// another fiber. A fiber never leaves its worker, so neither does a started task.
struct fiber {
  bctx::fcontext_t ctx = nullptr;  // saved context while not running
  worker* owner = nullptr;
  fiber* next = nullptr;           // link: inbox or idle list
  stack stk{};                     // empty for the native fiber
  const char* stack_lo = nullptr;  // lowest usable address of stk (overflow check)
  eh_state eh{};
  int saved_errno = 0;             // errno, saved while not running
  task_slots task_local{};         // detail::task_local() of the task running on it
  bool native = false;
  void* asan_fake_stack = nullptr;
  const void* asan_bottom = nullptr;
  std::size_t asan_size = 0;
  void* tsan_fiber = nullptr;
};

// A worker's FIFO of fibers ready to resume: a ring of pointers that doubles when
// full. Queueing a fiber touches only the ring, never the fiber, and a pop reads only
// the next fiber's saved-context pointer, to prefetch its stack (see pop): when a
// broadcast (a context made done, a channel closed) readies thousands of fibers at
// once, each lives on a stack page of its own, and an intrusive list (a link in every
// fiber) paid a cache and TLB miss for every fiber on every pass over it.
// Owner thread only; growing dies on out of memory, as a task stack does. A worker
// that runs out of work trims a ring grown past keep_capacity (a broadcast to 100,000
// tasks leaves one of about 1 MiB).
class ready_ring {
 public:
  bool empty() const noexcept { return head_ == tail_; }
  std::size_t size() const noexcept { return tail_ - head_; }
  void push(fiber* f) noexcept {
    if (tail_ - head_ == cap_) [[unlikely]] grow();
    buf_[tail_++ & (cap_ - 1)] = f;
  }
  // The oldest fiber, or nullptr. Prefetches what resuming the next ones will read:
  // resuming a cold fiber reads the fiber object (at the top of its stack), its saved
  // context, and then, as the task returns up out of park, each of its frames — every
  // return a miss that must complete before the next, after a broadcast also a TLB
  // miss. A pipeline of two: the fiber object of the one after next, and the live
  // stack of the next (its saved context up to its fiber object, at most 4 KiB; the
  // object itself came in with the previous pop), overlapping with running the fiber
  // popped now. A lone next fiber gets its object prefetched; none, nothing.
  fiber* pop() noexcept {
    if (empty()) return nullptr;
    fiber* f = buf_[head_++ & (cap_ - 1)];
    const std::size_t left = tail_ - head_;
    if (left >= 2) {
      __builtin_prefetch(buf_[(head_ + 1) & (cap_ - 1)]);
      const fiber* n = buf_[head_ & (cap_ - 1)];
      const char* lo = static_cast<const char*>(n->ctx);
      const char* hi = reinterpret_cast<const char*>(n);
      if (hi - lo > 4096) hi = lo + 4096;
      for (const char* p = lo; p < hi; p += 64) __builtin_prefetch(p);
    } else if (left == 1) {
      __builtin_prefetch(buf_[head_ & (cap_ - 1)]);
    }
    return f;
  }
  // Reverses the order of the last n fibers pushed.
  void reverse_last(std::size_t n) noexcept;
  // Frees the buffer if the ring is empty and has grown past keep_capacity.
  void trim() noexcept;

  static constexpr std::size_t keep_capacity = 4096;

 private:
  [[gnu::noinline]] void grow() noexcept;
  std::unique_ptr<fiber*[]> buf_;
  std::size_t cap_ = 0;   // a power of two, or 0 before the first push
  std::size_t head_ = 0;  // next to pop (counts up; taken modulo cap_)
  std::size_t tail_ = 0;  // next free slot
};

enum class worker_state : int { running, spinning, sleeping, frozen };

// An entry of a worker's inbox: a fiber, or (low bit set) a wake_block; see
// scheduler.cpp, push_inbox.
using inbox_item = fiber*;

struct worker {
  explicit worker(int id_) : id(id_) {}

  const int id;
  run_queue runq;                           // unstarted tasks; stealable
  std::atomic<inbox_item> inbox{nullptr};   // fibers made ready by other threads, and
                                            // batches of waiters to wake (LIFO)
  ready_ring ready;                         // fibers ready to resume (owner only)
  // Batches of this worker's tasks to wake, taken from the inbox (wait_set's exclusive
  // waiters); woken a chunk at a time as the ready ring runs low (see pop_ready).
  wake_block* batches = nullptr;
  wake_block* batches_tail = nullptr;
  std::size_t batch_next = 0;               // next node of the first batch
  fiber* current = nullptr;                 // the running fiber
  fiber* native = nullptr;
  fiber* idle = nullptr;                    // loop fibers with nothing to do
  int idle_count = 0;
  task* handoff = nullptr;                  // a task for the loop fiber switched to next
  fiber* dying = nullptr;                   // freed by the next fiber after the switch
  // Stacks of fibers freed here, for the next fibers created here (Go's per-P stack
  // cache): after a broadcast fibers die by the thousand on every worker, and the
  // pool's lock is shared; the cache trades with the pool half of it at a time.
  static constexpr std::size_t stack_cache_size = 32;
  stack stack_cache[stack_cache_size];
  std::size_t stack_cached = 0;
  eh_state* eh_globals = nullptr;           // this thread's exception state (libsupc++)
  int* errno_ptr = nullptr;                 // this thread's errno
  std::atomic<std::uint32_t> sleeping{0};   // futex word: 1 while asleep
  std::atomic<worker_state> state{worker_state::running};
  std::atomic<std::uint64_t> ticks{0};      // scheduling events, for the monitor
  std::atomic<long> finished{0};            // tasks finished here
  std::atomic<long> spawned{0};             // tasks spawned by tasks running here
  int fair_countdown = 61;                  // look at the global queue first at 0
  std::atomic<bool> exiting{false};         // the program is exiting (fast-path copy)
  std::uint64_t rng;
  std::uint64_t monitor_ticks = 0;          // the monitor's last look (monitor only)
  int stuck_checks = 0;

  // Runs on the worker's thread.
  [[noreturn]] void main();
  [[noreturn]] void loop();
  void suspend() noexcept;
  void yield() noexcept;
  void make_ready_local(fiber* f) noexcept { ready.push(f); }
};

// Makes a parked fiber runnable on its owner; callable from any thread.
void make_ready(fiber* f) noexcept;

// The worker of the calling thread, or nullptr on a plain thread (current_fiber() is
// declared with the parking primitive, go/detail/waiter.hpp).
worker* current_worker() noexcept;

// Starts the runtime if needed (throws std::runtime_error for a bad GOCXX_MAXPROCS).
void ensure_runtime();

// Called by the timer thread every few milliseconds while workers are busy; detects
// workers stuck in user code. Returns whether it wants to be called again soon.
bool monitor_tick() noexcept;

// Gives task-closure memory pooled beyond a cap back to malloc (task_alloc.cpp).
void trim_task_memory() noexcept;

// The number of workers asleep (idle), or -1 before the runtime has started.
int idle_workers() noexcept;

// Netpoller hooks (netpoll.cpp). netpoll_harvest: a worker out of work takes the
// ready I/O events without blocking and wakes their waiters; returns whether there
// were any (cheap when no socket is registered). netpoll_worker_sleeping: a worker is
// going to sleep; the poller thread stops napping and blocks in epoll_wait.
bool netpoll_harvest() noexcept;
void netpoll_worker_sleeping() noexcept;


}  // namespace go::detail
