// net.cpp — go/net.hpp: errors, addresses, name resolution, dial, listen, accept.
//
// Resolution. An address is split with Go's SplitHostPort rules; an IP literal is
// used as it is, a host name goes through lookup_host, which runs getaddrinfo on the
// blocking pool in its own task, so the caller can give up when its context is done
// (the lookup then finishes unobserved). Dial tries the resolved addresses in order
// (IPv4 first, as Go's default) and returns the first error if none connects.
//
// Connecting. A non-blocking connect() that returns EINPROGRESS waits for
// writability on the netpoller together with ctx.done(), then reads SO_ERROR — the
// same sequence as Go's netFD.connect.
//
// Listening. "tcp" on a wildcard host listens on [::] with IPV6_V6ONLY off, so IPv4
// clients are accepted too (as Go); addresses of IPv4 peers that arrive as
// IPv4-mapped IPv6 are printed in IPv4 form.
#include "go/net.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <system_error>

#include "go/chan.hpp"
#include "go/runtime.hpp"
#include "net/fd.hpp"

namespace go::net {

using detail::netfd;
using detail::syscall_err;

// ---- errors -------------------------------------------------------------------------

syscall_error::syscall_error(std::string syscall, std::error_code code)
    : syscall_(std::move(syscall)), code_(code), inner_(go::errors::from_error_code(code)) {}

std::string syscall_error::message() const {
  std::string m = code_.message();
  if (!m.empty() && m.size() > 1 && std::isupper(static_cast<unsigned char>(m[0])) &&
      std::islower(static_cast<unsigned char>(m[1]))) {
    m[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(m[0])));
  }
  return syscall_ + ": " + m;
}

op_error::op_error(std::string op, std::string net, std::string source, std::string addr, go::error err)
    : op_(std::move(op)), net_(std::move(net)), source_(std::move(source)), addr_(std::move(addr)),
      err_(std::move(err)) {}

std::string op_error::message() const {
  std::string m = op_;
  if (!net_.empty()) m += " " + net_;
  if (!source_.empty()) m += " " + source_ + "->" + addr_;
  else if (!addr_.empty()) m += " " + addr_;
  return m + ": " + err_.message();
}

bool op_error::timeout() const { return is_timeout(err_); }

std::string addr_error::message() const {
  return addr_.empty() ? err_ : "address " + addr_ + ": " + err_;
}

bool is_timeout(const go::error& err) {
  if (!err) return false;
  if (go::errors::as<timeout_error>(err) || go::errors::as<context::deadline_exceeded_error>(err)) return true;
  return go::errors::is(err, std::errc::timed_out);
}

namespace {

go::error unknown_network(std::string_view op, std::string_view net) {
  return go::errors::make_error<op_error>(std::string(op), std::string(net), "", "",
                                          go::errors::make(std::string("unknown network ").append(net)));
}

go::error make_addr_error(std::string err, std::string_view addr) {
  return go::errors::make_error<addr_error>(std::move(err), std::string(addr));
}

// ---- socket addresses ----

struct sock_addr {
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family() const noexcept { return ss.ss_family; }
  const sockaddr* get() const noexcept { return reinterpret_cast<const sockaddr*>(&ss); }
};

std::string format(const sockaddr* sa, socklen_t len) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    ::inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
    return std::string(buf) + ":" + std::to_string(ntohs(in->sin_port));
  }
  if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      ::inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], buf, sizeof buf);
      return std::string(buf) + ":" + std::to_string(ntohs(in6->sin6_port));
    }
    ::inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
    return join_host_port(buf, std::to_string(ntohs(in6->sin6_port)));
  }
  if (sa->sa_family == AF_UNIX) {
    const auto* un = reinterpret_cast<const sockaddr_un*>(sa);
    std::size_t n = len > offsetof(sockaddr_un, sun_path) ? len - offsetof(sockaddr_un, sun_path) : 0;
    if (n == 0) return "";
    if (un->sun_path[0] == '\0') {  // abstract: Go prints it with a leading '@'
      std::string name(1, '@');
      name.append(un->sun_path + 1, n - 1);
      return name;
    }
    return std::string(un->sun_path, strnlen(un->sun_path, n));
  }
  return "";
}

std::string local_name(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "";
  return format(reinterpret_cast<sockaddr*>(&ss), len);
}

std::string peer_name(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "";
  return format(reinterpret_cast<sockaddr*>(&ss), len);
}

enum class family_pref { any, v4, v6 };

struct network_kind {
  bool unix_sock = false;
  family_pref fam = family_pref::any;
};

bool parse_network(std::string_view net, network_kind& k) {
  if (net == "tcp") return true;
  if (net == "tcp4") { k.fam = family_pref::v4; return true; }
  if (net == "tcp6") { k.fam = family_pref::v6; return true; }
  if (net == "unix") { k.unix_sock = true; return true; }
  return false;
}

// An IP literal (no zone) with a port, or nothing.
bool ip_literal(std::string_view host, std::uint16_t port, sock_addr& out) {
  std::string h(host);
  sockaddr_in in{};
  if (::inet_pton(AF_INET, h.c_str(), &in.sin_addr) == 1) {
    in.sin_family = AF_INET;
    in.sin_port = htons(port);
    std::memcpy(&out.ss, &in, sizeof in);
    out.len = sizeof in;
    return true;
  }
  sockaddr_in6 in6{};
  if (::inet_pton(AF_INET6, h.c_str(), &in6.sin6_addr) == 1) {
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(port);
    std::memcpy(&out.ss, &in6, sizeof in6);
    out.len = sizeof in6;
    return true;
  }
  return false;
}

bool family_ok(int fam, family_pref p) {
  return p == family_pref::any || (p == family_pref::v4 ? fam == AF_INET : fam == AF_INET6);
}

result<sock_addr> unix_addr(std::string_view path) {
  sock_addr a;
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof un.sun_path) {
    return {{}, make_addr_error("invalid unix socket path", path)};
  }
  std::memcpy(un.sun_path, path.data(), path.size());
  if (path[0] == '@') un.sun_path[0] = '\0';  // abstract namespace
  std::memcpy(&a.ss, &un, sizeof un);
  a.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + (path[0] == '@' ? 0 : 1));
  return {a, nullptr};
}

result<std::uint16_t> parse_port(std::string_view port, std::string_view addr) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
  if (ec == std::errc() && p == port.data() + port.size() && v <= 65535) return {static_cast<std::uint16_t>(v), nullptr};
  if (ec == std::errc() && p == port.data() + port.size()) return {0, make_addr_error("invalid port", addr)};
  servent se{};
  servent* res = nullptr;
  char buf[1024];
  std::string name(port);
  if (!port.empty() && ::getservbyname_r(name.c_str(), "tcp", &se, buf, sizeof buf, &res) == 0 && res) {
    return {ntohs(static_cast<std::uint16_t>(res->s_port)), nullptr};
  }
  return {0, make_addr_error("unknown port", addr)};
}

// Resolves a TCP address for dial (listen == false) or listen.
result<std::vector<sock_addr>> tcp_addrs(const context::Context& ctx, std::string_view address, family_pref fam,
                                         bool listen) {
  auto [hp, err] = split_host_port(address);
  if (err) return {{}, err};
  auto [port, perr] = parse_port(hp.second, address);
  if (perr) return {{}, perr};
  std::vector<sock_addr> out;
  sock_addr a;
  const std::string& host = hp.first;
  if (host.empty()) {
    if (listen) {
      if (fam == family_pref::v4) ip_literal("0.0.0.0", port, a); else ip_literal("::", port, a);
    } else {
      ip_literal(fam == family_pref::v6 ? "::1" : "127.0.0.1", port, a);
    }
    out.push_back(a);
    return {std::move(out), nullptr};
  }
  if (ip_literal(host, port, a)) {
    if (!family_ok(a.family(), fam)) return {{}, make_addr_error("no suitable address found", address)};
    out.push_back(a);
    return {std::move(out), nullptr};
  }
  auto [hosts, lerr] = lookup_host(ctx, host);
  if (lerr) return {{}, lerr};
  for (const auto& h : hosts) {
    if (ip_literal(h, port, a) && family_ok(a.family(), fam)) out.push_back(a);
  }
  std::stable_partition(out.begin(), out.end(), [](const sock_addr& x) { return x.family() == AF_INET; });
  if (out.empty()) return {{}, make_addr_error("no suitable address found", address)};
  return {std::move(out), nullptr};
}

void set_nodelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

}  // namespace

// ---- addresses ----------------------------------------------------------------------

result<std::pair<std::string, std::string>> split_host_port(std::string_view hp) {
  auto fail = [&](const char* why) -> result<std::pair<std::string, std::string>> {
    return {{}, make_addr_error(why, hp)};
  };
  std::size_t i = hp.rfind(':');
  if (i == std::string_view::npos) return fail("missing port in address");
  std::string_view host;
  std::size_t j = 0, k = 0;
  if (!hp.empty() && hp[0] == '[') {
    std::size_t end = hp.find(']');
    if (end == std::string_view::npos) return fail("missing ']' in address");
    if (end + 1 == hp.size()) return fail("missing port in address");
    if (end + 1 != i) {
      if (hp[end + 1] == ':') return fail("too many colons in address");
      return fail("missing port in address");
    }
    host = hp.substr(1, end - 1);
    j = 1;
    k = end + 1;
  } else {
    host = hp.substr(0, i);
    if (host.find(':') != std::string_view::npos) return fail("too many colons in address");
  }
  if (hp.find('[', j) != std::string_view::npos) return fail("unexpected '[' in address");
  if (hp.find(']', k) != std::string_view::npos) return fail("unexpected ']' in address");
  return {{std::string(host), std::string(hp.substr(i + 1))}, nullptr};
}

std::string join_host_port(std::string_view host, std::string_view port) {
  const bool bracket = host.find(':') != std::string_view::npos;
  std::string out;
  out.reserve(host.size() + port.size() + 3);
  if (bracket) out += '[';
  out += host;
  if (bracket) out += ']';
  out += ':';
  out += port;
  return out;
}

result<std::vector<std::string>> lookup_host(const context::Context& ctx, std::string_view host) {
  if (host.empty()) return {{}, go::errors::make_error<dns_error>("no such host", "", true)};
  sock_addr a;
  if (ip_literal(host, 0, a)) return {{std::string(host)}, nullptr};
  if (auto e = ctx.err()) return {{}, e};
  using answer = result<std::vector<std::string>>;
  // The lookup runs in its own task (on the blocking pool), so that this call can
  // return as soon as ctx is done; the channel's buffer lets it finish unobserved.
  go::chan<answer> ch(1);
  go::spawn([ch, name = std::string(host)] {
    answer r = go::blocking([&name]() -> answer {
      addrinfo hints{};
      hints.ai_family = AF_UNSPEC;
      hints.ai_socktype = SOCK_STREAM;
      addrinfo* res = nullptr;
      int rc = ::getaddrinfo(name.c_str(), nullptr, &hints, &res);
      if (rc != 0) {
        bool not_found = rc == EAI_NONAME || rc == EAI_NODATA;
        std::string why = not_found ? "no such host" : ::gai_strerror(rc);
        if (!why.empty()) why[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(why[0])));
        return {{}, go::errors::make_error<dns_error>(why, name, not_found)};
      }
      std::vector<std::string> out;
      for (addrinfo* p = res; p; p = p->ai_next) {
        std::string s = format(p->ai_addr, p->ai_addrlen);
        s = s.substr(0, s.rfind(':'));
        if (!s.empty() && s[0] == '[') s = s.substr(1, s.size() - 2);
        if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(std::move(s));
      }
      ::freeaddrinfo(res);
      return {std::move(out), nullptr};
    });
    ch.send(std::move(r));
  });
  answer out;
  go::select(go::recv(ch, [&](answer r) { out = std::move(r); }),
             go::recv(ctx.done(), [&] { out = {{}, ctx.err()}; }));
  return out;
}

// ---- dial ---------------------------------------------------------------------------

namespace {

// Connects one address; returns the connected netfd or the error.
result<std::shared_ptr<netfd>> connect_one(const context::Context& ctx, const std::string& net,
                                           const sock_addr& sa) {
  int fd = ::socket(sa.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return {nullptr, syscall_err("socket", errno)};
  std::shared_ptr<netfd> nfd;
  try {
    nfd = std::make_shared<netfd>(fd, net);
  } catch (const std::system_error& e) {
    return {nullptr, syscall_err("epoll_ctl", e.code().value())};
  }
  int rc;
  do {
    rc = ::connect(fd, sa.get(), sa.len);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    if (errno != EINPROGRESS) return {nullptr, syscall_err("connect", errno)};
    auto done = ctx.done();
    for (;;) {
      auto s = nfd->pd()->wait(go::detail::poll_mode::write, done.is_nil() ? nullptr : &done);
      if (s != go::detail::poll_status::ready) return {nullptr, nfd->poll_err(s, &ctx)};
      int e = 0;
      socklen_t len = sizeof e;
      if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0) e = errno;
      if (e == 0) {
        // A socket registered before connect() can report writability (and a hang-up)
        // for its unconnected state, so SO_ERROR 0 is not proof of a connection: as
        // Go does, ask for the peer, and keep waiting while there is none.
        sockaddr_storage peer{};
        socklen_t plen = sizeof peer;
        if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &plen) == 0) break;
        if (errno != ENOTCONN) return {nullptr, syscall_err("getpeername", errno)};
        continue;
      }
      if (e == EINPROGRESS || e == EALREADY || e == EINTR) continue;
      return {nullptr, syscall_err("connect", e)};
    }
  }
  if (sa.family() != AF_UNIX) set_nodelay(fd);
  nfd->laddr = local_name(fd);
  nfd->raddr = peer_name(fd);
  return {std::move(nfd), nullptr};
}

}  // namespace

result<Conn> dial(const context::Context& ctx, std::string_view network, std::string_view address) {
  network_kind k;
  if (!parse_network(network, k)) return {{}, unknown_network("dial", network)};
  const std::string net(network);
  auto fail = [&](go::error err) -> result<Conn> {
    return {{}, go::errors::make_error<op_error>("dial", net, "", std::string(address), std::move(err))};
  };
  if (auto e = ctx.err()) return fail(e);
  std::vector<sock_addr> addrs;
  if (k.unix_sock) {
    auto [a, err] = unix_addr(address);
    if (err) return fail(err);
    addrs.push_back(a);
  } else {
    auto [v, err] = tcp_addrs(ctx, address, k.fam, false);
    if (err) return fail(err);
    addrs = std::move(v);
  }
  go::error first;
  for (const auto& a : addrs) {
    auto [nfd, err] = connect_one(ctx, net, a);
    if (!err) {
      if (k.unix_sock && nfd->raddr.empty()) nfd->raddr = std::string(address);
      return {Conn(std::move(nfd)), nullptr};
    }
    if (!first) first = err;
    if (ctx.err()) break;
  }
  return fail(first);
}

result<Conn> dial(std::string_view network, std::string_view address) {
  return dial(context::background(), network, address);
}

result<Conn> dial_timeout(std::string_view network, std::string_view address, clock::duration timeout) {
  auto [ctx, cancel] = context::with_timeout(context::background(), timeout);
  auto r = dial(ctx, network, address);
  cancel();
  return r;
}

// ---- listen / accept ----------------------------------------------------------------

result<Listener> listen(std::string_view network, std::string_view address) {
  network_kind k;
  if (!parse_network(network, k)) return {{}, unknown_network("listen", network)};
  const std::string net(network);
  auto fail = [&](go::error err) -> result<Listener> {
    return {{}, go::errors::make_error<op_error>("listen", net, "", std::string(address), std::move(err))};
  };
  sock_addr sa;
  if (k.unix_sock) {
    auto [a, err] = unix_addr(address);
    if (err) return fail(err);
    sa = a;
  } else {
    auto [v, err] = tcp_addrs(context::background(), address, k.fam, true);
    if (err) return fail(err);
    sa = v.front();
  }
  int fd = ::socket(sa.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0 && sa.family() == AF_INET6 && k.fam == family_pref::any) {
    // No IPv6 on this host: a wildcard "tcp" listener falls back to IPv4.
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_port = reinterpret_cast<sockaddr_in6*>(&sa.ss)->sin6_port;
    in.sin_addr.s_addr = htonl(INADDR_ANY);
    sa = {};
    std::memcpy(&sa.ss, &in, sizeof in);
    sa.len = sizeof in;
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  }
  if (fd < 0) return fail(syscall_err("socket", errno));
  auto close_fail = [&](const char* call) {
    int e = errno;
    ::close(fd);
    return fail(syscall_err(call, e));
  };
  if (!k.unix_sock) {
    int one = 1;
    if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) return close_fail("setsockopt");
    if (sa.family() == AF_INET6) {
      int v6only = k.fam == family_pref::v6 ? 1 : 0;
      ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
    }
  }
  if (::bind(fd, sa.get(), sa.len) != 0) return close_fail("bind");
  if (::listen(fd, 4096) != 0) return close_fail("listen");
  std::shared_ptr<netfd> nfd;
  try {
    nfd = std::make_shared<netfd>(fd, net);
  } catch (const std::system_error& e) {
    return fail(syscall_err("epoll_ctl", e.code().value()));
  }
  nfd->laddr = k.unix_sock ? std::string(address) : local_name(fd);
  if (k.unix_sock && address[0] != '@') nfd->unlink_path = std::string(address);
  return {Listener(std::move(nfd)), nullptr};
}

result<Conn> Listener::accept(const context::Context& ctx) {
  netfd* lfd = fd_.get();
  if (!lfd) return {{}, go::errors::make_error<op_error>("accept", "", "", "", err_closed)};
  detail::op_ref ref(lfd);
  if (!ref) return {{}, lfd->op_err("accept", err_closed)};
  auto done = ctx.done();
  const bool is_unix = lfd->net() == "unix";
  for (;;) {
    if (auto s = lfd->pd()->prepare(go::detail::poll_mode::read); s != go::detail::poll_status::ready) {
      return {{}, lfd->op_err("accept", lfd->poll_err(s, &ctx))};
    }
    if (auto e = ctx.err()) return {{}, lfd->op_err("accept", e)};
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    int c = ::accept4(lfd->sysfd(), reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c >= 0) {
      std::shared_ptr<netfd> nfd;
      try {
        nfd = std::make_shared<netfd>(c, lfd->net());
      } catch (const std::system_error& e) {
        return {{}, lfd->op_err("accept", syscall_err("epoll_ctl", e.code().value()))};
      }
      if (!is_unix) set_nodelay(c);
      nfd->laddr = is_unix ? lfd->laddr : local_name(c);
      nfd->raddr = format(reinterpret_cast<sockaddr*>(&ss), len);
      return {Conn(std::move(nfd)), nullptr};
    }
    int e = errno;
    if (e == EINTR || e == ECONNABORTED) continue;
    if (e != EAGAIN) return {{}, lfd->op_err("accept", syscall_err("accept", e))};
    auto s = lfd->pd()->wait(go::detail::poll_mode::read, done.is_nil() ? nullptr : &done);
    if (s != go::detail::poll_status::ready) return {{}, lfd->op_err("accept", lfd->poll_err(s, &ctx))};
  }
}

result<Conn> Listener::accept() { return accept(context::background()); }

go::error Listener::close() {
  if (!fd_) return go::errors::make_error<op_error>("close", "", "", "", err_closed);
  return fd_->close();
}

Addr Listener::addr() const {
  if (!fd_) return {};
  return {fd_->net(), fd_->laddr};
}

// ---- Conn ---------------------------------------------------------------------------

namespace {
go::error empty_conn(const char* op) { return go::errors::make_error<op_error>(op, "", "", "", err_closed); }
}  // namespace

io::result Conn::read(std::span<char> buf) {
  if (!fd_) return {0, empty_conn("read")};
  return fd_->read(buf);
}

io::result Conn::write(std::string_view data) {
  if (!fd_) return {0, empty_conn("write")};
  return fd_->write(data);
}

go::error Conn::close() { return fd_ ? fd_->close() : empty_conn("close"); }
go::error Conn::close_write() { return fd_ ? fd_->shutdown(SHUT_WR, "close") : empty_conn("close"); }
go::error Conn::close_read() { return fd_ ? fd_->shutdown(SHUT_RD, "close") : empty_conn("close"); }

go::error Conn::set_deadline(time_point t) { return fd_ ? fd_->set_deadline(true, true, t) : empty_conn("set"); }
go::error Conn::set_read_deadline(time_point t) {
  return fd_ ? fd_->set_deadline(true, false, t) : empty_conn("set");
}
go::error Conn::set_write_deadline(time_point t) {
  return fd_ ? fd_->set_deadline(false, true, t) : empty_conn("set");
}

go::error Conn::set_no_delay(bool on) {
  if (!fd_) return empty_conn("set");
  if (fd_->net() == "unix") return nullptr;
  detail::op_ref ref(fd_.get());
  if (!ref) return fd_->op_err("set", err_closed);
  int v = on ? 1 : 0;
  if (::setsockopt(fd_->sysfd(), IPPROTO_TCP, TCP_NODELAY, &v, sizeof v) != 0) {
    return fd_->op_err("set", syscall_err("setsockopt", errno));
  }
  return nullptr;
}

go::error Conn::set_linger(int sec) {
  if (!fd_) return empty_conn("set");
  if (fd_->net() == "unix") return nullptr;
  detail::op_ref ref(fd_.get());
  if (!ref) return fd_->op_err("set", err_closed);
  linger l{};
  l.l_onoff = sec >= 0 ? 1 : 0;
  l.l_linger = sec >= 0 ? sec : 0;
  if (::setsockopt(fd_->sysfd(), SOL_SOCKET, SO_LINGER, &l, sizeof l) != 0) {
    return fd_->op_err("set", syscall_err("setsockopt", errno));
  }
  return nullptr;
}

Addr Conn::local_addr() const { return fd_ ? Addr{fd_->net(), fd_->laddr} : Addr{}; }
Addr Conn::remote_addr() const { return fd_ ? Addr{fd_->net(), fd_->raddr} : Addr{}; }

}  // namespace go::net
