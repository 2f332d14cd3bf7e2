// go/detail/waiter.hpp — the runtime's one parking primitive and its wait queue.
//
// Every blocking operation in gocxx (WaitGroup, Mutex, channels, select, context,
// timers, I/O) is built from the pieces defined here:
//
//   waiter      one blocked party: the calling task (which parks, freeing its worker)
//               or the calling OS thread (which blocks on a futex). A waiter is
//               created on the blocker's stack and lives until park returns.
//   wait_node   one entry of a waiter in one wait_queue (a waiter blocked in select
//               has one node per case). Carries a data pointer for hand-offs.
//   wait_queue  an intrusive FIFO of wait_nodes, protected by its owner's lock.
//   wait_set    the same for owners that only ever wake all their waiters at once
//               (a context's done signal): unordered, an array, so that a broadcast
//               to thousands can prefetch its way through their nodes.
//
// Protocol. Waking is split in two steps, as in Go's select (sudog + selectDone):
//
//   1. try_claim(token)  — at most one party ever claims a waiter (a notifier, or the
//                          waiter's own deadline). The token tells the waiter who won
//                          (e.g. which select case). Losers must not touch the waiter.
//   2. wake()            — the claimer, after it has finished writing whatever the
//                          waiter will read (a channel value), resumes the waiter.
//
// The parker, for its part, publishes a wait_node under the owner's lock, releases the
// lock and calls park(). park() returns only after wake() (or, for park_until, after the
// deadline claimed the waiter); a claimer's writes happen-before park's return. Because
// a claimed waiter cannot return until woken, the claimer may use the node's memory
// between claim and wake; after wake() it must not touch the waiter again.
//
// Lifetime rule: claim under the owner's lock, wake after releasing it (wake_list),
// because a woken waiter may destroy the owner at once. (wake_closed, for broadcasts,
// relocks after waking: only where the waker keeps the owner alive.)
//
// Thread safety: try_claim and wake may be called from any task or thread. park and
// park_until are called only by the waiter's owner, once per waiter. wait_queue is
// not synchronized: callers hold the lock of the object that owns the queue.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

namespace go::detail {

struct fiber;   // a task's execution context; defined in the runtime sources
struct worker;  // a worker thread of the runtime; defined in the runtime sources

// The fiber the caller runs on, or nullptr on a plain thread. A fiber runs one task
// at a time, and a started task stays on its fiber, so this identifies the calling
// task for as long as it runs. Never blocks.
fiber* current_fiber() noexcept;

// Whether the program is exiting (go/runtime.hpp, "Exit"): a task spawned now never
// runs. Never blocks.
bool runtime_exiting() noexcept;

// Slots private to the calling task — on a plain thread, to the thread — for the
// per-task bookkeeping of higher layers. A task's slots are its own across parks (they
// live in the task's fiber, and a started task never changes fiber), unlike a
// thread_local, which every task of a worker shares. They are zero when a task starts,
// and whoever changes one restores it before the task ends (RAII, last in first out).
struct task_slots {
  void* errgroup_markers = nullptr;  // errgroup: the task's membership markers (errgroup.hpp)
  int context_cancels = 0;           // context: cancels running on the task (context.cpp)
};

// The calling task's slots. Never blocks; touches only the caller's own memory.
task_slots& task_local() noexcept;

using clock = std::chrono::steady_clock;

// The token a deadline claims a waiter with (park_until).
inline constexpr std::uint32_t timeout_token = 0xffffffffu;

class waiter {
 public:
  // Binds the waiter to the caller: the current task if called from a task, otherwise
  // the current OS thread. Never blocks, never throws.
  waiter() noexcept;
  waiter(const waiter&) = delete;
  waiter& operator=(const waiter&) = delete;

  // Claims the waiter with a nonzero token. Exactly one claim succeeds over the
  // waiter's lifetime; returns whether this one did. Lock-free.
  bool try_claim(std::uint32_t token = 1) noexcept {
    std::uint32_t expected = 0;
    return claim_.compare_exchange_strong(expected, token, std::memory_order_acq_rel,
                                          std::memory_order_acquire);
  }

  // The token of the successful claim, or 0 if none yet.
  std::uint32_t token() const noexcept { return claim_.load(std::memory_order_acquire); }

  // Resumes the owner. Precondition: the caller's try_claim succeeded. Non-blocking.
  void wake() noexcept;

  // try_claim(token) followed by wake(); returns whether this call won.
  bool notify(std::uint32_t token = 1) noexcept {
    if (!try_claim(token)) return false;
    wake();
    return true;
  }

  // Blocks the owner until woken: a task parks (its worker runs other tasks), a
  // thread blocks. Returns at once if already woken.
  void park() noexcept;

  // As park(), but when `deadline` passes first the waiter claims itself with
  // timeout_token and returns false. Returns true if another party claimed it (then
  // it waits for that party's wake, which follows promptly). The deadline is never
  // reported early.
  bool park_until(clock::time_point deadline) noexcept;

  // A hint: starts loading what wake() will touch of the owner (a parked task's
  // fiber), for a waker about to wake many waiters. No effect on a thread's waiter.
  void prefetch_owner() const noexcept {
    if (fiber_) __builtin_prefetch(fiber_, 1);
  }

 private:
  friend struct waiter_access;
  std::atomic<std::uint32_t> claim_{0};
  std::atomic<std::uint32_t> state_{0};  // see waiter.cpp
  fiber* fiber_;                         // null when the owner is a plain thread
};

// One entry of a waiter in one wait_queue. Lives on the waiting party's stack.
struct wait_node {
  waiter* w = nullptr;
  void* data = nullptr;         // operation-specific (a value slot, a weight, ...)
  std::uint32_t token = 1;      // passed to try_claim when a notifier picks this node
  bool linked = false;          // in a queue; read and written under the owner's lock
  std::size_t slot = 0;         // its index in a wait_set while linked there
  wait_node* prev = nullptr;
  wait_node* next = nullptr;
};

class wake_list;
struct wake_block;

// An intrusive FIFO of wait_nodes. Not synchronized: the owner's lock protects it.
class wait_queue {
 public:
  bool empty() const noexcept { return head_ == nullptr; }
  wait_node* front() const noexcept { return head_; }

  void push_back(wait_node* n) noexcept {
    n->prev = tail_;
    n->next = nullptr;
    if (tail_) tail_->next = n; else head_ = n;
    tail_ = n;
    n->linked = true;
  }

  // Puts n at the head: it is served before everyone queued (Go's LIFO re-queue of a
  // waiter that was woken but lost the race, so it does not lose its turn).
  void push_front(wait_node* n) noexcept {
    n->prev = nullptr;
    n->next = head_;
    if (head_) head_->prev = n; else tail_ = n;
    head_ = n;
    n->linked = true;
  }

  // Unlinks n if it is still queued; returns whether it was.
  bool remove(wait_node* n) noexcept {
    if (!n->linked) return false;
    if (n->prev) n->prev->next = n->next; else head_ = n->next;
    if (n->next) n->next->prev = n->prev; else tail_ = n->prev;
    n->prev = n->next = nullptr;
    n->linked = false;
    return true;
  }

  wait_node* pop_front() noexcept {
    wait_node* n = head_;
    if (n) remove(n);
    return n;
  }

  // Pops nodes until one whose waiter this call claims (with the node's token), and
  // returns it claimed but not woken; nullptr when the queue runs out. Nodes whose
  // waiter was already claimed elsewhere (a timeout, another select case) are dropped.
  wait_node* claim_front() noexcept {
    while (wait_node* n = pop_front()) {
      if (n->w->try_claim(n->token)) return n;
    }
    return nullptr;
  }

  // Claims every queued waiter that can still be claimed and moves it to `out`, to be
  // woken once the caller has released the owner's lock. Empties the queue.
  void claim_all(wake_list& out) noexcept;

  // As claim_all, but stops after `max` claimed waiters; returns whether nodes remain.
  bool claim_some(wake_list& out, std::size_t max) noexcept;

 private:
  wait_node* head_ = nullptr;
  wait_node* tail_ = nullptr;
};

// Claimed waiters to wake after the owner's lock is released.
//
// Waking must come after unlocking: a woken waiter may return at once and destroy the
// object that owns the queue and the lock (a latch, a WaitGroup, a done signal), so
// the waker must not touch that object — not even to unlock it — after the first
// wake. Claim under the lock, wake after it; a wake_list declared before the lock
// guard does this by itself, since its destructor runs after the guard's:
//
//   wake_list wakes;
//   { std::lock_guard lock(mu_); if (auto* n = q_.claim_front()) wakes.push(n); }
//   // or, more simply, declare `wake_list wakes;` before the lock_guard in one scope.
//
// Nodes are woken in the order they were pushed. Not thread-safe (a local object).
class wake_list {
 public:
  wake_list() = default;
  wake_list(const wake_list&) = delete;
  wake_list& operator=(const wake_list&) = delete;
  ~wake_list() { wake_all(); }

  // Adds a claimed node (from claim_front or claim_all).
  void push(wait_node* n) noexcept {
    n->next = nullptr;
    if (tail_) tail_->next = n; else head_ = n;
    tail_ = n;
  }
  bool empty() const noexcept { return head_ == nullptr; }
  // The first node pushed, or nullptr; the others follow through next (until woken).
  wait_node* front() const noexcept { return head_; }

  // Wakes every node pushed so far. Each node's memory may vanish once woken, so the
  // link is read before the wake.
  void wake_all() noexcept {
    wait_node* n = head_;
    head_ = tail_ = nullptr;
    while (n) {
      wait_node* next = n->next;
      n->w->wake();
      n = next;
    }
  }

 private:
  wait_node* head_ = nullptr;
  wait_node* tail_ = nullptr;
};

inline void wait_queue::claim_all(wake_list& out) noexcept { claim_some(out, SIZE_MAX); }

inline bool wait_queue::claim_some(wake_list& out, std::size_t max) noexcept {
  for (std::size_t i = 0; i < max; ++i) {
    wait_node* n = claim_front();
    if (!n) return false;
    out.push(n);
  }
  return !empty();
}

// The waiters of an owner that only ever wakes them all at once (a context's done
// signal): an unordered set of wait_nodes in one array, which a broadcast walks with
// prefetching. Owners that wake waiters one at a time, in order, use wait_queue.
//
// Why not a wait_queue: a broadcast to thousands of waiters visits nodes that each
// sit on a task stack of their own, so each is a cache and TLB miss, and in a linked
// list each miss must complete before the next node's address is known — a walk over
// 100,000 waiters was a chain of 100,000 serial misses. Here the addresses sit side
// by side, and the walk prefetches the nodes a few steps ahead, so their misses
// overlap.
//
// insert and remove are O(1) (remove moves the last node into the hole, so the order
// is not kept: a broadcast needs none). Not synchronized: the owner's lock protects it.
// insert allocates as the set grows and dies on out of memory, as a task stack does.
//
// Exclusive waiters. A task parked on nothing but this set — one node, no deadline,
// no other case (Context::wait) — can be claimed by this set's broadcast only, so the
// broadcast need not claim it at once: it has no race to settle. Such nodes go into
// their worker's batch (insert_exclusive), and the broadcast hands each batch whole to
// its worker (take_batches, then hand_over after unlocking), which claims and wakes
// its own tasks itself. The broadcaster never touches them, and each worker touches
// only the tasks it is about to run: with 100,000 tasks parked on two workers, the
// broadcaster had touched all 100,000 (a TLB miss each) and pushed half of them to the
// other worker one at a time.
class wait_set {
 public:
  wait_set() = default;
  wait_set(const wait_set&) = delete;
  wait_set& operator=(const wait_set&) = delete;
  ~wait_set();

  bool empty() const noexcept { return size_ == 0 && batches_ == nullptr; }

  // Adds a node whose waiter nothing else can claim (see above): it has no other node
  // and no deadline, and is never removed. From a task it joins that task's worker's
  // batch; from a thread it is inserted as by insert.
  void insert_exclusive(wait_node* n) noexcept;

  // Detaches the workers' batches, for hand_over once the owner's lock is released.
  // A broadcast calls it once the owner takes no new waiters.
  wake_block* take_batches() noexcept {
    wake_block* b = batches_;
    batches_ = nullptr;
    return b;
  }

  void insert(wait_node* n) noexcept {
    if (size_ == cap_) [[unlikely]] grow();
    n->slot = size_;
    n->linked = true;
    nodes_[size_++] = n;
  }

  // Removes n if it is still in the set; returns whether it was.
  bool remove(wait_node* n) noexcept {
    if (!n->linked) return false;
    wait_node* last = nodes_[--size_];
    nodes_[n->slot] = last;
    last->slot = n->slot;
    n->linked = false;
    return true;
  }

  // Claims up to `max` waiters that can still be claimed (each with its node's
  // token), removing them and the unclaimable ones it meets, and moves the claimed
  // ones to `out`; returns whether nodes remain. When it empties the set it frees
  // an array grown past wake_batch slots (remove never shrinks it: a context that is
  // never canceled keeps the array of its busiest moment).
  bool claim_some(wake_list& out, std::size_t max) noexcept;

 private:
  void grow() noexcept;
  wait_node** nodes_ = nullptr;   // malloc'd; size_ nodes in cap_ slots
  std::size_t size_ = 0;
  std::size_t cap_ = 0;
  wake_block* batches_ = nullptr;  // exclusive waiters, one batch per worker
};

// A batch of exclusive waiters (wait_set), all of them tasks of one worker. Allocated
// with room for `cap` node pointers after the header.
struct wake_block {
  wake_block* next;  // the set's list of batches; then the worker's inbox
  worker* owner;
  std::size_t count;
  std::size_t cap;
  wait_node** nodes() noexcept { return reinterpret_cast<wait_node**>(this + 1); }
};

// Hands each batch of `list` (from take_batches) to its worker, which claims and wakes
// the batch's waiters the next time it looks for work (at once if it sleeps). Callable
// from any task or thread, without the set owner's lock. Non-blocking.
void hand_over(wake_block* list) noexcept;

// Waiters claimed per batch by wake_closed below: their nodes (each on its own task
// stack, so each on its own page) are still in the cache and the TLB when woken.
inline constexpr std::size_t wake_batch = 64;

inline wait_set::~wait_set() {
  std::free(nodes_);
  while (wake_block* b = batches_) {
    batches_ = b->next;
    std::free(b);
  }
}

inline void wait_set::grow() noexcept {
  const std::size_t cap = cap_ ? 2 * cap_ : 8;
  auto* p = static_cast<wait_node**>(std::realloc(nodes_, cap * sizeof(wait_node*)));
  if (!p) std::abort();  // out of memory
  nodes_ = p;
  cap_ = cap;
}

inline bool wait_set::claim_some(wake_list& out, std::size_t max) noexcept {
  // Nodes are taken from the end; the one `ahead` places further is prefetched, and
  // so is each claimed waiter's task, which the wake will touch once the owner's lock
  // is released.
  constexpr std::size_t ahead = 16;
  std::size_t claimed = 0;
  while (size_ > 0 && claimed < max) {
    const std::size_t i = --size_;
    if (i >= ahead) __builtin_prefetch(nodes_[i - ahead], 1);
    wait_node* n = nodes_[i];
    n->linked = false;
    if (n->w->try_claim(n->token)) {
      n->w->prefetch_owner();
      out.push(n);
      ++claimed;
    }
  }
  if (size_ == 0 && cap_ > wake_batch) {
    std::free(nodes_);
    nodes_ = nullptr;
    cap_ = 0;
  }
  return size_ > 0;
}

// A broadcast to a queue that takes no new waiters any more (its owner was closed or
// made done under `mu`): wakes what `wakes` holds — the first batch, claimed by the
// caller together with the close — then claims the rest of `q` wake_batch nodes at a
// time under `mu` and wakes each batch after releasing it. Claiming everything first
// and waking afterwards would walk the queue twice, and with thousands of waiters
// every node would miss the cache and the TLB both times. Waiters that leave the
// queue meanwhile (another select case, a timeout) are simply not found.
//
// Unlike a plain wake_list this relocks `mu` after waking: the caller must keep the
// owner of `mu` and `q` alive for the whole call (it holds a reference), so that no
// woken waiter can destroy them. Non-blocking apart from `mu`.
template <class Lockable, class Waiters>  // Waiters: wait_queue or wait_set
void wake_closed(Lockable& mu, Waiters& q, wake_list& wakes, bool more) noexcept {
  for (;;) {
    wakes.wake_all();
    if (!more) return;
    mu.lock();
    more = q.claim_some(wakes, wake_batch);
    mu.unlock();
  }
}

// The runtime's internal lock: a futex-based mutex (spins briefly, then sleeps the
// thread). Held only for short, non-blocking critical sections — never across park.
// Lockable, so std::lock_guard / std::unique_lock work.
class spin_mutex {
 public:
  void lock() noexcept {
    std::uint32_t expected = 0;
    if (state_.compare_exchange_strong(expected, 1, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
      return;
    }
    lock_slow();
  }
  bool try_lock() noexcept {
    std::uint32_t expected = 0;
    return state_.compare_exchange_strong(expected, 1, std::memory_order_acquire,
                                          std::memory_order_relaxed);
  }
  void unlock() noexcept {
    if (state_.exchange(0, std::memory_order_release) == 2) unlock_slow();
  }

 private:
  void lock_slow() noexcept;
  void unlock_slow() noexcept;
  std::atomic<std::uint32_t> state_{0};  // 0 free, 1 locked, 2 locked with sleepers
};

}  // namespace go::detail
