// fd.hpp — a socket registered with the netpoller (Go's netFD + fdMutex).
//
// A netfd owns one non-blocking socket and its poll_desc. Conn and Listener handles
// share it. Its life has three stages:
//
//   open     operations take a reference (acquire), run, and drop it (release);
//   closing  close() was called: acquire fails (err_closed), the poll_desc is
//            evicted so blocked operations wake and fail, and the operations still
//            running finish;
//   closed   the last reference is gone: the poll_desc is released and the socket
//            closed. Exactly one party — close() itself or the last operation to
//            release — performs this step, so the descriptor number is never
//            reused while an operation might still use it.
//
// The state word holds a closing bit and the count of running operations. Reads are
// serialized by read_mu and writes by write_mu (go::sync::Mutex: a waiting task
// parks), as Go's fdMutex serializes them, so one write's bytes are never
// interleaved with another's.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "go/context.hpp"
#include "go/detail/netpoll.hpp"
#include "go/io.hpp"
#include "go/net.hpp"
#include "go/sync.hpp"

namespace go::net::detail {

class netfd {
 public:
  // Takes ownership of `fd` (non-blocking) and registers it with the netpoller.
  // Throws std::system_error if registration fails (the fd is closed then).
  netfd(int fd, std::string net);
  netfd(const netfd&) = delete;
  netfd& operator=(const netfd&) = delete;
  ~netfd();

  int sysfd() const noexcept { return fd_; }
  const std::string& net() const noexcept { return net_; }
  go::detail::poll_desc* pd() const noexcept { return pd_; }

  // Addresses in Go's notation, set by whoever creates the netfd.
  std::string laddr, raddr;
  std::string unlink_path;  // a unix listener's socket file, removed by close()

  // Takes a reference for one operation; false once closing.
  bool acquire() noexcept;
  // Drops it; the last one after close() closes the socket.
  void release() noexcept;

  // Go's Close: err_closed (wrapped by the caller) if already closing.
  go::error close();

  io::result read(std::span<char> buf);
  io::result write(std::string_view data);
  go::error shutdown(int how, const char* op);
  go::error set_deadline(bool read, bool write, time_point t);

  // An op_error for op on this fd ("read tcp laddr->raddr: err").
  go::error op_err(const char* op, go::error err) const;
  // The error for a non-ready poll status (closed, timeout, canceled by `ctx`).
  go::error poll_err(go::detail::poll_status s, const context::Context* ctx) const;

  go::sync::Mutex read_mu, write_mu;

 private:
  void destroy() noexcept;
  int fd_;
  std::string net_;
  go::detail::poll_desc* pd_ = nullptr;
  std::atomic<std::uint64_t> state_{0};  // bit 0: closing; bits 1..: running operations
};

// An acquire()/release() pair for one operation.
class op_ref {
 public:
  explicit op_ref(netfd* fd) noexcept : fd_(fd && fd->acquire() ? fd : nullptr) {}
  op_ref(const op_ref&) = delete;
  op_ref& operator=(const op_ref&) = delete;
  ~op_ref() {
    if (fd_) fd_->release();
  }
  explicit operator bool() const noexcept { return fd_ != nullptr; }

 private:
  netfd* fd_;
};

// A syscall_error for errno `e`.
go::error syscall_err(const char* syscall, int e);

}  // namespace go::net::detail
