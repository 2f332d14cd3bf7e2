// errgroup.cpp — go::errgroup::Group's out-of-line parts: construction, the limit
// semaphore, failure recording, wait() and the own-task check. The algorithm and its
// invariants are described at the top of go/errgroup.hpp; the notes here are local.
#include "go/errgroup.hpp"

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <stdexcept>
#include <string>

#include "runtime/platform.hpp"
#include "runtime/scheduler.hpp"

namespace go::errgroup {

namespace {

// The cause wait() and the destructor cancel the context with.
::go::error cause_or_canceled(const ::go::error& err) { return err ? err : ::go::context::canceled; }

}  // namespace

// ---- membership -------------------------------------------------------------------

bool Group::in_own_task() const noexcept {
  for (auto* m = static_cast<const detail::membership*>(::go::detail::task_local().errgroup_markers); m; m = m->next) {
    if (m->group == this) return true;
  }
  return false;
}

// ---- construction -----------------------------------------------------------------

Group::Group() : ctx_(::go::context::background()), uncaught_at_construction_(std::uncaught_exceptions()) {}

Group::Group(const ::go::context::Context& parent) : Group(::go::context::with_cancel_cause(parent)) {}

Group::Group(std::pair<::go::context::Context, cancel_cause_func>&& derived)
    : ctx_(std::move(derived.first)),
      cancel_(std::move(derived.second)),
      uncaught_at_construction_(std::uncaught_exceptions()) {}

with_context_result with_context(const ::go::context::Context& parent) {
  auto derived = ::go::context::with_cancel_cause(parent);
  ::go::context::Context ctx = derived.first;
  return with_context_result{Group(std::move(derived)), std::move(ctx)};
}

Group::~Group() {
  if (in_own_task()) {
    // Waiting for ourselves would hang forever; a destructor cannot throw.
    std::fputs("gocxx: errgroup::Group destroyed by one of its own tasks (it would wait for itself)\n", stderr);
    std::abort();
  }
  if (std::uncaught_exceptions() > uncaught_at_construction_) cancel(::go::context::canceled);
  wg_.wait();
  if (cancel_) {
    try {
      cancel_(cause_or_canceled(first_failure().first));
    } catch (...) {
      // A cancel function does not throw; nothing sensible to do in a destructor.
    }
  }
}

// ---- the limit --------------------------------------------------------------------

bool Group::try_acquire_slot() noexcept {
  const int limit = limit_.load(std::memory_order_acquire);
  std::int64_t used = slots_.load(std::memory_order_seq_cst);
  for (;;) {
    if (limit >= 0 && used >= limit) return false;
    if (slots_.compare_exchange_weak(used, used + 1, std::memory_order_seq_cst, std::memory_order_seq_cst)) {
      return true;
    }
  }
}

void Group::acquire_slot() {
  // Spin briefly first: with short tasks a slot may free up sooner than a park and
  // wake round trip would take. A thread (whose park is a futex sleep, and whose wake
  // costs the releasing task a system call) spins about a microsecond and then yields
  // its CPU a few times, which lets the workers that will free a slot run where cores
  // are oversubscribed. A task spins less: its park is cheap and its worker has other
  // work to run.
  const bool task = ::go::detail::current_fiber() != nullptr;
  for (int i = 0, spins = task ? 4 : 32; i < spins; ++i) {
    if (try_acquire_slot()) return;
    ::go::detail::cpu_relax();
  }
  if (!task) {
    for (int i = 0; i < 8; ++i) {
      std::this_thread::yield();
      if (try_acquire_slot()) return;
    }
  }
  ::go::detail::waiter w;
  ::go::detail::wait_node node;
  node.w = &w;
  {
    std::lock_guard<::go::detail::spin_mutex> lock(mu_);
    // Announce ourselves before the retry; release_slot decrements slots_ before it
    // reads blocked_. Either we see its free slot, or it sees us and hands one over.
    blocked_.fetch_add(1, std::memory_order_seq_cst);
    if (try_acquire_slot()) {
      blocked_.fetch_sub(1, std::memory_order_relaxed);
      return;
    }
    blocked_q_.push_back(&node);
  }
  w.park();  // woken after admit_blocked_locked took a slot on our behalf
}

void Group::release_slot() noexcept {
  slots_.fetch_sub(1, std::memory_order_seq_cst);
  if (blocked_.load(std::memory_order_seq_cst) == 0) return;
  ::go::detail::wake_list wakes;  // woken after the lock is released (its destructor)
  std::lock_guard<::go::detail::spin_mutex> lock(mu_);
  admit_blocked_locked(wakes);
}

void Group::admit_blocked_locked(::go::detail::wake_list& wakes) noexcept {
  while (!blocked_q_.empty() && try_acquire_slot()) {
    ::go::detail::wait_node* node = blocked_q_.pop_front();
    blocked_.fetch_sub(1, std::memory_order_relaxed);
    // go() waiters park without deadline, so the claim cannot fail; if it did, the
    // slot taken for it goes back.
    if (node->w->try_claim(node->token)) {
      wakes.push(node);  // it owns the slot taken for it once woken
    } else {
      slots_.fetch_sub(1, std::memory_order_seq_cst);
    }
  }
}

void Group::set_limit(int n) {
  ::go::detail::wake_list wakes;  // woken after the lock is released (its destructor)
  std::lock_guard<::go::detail::spin_mutex> lock(mu_);
  const std::int64_t tasks = wg_.count();
  const std::int64_t slots = slots_.load(std::memory_order_seq_cst);
  const std::int64_t active = tasks > slots ? tasks : slots;
  if (active != 0) {
    throw std::logic_error("errgroup: modify limit while " + std::to_string(active) +
                           " goroutines in the group are still active");
  }
  limit_.store(n < 0 ? -1 : n, std::memory_order_release);
  admit_blocked_locked(wakes);
}

// ---- failures, wait, cancel -------------------------------------------------------

void Group::fail(::go::error err) noexcept {
  if (err_claimed_.exchange(true, std::memory_order_acq_rel)) return;  // not the first
  err_ = std::move(err);
  err_ready_.store(true, std::memory_order_release);
  if (cancel_) cancel_(err_);
}

void Group::fail_with_current_exception() noexcept {
  // A later failure is dropped without building its error.
  if (err_claimed_.load(std::memory_order_acquire)) return;
  std::exception_ptr ep = std::current_exception();
  ::go::error err = ::go::errors::from_exception(ep);  // std::bad_alloc: terminate
  if (err_claimed_.exchange(true, std::memory_order_acq_rel)) return;
  err_ = std::move(err);
  exc_ = std::move(ep);
  err_ready_.store(true, std::memory_order_release);
  if (cancel_) cancel_(err_);
}

std::pair<::go::error, std::exception_ptr> Group::first_failure() const {
  if (!err_ready_.load(std::memory_order_acquire)) return {};
  return {err_, exc_};
}

::go::error Group::wait() {
  if (in_own_task()) {
    throw std::logic_error("errgroup: wait called from one of the group's own tasks (it would deadlock)");
  }
  wg_.wait();
  auto [err, exc] = first_failure();
  if (cancel_) cancel_(cause_or_canceled(err));
  if (exc) std::rethrow_exception(exc);
  return err;
}

void Group::cancel(::go::error cause) noexcept {
  if (!cancel_) return;
  try {
    cancel_(cause_or_canceled(cause));
  } catch (...) {
  }
}

}  // namespace go::errgroup
