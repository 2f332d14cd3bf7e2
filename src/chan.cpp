// chan.cpp — channels and select (go/chan.hpp), after Go's runtime/chan.go and
// runtime/select.go, on the runtime's parking primitive (go/detail/waiter.hpp).
//
// Representation. A channel is a chan_base (Go's hchan): a spin_mutex, a ring buffer of
// cap_ slots (count_ values starting at recvx_), a closed flag, and two wait queues:
//
//   recvq_  receivers blocked on an empty channel; node->data is the receiver's
//           std::optional<T> (on its stack) to emplace the value into;
//   sendq_  senders blocked on a full channel; node->data is the sender's T (on its
//           stack) to move from. close() sets it to null to tell the sender that it
//           was woken by close (Go's sudog.success == false).
//
// Every node belongs to a waiter (the blocked task or thread). A blocked select has one
// waiter and one node per case, in as many queues, with token = case index + 1.
//
// Invariants (under mu_):
//   * count_ <= cap_; if count_ > 0 then recvq_ holds no claimable node (a value is
//     never buffered while a receiver waits); if count_ < cap_ then sendq_ holds no
//     claimable node; for cap_ == 0 at most one of the queues holds claimable nodes.
//     ("Claimable": queues may also hold stale nodes of selects that another case
//     already won; they are dropped by whoever pops them — claim_front — or removed
//     by their own select after it wakes.)
//   * once closed_, no node is ever added to either queue; close() empties both
//     (the receivers a batch at a time, see Close).
//   * a node's data is written only by the party that claimed its waiter, between the
//     claim and the wake; the waiter reads it only after park returns.
//
// Send (chansend): closed → throw; a claimable receiver → move the value straight into
// its slot (the buffer is empty then, so FIFO holds), wake it; buffer space → enqueue
// the value; non-blocking → fail; else park in sendq_ with data = &value.
//
// Receive (chanrecv): closed and empty → "closed" (dst stays empty); a claimable
// sender → for cap_ == 0 take its value directly; otherwise the buffer is full: take
// the head and move the sender's value to the tail (so its value stays behind the
// earlier ones — FIFO); wake it; a buffered value → take it; non-blocking → fail;
// else park in recvq_ with data = dst.
//
// Close: mark closed, claim every sender (data = null) and the first receivers (their
// optionals stay empty: closed), wake them after unlocking, then claim and wake the
// remaining receivers a batch at a time (detail::wake_closed: each node is touched
// while it is still in the cache, which matters when thousands wait).
//
// Lifetime: every waker claims under mu_ and wakes after unlocking (wake_list), and
// touches nothing of the woken party afterwards. The channel itself stays alive during
// an operation because the caller holds a handle — and during close(), which relocks
// after waking, because close() copies the handle's reference first.
//
// Select (selectgo). With cases c[0..n):
//   1. Order: a random permutation of the cases (pollorder: uniform choice among ready
//      cases) and the distinct channels sorted by address (lockorder: a global order,
//      so two selects locking overlapping sets cannot deadlock).
//   2. Poll in pollorder, each case under its own channel's lock only (a fast path:
//      one lock when something is ready): the first case that can proceed does so
//      exactly like send/recv above (a done channel is ready once closed); unlock,
//      wake the counterpart, return it. None ready: with a default case, return it.
//      Otherwise lock every channel in lockorder and poll again in pollorder (a case
//      may have become ready meanwhile; with all locks held, nothing changes until we
//      are enqueued everywhere).
//   3. (Default: handled in 2; never reached with a default case.)
//   4. Enqueue one node per case (token i+1) in its channel's queue — a done channel
//      through done_channel::enqueue, which takes the signal's own lock (channel locks
//      are always taken before done-signal locks, never the other way, and done signals
//      never take channel locks). If a done channel turns out to be closed by then,
//      the select claims itself with that case's token (or, if someone else claimed
//      it meanwhile, waits for them). Unlock all and park.
//   5. Woken (or self-claimed): the token names the winning case; the counterpart has
//      already transferred the data (or the channel was closed). Lock all again and
//      remove the remaining nodes from their queues (stale ones may already have been
//      dropped), unlock. A send case woken by close throws.
// The nodes live on the select's stack; step 5 guarantees no queue refers to them when
// select returns.
//
// Timer channels (timer_chan_hooks, src/time.cpp). A one-shot timer's channel gets its
// value lazily, as in Go 1.23 (chan.go's c.timer): a receive, a select's poll of it in
// 2a, and size() first call deliver_due (no lock held), which sends a due value; a
// receive or select about to park calls block after unlocking (the runtime timer is
// armed while it waits) and unblock once woken.
#include "go/chan.hpp"

#include <algorithm>
#include <cstdint>
#include <mutex>

namespace go::detail {

namespace {

const char* const msg_send_closed = "send on closed channel";
const char* const msg_close_closed = "close of closed channel";

// A per-thread xorshift generator for select's poll order (Go's cheaprand).
std::uint32_t cheaprand() noexcept {
  thread_local std::uint64_t s = 0;
  if (s == 0) s = reinterpret_cast<std::uintptr_t>(&s) * 0x9E3779B97F4A7C15ull | 1;
  s ^= s << 13;
  s ^= s >> 7;
  s ^= s << 17;
  return static_cast<std::uint32_t>(s >> 32);
}

// Uniform in [0, n) (Lemire's multiply-shift; the bias is negligible for n <= 64).
std::uint32_t cheaprandn(std::uint32_t n) noexcept {
  return static_cast<std::uint32_t>((static_cast<std::uint64_t>(cheaprand()) * n) >> 32);
}

}  // namespace

chan_base::~chan_base() {
  for (std::size_t i = 0; i < count_; ++i) ops_->destroy(slot((recvx_ + i) % cap_));
}

void chan_base::put_locked(void* val) noexcept {
  std::size_t i = recvx_ + count_;
  if (i >= cap_) i -= cap_;
  ops_->construct(slot(i), val);
  ++count_;
}

void chan_base::take_locked(void* dst) noexcept {
  unsigned char* p = slot(recvx_);
  ops_->emplace(dst, p);
  ops_->destroy(p);
  if (++recvx_ == cap_) recvx_ = 0;
  --count_;
}

bool chan_base::send(void* val, bool block) {
  waiter w;
  wait_node node;
  wait_node* peer;
  {
    std::lock_guard lock(mu_);
    if (closed_) throw channel_error(msg_send_closed);
    if ((peer = recvq_.claim_front()) == nullptr) {
      if (count_ < cap_) {
        put_locked(val);
        return true;
      }
      if (!block) return false;
      node.w = &w;
      node.data = val;
      sendq_.push_back(&node);
    } else {
      ops_->emplace(peer->data, val);
    }
  }
  if (peer) {
    peer->w->wake();
    return true;
  }
  w.park();
  if (node.data == nullptr) throw channel_error(msg_send_closed);
  return true;
}

bool chan_base::recv(void* dst, bool block) {
  waiter w;
  wait_node node;
  wait_node* peer;
  if (timer_) timer_->deliver_due(this);
  {
    std::lock_guard lock(mu_);
    if (count_ > 0) {
      take_locked(dst);
      // A blocked sender's value goes to the tail of the (now not full) buffer.
      if ((peer = sendq_.claim_front()) != nullptr) put_locked(peer->data);
    } else if ((peer = sendq_.claim_front()) != nullptr) {
      ops_->emplace(dst, peer->data);
    } else {
      if (closed_) return true;
      if (!block) return false;
      node.w = &w;
      node.data = dst;
      recvq_.push_back(&node);
    }
  }
  if (peer) {
    peer->w->wake();
  } else if (node.w) {
    if (timer_) timer_->block(this);
    w.park();
    if (timer_) timer_->unblock(this);
  }
  return true;
}

void chan_base::close() {
  // Blocked senders are few (each holds a value that now cannot be sent); blocked
  // receivers may be thousands (a close is Go's broadcast): they are woken a batch
  // at a time (wake_closed; the handle's close() holds a reference of its own, so
  // the channel outlives the relocking even if a woken receiver drops every other).
  wake_list wakes;
  bool more_receivers;
  {
    std::lock_guard lock(mu_);
    if (closed_) throw channel_error(msg_close_closed);
    closed_ = true;
    while (wait_node* n = sendq_.claim_front()) {
      n->data = nullptr;  // tells the sender it was woken by close
      wakes.push(n);
    }
    more_receivers = recvq_.claim_some(wakes, wake_batch);
  }
  wake_closed(mu_, recvq_, wakes, more_receivers);
}

std::size_t chan_base::size() noexcept {
  if (timer_) timer_->deliver_due(this);
  std::lock_guard lock(mu_);
  return count_;
}

bool chan_base::drain() noexcept {
  std::lock_guard lock(mu_);
  const bool any = count_ > 0;
  while (count_ > 0) {
    ops_->destroy(slot(recvx_));
    if (++recvx_ == cap_) recvx_ = 0;
    --count_;
  }
  return any;
}

[[noreturn]] void block_forever() noexcept {
  for (;;) {
    waiter w;  // nobody knows it: never woken
    w.park();
  }
}

// ---- select ---------------------------------------------------------------------

namespace {

constexpr std::size_t max_cases = 64;

struct select_locks {
  chan_base** order;
  std::size_t n;
  void lock() noexcept {
    for (std::size_t i = 0; i < n; ++i) chan_access_mu(order[i]).lock();
  }
  void unlock() noexcept {
    for (std::size_t i = n; i-- > 0;) chan_access_mu(order[i]).unlock();
  }
  static spin_mutex& chan_access_mu(chan_base* c) noexcept;
};

}  // namespace

// Internal access to chan_base's private members for select.
struct chan_select {
  static spin_mutex& mu(chan_base* c) noexcept { return c->mu_; }

  // Step 2 for one case: tries to proceed. Returns whether it did; *peer is set to a
  // claimed counterpart to wake after unlocking. Throws (with every lock still held —
  // the caller unlocks) on a send to a closed channel.
  static bool poll(select_case& sc, wait_node** peer, bool* send_closed) noexcept {
    if (sc.kind == select_case::done_signal) return sc.done->is_closed();
    chan_base* c = sc.ch;
    if (sc.kind == select_case::recv) {
      if (c->count_ > 0) {
        c->take_locked(sc.data);
        if ((*peer = c->sendq_.claim_front()) != nullptr) c->put_locked((*peer)->data);
        return true;
      }
      if ((*peer = c->sendq_.claim_front()) != nullptr) {
        c->ops_->emplace(sc.data, (*peer)->data);
        return true;
      }
      return c->closed_;
    }
    // send
    if (c->closed_) {
      *send_closed = true;
      return true;
    }
    if ((*peer = c->recvq_.claim_front()) != nullptr) {
      c->ops_->emplace((*peer)->data, sc.data);
      return true;
    }
    if (c->count_ < c->cap_) {
      c->put_locked(sc.data);
      return true;
    }
    return false;
  }

  // The hooks of a receive case's timer channel, or null.
  static const timer_chan_hooks* timer(const select_case& sc) noexcept {
    return sc.kind == select_case::recv ? sc.ch->timer_ : nullptr;
  }

  static void enqueue(select_case& sc, wait_node* n) noexcept {
    if (sc.kind == select_case::recv) sc.ch->recvq_.push_back(n);
    else sc.ch->sendq_.push_back(n);
  }
  static void dequeue(select_case& sc, wait_node* n) noexcept {
    if (sc.kind == select_case::recv) sc.ch->recvq_.remove(n);
    else sc.ch->sendq_.remove(n);
  }
};

spin_mutex& select_locks::chan_access_mu(chan_base* c) noexcept { return chan_select::mu(c); }

std::size_t select_impl(select_case* cases, std::size_t n, std::ptrdiff_t default_index) {
  // 1. Poll order (a random permutation of the live cases) and lock order.
  std::uint8_t pollorder[max_cases];
  chan_base* lockorder[max_cases];
  std::size_t npoll = 0, nlock = 0;
  for (std::size_t i = 0; i < n; ++i) {
    select_case& sc = cases[i];
    if (sc.kind == select_case::skip) continue;
    if ((sc.kind == select_case::recv || sc.kind == select_case::send) && sc.ch == nullptr) {
      sc.kind = select_case::skip;  // the nil channel: never ready
      continue;
    }
    // Inside-out Fisher-Yates shuffle.
    const std::size_t j = cheaprandn(static_cast<std::uint32_t>(npoll + 1));
    pollorder[npoll] = pollorder[j];
    pollorder[j] = static_cast<std::uint8_t>(i);
    ++npoll;
    if (sc.kind != select_case::done_signal) lockorder[nlock++] = sc.ch;
  }
  std::sort(lockorder, lockorder + nlock);
  nlock = static_cast<std::size_t>(std::unique(lockorder, lockorder + nlock) - lockorder);
  select_locks locks{lockorder, nlock};

  // 2a. Fast path: try the cases one by one in poll order, each under its own
  // channel's lock only. When some case is ready (the common case under load) this
  // takes one lock instead of all of them, so a select does not contend on channels
  // it does not use. Equivalent to 2 for the choice: the first ready case in a random
  // order.
  for (std::size_t k = 0; k < npoll; ++k) {
    const std::size_t i = pollorder[k];
    select_case& sc = cases[i];
    if (sc.kind == select_case::done_signal) {
      if (sc.done->is_closed()) return i;
      continue;
    }
    if (const timer_chan_hooks* t = chan_select::timer(sc)) t->deliver_due(sc.ch);
    wait_node* peer = nullptr;
    bool send_closed = false;
    bool ready;
    {
      std::lock_guard lock(chan_select::mu(sc.ch));
      ready = chan_select::poll(sc, &peer, &send_closed);
    }
    if (ready) {
      if (send_closed) throw channel_error(msg_send_closed);
      if (peer) peer->w->wake();
      return i;
    }
  }
  if (default_index >= 0) return static_cast<std::size_t>(default_index);

  // 2b. Lock everything and look again (something may have become ready meanwhile).
  locks.lock();
  for (std::size_t k = 0; k < npoll; ++k) {
    const std::size_t i = pollorder[k];
    wait_node* peer = nullptr;
    bool send_closed = false;
    if (chan_select::poll(cases[i], &peer, &send_closed)) {
      locks.unlock();
      if (send_closed) throw channel_error(msg_send_closed);
      if (peer) peer->w->wake();
      return i;
    }
  }

  // 3. Nothing ready.
  if (default_index >= 0) {
    locks.unlock();
    return static_cast<std::size_t>(default_index);
  }

  // 4. Enqueue on every case and park.
  waiter w;
  wait_node nodes[max_cases];
  bool self_claimed = false;
  for (std::size_t i = 0; i < n; ++i) {
    select_case& sc = cases[i];
    if (sc.kind == select_case::skip) continue;
    wait_node& node = nodes[i];
    node.w = &w;
    node.data = sc.data;
    node.token = static_cast<std::uint32_t>(i + 1);
    if (sc.kind == select_case::done_signal) {
      if (!sc.done->enqueue(&node)) {
        // Closed since the poll: this case is ready. Claim ourselves with it, unless a
        // counterpart claimed us already (then its wake follows).
        if (w.try_claim(node.token)) self_claimed = true;
        break;
      }
    } else {
      chan_select::enqueue(sc, &node);
    }
  }
  locks.unlock();
  if (!self_claimed) {
    // Timer channels arm their runtime timers while we wait (block/unblock).
    for (std::size_t i = 0; i < n; ++i) {
      if (cases[i].kind == select_case::skip) continue;
      if (const timer_chan_hooks* t = chan_select::timer(cases[i])) t->block(cases[i].ch);
    }
    w.park();
    for (std::size_t i = 0; i < n; ++i) {
      if (cases[i].kind == select_case::skip) continue;
      if (const timer_chan_hooks* t = chan_select::timer(cases[i])) t->unblock(cases[i].ch);
    }
  }

  // 5. Dequeue from everything; the token names the winner.
  const std::size_t won = w.token() - 1;
  locks.lock();
  for (std::size_t i = 0; i < n; ++i) {
    select_case& sc = cases[i];
    if (sc.kind == select_case::skip) continue;
    if (sc.kind == select_case::done_signal) sc.done->dequeue(&nodes[i]);
    else chan_select::dequeue(sc, &nodes[i]);
  }
  locks.unlock();
  if (cases[won].kind == select_case::send && nodes[won].data == nullptr) throw channel_error(msg_send_closed);
  return won;
}

}  // namespace go::detail
