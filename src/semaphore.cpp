// semaphore.cpp — go::semaphore::Weighted (see go/semaphore.hpp for the algorithm).
//
// Invariants (under mu_): 0 <= cur_ <= size_; every node in waiters_ belongs to a
// waiter parked (or about to park) in acquire, whose request is *static_cast<int64_t*>
// (node->data); a node's waiter may already have been claimed by its context (token
// 2), in which case the node is dropped by the next grantor or removed by its owner.
#include <mutex>
#include <stdexcept>

#include "go/semaphore.hpp"

namespace go::semaphore {

namespace {
using go::detail::wait_node;
constexpr std::uint32_t granted_token = 1;
constexpr std::uint32_t canceled_token = 2;
}  // namespace

go::error Weighted::acquire(const go::context::Context& ctx, std::int64_t n) noexcept {
  const go::context::done_channel done = ctx.done();
  // An already-done context fails even when tokens are free (newer x/sync does the
  // same): the caller asked to give up.
  if (done.is_closed()) return ctx.err();
  go::detail::waiter w;
  wait_node sem_node;
  std::int64_t request = n;
  {
    std::unique_lock<go::detail::spin_mutex> lock(mu_);
    if (size_ - cur_ >= n && waiters_.empty()) {
      cur_ += n;
      return nullptr;
    }
    if (n > size_) {
      // Can never succeed: wait for the context, as Go does.
      lock.unlock();
      done.wait();
      return ctx.err();
    }
    sem_node.w = &w;
    sem_node.data = &request;
    sem_node.token = granted_token;
    waiters_.push_back(&sem_node);
  }
  done.park(w, canceled_token);  // granted, or the context is done
  if (w.token() == granted_token) return nullptr;  // the grantor unlinked sem_node
  // The context won. Leave the queue; if we were at the front, waiters behind us may
  // fit now.
  {
    go::detail::wake_list wakes;
    std::lock_guard<go::detail::spin_mutex> lock(mu_);
    const bool front = waiters_.front() == &sem_node;
    waiters_.remove(&sem_node);  // a no-op if a grantor already dropped it
    if (front && size_ > cur_) notify_waiters(wakes);
  }
  return ctx.err();
}

bool Weighted::try_acquire(std::int64_t n) noexcept {
  std::lock_guard<go::detail::spin_mutex> lock(mu_);
  const bool ok = size_ - cur_ >= n && waiters_.empty();
  if (ok) cur_ += n;
  return ok;
}

void Weighted::release(std::int64_t n) {
  go::detail::wake_list wakes;  // wakes after the lock guard is gone
  std::lock_guard<go::detail::spin_mutex> lock(mu_);
  if (n > cur_ || n < 0) throw std::logic_error("semaphore: released more than held");
  cur_ -= n;
  notify_waiters(wakes);
}

void Weighted::notify_waiters(go::detail::wake_list& wakes) noexcept {
  while (wait_node* front = waiters_.front()) {
    const std::int64_t want = *static_cast<const std::int64_t*>(front->data);
    if (front->w->token() == 0 && size_ - cur_ < want) {
      // Not enough tokens for the next waiter. Stop here rather than serve smaller
      // requests behind it: FIFO order prevents starving a large request.
      break;
    }
    waiters_.remove(front);
    if (front->w->try_claim(granted_token)) {
      cur_ += want;
      wakes.push(front);
    }
    // else: its context won; the waiter no longer wants the tokens.
  }
}

}  // namespace go::semaphore
