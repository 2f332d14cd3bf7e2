// context.cpp — Go's context package (see go/context.hpp for the API).
//
// The tree
// --------
// Every context but background() is a node (internal::node) holding a strong
// reference to its parent (parent_). Three kinds exist:
//
//   value_node      with_value; transparent for cancellation.
//   plain nodes     todo() (a root) and without_cancel (cuts the cancellation chain:
//                   done_src_ = null, no deadline, but parent_ kept for values).
//   cancel_node     with_cancel*, with_deadline*/with_timeout* (which add a timer) and
//                   from_stop_token (which adds a std::stop_callback). It owns the
//                   context's cancellation state and done signal.
//
// Every node caches done_src_, its nearest cancelable ancestor-or-self (null when
// it can never be done), and its effective deadline; both are fixed at
// construction. Context::done()/err()/cause() simply consult done_src_.
//
// Propagation
// -----------
// A new cancel_node (or an after_func registration) registers with reg_ =
// parent->done_src_ ("propagateCancel"): under reg_->mu_, if reg_ is already done the
// child is born done with reg_'s err and cause; otherwise it is linked into reg_'s
// intrusive children list. Canceling a node ("finish"):
//
//   under mu_:   if done, stop (first cancel wins). Record err_ and cause_ (cause
//                defaults to err), then done_ = true (release; err_/cause_ are never
//                written again, so readers that acquire done_ read them lock-free);
//                claim every waiter of the done signal (wait_queue::claim_all);
//                detach every child into the node's detached_ list, pinning it with a
//                strong reference (a child whose last reference is already gone is
//                skipped: its destructor is about to unlink itself and it has no
//                observers left). A node with nothing detached is settled at once.
//   unlocked:    request_stop() the std::stop_source if one was handed out; wake the
//                claimed waiters; stop the deadline timer.
//
// The winner of finish then cancels the detached children with the same err and
// cause, depth first and iteratively (an explicit stack threaded through the nodes'
// drain_up_ links, so deep trees do not grow the — possibly small — task stack);
// after_func registrations spawn f. A node whose detached list is used up is
// "settled": it and its whole subtree are done. Settling wakes whoever waits for it.
//
// Settling is what makes Go's guarantee hold — when a cancel function returns, the
// context and every descendant are done — even when an intermediate node is
// canceled concurrently (by its own cancel function or its deadline): whoever loses
// finish on a node waits until that node is settled, as Go's cancel waits for the
// child's lock while the child's own cancel runs. These waits point down the tree (a
// drain waits only for drains of nodes below the ones it won), so they cannot form a
// cycle, with two exceptions, which therefore do not wait: the deadline timer's own
// cancel when it loses (the winner may be waiting in timer::stop for that very
// callback, and nobody awaits the timer's cancel), and a cancel made while the same
// task or thread is already canceling (a stop_callback or stop_node reacting to a
// stop request issued by a drain: it may cancel an ancestor that the outer drain, on
// this very stack, has won but not settled). The second rule is tracked per thread
// (tl_drain_depth) and cleared while a drain parks, so that other tasks of the
// thread are not taken for nested cancels.
//
// A child canceled through its own cancel function or deadline unlinks itself from
// reg_ once settled ("removeChild"). Locks are never nested: a parent's mu_ protects
// its children list and each child's `linked` flag; a node's own mu_ protects its own
// state.
// Registration and cancellation of a parent serialize on the parent's mu_, so a
// child is either linked before the parent's cancel (and canceled by it) or sees the
// parent done (and is born done). No lock is held while waking waiters, spawning
// after_func tasks, running stop callbacks or stopping timers.
//
// Ownership
// ---------
// child -> parent links are strong; the parent's children list is weak for cancel
// nodes (the parent takes a temporary strong reference only while canceling them),
// so dropping every handle to a derived context destroys it, and its destructor
// unlinks it from reg_. after_func registrations are the exception: the list owns
// them (self_), and they own their context, until they fire or are stopped — f must
// run when the context is done even if no one else holds it, as in Go.
//
// Timers: a deadline node owns one go::detail::timer whose callback holds a strong
// reference to the node while canceling it. If dropping that reference destroys the
// node from within its own timer callback, the timer object itself cannot be freed
// there (the timer thread touches it after the callback returns), so its deletion is
// handed to a task; ~timer then waits for the callback to finish.
#include "go/context.hpp"

#include <atomic>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <vector>

#include "go/detail/timer.hpp"
#include "go/runtime.hpp"

namespace go::context {
namespace internal {

using go::detail::spin_mutex;
using go::detail::wait_node;
using go::detail::wait_queue;
using go::detail::wake_list;

// An entry in a cancel_node's children list: a derived cancel_node or an after_func
// registration. prev, next and linked are protected by the registered parent's mu_;
// work_next and pin belong to the one drain that detached the entry.
struct child_hook {
  child_hook* prev = nullptr;
  child_hook* next = nullptr;
  bool linked = false;
  child_hook* work_next = nullptr;  // next in the detaching node's detached_ list
  std::shared_ptr<void> pin;        // keeps the entry alive until its drain is done with it

  // Under the parent's lock, while detaching: store a strong reference to the
  // entry in `pin`; false if the entry is being destroyed (skip it).
  virtual bool pin_self() noexcept = 0;
  // The parent is done with err/cause: cancel this entry, or run the after_func.
  // Returns the entry as a cancel_node if this call won its cancellation and the
  // entry has detached children of its own to drain; otherwise nullptr. Called with no lock
  // held, by the drain that detached the entry.
  virtual cancel_node* parent_done(const go::error& err, const go::error& cause) noexcept = 0;

 protected:
  ~child_hook() = default;
};

namespace {

// The cancel_node whose timer callback is running on this thread, if any.
thread_local const cancel_node* tl_firing = nullptr;

// How many cancels are running on this thread's current task (or thread): above
// zero, a new cancel is nested in another one (a stop callback) and must not wait for
// settling (see the file comment).
thread_local int tl_drain_depth = 0;

struct drain_scope {
  int outer = tl_drain_depth++;
  drain_scope() = default;
  drain_scope(const drain_scope&) = delete;
  drain_scope& operator=(const drain_scope&) = delete;
  ~drain_scope() { tl_drain_depth = outer; }
};

// Inside a drain_scope: whether it is the outermost cancel of this task (or thread),
// the only one that may wait for others' drains.
bool outermost_cancel() noexcept { return tl_drain_depth == 1; }

}  // namespace

node::node(std::shared_ptr<node> parent) noexcept : parent_(std::move(parent)) {
  if (parent_) {
    done_src_ = parent_->done_src_;
    has_deadline_ = parent_->has_deadline_;
    deadline_ = parent_->deadline_;
  }
}

// Dropping the last handle to the leaf of a long chain would destroy the chain
// recursively, one stack frame per ancestor (a chain of 10,000 overflows a task's
// stack). So ancestors are released in a loop instead: the outermost ~node of a task
// (or thread) keeps a list of parents still to release, and any ~node that runs inside
// it on the same task (for an ancestor, or for an unrelated context destroyed along
// the way, say one stored as a value) appends its parent there and returns. The list
// belongs to one task: if the destruction of a node parks the task (a deadline timer's
// stop waits for its callback) and another task on the same thread destroys contexts
// meanwhile, that task releases its own parents in place, as it would anyway. Only
// when the list cannot grow (out of memory) is a parent released in place.
namespace {
struct releasing {
  const go::detail::fiber* owner;  // the task (fiber) whose outermost ~node runs the loop; null on a thread
  std::vector<std::shared_ptr<node>>* pending;
};
thread_local releasing tl_releasing{nullptr, nullptr};
}  // namespace

node::~node() {
  if (!parent_) return;
  const go::detail::fiber* self = go::detail::current_fiber();
  if (tl_releasing.pending != nullptr) {
    if (tl_releasing.owner != self) return;  // another task's loop: parent_ is released in place
    try {
      tl_releasing.pending->push_back(std::move(parent_));
    } catch (...) {
      // out of memory: parent_ is released in place by the member's destructor
    }
    return;
  }
  std::vector<std::shared_ptr<node>> pending;
  tl_releasing = {self, &pending};
  std::shared_ptr<node> next = std::move(parent_);
  for (;;) {
    next.reset();  // may destroy it, which appends its parent to `pending`
    if (pending.empty()) break;
    next = std::move(pending.back());
    pending.pop_back();
  }
  tl_releasing = {nullptr, nullptr};
}

class cancel_node : public node, public child_hook {
 public:
  enum class kind { cancel, deadline, stop_token };

  cancel_node(std::shared_ptr<node> parent, kind k) noexcept : node(std::move(parent)), kind_(k) {
    reg_ = done_src_;  // the parent's nearest cancelable context
    done_src_ = this;
  }

  ~cancel_node() override {
    if (timer_) {
      if (tl_firing == this) {
        // Destroyed from within our own timer callback: the timer must outlive the
        // callback's return. A task deletes it; ~timer waits for the callback.
        timer_->stop();
        go::spawn([t = std::move(timer_)] {});
      } else {
        timer_->stop();  // waits for a running callback, which finds us dying and returns
      }
    }
    unlink();
  }

  std::string describe() const override {
    switch (kind_) {
      case kind::cancel:
        return ".WithCancel";
      case kind::stop_token:
        return ".WithStopToken";
      case kind::deadline: {
        auto left = std::chrono::duration<double>(deadline_ - clock::now()).count();
        std::ostringstream os;
        os << ".WithDeadline(" << left << "s)";
        return os.str();
      }
    }
    return {};
  }

  bool is_done() const noexcept { return done_.load(std::memory_order_acquire); }
  go::error err() const noexcept { return is_done() ? err_ : go::error(); }
  go::error cause() const noexcept { return is_done() ? cause_ : go::error(); }

  // Registers h with this node, or returns true (h not linked) if this node is done.
  bool attach(child_hook* h) noexcept {
    std::lock_guard g(mu_);
    if (done_.load(std::memory_order_relaxed)) return true;
    h->prev = nullptr;
    h->next = children_;
    if (children_) children_->prev = h;
    children_ = h;
    h->linked = true;
    ++nchildren_;
    return false;
  }

  // Unlinks h if linked; returns whether it was. Caller holds mu_.
  bool detach_locked(child_hook* h) noexcept {
    if (!h->linked) return false;
    if (h->prev) h->prev->next = h->next; else children_ = h->next;
    if (h->next) h->next->prev = h->prev;
    h->prev = h->next = nullptr;
    h->linked = false;
    --nchildren_;
    return true;
  }

  // Runs f() under mu_ (f must be short and must not block).
  template <class F>
  void lock_and(F&& f) noexcept {
    std::lock_guard g(mu_);
    f();
  }

  // Unlinks h if linked; returns whether it was.
  bool detach(child_hook* h) noexcept {
    std::lock_guard g(mu_);
    return detach_locked(h);
  }

  std::size_t num_children() const noexcept {
    std::lock_guard g(mu_);
    return nchildren_;
  }

  // Registers this new node with reg_ (Go's propagateCancel). Before the node is
  // shared with anyone else but after it is owned by a shared_ptr.
  void propagate() noexcept {
    if (!reg_) return;
    if (reg_->attach(this)) finish(reg_->err_, reg_->cause_);  // no children yet: settled at once
  }

  // Cancels this node and its subtree; unlinks it from reg_ if remove_from_parent.
  // Returns once the node and every descendant are done (see the file comment for
  // the two cases that return as soon as the node itself is done: a nested cancel,
  // and a losing deadline timer, which passes may_wait = false).
  void cancel(const go::error& err, const go::error& cause, bool remove_from_parent,
              bool may_wait = true) noexcept {
    drain_scope scope;
    if (!finish(err, cause)) {
      if (may_wait && outermost_cancel()) wait_settled();
      return;
    }
    if (detached_) drain();  // else settled already
    // Unlinked only now, as in Go: a parent's cancel that comes meanwhile must still
    // find this node among its children, and wait for it to be settled.
    if (remove_from_parent) unlink();
  }

  // done_channel support.
  bool enqueue(wait_node* n) noexcept {
    std::lock_guard g(mu_);
    if (done_.load(std::memory_order_relaxed)) return false;
    waiters_.push_back(n);
    return true;
  }
  void dequeue(wait_node* n) noexcept {
    std::lock_guard g(mu_);
    waiters_.remove(n);
  }

  std::stop_token stop_token() {
    std::stop_source fresh;  // allocates outside the lock
    std::stop_source src(std::nostopstate);
    bool fire;
    {
      std::lock_guard g(mu_);
      if (!stop_src_) stop_src_.emplace(std::move(fresh));
      src = *stop_src_;
      fire = done_.load(std::memory_order_relaxed);
    }
    if (fire) src.request_stop();
    return src.get_token();
  }

  // Deadline support: records the deadline and, if with_timer, creates the (not yet
  // armed) timer. Called before the node is registered with its parent.
  void set_deadline(time_point d, go::error cause, bool with_timer) {
    deadline_ = d;
    has_deadline_ = true;
    deadline_cause_ = std::move(cause);
    if (!with_timer || d == time_point::max()) return;  // never fires: no heap slot
    timer_ = std::make_unique<go::detail::timer>([this] { on_deadline(); });
  }

  void arm_timer() noexcept {
    if (!timer_) return;
    timer_->start(deadline_);  // idle: created with the node, armed once
    // A cancel that raced with reset may have stopped the timer before it was armed.
    if (is_done()) timer_->stop();
  }

  const go::error& deadline_cause() const noexcept { return deadline_cause_; }

  // child_hook
  bool pin_self() noexcept override {
    std::shared_ptr<node> self = weak_from_this().lock();
    if (!self) return false;
    pin = std::move(self);
    return true;
  }
  cancel_node* parent_done(const go::error& err, const go::error& cause) noexcept override {
    if (finish(err, cause)) return detached_ ? this : nullptr;  // a leaf is settled already
    if (outermost_cancel()) wait_settled();  // a nested drain must not wait (file comment)
    return nullptr;
  }

 private:
  // Marks the node done; see the file comment. Returns false if it already was.
  bool finish(const go::error& err, const go::error& cause) noexcept {
    wake_list wakes;
    std::optional<std::stop_source> ss;
    {
      std::lock_guard g(mu_);
      if (done_.load(std::memory_order_relaxed)) return false;
      err_ = err;
      cause_ = cause ? cause : err;
      done_.store(true, std::memory_order_release);
      waiters_.claim_all(wakes);
      for (child_hook* c = children_; c != nullptr;) {
        child_hook* next = c->next;
        c->prev = c->next = nullptr;
        c->linked = false;
        if (c->pin_self()) {
          c->work_next = detached_;
          detached_ = c;
        }
        c = next;
      }
      children_ = nullptr;
      nchildren_ = 0;
      settled_ = detached_ == nullptr;
      if (stop_src_) ss = *stop_src_;
    }
    // Stop requests first, so that a waiter woken below already sees its
    // stop_token stop_requested().
    if (ss) ss->request_stop();
    wakes.wake_all();
    if (timer_) timer_->stop();
    return true;
  }

  // Cancels the children this node's finish detached, and theirs, depth first, with
  // this node's err and cause; settles each node once its detached list is used up.
  // Runs in the task (or thread) whose finish won this node, inside its drain_scope.
  void drain() noexcept {
    cancel_node* top = this;
    for (;;) {
      if (child_hook* c = top->detached_) {
        top->detached_ = c->work_next;
        c->work_next = nullptr;
        if (cancel_node* n = c->parent_done(err_, cause_)) {
          n->drain_up_ = top;  // descend; n keeps its pin while on the stack
          top = n;
        } else {
          std::shared_ptr<void> drop = std::move(c->pin);  // may destroy c; no lock held
        }
        continue;
      }
      top->settle();
      if (top == this) return;
      cancel_node* up = top->drain_up_;
      top->drain_up_ = nullptr;
      std::shared_ptr<void> drop = std::move(top->pin);  // may destroy top; `up` is pinned
      top = up;
    }
  }

  // Marks the node settled and wakes those waiting for it.
  void settle() noexcept {
    wake_list wakes;
    std::lock_guard g(mu_);
    settled_ = true;
    waiters_.claim_all(wakes);
  }

  // Blocks (parks a task) until the node, done already, is settled.
  void wait_settled() noexcept {
    go::detail::waiter w;
    wait_node n;
    n.w = &w;
    {
      std::lock_guard g(mu_);
      if (settled_) return;
      waiters_.push_back(&n);  // done: the queue now holds only settle waiters
    }
    const int depth = std::exchange(tl_drain_depth, 0);  // other tasks of this thread are not nested
    w.park();
    tl_drain_depth = depth;
  }

  void unlink() noexcept {
    if (reg_) reg_->detach(this);
  }

  void on_deadline() noexcept {
    const cancel_node* prev = tl_firing;
    tl_firing = this;
    {
      std::shared_ptr<node> self = weak_from_this().lock();
      if (self) cancel(deadline_exceeded, deadline_cause_, true, /*may_wait=*/false);
      // `self` may be the last reference: ~cancel_node sees tl_firing == this.
    }
    tl_firing = prev;
  }

  const kind kind_;
  cancel_node* reg_ = nullptr;  // registered with (null: never canceled by a parent); fixed

  mutable spin_mutex mu_;
  std::atomic<bool> done_{false};
  go::error err_;    // written once, under mu_, before done_ is set
  go::error cause_;  // likewise
  wait_queue waiters_;              // done-signal waiters; under mu_
  child_hook* children_ = nullptr;  // under mu_
  std::size_t nchildren_ = 0;       // under mu_
  std::optional<std::stop_source> stop_src_;  // under mu_; created on demand
  bool settled_ = false;                      // under mu_; done, and so is every descendant
  child_hook* detached_ = nullptr;            // children left to cancel; the winning drain's
  cancel_node* drain_up_ = nullptr;           // where the drain returns once this node is settled

  std::unique_ptr<go::detail::timer> timer_;  // deadline nodes; fixed once created
  go::error deadline_cause_;                  // fixed once created
};

namespace {

// todo() and without_cancel().
class plain_node final : public node {
 public:
  plain_node(std::shared_ptr<node> parent, const char* name) noexcept : node(std::move(parent)), name_(name) {
    done_src_ = nullptr;
    has_deadline_ = false;
    deadline_ = {};
  }
  std::string describe() const override { return name_; }

 private:
  const char* name_;
};

// from_stop_token's node: a cancel_node plus the stop_callback that cancels it.
class stop_node final : public cancel_node {
 public:
  struct on_stop {
    stop_node* self;
    void operator()() const noexcept {
      // Runs on the requesting thread, or inside emplace() below. If the node is being
      // destroyed, its ~stop_callback waits for us: just return.
      std::shared_ptr<node> keep = self->weak_from_this().lock();
      if (keep) self->cancel(canceled, nullptr, true);
      // Dropping `keep` may destroy the node and this callback; the standard allows
      // destroying a stop_callback from within its own invocation.
    }
  };

  explicit stop_node(std::shared_ptr<node> parent) noexcept : cancel_node(std::move(parent), kind::stop_token) {}

  void listen(std::stop_token st) { cb_.emplace(std::move(st), on_stop{this}); }

 private:
  std::optional<std::stop_callback<on_stop>> cb_;  // destroyed first
};

// An after_func registration.
class after_entry final : public child_hook {
 public:
  explicit after_entry(std::function<void()> f) noexcept : f_(std::move(f)) {}

  bool pin_self() noexcept override {
    pin = std::move(self_);
    return pin != nullptr;
  }

  cancel_node* parent_done(const go::error&, const go::error&) noexcept override {
    fire();
    return nullptr;
  }

  void fire() noexcept {
    if (once_.exchange(true, std::memory_order_acq_rel)) return;
    go::spawn(std::move(f_));
  }

  bool stop() noexcept {
    if (once_.exchange(true, std::memory_order_acq_rel)) return false;
    std::shared_ptr<void> self;  // released after the lock
    if (owner_) {
      // self_ is protected by the owner's lock, like `linked`.
      owner_->lock_and([&] {
        if (owner_->detach_locked(this)) self = std::move(self_);
      });
    }
    f_ = nullptr;
    return true;
  }

  std::shared_ptr<cancel_node> owner_;  // aliases the context's node; null: never done
  std::shared_ptr<after_entry> self_;   // the registration's ownership while linked

 private:
  std::atomic<bool> once_{false};
  std::function<void()> f_;
};

}  // namespace

std::shared_ptr<node> todo_node() {
  static const std::shared_ptr<node> n = std::make_shared<plain_node>(nullptr, "context.TODO");
  return n;
}

std::size_t num_children(const Context& ctx) {
  const auto& n = access::node_of(ctx);
  return n && n->done_src_ ? n->done_src_->num_children() : 0;
}

}  // namespace internal

// ---------------------------------------------------------------------------------

using internal::access;
using internal::cancel_node;

bool done_channel::is_closed() const noexcept { return node_ && node_->is_done(); }

bool done_channel::enqueue(go::detail::wait_node* n) const noexcept { return node_ ? node_->enqueue(n) : true; }

void done_channel::dequeue(go::detail::wait_node* n) const noexcept {
  if (node_) node_->dequeue(n);
}

void done_channel::wait() const noexcept {
  go::detail::waiter w;
  go::detail::wait_node n;
  n.w = &w;
  if (!enqueue(&n)) return;
  w.park();  // on the nil channel nothing ever wakes us
}

void done_channel::park(go::detail::waiter& w, std::uint32_t token, time_point deadline) const noexcept {
  go::detail::wait_node n;
  n.w = &w;
  n.token = token;
  if (!enqueue(&n)) w.notify(token);  // closed: the wake returns park at once
  if (deadline == time_point::max()) w.park(); else w.park_until(deadline);
  dequeue(&n);
}

bool done_channel::wait_until(time_point deadline) const noexcept {
  if (is_closed()) return true;
  if (deadline <= clock::now()) return false;
  go::detail::waiter w;
  go::detail::wait_node n;
  n.w = &w;
  if (!enqueue(&n)) return true;
  if (!w.park_until(deadline)) dequeue(&n);  // timed out: we may still be queued
  return is_closed();
}

done_channel Context::done() const noexcept {
  if (!node_ || !node_->done_src_) return done_channel();
  return done_channel(std::shared_ptr<cancel_node>(node_, node_->done_src_));
}

go::error Context::err() const noexcept {
  return node_ && node_->done_src_ ? node_->done_src_->err() : go::error();
}

std::optional<time_point> Context::deadline() const noexcept {
  if (node_ && node_->has_deadline_) return node_->deadline_;
  return std::nullopt;
}

bool Context::wait() const noexcept {
  done().wait();
  return true;
}

bool Context::wait_until(time_point deadline) const noexcept { return done().wait_until(deadline); }

std::stop_token Context::stop_token() const {
  if (!node_ || !node_->done_src_) return {};
  return node_->done_src_->stop_token();
}

std::string Context::to_string() const {
  std::vector<const internal::node*> path;
  for (const internal::node* n = node_.get(); n; n = n->parent_.get()) path.push_back(n);
  std::string s;
  // A path from todo() starts with todo's own name.
  if (path.empty() || path.back() != internal::todo_node().get()) s = "context.Background";
  for (auto it = path.rbegin(); it != path.rend(); ++it) s += (*it)->describe();
  return s;
}

Context todo() { return access::make(internal::todo_node()); }

go::error cause(const Context& c) noexcept {
  const auto& n = access::node_of(c);
  return n && n->done_src_ ? n->done_src_->cause() : go::error();
}

namespace {

// Cancel functions work on a copy of their node reference: a waiter woken by the
// cancel may destroy the very std::function being invoked (and with it the captured
// reference) while the cancel is still running.
std::shared_ptr<cancel_node> pinned(const std::shared_ptr<cancel_node>& n) noexcept { return n; }

std::shared_ptr<cancel_node> new_cancel_node(Context parent) {
  auto n = std::make_shared<cancel_node>(access::take(std::move(parent)), cancel_node::kind::cancel);
  n->propagate();
  return n;
}

}  // namespace

std::pair<Context, cancel_func> with_cancel(Context parent) {
  auto n = new_cancel_node(std::move(parent));
  cancel_func cancel = [n] { pinned(n)->cancel(canceled, nullptr, true); };
  return {access::make(std::move(n)), std::move(cancel)};
}

std::pair<Context, cancel_cause_func> with_cancel_cause(Context parent) {
  auto n = new_cancel_node(std::move(parent));
  cancel_cause_func cancel = [n](go::error cause) { pinned(n)->cancel(canceled, cause, true); };
  return {access::make(std::move(n)), std::move(cancel)};
}

std::pair<Context, cancel_func> with_deadline_cause(Context parent, time_point d, go::error cause) {
  if (auto cur = parent.deadline(); cur && *cur < d) {
    // The current deadline is already sooner than the new one.
    return with_cancel(std::move(parent));
  }
  auto n = std::make_shared<cancel_node>(access::take(std::move(parent)), cancel_node::kind::deadline);
  const bool passed = d <= clock::now();
  n->set_deadline(d, std::move(cause), !passed);
  n->propagate();
  if (passed) {
    n->cancel(deadline_exceeded, n->deadline_cause(), true);
    return {access::make(n), [n] { pinned(n)->cancel(canceled, nullptr, false); }};
  }
  n->arm_timer();
  return {access::make(n), [n] { pinned(n)->cancel(canceled, nullptr, true); }};
}

Context without_cancel(Context parent) {
  return access::make(std::make_shared<internal::plain_node>(access::take(std::move(parent)), ".WithoutCancel"));
}

Context from_stop_token(Context parent, std::stop_token st) {
  auto n = std::make_shared<internal::stop_node>(access::take(std::move(parent)));
  n->propagate();
  if (st.stop_possible()) n->listen(std::move(st));  // runs the callback now if already requested
  return access::make(std::move(n));
}

std::function<bool()> after_func(Context ctx, std::function<void()> f) {
  if (!f) throw std::invalid_argument("go::context::after_func: empty function");
  auto e = std::make_shared<internal::after_entry>(std::move(f));
  const auto& n = access::node_of(ctx);
  if (n && n->done_src_) {
    e->owner_ = std::shared_ptr<cancel_node>(n, n->done_src_);
    e->self_ = e;
    if (e->owner_->attach(e.get())) {  // already done: run f now
      e->self_.reset();
      e->fire();
    }
  }
  return [e] { return e->stop(); };
}

}  // namespace go::context
