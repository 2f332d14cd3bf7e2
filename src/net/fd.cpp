// fd.cpp — netfd: reads, writes and close on the netpoller (see fd.hpp).
//
// Every I/O loop follows Go's internal/poll: prepare (closed? deadline passed?), try
// the syscall, and on EAGAIN wait for the netpoller's readiness before trying again.
// Writes use send(MSG_NOSIGNAL), so a write to a reset connection returns EPIPE
// instead of raising SIGPIPE.
#include "net/fd.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <system_error>

namespace go::net::detail {

using go::detail::poll_mode;
using go::detail::poll_status;

netfd::netfd(int fd, std::string net) : fd_(fd), net_(std::move(net)) {
  try {
    pd_ = go::detail::poll_desc::open(fd);
  } catch (...) {
    ::close(fd);
    throw;
  }
}

netfd::~netfd() {
  // No handle is left, so no operation is running: close now unless close() did.
  if (!(state_.load(std::memory_order_acquire) & 1)) destroy();
}

bool netfd::acquire() noexcept {
  std::uint64_t s = state_.load(std::memory_order_relaxed);
  do {
    if (s & 1) return false;
  } while (!state_.compare_exchange_weak(s, s + 2, std::memory_order_acquire, std::memory_order_relaxed));
  return true;
}

void netfd::release() noexcept {
  if (state_.fetch_sub(2, std::memory_order_acq_rel) - 2 == 1) destroy();
}

go::error netfd::close() {
  if (!acquire()) return op_err("close", err_closed);
  // Set closing while holding a reference: whoever drops the count to zero after
  // this point (this call's release, or a running operation's) destroys.
  if (state_.fetch_or(1, std::memory_order_acq_rel) & 1) {
    release();
    return op_err("close", err_closed);
  }
  pd_->evict();
  if (!unlink_path.empty()) ::unlink(unlink_path.c_str());
  release();
  return nullptr;
}

void netfd::destroy() noexcept {
  if (pd_) {
    pd_->evict();
    pd_->release();
    pd_ = nullptr;
  }
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

io::result netfd::read(std::span<char> buf) {
  op_ref ref(this);
  if (!ref) return {0, op_err("read", err_closed)};
  if (buf.empty()) return {0, nullptr};
  std::lock_guard lock(read_mu);
  for (;;) {
    if (auto s = pd_->prepare(poll_mode::read); s != poll_status::ready) return {0, op_err("read", poll_err(s, nullptr))};
    ssize_t n = ::read(fd_, buf.data(), buf.size());
    if (n > 0) return {static_cast<std::size_t>(n), nullptr};
    if (n == 0) return {0, io::eof};
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return {0, op_err("read", syscall_err("read", errno))};
    if (auto s = pd_->wait(poll_mode::read); s != poll_status::ready) return {0, op_err("read", poll_err(s, nullptr))};
  }
}

io::result netfd::write(std::string_view data) {
  op_ref ref(this);
  if (!ref) return {0, op_err("write", err_closed)};
  std::lock_guard lock(write_mu);
  std::size_t done = 0;
  for (;;) {
    if (auto s = pd_->prepare(poll_mode::write); s != poll_status::ready) return {done, op_err("write", poll_err(s, nullptr))};
    if (done == data.size()) return {done, nullptr};
    ssize_t n = ::send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n >= 0) {
      done += static_cast<std::size_t>(n);
      if (done == data.size()) return {done, nullptr};
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return {done, op_err("write", syscall_err("write", errno))};
    if (auto s = pd_->wait(poll_mode::write); s != poll_status::ready) return {done, op_err("write", poll_err(s, nullptr))};
  }
}

go::error netfd::shutdown(int how, const char* op) {
  op_ref ref(this);
  if (!ref) return op_err(op, err_closed);
  if (::shutdown(fd_, how) != 0) return op_err(op, syscall_err("shutdown", errno));
  return nullptr;
}

go::error netfd::set_deadline(bool read, bool write, time_point t) {
  op_ref ref(this);
  if (!ref) return op_err("set", err_closed);
  if (read) pd_->set_deadline(poll_mode::read, t);
  if (write) pd_->set_deadline(poll_mode::write, t);
  return nullptr;
}

go::error netfd::op_err(const char* op, go::error err) const {
  return go::errors::make_error<op_error>(op, net_, raddr.empty() ? std::string() : laddr,
                                          raddr.empty() ? laddr : raddr, std::move(err));
}

go::error netfd::poll_err(poll_status s, const context::Context* ctx) const {
  switch (s) {
    case poll_status::closed: return err_closed;
    case poll_status::timeout: return err_deadline_exceeded;
    case poll_status::canceled: return ctx ? ctx->err() : context::canceled;
    case poll_status::ready: break;
  }
  return nullptr;
}

go::error syscall_err(const char* syscall, int e) {
  return go::errors::make_error<syscall_error>(syscall, std::error_code(e, std::system_category()));
}

}  // namespace go::net::detail
