// go/net.hpp — Go's `net` package for gocxx: TCP and Unix-domain stream sockets on the
// runtime's netpoller.
//
//   auto [ln, err] = go::net::listen("tcp", "127.0.0.1:0");
//   go::spawn([ln] {
//     for (;;) {
//       auto [c, err] = ln.accept();
//       if (err) return;                       // the listener was closed
//       go::spawn([c]() mutable {              // one task per connection
//         char buf[4096];
//         for (;;) {
//           auto [n, err] = c.read(buf);
//           if (n) c.write({buf, n});
//           if (err) break;                    // io::eof when the client is done
//         }
//       });
//     }
//   });
//   auto [c, err2] = go::net::dial(ctx, "tcp", ln.addr().address);
//
// Blocking. Every operation that would block — dial's connect, accept, read, write —
// parks the calling task (its worker runs other tasks) until the netpoller reports
// readiness, and blocks a plain OS thread the same way; no thread is ever held per
// connection. Name resolution (a host name that is not an IP literal) runs
// getaddrinfo on the runtime's blocking pool, never on a worker.
//
// Networks. "tcp" (IPv4 or IPv6 as the address says; a listener on ":port" accepts
// both), "tcp4", "tcp6", and "unix" (a stream socket at a filesystem path, or an
// abstract one when the path starts with '@'). Addresses are "host:port" with IPv6
// hosts in brackets ("[::1]:80"), exactly as Go's; a "unix" address is a path.
//
// Errors follow Go's. Operations return an op_error ("dial tcp 127.0.0.1:1: connect:
// connection refused", "read tcp 127.0.0.1:40312->127.0.0.1:8080: i/o timeout")
// wrapping the cause, which errors::is recognises:
//   * err_closed — the Conn or Listener was closed (by this or another task);
//   * err_deadline_exceeded — a read/write deadline passed (Go's os.ErrDeadlineExceeded);
//   * context::canceled / context::deadline_exceeded — dial's or accept's ctx is done;
//   * syscall errors as a syscall_error carrying a std::error_code:
//     errors::is(err, std::errc::connection_refused), ...connection_reset, ...;
//   * io::eof — read's end of stream (returned bare, as Go does, not wrapped).
// is_timeout(err) is Go's `err.(net.Error).Timeout()`. Misuse — an unknown network, a
// malformed address — returns an error (addr_error, unknown network); nothing here
// throws except std::bad_alloc.
//
// Lifetime. Conn and Listener are shared handles (as Go's interface values): copies
// refer to the same socket. close() closes it for every copy and makes blocked
// operations return err_closed; the descriptor itself is closed once the last
// operation in progress has returned (so a racing read never touches a reused fd).
// When the last copy is destroyed the socket is closed, if it was not already.
//
// Thread safety: every member may be called concurrently from any tasks and threads.
// Concurrent reads (or writes) on one Conn are serialized, one whole call at a time,
// as Go serializes them: a write's bytes are never interleaved with another write's.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "go/context.hpp"
#include "go/errors.hpp"
#include "go/io.hpp"

namespace go::net {

using clock = std::chrono::steady_clock;
using time_point = clock::time_point;

// A deadline value meaning "none" (Go's zero time.Time in SetDeadline).
inline constexpr time_point no_deadline = time_point::max();

// ---- errors -------------------------------------------------------------------------

// Go's net.ErrClosed: I/O on a Conn or Listener after close(). Message "use of closed
// network connection".
inline const go::error err_closed = go::errors::make("use of closed network connection");

// The type of err_deadline_exceeded: reports itself as a timeout.
class timeout_error final : public go::error_impl {
 public:
  std::string message() const override { return "i/o timeout"; }
  bool timeout() const noexcept { return true; }
};

// Go's os.ErrDeadlineExceeded: a read or write deadline passed. Message "i/o timeout".
inline const go::error err_deadline_exceeded = go::errors::make_error<timeout_error>();

// Go's *os.SyscallError: "connect: connection refused". unwrap() is the
// errors::code_error carrying the code, so errors::is(err, std::errc::...) works.
class syscall_error final : public go::error_impl {
 public:
  syscall_error(std::string syscall, std::error_code code);
  const std::string& syscall() const noexcept { return syscall_; }
  std::error_code code() const noexcept { return code_; }
  // syscall + ": " + the code's message, first letter lowered as Go prints errno.
  std::string message() const override;
  go::error unwrap() const override { return inner_; }

 private:
  std::string syscall_;
  std::error_code code_;
  go::error inner_;
};

// Go's *net.OpError: the operation ("dial", "listen", "accept", "read", "write",
// "close"), the network, the local and remote addresses when known, and the cause.
// Message as Go's: "read tcp 127.0.0.1:5000->127.0.0.1:6000: i/o timeout".
class op_error final : public go::error_impl {
 public:
  op_error(std::string op, std::string net, std::string source, std::string addr, go::error err);
  const std::string& op() const noexcept { return op_; }
  const std::string& net() const noexcept { return net_; }
  const std::string& source() const noexcept { return source_; }
  const std::string& addr() const noexcept { return addr_; }
  const go::error& err() const noexcept { return err_; }
  std::string message() const override;
  go::error unwrap() const override { return err_; }
  // True when the cause is a timeout (err_deadline_exceeded, context::deadline_exceeded,
  // ETIMEDOUT).
  bool timeout() const;

 private:
  std::string op_, net_, source_, addr_;
  go::error err_;
};

// Go's *net.AddrError: "address 127.0.0.1: missing port in address".
class addr_error final : public go::error_impl {
 public:
  addr_error(std::string err, std::string addr) : err_(std::move(err)), addr_(std::move(addr)) {}
  const std::string& addr() const noexcept { return addr_; }
  std::string message() const override;

 private:
  std::string err_, addr_;
};

// Go's *net.DNSError: "lookup nosuch.invalid: no such host".
class dns_error final : public go::error_impl {
 public:
  dns_error(std::string err, std::string name, bool not_found)
      : err_(std::move(err)), name_(std::move(name)), not_found_(not_found) {}
  const std::string& name() const noexcept { return name_; }
  bool is_not_found() const noexcept { return not_found_; }
  std::string message() const override { return "lookup " + name_ + ": " + err_; }

 private:
  std::string err_, name_;
  bool not_found_;
};

// Go's `var ne net.Error; errors.As(err, &ne) && ne.Timeout()`: true when err's tree
// holds a timeout (err_deadline_exceeded, context::deadline_exceeded, ETIMEDOUT).
bool is_timeout(const go::error& err);

// ---- addresses ----------------------------------------------------------------------

// Go's net.Addr: the network ("tcp", "unix") and the address in Go's notation
// ("127.0.0.1:8080", "[::1]:80", "/tmp/sock").
struct Addr {
  std::string network;
  std::string address;
  const std::string& to_string() const noexcept { return address; }
  friend bool operator==(const Addr&, const Addr&) = default;
};

// Go's net.SplitHostPort: "host:port", "[v6]:port" -> {host, port}. Returns an
// addr_error for a malformed address ("missing port in address", "too many colons in
// address", ...).
result<std::pair<std::string, std::string>> split_host_port(std::string_view hostport);

// Go's net.JoinHostPort: brackets the host if it contains a colon.
std::string join_host_port(std::string_view host, std::string_view port);

// Go's net.LookupHost: the addresses of host (IP literals are returned as they are).
// Runs getaddrinfo on the blocking pool (a task parks, a worker is never blocked);
// returns ctx's error if ctx is done first (the lookup itself finishes in the
// background). Errors: dns_error.
result<std::vector<std::string>> lookup_host(const context::Context& ctx, std::string_view host);

namespace detail {
class netfd;  // a socket registered with the netpoller (src/net/fd.hpp)
}

// ---- Conn ---------------------------------------------------------------------------

// A stream connection (Go's net.Conn / *net.TCPConn / *net.UnixConn). A
// default-constructed Conn is empty: every operation returns err_closed wrapped in an
// op_error (Go's "invalid argument" on a nil Conn). See the file comment for
// blocking, errors, lifetime and thread safety.
class Conn {
 public:
  Conn() noexcept = default;

  // Reads up to buf.size() bytes: blocks until at least one byte is available, the
  // peer shut down its side (returns {0, io::eof}), the read deadline passes, or the
  // Conn is closed. An empty buf returns {0, nil} at once.
  io::result read(std::span<char> buf);

  // Writes all of data: blocks until every byte is handed to the kernel, the write
  // deadline passes, or an error occurs; returns the bytes written and the error.
  io::result write(std::string_view data);

  // Closes the connection (both directions). Blocked and later operations return
  // err_closed. Returns an op_error wrapping err_closed if already closed.
  go::error close();

  // Shuts down the writing side (Go's CloseWrite): the peer reads io::eof; reading
  // continues to work. And the reading side (Go's CloseRead).
  go::error close_write();
  go::error close_read();

  // Go's SetDeadline / SetReadDeadline / SetWriteDeadline: an absolute deadline for
  // future and currently blocked reads / writes; no_deadline clears it. A deadline
  // that passes makes the operation return err_deadline_exceeded (wrapped in an
  // op_error; is_timeout() is true) until it is moved again; data already
  // transferred is reported in n. Never blocks.
  go::error set_deadline(time_point t);
  go::error set_read_deadline(time_point t);
  go::error set_write_deadline(time_point t);

  // Go's TCPConn.SetNoDelay (gocxx, as Go, enables TCP_NODELAY on every TCP Conn) and
  // SetLinger (sec < 0: the default; 0: close() discards unsent data and sends a
  // reset; > 0: close() lingers). No-ops returning nil on Unix-domain sockets.
  go::error set_no_delay(bool on);
  go::error set_linger(int sec);

  // The local and remote addresses (the empty Addr on an empty Conn).
  Addr local_addr() const;
  Addr remote_addr() const;

  // True when this handle refers to a connection (open or closed).
  explicit operator bool() const noexcept { return fd_ != nullptr; }

 private:
  friend class Listener;
  friend result<Conn> dial(const context::Context&, std::string_view, std::string_view);
  explicit Conn(std::shared_ptr<detail::netfd> fd) noexcept : fd_(std::move(fd)) {}
  std::shared_ptr<detail::netfd> fd_;
};

// Go's net.Dial / Dialer.DialContext: connects to address on network. Tries each
// resolved address in turn until one connects. Blocks until connected, refused, or
// ctx is done (then returns an op_error wrapping ctx.err()). Errors: op_error
// ("dial tcp 127.0.0.1:1: connect: connection refused"), wrapping addr_error or
// dns_error for a bad address, or an unknown-network error.
result<Conn> dial(const context::Context& ctx, std::string_view network, std::string_view address);

// dial(background(), network, address).
result<Conn> dial(std::string_view network, std::string_view address);

// Go's net.DialTimeout: dial with a context that times out after `timeout`.
result<Conn> dial_timeout(std::string_view network, std::string_view address, clock::duration timeout);

// ---- Listener -----------------------------------------------------------------------

// A stream listener (Go's net.Listener). Empty when default-constructed.
class Listener {
 public:
  Listener() noexcept = default;

  // Waits for and returns the next connection. Blocks until a client connects, ctx
  // is done (op_error wrapping ctx.err()), or the listener is closed (op_error
  // wrapping err_closed). Transient accept errors (ECONNABORTED) are retried.
  result<Conn> accept(const context::Context& ctx);
  result<Conn> accept();

  // Stops listening: blocked and later accepts return err_closed. For a "unix"
  // listener on a path, removes the socket file (as Go does). Returns an op_error
  // wrapping err_closed if already closed.
  go::error close();

  // The listening address, with the port the kernel chose for ":0".
  Addr addr() const;

  explicit operator bool() const noexcept { return fd_ != nullptr; }

 private:
  friend result<Listener> listen(std::string_view, std::string_view);
  explicit Listener(std::shared_ptr<detail::netfd> fd) noexcept : fd_(std::move(fd)) {}
  std::shared_ptr<detail::netfd> fd_;
};

// Go's net.Listen: listens on address ("127.0.0.1:0" picks a free port; ":8080" all
// interfaces; a path for "unix"). Sets SO_REUSEADDR on TCP as Go does. Never blocks
// except to resolve a host name. Errors: op_error ("listen tcp 127.0.0.1:80: bind:
// permission denied"), addr_error, unknown network.
result<Listener> listen(std::string_view network, std::string_view address);

}  // namespace go::net
