// go/detail/netpoll.hpp — the runtime's netpoller (Go's netpoll + pollDesc).
//
// File descriptors are registered with one epoll instance, edge-triggered for both
// directions (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET), once, when they are opened.
// Readiness is turned into wakes by whoever polls: workers that run out of work take
// the ready events without blocking (as Go's idle Ps do), and a poller thread blocks
// in epoll_wait while some worker sleeps, or polls between short naps while every
// worker is busy (see src/runtime/netpoll.cpp). I/O code then follows Go's pattern:
//
//   for (;;) {
//     if (auto s = pd->prepare(poll_mode::read); s != poll_status::ready) return error(s);
//     ssize_t n = ::read(fd, buf, len);
//     if (n >= 0 || errno != EAGAIN) return ...;
//     if (auto s = pd->wait(poll_mode::read, done); s != poll_status::ready) return error(s);
//   }
//
// so no thread is ever blocked in a read, write, connect or accept: a task parks (its
// worker runs other tasks) and a plain thread blocks on its waiter, both on the
// runtime's one parking primitive (detail::waiter), woken by the poller thread.
//
// Readiness is a per-direction flag. An edge sets it and wakes every waiter of that
// direction; wait() consumes it. Because an edge may arrive between the syscall's
// EAGAIN and the wait, wait() returns at once when the flag is set, and the caller
// retries the syscall: a wake may be spurious, a readiness edge is never lost.
//
// Deadlines (Go's SetReadDeadline / SetWriteDeadline) live in the descriptor: a wait
// parks until readiness or the direction's deadline, and changing a deadline wakes the
// current waiters of that direction so they re-evaluate it at once (a blocked read
// sees a deadline moved into the past). A deadline in the past makes prepare() and
// wait() report timeout until it is moved again.
//
// Descriptors are pooled and never freed (as Go's pollCache): an event that the
// poller collected for a descriptor just released and reused is recognised by a
// sequence number carried in epoll's data word and dropped.
//
// Watches (poll_watch) serve foreign event loops, such as libcurl's multi-socket
// interface: level-triggered interest that the owner changes at will, reported by a
// callback run on the poller thread.
//
// Thread safety: every member may be called from any task or thread, concurrently,
// unless stated otherwise.
#pragma once

#include <chrono>
#include <cstdint>
#include <utility>

#include "go/detail/waiter.hpp"

namespace go::context {
class done_channel;
}

namespace go::detail {

class poll_watch;

enum class poll_mode : std::uint8_t { read = 0, write = 1 };

// Why a wait or prepare returned.
enum class poll_status : std::uint8_t {
  ready,     // the caller should (re)try its syscall
  timeout,   // the direction's deadline has passed (Go's os.ErrDeadlineExceeded)
  closed,    // evict() was called: the descriptor is being closed (Go's ErrNetClosing)
  canceled,  // the done channel passed to wait() closed
};

// A file descriptor registered with the netpoller (Go's pollDesc).
class poll_desc {
 public:
  // Registers fd, which must be in non-blocking mode and stay open until release().
  // Starts the poller thread on first use. Throws std::system_error if epoll refuses
  // the descriptor (then nothing is registered) and std::bad_alloc.
  static poll_desc* open(int fd);

  // Before an I/O attempt on direction m: closed after evict(), timeout if m's
  // deadline has passed, ready otherwise. Never blocks.
  poll_status prepare(poll_mode m) noexcept;

  // Waits until direction m may be ready (then consumes the readiness flag), its
  // deadline passes, the descriptor is evicted, or `done` (if not null) closes —
  // whichever comes first; checked in the order closed, timeout, ready, canceled.
  // A task parks; a thread blocks. Several parties may wait on one direction; an
  // edge wakes them all.
  poll_status wait(poll_mode m, const go::context::done_channel* done = nullptr) noexcept;

  // Sets direction m's deadline; clock::time_point::max() clears it. Wakes m's
  // current waiters so they re-evaluate it. Never blocks (takes a short lock).
  void set_deadline(poll_mode m, clock::time_point t) noexcept;

  // Marks the descriptor closing: every current and future prepare/wait reports
  // closed. Wakes all waiters. Idempotent. The fd stays registered and open.
  void evict() noexcept;

  // Unregisters the fd from epoll and returns the descriptor to the pool. Call it
  // once, after evict() and after every wait has returned; close the fd afterwards.
  // The pointer is dangling afterwards.
  void release() noexcept;

 private:
  friend struct netpoller;
  friend class poll_watch;
  poll_desc() = default;
  struct direction {
    bool ready = false;
    clock::time_point deadline = clock::time_point::max();
    wait_queue waiters;
  };
  spin_mutex mu_;
  int fd_ = -1;
  std::uint16_t seq_ = 0;  // bumped at release; stale events carry an older one
  bool closing_ = false;
  bool is_watch_ = false;
  direction dir_[2];
  // For watches (under mu_): the callback and its argument; the interest the owner
  // asked for (the kernel's mask may be wider, see poll_watch::modify); whether the
  // fd is registered with epoll.
  void (*cb_)(void* arg, int fd, std::uint32_t events) = nullptr;
  void* arg_ = nullptr;
  std::uint32_t interest_ = 0;
  bool in_epoll_ = false;
  poll_desc* next_free_ = nullptr;
};

// Level-triggered interest in an fd, reported by a callback (for foreign event loops
// such as libcurl's multi-socket interface).
//
// Narrowing the interest costs no system call: the kernel keeps the wider mask, and
// events outside the interest are filtered out (and only then, when one actually
// arrives, is the kernel's mask narrowed). Widening it always updates the kernel — and
// re-registers the fd if it was closed and its number reused behind the watch's back —
// so an owner that drops its interest between two uses of a socket and takes it up
// again (libcurl does, per request on a kept-alive connection) pays one system call
// instead of two, and a watch stays correct even if the owner closes the fd first.
//
// cb(arg, fd, events) runs on the poller thread or on a worker between tasks (never
// inside a task; with at least 64 KiB of stack), with `events` the part of the event
// within the interest (EPOLLIN, EPOLLOUT) plus EPOLLERR and EPOLLHUP; it must not park
// and must not block for long (a short std::mutex section is fine), and may call
// modify() or close() on any watch, including its own. A callback for an event
// collected just before close() may still start after close() returns — and after the
// fd number has been reused — so `arg` must outlive the netpoller (give it static
// lifetime) and the callback must tolerate a stale or foreign fd (libcurl does: it
// checks the socket's state itself).
class poll_watch {
 public:
  using callback = void (*)(void* arg, int fd, std::uint32_t events);

  // An empty watch (watches nothing).
  poll_watch() noexcept = default;
  // Registers fd with interest `events` (EPOLLIN | EPOLLOUT, or 0 for none yet: then
  // the kernel is told only when modify() asks for some). Throws std::system_error if
  // epoll refuses the fd and std::bad_alloc.
  poll_watch(int fd, std::uint32_t events, callback cb, void* arg);
  poll_watch(poll_watch&& o) noexcept : d_(std::exchange(o.d_, nullptr)) {}
  poll_watch& operator=(poll_watch&& o) noexcept {
    if (this != &o) { close(); d_ = std::exchange(o.d_, nullptr); }
    return *this;
  }
  ~poll_watch() { close(); }

  // Changes the interest mask (0: none). Never blocks; makes a system call only when
  // the interest grows. Returns false (and changes nothing) if epoll refuses, or on an
  // empty watch.
  bool modify(std::uint32_t events) noexcept;
  // Unregisters the fd (the caller still owns and closes it); the watch becomes
  // empty. No-op on an empty watch.
  void close() noexcept;

 private:
  poll_desc* d_ = nullptr;
};

// Test hooks: the number of registered descriptors and watches, and the number of
// epoll events the poller has processed since start.
std::size_t netpoll_registered() noexcept;
std::uint64_t netpoll_events() noexcept;

}  // namespace go::detail
