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
//                claim the first waiters of the done signal (wait_set::claim_some);
//                detach every child into the node's detached_ list, pinning it with a
//                strong reference (a child whose last reference is already gone is
//                skipped: its destructor is about to unlink itself and it has no
//                observers left). A node with nothing detached is settled at once.
//   unlocked:    request_stop() the std::stop_source if one was handed out; wake the
//                claimed waiters, then the rest a batch at a time (detail::wake_closed:
//                claimed under mu_, woken after it; every caller of finish holds a
//                reference to the node, so the relocking is safe); stop the deadline
//                timer. Cancel functions waiting for the node to settle queue apart
//                (settle_waiters_), so a done signal's broadcast never wakes them.
//
// The winner of finish then cancels the detached children with the same err and
// cause, depth first and iteratively (an explicit stack threaded through the nodes'
// drain_up_ links, so deep trees do not grow the — possibly small — task stack);
// after_func registrations spawn f. A drain never waits for anyone.
//
// Settling is what makes Go's guarantee hold — when a cancel function returns, the
// context and every descendant are done — even when a node in between is canceled
// concurrently (by its own cancel function or its deadline). A node is "settled" when
// it and its whole subtree are done. Each won node counts what it waits for in
// pending_: 1 for its own drain, plus 1 for each detached child that is not settled
// when its drain is done with it (a child it won and descends into, or one canceled
// by someone else and still draining); such a child records the parent in
// settles_parent_. Whoever drops a node's count to zero settles it (wakes those
// waiting for it, unlinks it if its cancel function asked) and releases the
// parent's count in turn, up the tree. So a node settles only after its subtree,
// whoever drains the parts of it, and nothing in a drain blocks.
//
// A cancel function then waits (parks a task, blocks a thread) until its node is
// settled — as Go's cancel waits for a child's lock while the child's own cancel
// runs — with two exceptions, which return once the node itself is done: a cancel
// nested in another cancel of the same task (a stop_callback or stop_node reacting to
// a stop request issued by a drain, or a destructor the drain runs: its node's
// settling may depend on the outer drain, on this very stack), counted per task
// (task_slots::context_cancels; a drain may park in a destructor, and the worker's
// other tasks are not nested in it); and the deadline's cancel, which nobody awaits.
// The deadline makes its node done on the timer thread, at once, and hands the drain
// of its children to a task (the timer thread must never block, and the destructors
// a drain runs may), or drains them itself when no task would run (at exit).
//
// A child canceled through its own cancel function or deadline unlinks itself from
// reg_ once settled ("removeChild", after the children, as in Go). Locks are never
// nested: a parent's mu_ protects its children list and each child's `linked` flag; a
// node's own mu_ protects its own state.
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
  // The parent (done with err/cause, and being drained) is done with this entry:
  // cancel it, or run the after_func. A cancel entry not settled by then counts in the
  // parent's pending settling. Returns the entry as a cancel_node if this call won its
  // cancellation and the entry has detached children of its own to drain; otherwise
  // nullptr. Called with no lock held, by the drain that detached the entry.
  virtual cancel_node* parent_done(const go::error& err, const go::error& cause, cancel_node* parent) noexcept = 0;

 protected:
  ~child_hook() = default;
};

namespace {

// The cancel_node whose timer callback is running on this thread, if any.
thread_local const cancel_node* tl_firing = nullptr;

// Counts the cancels running on the calling task (or thread), in a per-task slot: a
// cancel made while another runs on the same task (from a stop callback, or from a
// destructor the drain runs) is nested and must not wait for settling (see the file
// comment). Per task, not per thread: a drain may park (a destructor it runs may),
// and other tasks of the worker are not nested in it.
struct drain_scope {
  int& depth = go::detail::task_local().context_cancels;
  drain_scope() noexcept { ++depth; }
  drain_scope(const drain_scope&) = delete;
  drain_scope& operator=(const drain_scope&) = delete;
  ~drain_scope() { --depth; }
  // Whether this is the outermost cancel of the task, the only one that may wait.
  bool outermost() const noexcept { return depth == 1; }
};

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

  // Cancels this node and its subtree; unlinks it from reg_ if remove_from_parent,
  // once settled. Returns once the node and every descendant are done, unless nested
  // in another cancel of the task (file comment): then once the node itself is.
  void cancel(const go::error& err, const go::error& cause, bool remove_from_parent) noexcept {
    drain_scope scope;
    if (finish(err, cause)) {
      // Unlinked only once settled, as Go removes a child only after canceling its
      // children: a parent's cancel that comes meanwhile must still find this node
      // among its children, and count on its settling.
      if (remove_from_parent) unlink_when_settled();
      if (detached_) drain();  // else settled already
    }
    if (scope.outermost()) wait_settled();
  }

  // done_channel support. An exclusive node's waiter has no other node and no
  // deadline (wait_set::insert_exclusive): it is never dequeued.
  bool enqueue(wait_node* n, bool exclusive = false) noexcept {
    std::lock_guard g(mu_);
    if (done_.load(std::memory_order_relaxed)) return false;
    if (exclusive) waiters_.insert_exclusive(n); else waiters_.insert(n);
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
  cancel_node* parent_done(const go::error& err, const go::error& cause, cancel_node* parent) noexcept override {
    const bool won = finish(err, cause);
    // Won with children to drain, or lost to a cancel still draining: the parent is
    // settled only after this node is.
    settle_before(parent);
    return won && detached_ ? this : nullptr;
  }

 private:
  // Marks the node done; see the file comment. Returns false if it already was.
  bool finish(const go::error& err, const go::error& cause) noexcept {
    wake_list wakes;
    std::optional<std::stop_source> ss;
    bool more_waiters;
    go::detail::wake_block* batches;
    {
      std::lock_guard g(mu_);
      if (done_.load(std::memory_order_relaxed)) return false;
      err_ = err;
      cause_ = cause ? cause : err;
      done_.store(true, std::memory_order_release);
      more_waiters = waiters_.claim_some(wakes, go::detail::wake_batch);
      batches = waiters_.take_batches();
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
      pending_.store(settled_ ? 0 : 1, std::memory_order_relaxed);  // 1: the drain
      if (stop_src_) ss = *stop_src_;
    }
    // Stop requests first, so that a waiter woken below already sees its
    // stop_token stop_requested().
    if (ss) ss->request_stop();
    go::detail::hand_over(batches);  // each worker wakes its own exclusive waiters
    go::detail::wake_closed(mu_, waiters_, wakes, more_waiters);  // our caller holds the node
    if (timer_) timer_->stop();
    return true;
  }

  // Cancels the children this node's finish detached, and theirs, depth first, with
  // this node's err and cause. Never waits: a child canceled by someone else, or one
  // descended into, counts in its parent's pending_, and the parent settles when the
  // last of them does. Runs in the task (or thread) whose finish won this node.
  void drain() noexcept {
    cancel_node* top = this;
    for (;;) {
      if (child_hook* c = top->detached_) {
        top->detached_ = c->work_next;
        c->work_next = nullptr;
        if (cancel_node* n = c->parent_done(err_, cause_, top)) {
          n->drain_up_ = top;  // descend; n keeps its pin while on the stack
          top = n;
        } else {
          std::shared_ptr<void> drop = std::move(c->pin);  // may destroy c; no lock held
        }
        continue;
      }
      if (top == this) {
        release_pending();  // the drain's own count
        return;
      }
      cancel_node* up = top->drain_up_;
      top->drain_up_ = nullptr;
      top->release_pending();
      std::shared_ptr<void> drop = std::move(top->pin);  // may destroy top; `up` is pinned
      top = up;
    }
  }

  // Called by the drain of `parent` (reg_), which detached this node and is done
  // with its finish: if this node is not settled yet, the parent counts it in its
  // pending_ and this node's settling will release it.
  void settle_before(cancel_node* parent) noexcept {
    std::shared_ptr<node> p = parent->weak_from_this().lock();  // alive: its drain runs
    std::lock_guard g(mu_);
    if (settled_ || !p) return;
    parent->pending_.fetch_add(1, std::memory_order_relaxed);
    settles_parent_ = std::move(p);
  }

  // Drops one of the node's pending counts; the last settles it and, in turn, the
  // ancestors whose last pending count it was.
  void release_pending() noexcept {
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    std::shared_ptr<node> hold;  // keeps the node being settled alive
    for (cancel_node* n = this; n;) {
      wake_list wakes;  // woken after the lock, before `hold` moves on
      std::shared_ptr<node> parent;
      bool unlink_now;
      {
        std::lock_guard g(n->mu_);
        n->settled_ = true;
        n->settle_waiters_.claim_all(wakes);
        parent = std::move(n->settles_parent_);
        unlink_now = n->unlink_when_settled_;
      }
      if (unlink_now) n->unlink();
      wakes.wake_all();
      auto* p = static_cast<cancel_node*>(parent.get());
      n = p && p->pending_.fetch_sub(1, std::memory_order_acq_rel) == 1 ? p : nullptr;
      hold = std::move(parent);
    }
  }

  // The cancel function's remove_from_parent: unlink now if settled, else at settling.
  void unlink_when_settled() noexcept {
    {
      std::lock_guard g(mu_);
      if (!settled_) {
        unlink_when_settled_ = true;
        return;
      }
    }
    unlink();
  }

  // Blocks (parks a task) until the node, done already, is settled.
  void wait_settled() noexcept {
    go::detail::waiter w;
    wait_node n;
    n.w = &w;
    {
      std::lock_guard g(mu_);
      if (settled_) return;
      settle_waiters_.push_back(&n);
    }
    w.park();
  }

  void unlink() noexcept {
    if (reg_) reg_->detach(this);
  }

  // The timer's callback, on the timer thread, which must never block. The node is
  // made done right here — err() set, stop requested (stop callbacks run here, as
  // Context::stop_token documents), waiters woken — so the deadline takes effect at
  // once, under load and while the program exits. Its children are canceled by a
  // task, as Go's deadline runs in a goroutine of its own: their drain drops the last
  // references to contexts and after_func registrations, whose destructors may block.
  // Nobody awaits this cancel, and cancels from stop callbacks here are nested (the
  // drain_scope): nothing here waits for settling.
  void on_deadline() noexcept {
    const cancel_node* prev = tl_firing;
    tl_firing = this;
    {
      std::shared_ptr<node> self = weak_from_this().lock();
      drain_scope scope;
      if (self && finish(deadline_exceeded, deadline_cause_)) {
        if (!detached_) {
          unlink();  // settled already
        } else if (!go::detail::runtime_exiting()) {
          try {
            go::spawn([self = std::move(self)] {
              auto* n = static_cast<cancel_node*>(self.get());
              drain_scope scope;  // cancels from stop callbacks in the drain are nested
              n->unlink_when_settled();
              n->drain();
            });
          } catch (...) {  // no memory for the task: drain here (detached children keep us alive)
            unlink_when_settled();
            drain();
          }
        } else {  // exiting: no task would run; drain here
          unlink_when_settled();
          drain();
        }
      }
      // `self`, if still held, may be the last reference: ~cancel_node sees tl_firing == this.
    }
    tl_firing = prev;
  }

  const kind kind_;
  cancel_node* reg_ = nullptr;  // registered with (null: never canceled by a parent); fixed

  mutable spin_mutex mu_;
  std::atomic<bool> done_{false};
  go::error err_;    // written once, under mu_, before done_ is set
  go::error cause_;  // likewise
  go::detail::wait_set waiters_;    // done-signal waiters; under mu_
  wait_queue settle_waiters_;       // cancel functions waiting for settling; under mu_
  child_hook* children_ = nullptr;  // under mu_
  std::size_t nchildren_ = 0;       // under mu_
  std::optional<std::stop_source> stop_src_;  // under mu_; created on demand
  bool settled_ = false;                      // under mu_; done, and so is every descendant
  bool unlink_when_settled_ = false;          // under mu_; the winning cancel function's removeChild
  std::atomic<int> pending_{0};               // the drain (1) + unsettled children counted in
  std::shared_ptr<node> settles_parent_;      // under mu_; whose pending_ settling releases
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

  cancel_node* parent_done(const go::error&, const go::error&, cancel_node*) noexcept override {
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
  if (!node_) w.park();  // the nil channel: nothing ever wakes us, park never returns
  // Not exclusive for now: a worker wakes its batches only while fewer than 64 fibers
  // are ready, so 64+ fibers that stay ready starve them (review of bd7cdf5).
  if (!node_->enqueue(&n)) return;
  w.park();
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
