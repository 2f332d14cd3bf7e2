// go/semaphore.hpp — golang.org/x/sync/semaphore for gocxx: a weighted semaphore.
//
// Algorithm (x/sync's Weighted; the code is gocxx's own). The state — size, cur (tokens
// held) and a FIFO of waiters, each with its request n — is guarded by an internal
// spin_mutex. acquire(ctx, n) succeeds at once when n tokens are free and nobody waits;
// otherwise it queues a wait_node carrying n and parks. release(n) and cancellations
// run notify_waiters: while the FRONT waiter's n fits in the free tokens, grant it
// (cur += n, unlink, claim) — and stop at the first waiter that does not fit, so a large
// request at the head is never overtaken by smaller ones behind it (no starvation).
//
// Cancellation while queued is Go's `select { case <-ctx.Done(): ...; case <-ready: }`
// on ONE waiter with two wait_nodes: node 1 (token 1) in the semaphore's queue, node 2
// (token 2) enqueued on ctx.done(). Exactly one claim wins: token 1 means the
// semaphore granted the tokens (acquire returns nil); token 2 means the context won:
// the waiter then removes node 1 from the queue under the lock and, if it was at the
// front and tokens are free, notifies the next waiters (they may fit now), as Go does.
// A grantor that pops a node whose waiter the context already claimed skips it.
#pragma once

#include <cstdint>

#include "go/context.hpp"
#include "go/detail/waiter.hpp"
#include "go/errors.hpp"

namespace go::semaphore {

// A weighted semaphore: Go's semaphore.Weighted. Bounds access to a resource of size
// n: a caller acquires some weight of it and later releases the same weight.
//
// Tasks and threads may be mixed freely: a waiting task parks (its worker runs other
// tasks), a waiting thread blocks. Waiters are served in FIFO order: try_acquire never
// barges past waiters, and a large request at the head is not starved by small ones.
//
// Thread safety: every member may be called concurrently from any task or thread.
// Destruction: only when nobody waits in acquire.
class Weighted {
 public:
  // A semaphore with n tokens, all free. n must be >= 0.
  explicit Weighted(std::int64_t n) noexcept : size_(n) {}
  Weighted(const Weighted&) = delete;
  Weighted& operator=(const Weighted&) = delete;
  ~Weighted() = default;

  // Acquires n tokens, blocking until they are free or ctx is done. Returns nil on
  // success. If ctx is done first — or is done already on entry, even when the
  // tokens are free — returns ctx.err() and leaves the semaphore unchanged; should
  // the grant race with the cancellation, exactly one of them wins (a grant that wins
  // means success). A request larger than the size blocks until ctx is done (it can
  // never succeed), as in Go. Never throws.
  go::error acquire(const go::context::Context& ctx, std::int64_t n) noexcept;

  // Acquires n tokens if they are free and nobody waits; returns whether it did.
  // Never blocks, never throws.
  bool try_acquire(std::int64_t n) noexcept;

  // Releases n tokens and grants waiters that now fit, in FIFO order. Throws
  // std::logic_error("semaphore: released more than held") — leaving the semaphore
  // unchanged — if n exceeds the tokens held. Never blocks.
  void release(std::int64_t n);

  // The size given to the constructor.
  std::int64_t size() const noexcept { return size_; }

 private:
  void notify_waiters(go::detail::wake_list& wakes) noexcept;  // under mu_

  const std::int64_t size_;
  std::int64_t cur_ = 0;  // tokens held; under mu_
  go::detail::spin_mutex mu_;
  go::detail::wait_queue waiters_;  // nodes' data points at the request (std::int64_t)
};

}  // namespace go::semaphore
