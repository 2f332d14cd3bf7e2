// waitgroup.cpp — the slow paths of go::sync::WaitGroup (see go/sync.hpp for the
// state word and the algorithm).
//
// Invariants of the state word (counter << 32 | waiters):
//  - waiters counts wait_nodes registered in queue_ that no waker has yet claimed and
//    subtracted; it is incremented only under mu_, and only while the counter is
//    non-zero (the CAS checks both at once, so no waiter registers after the counter
//    reached zero and goes unseen by the waker).
//  - The add()/done() whose fetch_add makes the counter zero while waiters is non-zero
//    is the waker of those waiters: it claims every queued node under mu_, releases
//    mu_, subtracts the number it claimed, and wakes them. Its subtraction is its last
//    access to the WaitGroup.
//  - wait() returns without parking only when the whole word is zero, or, seeing a
//    zero counter with waiters still counted (a waker in progress), after the waker's
//    subtraction, which it awaits by yielding. Either way no waker still touches the
//    object when wait() returns, so the owner may destroy it.
#include <stdexcept>
#include <thread>

#include "go/runtime.hpp"
#include "go/sync.hpp"

namespace go::sync {

void WaitGroup::add_slow(std::uint64_t s, int delta) {
  if (counter_of(s) < 0) {
    // Undo the change. The undo may itself bring the counter back to zero while a
    // waiter registered during the window (it saw a non-zero counter): wake it then.
    const std::uint64_t d = static_cast<std::uint64_t>(-static_cast<std::int64_t>(delta)) << 32;
    const std::uint64_t r = state_.fetch_add(d, std::memory_order_acq_rel) + d;
    if (counter_of(r) == 0 && waiters_of(r) != 0) wake_all();
    throw std::logic_error("sync: negative WaitGroup counter");
  }
  // counter == 0 and waiters != 0: release every waiter.
  wake_all();
}

void WaitGroup::wake_all() noexcept {
  go::detail::wake_list wakes;
  std::uint32_t n = 0;
  mu_.lock();
  while (go::detail::wait_node* node = queue_.pop_front()) {
    ++n;  // every registered node was counted, claimed by us or not
    if (node->w->try_claim(node->token)) wakes.push(node);
  }
  mu_.unlock();
  // The last access to *this: from here on wait() may return and the owner may
  // destroy the WaitGroup. The claimed waiters cannot return before we wake them.
  if (n != 0) state_.fetch_sub(n, std::memory_order_acq_rel);
  wakes.wake_all();
}

void WaitGroup::wait_slow() noexcept {
  for (;;) {
    std::uint64_t s = state_.load(std::memory_order_acquire);
    if (counter_of(s) == 0) {
      if (waiters_of(s) == 0) return;
      // A waker is between its zeroing fetch_add and its final subtraction: a few
      // instructions, never a park. Let it finish before returning, so that the
      // caller may destroy the WaitGroup.
      if (go::this_task::in_task()) go::this_task::yield(); else std::this_thread::yield();
      continue;
    }
    go::detail::waiter w;
    go::detail::wait_node node;
    node.w = &w;
    mu_.lock();
    s = state_.load(std::memory_order_acquire);
    bool registered = false;
    while (counter_of(s) != 0) {
      if (state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel, std::memory_order_acquire)) {
        registered = true;
        break;
      }
    }
    if (!registered) {
      mu_.unlock();
      continue;  // the counter reached zero meanwhile: re-check (a waker may be running)
    }
    queue_.push_back(&node);
    mu_.unlock();
    w.park();
    return;  // the waker subtracted our registration before waking us
  }
}

}  // namespace go::sync
