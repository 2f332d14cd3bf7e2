// netpoll.cpp — the runtime's netpoller: one epoll instance, polled by the workers
// and by one poller thread.
//
// Registration. poll_desc::open adds an fd once, edge-triggered for both directions
// (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET), as Go's netpoll_epoll.go does: interest
// never changes afterwards, so I/O needs no epoll_ctl per operation. Watches
// (poll_watch, for libcurl) are level-triggered. Narrowing a watch's interest
// (interest_) costs no system call: the kernel keeps its wider mask, and the
// kernel's mask shrinks only when an event outside the interest arrives (dispatch:
// EPOLL_CTL_MOD to the interest, or EPOLL_CTL_DEL when there is none, since the kernel
// reports EPOLLHUP and EPOLLERR whatever the mask). Widening it always tells the
// kernel (EPOLL_CTL_MOD, or EPOLL_CTL_ADD if the fd was closed and its number reused
// behind the watch's back: the kernel dropped the old registration with the close),
// so a watch never trusts a registration that may be gone. A watch whose interest
// goes to nothing and back costs one system call instead of two.
//
// Polling. For each event the poller locks the descriptor and, per direction that the
// event makes ready, sets the `ready` flag and claims every queued waiter (wake_list:
// claim under the lock, wake after it). For a watch it runs the owner's callback,
// with no lock held. Who polls (Go's design, with a thread standing in for the
// blocked M):
//   * a worker that runs out of work calls netpoll_harvest() — epoll_wait without
//     blocking — before it spins, and again every few spins; the tasks it wakes that
//     live on it go straight to its ready list, with no cross-thread wake. It runs
//     watch callbacks too when at least 64 KiB of the stack it polls on (a parking
//     task's) is left, and otherwise leaves them to the poller thread, ending its nap;
//   * the poller thread blocks in epoll_wait while at least one worker sleeps (then
//     nobody else would notice an event soon). While every worker is awake it polls
//     without blocking between naps of 200 µs (doubling to 2 ms while polls come
//     back empty), so a busy system takes events in batches instead of paying a
//     thread wake-up per event; a worker going to sleep ends the nap at once
//     (netpoll_worker_sleeping), so an idle system's latency stays one wake-up. The
//     naps are a backstop, as Go's sysmon poll every 10 ms is: on a loaded machine the
//     workers, which poll whenever they run out of work, take most events, and a
//     poller thread waking every 20 µs only took CPU from them (the HTTP benchmark ran
//     about 20% slower with 20–500 µs naps than with 200 µs–2 ms on 2 cores).
//
// Waiting (poll_desc::wait). Under the descriptor's lock the waiter checks, in
// order: closing, the direction's deadline, the ready flag (consumed), the done
// channel; if none decides, it queues a wait_node on the direction (and one on the
// done channel, as select does), unlocks and parks — with park_until when a deadline
// is set. Any wake (readiness, evict, a deadline change, the done channel, the
// deadline timer) only means "re-evaluate": the waiter dequeues its nodes and loops.
// Since readiness is a flag set under the same lock the waiter checks before it
// queues, an edge that arrives between the caller's EAGAIN and the wait is never
// lost — at worst the caller retries its syscall once more than needed.
//
// Descriptor reuse. Descriptors come from a pool and are never freed. The epoll data
// word holds the descriptor's address (48 bits) and its sequence number (16 bits);
// release() bumps the sequence, so an event collected before a release — possibly
// for the next user of the same descriptor — is recognised and dropped. The pool and
// the epoll instance live until the process exits (the poller thread may still be
// running while static destructors run, so nothing it touches is ever destroyed).
#include "go/detail/netpoll.hpp"

#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include "go/context.hpp"
#include "runtime/platform.hpp"
#include "runtime/scheduler.hpp"

namespace go::detail {

namespace {

constexpr std::uint32_t io_events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
constexpr std::uint32_t read_events = EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR;
constexpr std::uint32_t write_events = EPOLLOUT | EPOLLHUP | EPOLLERR;
constexpr std::uint32_t wake_token = 1, done_token = 2;
constexpr std::uint64_t ptr_mask = (std::uint64_t{1} << 48) - 1;

std::atomic<std::size_t> registered{0};
std::atomic<std::uint64_t> events_seen{0};

// The poller thread's nap while every worker is awake: starts short after a poll that
// found events, doubles up to the maximum while polls come back empty.
constexpr auto min_nap = std::chrono::microseconds(200);
constexpr auto max_nap = std::chrono::milliseconds(2);
constexpr int max_events = 128;

// The stack a watch callback may need (libcurl with OpenSSL: a TLS handshake).
constexpr std::size_t callback_stack = 64 * 1024;

// Bytes of stack left below the caller: unlimited on a thread's own stack.
[[gnu::noinline]] std::size_t stack_headroom() noexcept {
  fiber* f = current_fiber();
  if (f == nullptr || f->stack_lo == nullptr) return SIZE_MAX;
  const char* sp = static_cast<const char*>(__builtin_frame_address(0));
  return sp > f->stack_lo ? static_cast<std::size_t>(sp - f->stack_lo) : 0;
}

// As Go does since 1.19: a program that uses the network may hold many descriptors, so
// the soft RLIMIT_NOFILE is raised to the hard limit when the netpoller starts.
void raise_fd_limit() noexcept {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
}

}  // namespace

struct netpoller;
std::atomic<netpoller*> g_poller{nullptr};

struct netpoller {
  int epfd = -1;
  std::atomic<std::uint32_t> napping{0};   // futex word: 1 while the poller thread naps
  std::atomic<bool> harvesting{false};     // a worker is polling (one at a time)
  spin_mutex pool_mu;
  poll_desc* free_list = nullptr;
  std::vector<std::unique_ptr<poll_desc[]>> blocks;  // under pool_mu; never shrinks

  static netpoller& get() {
    static netpoller* p = [] {
      raise_fd_limit();
      auto* np = new netpoller;  // never destroyed: the poller thread outlives main
      np->epfd = ::epoll_create1(EPOLL_CLOEXEC);
      if (np->epfd < 0) throw std::system_error(errno, std::system_category(), "gocxx: epoll_create1");
      g_poller.store(np, std::memory_order_release);
      std::thread([np] { np->run(); }).detach();
      return np;
    }();
    return *p;
  }

  poll_desc* alloc() {
    std::lock_guard lock(pool_mu);
    if (!free_list) {
      constexpr std::size_t n = 256;
      std::unique_ptr<poll_desc[]> block(new poll_desc[n]);
      for (std::size_t i = 0; i < n; ++i) {
        block[i].next_free_ = free_list;
        free_list = &block[i];
      }
      blocks.push_back(std::move(block));
    }
    poll_desc* d = free_list;
    free_list = d->next_free_;
    d->next_free_ = nullptr;
    return d;
  }

  void free(poll_desc* d) noexcept {
    {
      std::lock_guard lock(d->mu_);
      ++d->seq_;
      d->fd_ = -1;
      d->closing_ = false;
      d->is_watch_ = false;
      d->cb_ = nullptr;
      d->arg_ = nullptr;
      d->interest_ = 0;
      d->in_epoll_ = false;
      for (auto& dir : d->dir_) {
        dir.ready = false;
        dir.deadline = clock::time_point::max();
      }
    }
    std::lock_guard lock(pool_mu);
    d->next_free_ = free_list;
    free_list = d;
  }

  static std::uint64_t tag(poll_desc* d, std::uint16_t seq) noexcept {
    return (reinterpret_cast<std::uint64_t>(d) & ptr_mask) | (std::uint64_t{seq} << 48);
  }

  // Registers d (already holding its fd) with `events`; on failure frees d and throws.
  void add(poll_desc* d, std::uint32_t events) {
    std::uint16_t seq;
    {
      std::lock_guard lock(d->mu_);
      seq = d->seq_;
    }
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = tag(d, seq);
    if (::epoll_ctl(epfd, EPOLL_CTL_ADD, d->fd_, &ev) != 0) {
      int e = errno;
      free(d);
      throw std::system_error(e, std::system_category(), "gocxx: epoll_ctl(ADD)");
    }
    registered.fetch_add(1, std::memory_order_relaxed);
  }

  void remove(poll_desc* d) noexcept {
    bool in_epoll;
    {
      std::lock_guard lock(d->mu_);
      in_epoll = !d->is_watch_ || d->in_epoll_;
    }
    epoll_event ev{};
    if (in_epoll) ::epoll_ctl(epfd, EPOLL_CTL_DEL, d->fd_, &ev);  // fails only if the fd was closed early
    registered.fetch_sub(1, std::memory_order_relaxed);
    free(d);
  }

  // Handles one event. A worker polls on whatever stack it is on (a parking task's),
  // so it runs a watch's callback (libcurl, TLS: deep stacks) only with room to spare
  // (callbacks_ok); otherwise it leaves the event to the poller thread — watches are
  // level-triggered, so the thread sees it again — and *watch_seen tells the worker
  // to end the thread's nap. Returns whether an I/O direction was made ready.
  bool dispatch(const epoll_event& ev, bool callbacks_ok, bool* watch_seen) noexcept {
    auto* d = reinterpret_cast<poll_desc*>(ev.data.u64 & ptr_mask);
    const auto seq = static_cast<std::uint16_t>(ev.data.u64 >> 48);
    wake_list wakes;
    poll_watch::callback cb = nullptr;
    void* arg = nullptr;
    int fd = -1;
    std::uint32_t delivered = 0;
    {
      std::lock_guard lock(d->mu_);
      if (d->seq_ != seq || d->fd_ < 0) return false;  // stale: released since
      if (d->is_watch_ && !callbacks_ok) {
        *watch_seen = true;
        return false;
      }
      if (d->is_watch_) {
        if (!d->in_epoll_) return false;  // dropped from the kernel since it was collected
        const std::uint32_t wanted = d->interest_ == 0 ? 0 : (d->interest_ | EPOLLERR | EPOLLHUP);
        if (ev.events & ~wanted & (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) disarm(d);
        delivered = ev.events & wanted;
        if (delivered == 0) return false;
        cb = d->cb_;
        arg = d->arg_;
        fd = d->fd_;
      } else {
        if (ev.events & read_events) {
          d->dir_[0].ready = true;
          d->dir_[0].waiters.claim_all(wakes);
        }
        if (ev.events & write_events) {
          d->dir_[1].ready = true;
          d->dir_[1].waiters.claim_all(wakes);
        }
      }
    }
    if (cb) {
      cb(arg, fd, delivered);
      return false;
    }
    return true;
  }

  // An event outside a watch's interest arrived: narrow the kernel's mask to the
  // interest (level-triggered, the event would come back on every poll), or drop the
  // fd from epoll when there is no interest (EPOLLHUP and EPOLLERR cannot be masked).
  // Under d->mu_.
  void disarm(poll_desc* d) noexcept {
    epoll_event ev{};
    if (d->interest_ == 0) {
      if (::epoll_ctl(epfd, EPOLL_CTL_DEL, d->fd_, &ev) == 0 || errno == ENOENT || errno == EBADF) {
        d->in_epoll_ = false;
      }
      return;
    }
    ev.events = d->interest_;
    ev.data.u64 = tag(d, d->seq_);
    ::epoll_ctl(epfd, EPOLL_CTL_MOD, d->fd_, &ev);
  }

  // Takes the ready events (blocking up to timeout_ms; 0: not at all) and dispatches
  // them (see dispatch for on_worker). Returns how many I/O directions became ready
  // (from the poller thread: how many events there were).
  int poll(int timeout_ms, bool on_worker = false) noexcept {
    epoll_event events[max_events];
    int n = ::epoll_wait(epfd, events, max_events, timeout_ms);
    if (n <= 0) return 0;  // none, or EINTR
    int ready = 0;
    bool watch_seen = false;
    const bool callbacks_ok = !on_worker || stack_headroom() >= callback_stack;
    for (int i = 0; i < n; ++i) ready += dispatch(events[i], callbacks_ok, &watch_seen) ? 1 : 0;
    events_seen.fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
    if (watch_seen) end_nap();
    return on_worker ? ready : n;
  }

  // Wakes the poller thread if it is napping.
  void end_nap() noexcept {
    std::uint32_t one = 1;
    if (napping.load(std::memory_order_seq_cst) == 1 &&
        napping.compare_exchange_strong(one, 0, std::memory_order_acq_rel)) {
      futex_wake(&napping);
    }
  }

  // The poller thread. While some worker sleeps, it blocks in epoll_wait and wakes
  // each event's waiters at once. While every worker is awake, the workers poll
  // themselves whenever they run out of work (netpoll_harvest), as Go's do; the
  // thread then only polls between naps, so that a burst of events is taken in one
  // batch instead of costing a thread wake-up each — a worker that goes to sleep cuts
  // the nap short (netpoll_worker_sleeping).
  [[noreturn]] void run() noexcept {
    auto nap = std::chrono::steady_clock::duration(min_nap);
    for (;;) {
      if (idle_workers() != 0) {
        nap = min_nap;
        poll(-1);
        continue;
      }
      nap = poll(0) > 0 ? std::chrono::steady_clock::duration(min_nap) : std::min<std::chrono::steady_clock::duration>(nap * 2, max_nap);
      napping.store(1, std::memory_order_seq_cst);
      full_fence();
      if (idle_workers() == 0) {
        const auto until = std::chrono::steady_clock::now() + nap;
        futex_wait(&napping, 1, &until);
      }
      napping.store(0, std::memory_order_relaxed);
    }
  }
};

// ---- poll_desc ----------------------------------------------------------------------

poll_desc* poll_desc::open(int fd) {
  netpoller& np = netpoller::get();
  poll_desc* d = np.alloc();
  {
    std::lock_guard lock(d->mu_);
    d->fd_ = fd;
  }
  np.add(d, io_events);
  return d;
}

poll_status poll_desc::prepare(poll_mode m) noexcept {
  std::lock_guard lock(mu_);
  if (closing_) return poll_status::closed;
  const auto dl = dir_[static_cast<int>(m)].deadline;
  if (dl != clock::time_point::max() && clock::now() >= dl) return poll_status::timeout;
  return poll_status::ready;
}

poll_status poll_desc::wait(poll_mode m, const go::context::done_channel* done) noexcept {
  direction& dir = dir_[static_cast<int>(m)];
  for (;;) {
    waiter w;
    wait_node node;
    node.w = &w;
    node.token = wake_token;
    clock::time_point dl;
    {
      std::lock_guard lock(mu_);
      if (closing_) return poll_status::closed;
      dl = dir.deadline;
      if (dl != clock::time_point::max() && clock::now() >= dl) return poll_status::timeout;
      if (dir.ready) {
        dir.ready = false;
        return poll_status::ready;
      }
      if (done && done->is_closed()) return poll_status::canceled;
      dir.waiters.push_back(&node);
    }
    if (done) {
      done->park(w, done_token, dl);
    } else if (dl == clock::time_point::max()) {
      w.park();
    } else {
      w.park_until(dl);
    }
    std::lock_guard lock(mu_);
    dir.waiters.remove(&node);
  }
}

void poll_desc::set_deadline(poll_mode m, clock::time_point t) noexcept {
  wake_list wakes;
  std::lock_guard lock(mu_);
  direction& dir = dir_[static_cast<int>(m)];
  dir.deadline = t;
  dir.waiters.claim_all(wakes);
}

void poll_desc::evict() noexcept {
  wake_list wakes;
  std::lock_guard lock(mu_);
  closing_ = true;
  for (auto& dir : dir_) dir.waiters.claim_all(wakes);
}

void poll_desc::release() noexcept { netpoller::get().remove(this); }

// ---- poll_watch ---------------------------------------------------------------------

poll_watch::poll_watch(int fd, std::uint32_t events, callback cb, void* arg) {
  netpoller& np = netpoller::get();
  poll_desc* d = np.alloc();
  {
    std::lock_guard lock(d->mu_);
    d->fd_ = fd;
    d->is_watch_ = true;
    d->cb_ = cb;
    d->arg_ = arg;
    d->interest_ = events;
    d->in_epoll_ = events != 0;
  }
  if (events != 0) {
    np.add(d, events);
  } else {
    registered.fetch_add(1, std::memory_order_relaxed);
  }
  d_ = d;
}

bool poll_watch::modify(std::uint32_t events) noexcept {
  if (!d_) return false;
  std::lock_guard lock(d_->mu_);
  if ((events & ~d_->interest_) == 0) {
    d_->interest_ = events;  // narrower: the kernel's mask covers it, dispatch filters
    return true;
  }
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = netpoller::tag(d_, d_->seq_);
  const int epfd = netpoller::get().epfd;
  int rc = ::epoll_ctl(epfd, d_->in_epoll_ ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, d_->fd_, &ev);
  // Not registered any more (the fd was closed and its number reused behind our
  // back): add it. Registered after all: modify it.
  if (rc != 0 && errno == ENOENT) rc = ::epoll_ctl(epfd, EPOLL_CTL_ADD, d_->fd_, &ev);
  else if (rc != 0 && errno == EEXIST) rc = ::epoll_ctl(epfd, EPOLL_CTL_MOD, d_->fd_, &ev);
  if (rc != 0) return false;
  d_->interest_ = events;
  d_->in_epoll_ = true;
  return true;
}

void poll_watch::close() noexcept {
  if (!d_) return;
  netpoller::get().remove(std::exchange(d_, nullptr));
}

// ---- scheduler hooks ----------------------------------------------------------------

bool netpoll_harvest() noexcept {
  netpoller* np = g_poller.load(std::memory_order_acquire);
  if (!np || registered.load(std::memory_order_relaxed) == 0) return false;
  if (np->harvesting.load(std::memory_order_relaxed) || np->harvesting.exchange(true, std::memory_order_acquire)) {
    return false;
  }
  const int n = np->poll(0, /*on_worker=*/true);
  np->harvesting.store(false, std::memory_order_release);
  return n > 0;
}

void netpoll_worker_sleeping() noexcept {
  if (netpoller* np = g_poller.load(std::memory_order_acquire)) np->end_nap();
}

// ---- test hooks ---------------------------------------------------------------------

std::size_t netpoll_registered() noexcept { return registered.load(std::memory_order_relaxed); }
std::uint64_t netpoll_events() noexcept { return events_seen.load(std::memory_order_relaxed); }

}  // namespace go::detail
