// go/context.hpp — Go's `context` package for gocxx (semantics of Go 1.25).
//
// A Context carries a cancellation signal, an optional deadline and request-scoped
// values across API boundaries and between tasks. Contexts form a tree: every
// context but the roots (background(), todo()) is derived from a parent with one of
// the with_* functions, and
//
//   * when a context is done (canceled, or its deadline passed), every context
//     derived from it is done too — synchronously, before the cancel call returns;
//   * a context derived from one that is already done is born done;
//   * values are looked up from the context towards the root; the nearest binding of
//     a key wins;
//   * a context's deadline is the earliest deadline on its path to the root (up to
//     the nearest without_cancel);
//   * without_cancel(parent) starts a new cancellation tree that keeps parent's values.
//
// Typical use (compare with Go):
//
//   inline const go::context::key<std::string> user_key{"user"};
//
//   go::error handle(go::context::Context ctx) {
//     auto [ctx2, cancel] = go::context::with_timeout(ctx, std::chrono::seconds(2));
//     struct guard { go::context::cancel_func& f; ~guard() { f(); } } g{cancel};
//     if (const std::string* user = ctx2.value(user_key)) { ... }
//     go::spawn([ctx2] { ctx2.wait(); /* stop the work */ });
//     ...
//     return ctx2.err();   // nil, canceled or deadline_exceeded
//   }
//
// Representation (see src/context.cpp for the invariants): each context is a node
// holding a strong reference to its parent. Cancelable nodes (with_cancel*,
// with_deadline*, with_timeout*, from_stop_token) own a done signal and keep an
// intrusive list of the cancelable nodes and after_func registrations derived from
// them (value and without_cancel nodes are transparent: a node registers with its
// nearest cancelable ancestor, and without_cancel has none).
//
// Errors. err() is nil until the context is done, then canceled or
// deadline_exceeded, forever. cause(ctx) is the error passed to the first cancel
// that took effect (with_cancel_cause, with_deadline_cause, with_timeout_cause), or
// err() when that cancel had no cause. "First cause wins": later cancels are no-ops.
// A context canceled because its parent was takes the parent's err() and cause().
//
// Blocking. The blocking members (Context::wait*, done_channel::wait*) park the
// calling task (its worker runs other tasks) or block the calling OS thread; both
// are woken by a cancel from any task or thread, or by a deadline timer (the
// runtime's timer heap: a context with a deadline costs one heap timer, no thread).
//
// Lifetime. Context, cancel functions, done_channel and after_func's stop function
// are cheap handles sharing ownership of the context's node. Each keeps the node and
// its ancestors alive. A parent never keeps a derived cancelable context alive by
// itself: when the last handle to a derived context goes away it unregisters from
// its parent (so a long-lived parent never accumulates dropped children, canceled or
// not). Call the cancel function anyway, as in Go: it stops the deadline timer and
// releases the context's resources at once. Exceptions to "handles own the node":
// an after_func registration keeps the context alive until f runs or stop() is
// called, and a std::stop_token from Context::stop_token() does not keep it alive.
//
// Thread safety: every function and member here may be called concurrently from any
// tasks and threads on the same or different handles, except that — as with
// std::shared_ptr — one handle *variable* must not be assigned while another thread
// uses it. No gocxx lock is held while user code runs (after_func's f,
// std::stop_callback callbacks) or while waiters are woken.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <sstream>
#include <stop_token>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include "go/detail/waiter.hpp"
#include "go/errors.hpp"

namespace go::context {

using clock = std::chrono::steady_clock;
using time_point = clock::time_point;
using duration = clock::duration;

// The error type of deadline_exceeded. Like Go's, it reports itself as a timeout:
// errors::as<deadline_exceeded_error>(err) finds it, and timeout() is true.
class deadline_exceeded_error final : public go::error_impl {
 public:
  std::string message() const override { return "context deadline exceeded"; }
  // Go's Timeout() and Temporary(): always true.
  bool timeout() const noexcept { return true; }
  bool temporary() const noexcept { return true; }
};

// Go's context.Canceled: err() of a context canceled by a cancel function (its own
// or an ancestor's). Message "context canceled". Compare with == or errors::is.
inline const go::error canceled = go::errors::make("context canceled");

// Go's context.DeadlineExceeded: err() of a context whose deadline passed (its own
// or an ancestor's). Message "context deadline exceeded".
inline const go::error deadline_exceeded = go::errors::make_error<deadline_exceeded_error>();

// A typed key for with_value / Context::value (Go's unexported key types).
//
// Keys compare by identity: the address of the key object. Define each key once,
// with static storage duration, so that it outlives every context using it:
//
//   inline const go::context::key<std::string> user_key{"user"};
//
// A key is neither copyable nor movable (a copy would be a different key). The
// optional name only appears in Context::to_string(). Construction is constexpr,
// so namespace-scope keys are constant-initialized (no static-order problems).
template <class T>
class key {
  static_assert(std::is_object_v<T> && !std::is_array_v<T> && !std::is_const_v<T> && !std::is_volatile_v<T>,
                "go::context::key<T>: T must be a non-const, non-array object type");

 public:
  constexpr key() noexcept = default;
  constexpr explicit key(const char* name) noexcept : name_(name) {}
  key(const key&) = delete;
  key& operator=(const key&) = delete;

  // The name given at construction, or nullptr.
  constexpr const char* name() const noexcept { return name_; }

 private:
  const char* name_ = nullptr;
};

class Context;

// Implementation details; not part of the API (names and layout may change).
namespace internal {

class cancel_node;  // a cancelable context (src/context.cpp)
struct access;

// One context of the tree. Immutable after construction except for the state of
// cancel_node, which synchronizes itself. Shared by the handles (Context, cancel
// functions, done_channel) and by the contexts derived from it (parent_).
class node : public std::enable_shared_from_this<node> {
 public:
  explicit node(std::shared_ptr<node> parent) noexcept;
  node(const node&) = delete;
  node& operator=(const node&) = delete;
  virtual ~node();

  // This context's link in to_string(): ".WithCancel", ".WithValue(k, v)", ...
  virtual std::string describe() const = 0;

  std::shared_ptr<node> parent_;   // null: the parent is background()
  const void* key_ = nullptr;      // the key's address, for value nodes only
  cancel_node* done_src_ = nullptr;  // nearest cancelable ancestor-or-self; null: never done
  bool has_deadline_ = false;
  time_point deadline_{};
};

// A with_value context.
template <class T>
class value_node final : public node {
 public:
  value_node(std::shared_ptr<node> parent, const key<T>* k, T&& v)
      : node(std::move(parent)), value(std::move(v)), key_name_(k->name()) {
    key_ = k;
  }

  std::string describe() const override {
    std::ostringstream os;
    os << ".WithValue(";
    if (key_name_) os << key_name_; else os << "key@" << key_;
    os << ", ";
    if constexpr (requires(std::ostream& o, const T& t) { o << t; }) {
      os << value;
    } else {
      os << '<' << typeid(T).name() << '>';
    }
    os << ')';
    return os.str();
  }

  const T value;

 private:
  const char* key_name_;
};

// The root of todo() (background() is a null node).
std::shared_ptr<node> todo_node();

// Test hook: the number of children (derived cancelable contexts and after_func
// registrations) registered with ctx's nearest cancelable context; 0 if none.
std::size_t num_children(const Context& ctx);

}  // namespace internal

// Go's `<-chan struct{}` returned by Done(): a cheap, copyable handle to a broadcast
// signal that is closed at most once (when the context is done) and never reopened.
//
// A default-constructed done_channel is nil — the done() of a context that can never
// be done (background(), todo(), without_cancel(), and values derived only from
// those): it is never closed and waiting on it blocks forever, like receiving from a
// nil channel in Go.
//
// The handle keeps its context alive. Thread-safe; no member throws.
class done_channel {
 public:
  // A nil channel: never closed.
  done_channel() noexcept = default;

  // True once closed (Go's `select { case <-done: ...; default: }`). Lock-free. When it
  // returns true, the context's err() is already non-nil (and vice versa).
  bool is_closed() const noexcept;

  // True for the nil channel.
  bool is_nil() const noexcept { return !node_; }

  // Blocks until closed (a task parks; a thread blocks). On a nil channel, blocks
  // forever.
  void wait() const noexcept;

  // Blocks until closed or `deadline` passes, whichever comes first; returns
  // is_closed() (true if closed). Never times out early. Returns at once when
  // already closed or when the deadline has passed.
  bool wait_until(time_point deadline) const noexcept;

  // wait_until(now + d). A zero or negative d polls.
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> d) const noexcept {
    return wait_until(deadline_after(d));
  }

  // --- Hooks for go::select (a select case receiving from done()). ---
  //
  // enqueue: under the signal's lock, if the channel is already closed returns false
  // (the case is ready: do not park on it); otherwise adds n to the signal's waiters
  // (a detail::wait_set) and returns true. On close, every node still there is claimed
  // (try_claim with n->token) under the lock and woken outside it; nodes whose waiter
  // another party already claimed are dropped. n->data is not used. On the nil
  // channel, returns true without storing n (nothing ever claims it).
  //
  // dequeue: under the signal's lock, removes n if still queued (a no-op otherwise,
  // and on the nil channel). The parker calls it for every case after park returns.
  bool enqueue(go::detail::wait_node* n) const noexcept;
  void dequeue(go::detail::wait_node* n) const noexcept;

  // Parks w — already queued by the caller on some other object, as one case of a
  // select — with a second node on this channel: w's owner returns once claimed, by
  // whoever claims it, by this channel's close (with `token`), or by `deadline`
  // (timeout_token). A channel closed already claims w itself, unless another party
  // has claimed it first (then that party's wake follows at once). The node is off the
  // channel when this returns; the caller reads w.token() to learn who won and removes
  // its other nodes. Call once per waiter, from its owner.
  void park(go::detail::waiter& w, std::uint32_t token,
            time_point deadline = time_point::max()) const noexcept;

  // Identity: the same signal (all nil channels are equal).
  friend bool operator==(const done_channel& a, const done_channel& b) noexcept { return a.node_ == b.node_; }

  // now + d, saturated at time_point::max(); used by the wait_for members.
  template <class Rep, class Period>
  static time_point deadline_after(std::chrono::duration<Rep, Period> d) noexcept {
    const time_point now = clock::now();
    if (d <= d.zero()) return now;
    if (std::chrono::duration<double>(d) >= std::chrono::duration<double>(time_point::max() - now)) {
      return time_point::max();
    }
    return now + std::chrono::ceil<duration>(d);
  }

 private:
  friend class Context;
  explicit done_channel(std::shared_ptr<internal::cancel_node> n) noexcept : node_(std::move(n)) {}
  std::shared_ptr<internal::cancel_node> node_;  // aliases the owning context's node
};

// Go's context.Context: a cheap, copyable handle to a node of the context tree. A
// default-constructed Context is background(). Copying is one atomic increment;
// nothing throws except where noted. Thread-safe (see the file comment).
class Context {
 public:
  // background().
  Context() noexcept = default;

  // Go's Done(): the channel closed when this context is done. The nil channel for a
  // context that can never be done (background, todo, without_cancel). Successive
  // calls return equal channels. Never blocks.
  done_channel done() const noexcept;

  // Go's Err(): nil while the context is not done; afterwards canceled or
  // deadline_exceeded, and the same error on every later call. Lock-free. err() is
  // non-nil if and only if done().is_closed().
  go::error err() const noexcept;

  // Go's Deadline(): when this context will be done because of a deadline (its own or
  // an ancestor's, up to the nearest without_cancel), or nullopt if none.
  std::optional<time_point> deadline() const noexcept;

  // Go's Value(key): the value bound to k by the nearest with_value on the path from
  // this context to the root, or nullptr if none. The pointee is immutable and lives
  // as long as any handle to this context (or to a context derived from it) does —
  // do not keep the pointer past the handle it came from. Lock-free, O(depth).
  template <class T>
  const T* value(const key<T>& k) const noexcept {
    for (const internal::node* n = node_.get(); n != nullptr; n = n->parent_.get()) {
      if (n->key_ == static_cast<const void*>(&k)) {
        if (auto* v = dynamic_cast<const internal::value_node<T>*>(n)) return &v->value;
      }
    }
    return nullptr;
  }

  // Blocks until the context is done (done().wait()); returns true. Blocks forever on
  // a context that can never be done.
  bool wait() const noexcept;

  // Blocks until the context is done or `deadline` passes; returns whether it is done.
  bool wait_until(time_point deadline) const noexcept;

  // Blocks until the context is done or d passes; returns whether it is done. A zero
  // or negative d polls.
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> d) const noexcept {
    return wait_until(done_channel::deadline_after(d));
  }

  // A std::stop_token that becomes stop_requested() when this context is done, for
  // std::jthread, std::condition_variable_any and std::stop_callback interop.
  //
  // The stop source is created on the first call (one allocation; may throw
  // std::bad_alloc) and shared by later calls. std::stop_callback callbacks
  // registered on the token run synchronously on the thread or task that makes the
  // context done (possibly the runtime's timer thread): keep them short and
  // non-blocking. If the context is already done, the token is already
  // stop_requested(). For a context that can never be done, returns a token with
  // stop_possible() == false. Ordering: the stop is requested after err() becomes
  // non-nil and before the tasks and threads waiting on done() are woken, so a waiter
  // returning from wait() sees the token stop_requested().
  //
  // Lifetime: the token does not keep the context alive. If every handle to the
  // context (and to contexts derived from it) is destroyed before it is done, the
  // token is never stop-requested; keep the Context alive while the token is used.
  std::stop_token stop_token() const;

  // A human-readable description of the path from the root, like Go's String():
  // "context.Background.WithCancel.WithValue(user, bob)". May throw std::bad_alloc.
  std::string to_string() const;

  // Identity: handles to the same context. Context{} == background().
  friend bool operator==(const Context& a, const Context& b) noexcept { return a.node_ == b.node_; }

  friend std::ostream& operator<<(std::ostream& os, const Context& c) { return os << c.to_string(); }

 private:
  explicit Context(std::shared_ptr<internal::node> n) noexcept : node_(std::move(n)) {}

  friend struct internal::access;

  std::shared_ptr<internal::node> node_;  // null: background()
};

namespace internal {
// Gives the implementation (and with_value) access to a Context's node.
struct access {
  static const std::shared_ptr<node>& node_of(const Context& c) noexcept { return c.node_; }
  static std::shared_ptr<node> take(Context&& c) noexcept { return std::move(c.node_); }
  static Context make(std::shared_ptr<node> n) noexcept { return Context(std::move(n)); }
};
}  // namespace internal

// Go's CancelFunc: cancels its context (err() canceled, cause() canceled) and
// everything derived from it, stops its deadline timer and unregisters it from its
// parent. Idempotent: only the first call of any cancel function of a context has an
// effect. As in Go, when it returns, the context and every context derived from it
// are done — also when another cancel (a later call, a parent's, a deadline) is
// canceling them at the same moment: the call then waits (parking a task, blocking a
// thread) until that other cancel has reached every descendant. The one exception is
// a cancel made while the same task (or thread) is already canceling — from a
// std::stop_callback (see Context::stop_token) or from a destructor that the outer
// cancel runs: it cannot wait for the cancel it runs inside, so it returns once its
// own context is done (the outer cancel still returns only when everything below it
// is done). Safe to call concurrently from any task or thread; it blocks only as long
// as other cancels of the same subtree take to finish (it may also briefly wait for
// the context's deadline timer callback if that is running concurrently). A deadline
// makes its context done on the runtime's timer thread and cancels the contexts
// derived from it from a task of its own.
// Does not throw (it may spawn after_func tasks; std::bad_alloc there terminates). Holding it keeps the context alive. A task or thread woken by the
// cancel may destroy the cancel function object even while this call is still
// returning (the call holds its own reference to the context).
using cancel_func = std::function<void()>;

// Go's CancelCauseFunc: as cancel_func, with `cause` (nil: canceled) recorded as the
// context's cause() if this call is the first to cancel it. err() is still canceled.
using cancel_cause_func = std::function<void(go::error)>;

// Go's Background(): the root of every context tree; never done, no values, no
// deadline. Equal to Context{}. Never throws, never allocates.
inline Context background() noexcept { return Context{}; }

// Go's TODO(): like background(), for code not yet decided on which context to use.
// A distinct context (todo() != background()) that differs only in to_string().
Context todo();

// Go's WithCancel: a child of parent that is done when cancel is called or when
// parent is done, whichever happens first. If parent is already done the child is
// born done with parent's err() and cause(). Throws std::bad_alloc.
std::pair<Context, cancel_func> with_cancel(Context parent);

// Go's WithCancelCause: as with_cancel, but cancel takes the cause reported by
// cause(). Throws std::bad_alloc.
std::pair<Context, cancel_cause_func> with_cancel_cause(Context parent);

// Go's Cause: the cause recorded when c (or the nearest cancelable context c derives
// its cancellation from) was first canceled — the cancel_cause_func argument, the
// *_cause deadline cause, or err() if none was given. Nil while c is not done, and
// for contexts that can never be done. Lock-free.
go::error cause(const Context& c) noexcept;

// Go's WithDeadlineCause: a child of parent that is also done, with err()
// deadline_exceeded and cause() `cause` (nil: deadline_exceeded), once `d` has passed
// (checked by a runtime timer, which fires at or after d, never before).
//  - If parent's deadline is earlier than d, returns with_cancel(parent) (its
//    deadline() is parent's); the cancel function's semantics are unchanged.
//  - If d has already passed, the child is born done with deadline_exceeded.
// Throws std::bad_alloc.
std::pair<Context, cancel_func> with_deadline_cause(Context parent, time_point d, go::error cause);

// Go's WithDeadline: with_deadline_cause(parent, d, nullptr).
inline std::pair<Context, cancel_func> with_deadline(Context parent, time_point d) {
  return with_deadline_cause(std::move(parent), d, nullptr);
}

// Go's WithTimeoutCause: with_deadline_cause(parent, now + d, cause). Durations that
// overflow the clock saturate to "never".
template <class Rep, class Period>
std::pair<Context, cancel_func> with_timeout_cause(Context parent, std::chrono::duration<Rep, Period> d,
                                                   go::error cause) {
  return with_deadline_cause(std::move(parent), done_channel::deadline_after(d), std::move(cause));
}

// Go's WithTimeout: with_deadline(parent, now + d).
template <class Rep, class Period>
std::pair<Context, cancel_func> with_timeout(Context parent, std::chrono::duration<Rep, Period> d) {
  return with_deadline_cause(std::move(parent), done_channel::deadline_after(d), nullptr);
}

// Go's WithValue: a child of parent in which value(k) is `value` (a copy owned by the
// context, immutable). Everything else (done, err, deadline, cause) is parent's.
// Throws std::bad_alloc or what T's move constructor throws.
template <class T>
Context with_value(Context parent, const key<T>& k, std::type_identity_t<T> value) {
  return internal::access::make(
      std::make_shared<internal::value_node<T>>(internal::access::take(std::move(parent)), &k, std::move(value)));
}

// Go's WithoutCancel: a context with parent's values that is never done (nil done(),
// nil err(), nil cause(), no deadline), whatever happens to parent. Contexts derived
// from it start a new cancellation tree. Throws std::bad_alloc.
Context without_cancel(Context parent);

// Go's AfterFunc: arranges for f() to run in its own task (go::spawn) once ctx is
// done; if ctx is already done, f is spawned at once (before after_func returns).
// f runs at most once, never on the canceling thread.
//
// Returns stop(): the first call that finds f not yet started unregisters it and
// returns true (f will never run); otherwise stop() returns false (f was started or
// stop was already called). stop() does not wait for a running f. For a context that
// can never be done, f never runs and the first stop() returns true.
//
// The registration keeps ctx alive until f starts or stop() is called. Throws
// std::invalid_argument if f is empty, std::bad_alloc. Thread-safe.
std::function<bool()> after_func(Context ctx, std::function<void()> f);

// A child of parent that is also done (err() canceled, cause() canceled) when `st`
// is stop-requested, through a std::stop_callback registered on st for the child's
// lifetime. If st is already stop-requested the child is born done; if
// st.stop_possible() is false the token is ignored. Throws std::bad_alloc.
Context from_stop_token(Context parent, std::stop_token st);

// from_stop_token(background(), st).
inline Context from_stop_token(std::stop_token st) { return from_stop_token(Context{}, std::move(st)); }

}  // namespace go::context
