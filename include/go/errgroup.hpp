// go/errgroup.hpp — Go's golang.org/x/sync/errgroup for gocxx: synchronization,
// error propagation and context cancellation for a group of tasks working on
// subtasks of a common task.
//
//   auto [g, ctx] = go::errgroup::with_context(parent);
//   for (const auto& url : urls)
//     g.go([url, ctx = ctx]() -> go::error { return fetch(ctx, url); });
//   if (go::error err = g.wait()) { ... }   // the first failure; ctx is now cancelled
//
// Semantics (those of x/sync's HEAD, plus C++ additions marked "beyond Go"):
//  - A default-constructed Group is Go's zero Group: no limit on active tasks, no
//    context to cancel. with_context(parent) / Group(parent) give a Group whose
//    context (a with_cancel_cause child of parent) is cancelled the first time a task
//    fails, with that failure as the cause (go::context::cause), or when wait()
//    returns, whichever comes first (wait() cancels with the first error as cause, or
//    with go::context::canceled when there was none).
//  - A task fails when its function returns a non-nil go::error, or (beyond Go) when an
//    exception escapes it. An escaping exception is turned into an error with
//    go::errors::from_exception; if that failure is the group's first, wait() rethrows
//    the original exception object, so `catch (const MyError&)` works around wait().
//  - go() blocks while the limit (set_limit) is reached; try_go() returns false
//    instead. wait() may be called any number of times, concurrently, from tasks and
//    threads, and go() may be called again after wait() (Go's TestZeroGroup).
//  - Beyond Go: cancel(cause) cancels the context without failing the group; the
//    destructor waits for every task (no task outlives its Group) and, when the Group
//    is destroyed by stack unwinding, cancels the context first so that tasks watching
//    it stop early; wait() from one of the group's own tasks throws (it would deadlock).
//
// Algorithm and invariants.
//  - Task accounting is a go::sync::WaitGroup (wg_): go() does wg_.add(1) before the
//    task is queued, the task does wg_.done() as the very last thing it does. One
//    atomic RMW each; wait() is wg_.wait() followed by reading the recorded error.
//    The WaitGroup guarantees that once wait() has returned no finishing task touches
//    the Group any more, so the Group may be destroyed right after wait().
//  - A task is one object (task_node<F>) in the runtime's task memory (alloc_task, as
//    go::spawn uses): the runtime's task header, the Group pointer, whether it holds a
//    limit slot, and the user's function. It is the only allocation per go(). The
//    node (and so everything f captured) is destroyed before the task's wg_.done(),
//    so captures never outlive the Group's wait() or destructor.
//  - The first error is recorded once: err_claimed_ (an atomic exchange, taken only by
//    failing tasks) elects the first failure, which writes err_/exc_ and then publishes
//    them with err_ready_ (release). Readers look at err_/exc_ only after an acquire
//    load of err_ready_, so wait() racing with a late failure is not a data race. A
//    successful task touches none of this: no lock and no extra atomic per task.
//  - The limit is a counting semaphore apart from wg_ (as Go's `sem` channel is):
//    slots_ counts tasks holding a slot, limit_ the capacity (-1: no limit, and then go()
//    never looks at slots_). A go() that finds no free slot registers in blocked_q_
//    under mu_ (incrementing blocked_, then retrying, both sequentially consistent) and
//    parks; a finishing task releases its slot (seq_cst decrement of slots_, then a
//    seq_cst read of blocked_) and, when someone is blocked, takes mu_, hands free
//    slots to the queued go() callers in FIFO order (claiming them under mu_) and
//    wakes them after releasing mu_. The Dekker-style pairing ensures no go() sleeps
//    while a slot is free. A task releases its slot before its wg_.done(), as Go's
//    does `<-g.sem` before `wg.Done()`. Before parking, a blocked go() spins briefly
//    (and a thread also yields a few times): short tasks free slots quickly.
//  - set_limit takes mu_, refuses (std::logic_error) while any task is active or holds a
//    slot, stores the new limit, and hands slots to go() callers that now fit.
//  - Membership (for wait()'s deadlock check): while a group task runs its function,
//    a marker naming the group lives on its stack, linked into the task's own list
//    (go::detail::task_local(), a slot in the task's fiber). "This group has a marker
//    in the calling task's list" identifies the caller as one of the group's own
//    tasks exactly, and costs the same however many other tasks share the thread.
#pragma once

#include <atomic>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <new>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "go/context.hpp"
#include "go/detail/waiter.hpp"
#include "go/errors.hpp"
#include "go/runtime.hpp"
#include "go/sync.hpp"

namespace go::errgroup {

class Group;

namespace detail {

// What a group function may return: go::error (or anything implicitly convertible to
// it, such as nullptr), or nothing.
template <class R>
concept task_result = std::is_void_v<R> || std::convertible_to<R, ::go::error>;

// f() -> error|void.
template <class F>
concept plain_task = std::invocable<F&> && task_result<std::invoke_result_t<F&>>;

// f(ctx) -> error|void, ctx being the group's context.
template <class F>
concept context_task =
    std::invocable<F&, const ::go::context::Context&> &&
    task_result<std::invoke_result_t<F&, const ::go::context::Context&>>;

// Anything Group::go / try_go accept.
template <class F>
concept task_function = plain_task<F> || context_task<F>;

// Calls f (with the context when it takes one; a function callable both ways is
// called without) and returns its error, nil for a void function.
template <class F>
::go::error call(F& f, const ::go::context::Context& ctx) {
  if constexpr (plain_task<F>) {
    if constexpr (std::is_void_v<std::invoke_result_t<F&>>) {
      std::invoke(f);
      return {};
    } else {
      return std::invoke(f);
    }
  } else {
    if constexpr (std::is_void_v<std::invoke_result_t<F&, const ::go::context::Context&>>) {
      std::invoke(f, ctx);
      return {};
    } else {
      return std::invoke(f, ctx);
    }
  }
}

// A marker on a running group task's stack (see the file comment, "Membership"),
// pushed on the task's list of markers (go::detail::task_local()) for its lifetime.
struct membership {
  const Group* group;
  membership* next;  // the task's previous marker (none unless tasks ever nest)
  void*& slot;       // the task's list head

  explicit membership(const Group* g) noexcept
      : group(g), next(nullptr), slot(::go::detail::task_local().errgroup_markers) {
    next = static_cast<membership*>(slot);
    slot = this;
  }
  ~membership() { slot = next; }
  membership(const membership&) = delete;
  membership& operator=(const membership&) = delete;
};

}  // namespace detail

struct with_context_result;

// A Group is a collection of tasks working on subtasks that are part of the same
// overall task: Go's errgroup.Group. See the file comment for the semantics.
//
// A Group is neither copyable nor movable (tasks refer to it); with_context returns
// one by guaranteed copy elision. It must outlive every call to its members; its
// destructor waits for its tasks.
//
// Thread safety: go, try_go, wait, cancel and context may be called concurrently from
// any number of tasks and threads. set_limit must not race with go/try_go (as in Go);
// it detects, and refuses, being called while tasks are active.
class Group {
 public:
  // Go's zero Group: no limit, no cancellation; context() is go::context::background().
  // Never blocks. May throw std::bad_alloc.
  Group();

  // A Group with a context derived from `parent` (go::context::with_cancel_cause), as
  // with_context does; context() returns it. Never blocks; may throw std::bad_alloc.
  explicit Group(const ::go::context::Context& parent);

  Group(const Group&) = delete;
  Group& operator=(const Group&) = delete;

  // Waits for every task of the group to finish (a task parks, a thread blocks), then
  // cancels the group's context (cause: the first error, or go::context::canceled),
  // as wait() would, but never throws and reports nothing. When the destructor runs
  // because of stack unwinding (more uncaught exceptions than when the Group was
  // constructed), it first cancels the context with cause go::context::canceled, so
  // tasks that watch it return early. Must not run while a go()/try_go() on this
  // group is in progress; run by one of the group's own tasks (which would wait for
  // itself forever) it aborts the program with a message.
  ~Group();

  // Calls f in a new task: Go's Group.Go.
  //
  // f is f() or f(ctx), where ctx is the group's context (const go::context::Context&,
  // or a Context by value); it returns go::error or void. Anything else is rejected at
  // compile time. f is moved (or copied) into the task.
  //
  // Blocks (a task parks, a thread blocks) until the task can be added without the
  // number of active tasks exceeding the limit (set_limit); with limit 0 it blocks
  // until the limit is raised. The first task to fail (return a non-nil error, or throw)
  // records its error for wait() and cancels the group's context with that error as
  // cause; later failures are ignored.
  //
  // Throws std::invalid_argument for an empty std::function or a null function
  // pointer, std::bad_alloc, or std::runtime_error from the runtime's first start (bad
  // GOCXX_MAXPROCS); then no task was started and no slot is held. Thread-safe.
  template <class F>
  void go(F&& f) {
    using D = std::decay_t<F>;
    static_assert(detail::task_function<D>,
                  "go::errgroup::Group::go/try_go: f must be callable as f() or "
                  "f(const go::context::Context&), and return go::error (or something "
                  "convertible to it) or void");
    check_not_empty<D>(f);
    const bool slot = limit_.load(std::memory_order_acquire) >= 0;
    if (slot) acquire_slot();
    start<D>(std::forward<F>(f), slot);
  }

  // Calls f in a new task only if the number of active tasks is below the limit (or
  // there is no limit): Go's Group.TryGo. Returns whether the task was started. Never
  // blocks. Same f requirements, failure handling and exceptions as go(). Thread-safe.
  template <class F>
  bool try_go(F&& f) {
    using D = std::decay_t<F>;
    static_assert(detail::task_function<D>,
                  "go::errgroup::Group::go/try_go: f must be callable as f() or "
                  "f(const go::context::Context&), and return go::error (or something "
                  "convertible to it) or void");
    check_not_empty<D>(f);
    const bool slot = limit_.load(std::memory_order_acquire) >= 0;
    if (slot && !try_acquire_slot()) return false;
    start<D>(std::forward<F>(f), slot);
    return true;
  }

  // Limits the number of active tasks in the group to at most n: Go's Group.SetLimit.
  // A negative n means no limit; 0 means no task can start (go() blocks, try_go()
  // fails) until the limit is raised. go() callers blocked on the previous limit are
  // admitted as the new one allows.
  //
  // Throws std::logic_error("errgroup: modify limit while N goroutines in the group
  // are still active") when tasks are active (Go panics; gocxx refuses any change, also
  // to "no limit", while tasks run). Never blocks. Must not race with go()/try_go().
  void set_limit(int n);

  // Blocks (a task parks, a thread blocks) until every task started by go()/try_go()
  // so far has returned, cancels the group's context (cause: the first error, or
  // go::context::canceled), and returns the first error (nil if none): Go's
  // Group.Wait.
  //
  // If the first failure was an exception escaping a task, rethrows that exception
  // instead (every call does, concurrent ones included: they rethrow the same object,
  // which handlers must therefore not modify). Throws std::logic_error if called from
  // one of the group's own tasks (that would wait for itself forever).
  //
  // May be called several times and concurrently from tasks and threads; go() may be
  // called after it, and a later wait() then waits for those tasks too.
  ::go::error wait();

  // Beyond Go: cancels the group's context with `cause` (go::context::canceled when
  // nil) without recording a failure: wait() still returns the first error of a task
  // (or nil). Has no effect on a zero Group (it has no context of its own) or once the
  // context is already cancelled. Never blocks, never throws. Thread-safe.
  void cancel(::go::error cause = nullptr) noexcept;

  // The group's context: the one with_context / Group(parent) derived, or
  // go::context::background() for a zero Group. Thread-safe; never throws.
  const ::go::context::Context& context() const noexcept { return ctx_; }

 private:
  friend with_context_result with_context(const ::go::context::Context& parent);
  using cancel_cause_func = std::function<void(::go::error)>;

  explicit Group(std::pair<::go::context::Context, cancel_cause_func>&& derived);

  // The heap object of one task: the only allocation per go() (a block of the
  // runtime's task memory). See the file comment.
  template <class F>
  struct task_node final : ::go::detail::task {
    template <class G>
    task_node(Group* g, bool s, G&& fn)
        : ::go::detail::task{&invoke, nullptr, &discard}, group(g), slot(s), f(std::forward<G>(fn)) {}

    template <class G>
    static task_node* make(Group* g, bool s, G&& fn) {
      void* mem = ::go::detail::alloc_task(sizeof(task_node));
      try {
        return new (mem) task_node(g, s, std::forward<G>(fn));
      } catch (...) {
        ::go::detail::free_task(mem, sizeof(task_node));
        throw;
      }
    }
    static void destroy(task_node* self) noexcept {
      self->~task_node();
      ::go::detail::free_task(self, sizeof(task_node));
    }

    static void invoke(::go::detail::task* t) noexcept {
      auto* self = static_cast<task_node*>(t);
      Group* const g = self->group;
      const bool slot = self->slot;
      {
        detail::membership mark(g);
        try {
          if (::go::error err = detail::call(self->f, g->ctx_)) g->fail(std::move(err));
        } catch (...) {
          g->fail_with_current_exception();
        }
      }
      destroy(self);  // f's captures die before the group hears of the task's end
      if (slot) g->release_slot();
      g->wg_.done();  // the last access to *g
    }

    // A task that will never run (the runtime failed to start): just destroyed; start()
    // releases its slot and undoes its wg_.add(1) when submit throws.
    static void discard(::go::detail::task* t) noexcept { destroy(static_cast<task_node*>(t)); }

    Group* group;
    bool slot;
    F f;
  };

  template <class D, class F>
  static void check_not_empty(const F& f) {
    if constexpr (std::is_pointer_v<D> || ::go::detail::is_std_function<D>::value) {
      if (f == nullptr) throw std::invalid_argument("go::errgroup: empty function");
    }
  }

  template <class D, class F>
  void start(F&& f, bool slot) {
    task_node<D>* t;
    try {
      t = task_node<D>::make(this, slot, std::forward<F>(f));
    } catch (...) {
      if (slot) release_slot();
      throw;
    }
    wg_.add(1);
    try {
      ::go::detail::submit(t);  // discards t itself if it throws
    } catch (...) {
      if (slot) release_slot();
      wg_.done();
      throw;
    }
  }

  void acquire_slot();
  bool try_acquire_slot() noexcept;
  void release_slot() noexcept;
  void admit_blocked_locked(::go::detail::wake_list& wakes) noexcept;
  void fail(::go::error err) noexcept;
  void fail_with_current_exception() noexcept;
  bool in_own_task() const noexcept;
  // The first error and exception, if published.
  std::pair<::go::error, std::exception_ptr> first_failure() const;

  // wg_ is written by every task's start and end; limit_ is read by every go(). Each
  // gets its own cache line, so go()'s read of the limit does not first pull the
  // counter's line in shared state and then again to write it.
  alignas(64) ::go::sync::WaitGroup wg_;       // active tasks
  alignas(64) std::atomic<int> limit_{-1};     // -1: no limit
  std::atomic<std::int64_t> slots_{0};         // tasks holding a limit slot
  std::atomic<std::uint32_t> blocked_{0};      // go() callers queued in blocked_q_
  ::go::detail::spin_mutex mu_;                // guards blocked_q_ and limit changes
  ::go::detail::wait_queue blocked_q_;         // go() callers waiting for a slot
  std::atomic<bool> err_claimed_{false};       // a task has claimed "first failure"
  std::atomic<bool> err_ready_{false};         // err_/exc_ are written (release)
  ::go::error err_;                            // the first error
  std::exception_ptr exc_;                     // its exception, if it was one
  ::go::context::Context ctx_;                 // the group's context
  cancel_cause_func cancel_;                   // empty for a zero Group
  int uncaught_at_construction_;               // std::uncaught_exceptions() then
};

// The result of with_context: the Group and its context, in that order, for
// structured bindings: `auto [g, ctx] = go::errgroup::with_context(parent);`.
// (Capture the bound names in lambdas by init-capture, `[ctx = ctx]`, or by
// reference through a named reference `auto& group = g;` on compilers that lack
// C++20's capture of structured bindings, such as clang before 16.)
struct with_context_result {
  Group group;
  ::go::context::Context ctx;
};

// Go's errgroup.WithContext: a new Group and its context, derived from `parent`
// with go::context::with_cancel_cause. The context is cancelled the first time a
// task of the group fails (cause: that error) or the first time wait() returns
// (cause: the first error, or go::context::canceled), whichever occurs first; and,
// beyond Go, by cancel() and by the Group's destructor. Never blocks; may throw
// std::bad_alloc. Thread-safe.
with_context_result with_context(const ::go::context::Context& parent);

}  // namespace go::errgroup
