// cond.cpp — go::sync::Cond: a FIFO of parked waiters under an internal spin_mutex.
//
// wait() queues its node BEFORE unlocking the user's Mutex, so a signal() issued by
// anyone who locks the Mutex after that unlock finds the node: no wakeup is lost.
// signal/broadcast claim nodes under the internal lock and wake them after releasing
// it (the waiter-lifetime rule of go/detail/waiter.hpp).
#include "go/sync.hpp"

namespace go::sync {

void Cond::wait() {
  go::detail::waiter w;
  go::detail::wait_node node;
  node.w = &w;
  {
    std::lock_guard<go::detail::spin_mutex> lock(mu_);
    queue_.push_back(&node);
  }
  try {
    l_.unlock();
  } catch (...) {
    bool removed;
    {
      std::lock_guard<go::detail::spin_mutex> lock(mu_);
      removed = queue_.remove(&node);
    }
    if (!removed) w.park();  // a signal claimed us meanwhile: take its wake first
    throw;
  }
  w.park();
  l_.lock();
}

void Cond::signal() noexcept {
  go::detail::wake_list wakes;  // destroyed (waking) after the lock guard
  std::lock_guard<go::detail::spin_mutex> lock(mu_);
  if (go::detail::wait_node* n = queue_.claim_front()) wakes.push(n);
}

void Cond::broadcast() noexcept {
  go::detail::wake_list wakes;
  std::lock_guard<go::detail::spin_mutex> lock(mu_);
  queue_.claim_all(wakes);
}

}  // namespace go::sync
