// net_test.cpp — go/net.hpp on loopback: echo under many concurrent clients, deadlines,
// close and half-close, resets, refused connections, contexts, Unix sockets, address
// parsing, and the same calls from plain threads.
#include "go/net.hpp"

#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "go/runtime.hpp"
#include "go/sync.hpp"
#include "go/time.hpp"
#include "sync_test_util.hpp"
#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using go::net::Conn;
using go::net::Listener;
using gocxx_test::scaled;

Listener must_listen(std::string_view net = "tcp", std::string_view addr = "127.0.0.1:0") {
  auto [ln, err] = go::net::listen(net, addr);
  EXPECT_FALSE(err) << err;
  return ln;
}

// Echoes every connection until EOF, one task per connection, until ln is closed.
void serve_echo(Listener ln, go::sync::WaitGroup& wg) {
  wg.go([ln]() mutable {
    for (;;) {
      auto [conn, err] = ln.accept();
      if (err) return;
      go::spawn([c = conn]() mutable {
        char buf[4096];
        for (;;) {
          auto [n, err] = c.read(buf);
          if (n) {
            if (auto w = c.write({buf, n}); w.err) break;
          }
          if (err) break;
        }
        c.close();
      });
    }
  });
}

std::string read_n(Conn& c, std::size_t n) {
  std::string out(n, '\0');
  auto [got, err] = go::io::read_full(c, out);
  EXPECT_FALSE(err) << err;
  out.resize(got);
  return out;
}

TEST(Net, EchoManyConcurrentClients) {
  Listener ln = must_listen();
  go::sync::WaitGroup server;
  serve_echo(ln, server);
  const int clients = scaled(1000);
  const std::string addr = ln.addr().address;
  go::sync::WaitGroup wg;
  std::atomic<int> ok{0};
  for (int i = 0; i < clients; ++i) {
    wg.go([&, i] {
      auto [c, err] = go::net::dial("tcp", addr);
      if (err) {
        ADD_FAILURE() << err;
        return;
      }
      for (int round = 0; round < 3; ++round) {
        std::string msg = "client " + std::to_string(i) + " round " + std::to_string(round) + "\n";
        auto [n, werr] = c.write(msg);
        EXPECT_FALSE(werr) << werr;
        EXPECT_EQ(n, msg.size());
        if (read_n(c, msg.size()) != msg) return;
      }
      c.close();
      ok.fetch_add(1);
    });
  }
  wg.wait();
  EXPECT_EQ(ok.load(), clients);
  EXPECT_FALSE(ln.close());
  server.wait();
}

TEST(Net, AddressesAndErrorsMatchGo) {
  Listener ln = must_listen();
  const std::string addr = ln.addr().address;
  EXPECT_EQ(ln.addr().network, "tcp");
  EXPECT_EQ(addr.rfind("127.0.0.1:", 0), 0u) << addr;
  go::spawn([ln]() mutable {
    auto [c, err] = ln.accept();
    if (!err) {
      char b[1];
      c.read(b);  // wait for the client to go away
    }
  });
  auto [c, err] = go::net::dial("tcp", addr);
  ASSERT_FALSE(err) << err;
  EXPECT_EQ(c.remote_addr().address, addr);
  EXPECT_EQ(c.local_addr().address.rfind("127.0.0.1:", 0), 0u);
  EXPECT_FALSE(c.close());
  go::error again = c.close();
  ASSERT_TRUE(again);
  EXPECT_TRUE(go::errors::is(again, go::net::err_closed));
  char buf[8];
  auto [n, rerr] = c.read(buf);
  EXPECT_EQ(n, 0u);
  EXPECT_TRUE(go::errors::is(rerr, go::net::err_closed));
  EXPECT_EQ(rerr.message(), "read tcp " + c.local_addr().address + "->" + addr + ": use of closed network connection");
  ln.close();
}

TEST(Net, ConnectionRefused) {
  // Listen, note the port, close: nothing listens there now.
  Listener ln = must_listen();
  const std::string addr = ln.addr().address;
  ln.close();
  auto [c, err] = go::net::dial("tcp", addr);
  ASSERT_TRUE(err);
  EXPECT_FALSE(c);
  EXPECT_TRUE(go::errors::is(err, std::errc::connection_refused)) << err;
  EXPECT_EQ(err.message(), "dial tcp " + addr + ": connect: connection refused");
  EXPECT_NE(go::errors::as<go::net::op_error>(err), nullptr);
}

TEST(Net, ReadDeadline) {
  Listener ln = must_listen();
  go::sync::WaitGroup server;
  serve_echo(ln, server);
  synctest::in_task([&] {
    auto [c, err] = go::net::dial("tcp", ln.addr().address);
    ASSERT_FALSE(err);
    const auto start = go::net::clock::now();
    c.set_read_deadline(start + 50ms);
    char buf[16];
    auto [n, rerr] = c.read(buf);
    EXPECT_GE(go::net::clock::now() - start, 50ms);
    EXPECT_EQ(n, 0u);
    EXPECT_TRUE(go::errors::is(rerr, go::net::err_deadline_exceeded)) << rerr;
    EXPECT_TRUE(go::net::is_timeout(rerr));
    EXPECT_NE(rerr.message().find("i/o timeout"), std::string::npos);
    // The deadline stays in effect until moved; data in the buffer does not matter.
    c.write("x");
    auto [n2, err2] = c.read(buf);
    EXPECT_TRUE(go::net::is_timeout(err2));
    c.set_read_deadline(go::net::no_deadline);
    EXPECT_EQ(read_n(c, 1), "x");
    c.close();
  });
  ln.close();
  server.wait();
}

TEST(Net, DeadlineMovedIntoThePastWakesBlockedRead) {
  Listener ln = must_listen();
  go::sync::WaitGroup server;
  serve_echo(ln, server);
  auto [conn, err] = go::net::dial("tcp", ln.addr().address);
  ASSERT_FALSE(err);
  Conn c = conn;
  go::sync::WaitGroup wg;
  go::error got;
  wg.go([&] {
    char buf[16];
    got = c.read(buf).err;
  });
  go::time::sleep_for(20ms);
  c.set_deadline(go::net::clock::now() - 1s);
  wg.wait();
  EXPECT_TRUE(go::net::is_timeout(got)) << got;
  c.close();
  ln.close();
  server.wait();
}

TEST(Net, CloseWakesBlockedReadAndAccept) {
  Listener ln = must_listen();
  go::sync::WaitGroup wg;
  go::error accept_err;
  wg.go([&] {
    // The first accept takes the client below; the second blocks until close.
    auto [c1, e1] = ln.accept();
    EXPECT_FALSE(e1);
    accept_err = ln.accept().err;
  });
  auto [conn, err] = go::net::dial("tcp", ln.addr().address);
  ASSERT_FALSE(err);
  Conn c = conn;
  go::error read_err;
  wg.go([&] {
    char buf[16];
    read_err = c.read(buf).err;
  });
  go::time::sleep_for(20ms);
  c.close();
  ln.close();
  wg.wait();
  EXPECT_TRUE(go::errors::is(read_err, go::net::err_closed)) << read_err;
  EXPECT_TRUE(go::errors::is(accept_err, go::net::err_closed)) << accept_err;
  EXPECT_NE(accept_err.message().find("accept tcp 127.0.0.1:"), std::string::npos) << accept_err;
}

TEST(Net, AcceptContext) {
  Listener ln = must_listen();
  auto [ctx0, cancel] = go::context::with_cancel(go::context::background());
  go::context::Context ctx = ctx0;
  go::sync::WaitGroup wg;
  go::error err;
  wg.go([&] { err = ln.accept(ctx).err; });
  go::time::sleep_for(10ms);
  cancel();
  wg.wait();
  EXPECT_TRUE(go::errors::is(err, go::context::canceled)) << err;
  auto [tctx, tcancel] = go::context::with_timeout(go::context::background(), 20ms);
  go::error terr = ln.accept(tctx).err;
  EXPECT_TRUE(go::errors::is(terr, go::context::deadline_exceeded)) << terr;
  EXPECT_TRUE(go::net::is_timeout(terr));
  tcancel();
  ln.close();
}

TEST(Net, DialCanceledContext) {
  Listener ln = must_listen();
  auto [ctx, cancel] = go::context::with_cancel(go::context::background());
  cancel();
  auto [c, err] = go::net::dial(ctx, "tcp", ln.addr().address);
  EXPECT_TRUE(go::errors::is(err, go::context::canceled)) << err;
  ln.close();
}

TEST(Net, HalfClose) {
  Listener ln = must_listen();
  go::sync::WaitGroup wg;
  wg.go([ln]() mutable {
    auto [c, err] = ln.accept();
    ASSERT_FALSE(err);
    auto [all, rerr] = go::io::read_all(c);  // until the client's close_write
    EXPECT_FALSE(rerr);
    c.write("got " + all);
    c.close();
  });
  auto [c, err] = go::net::dial("tcp", ln.addr().address);
  ASSERT_FALSE(err);
  c.write("hello");
  EXPECT_FALSE(c.close_write());
  auto [reply, rerr] = go::io::read_all(c);
  EXPECT_FALSE(rerr);
  EXPECT_EQ(reply, "got hello");
  auto [n, werr] = c.write("more");
  EXPECT_TRUE(go::errors::is(werr, std::errc::broken_pipe)) << werr;
  c.close();
  wg.wait();
  ln.close();
}

TEST(Net, ResetConnection) {
  Listener ln = must_listen();
  go::sync::WaitGroup wg;
  wg.go([ln]() mutable {
    auto [c, err] = ln.accept();
    ASSERT_FALSE(err);
    char buf[4];
    go::io::read_full(c, buf);
    c.set_linger(0);
    c.close();  // linger 0: the peer gets a reset
  });
  auto [c, err] = go::net::dial("tcp", ln.addr().address);
  ASSERT_FALSE(err);
  c.write("ping");
  char buf[16];
  auto [n, rerr] = c.read(buf);
  EXPECT_EQ(n, 0u);
  EXPECT_TRUE(go::errors::is(rerr, std::errc::connection_reset)) << rerr;
  wg.wait();
  ln.close();
}

TEST(Net, LargeWritesParkAndAreNotInterleaved) {
  Listener ln = must_listen();
  constexpr int writers = 4;
  const std::size_t block = 256 * 1024;
  go::sync::WaitGroup wg;
  std::string received;
  wg.go([&] {
    auto [c, err] = ln.accept();
    ASSERT_FALSE(err);
    go::time::sleep_for(20ms);  // let the writers fill the socket buffers and park
    received = go::io::read_all(c).value;
  });
  auto [conn, err] = go::net::dial("tcp", ln.addr().address);
  ASSERT_FALSE(err);
  Conn c = conn;
  go::sync::WaitGroup ws;
  for (int i = 0; i < writers; ++i) {
    ws.go([&c, i, block] {
      auto [n, werr] = c.write(std::string(block, static_cast<char>('a' + i)));
      EXPECT_FALSE(werr) << werr;
      EXPECT_EQ(n, block);
    });
  }
  ws.wait();
  c.close();
  wg.wait();
  ASSERT_EQ(received.size(), writers * block);
  for (std::size_t off = 0; off < received.size(); off += block) {
    EXPECT_EQ(received.find_first_not_of(received[off], off), off + block == received.size() ? std::string::npos : off + block)
        << "block at " << off << " interleaved";
  }
  ln.close();
}

TEST(Net, WriteDeadlineReportsPartialWrite) {
  Listener ln = must_listen();
  go::sync::WaitGroup wg;
  go::sync::WaitGroup done_writing;
  done_writing.add(1);
  wg.go([&] {
    auto [c, err] = ln.accept();
    ASSERT_FALSE(err);
    done_writing.wait();  // never read: the writer's buffers fill up
    c.close();
  });
  auto [c, err] = go::net::dial("tcp", ln.addr().address);
  ASSERT_FALSE(err);
  const std::string big(64 << 20, 'x');  // built before the deadline starts
  c.set_write_deadline(go::net::clock::now() + 200ms);
  auto [n, werr] = c.write(big);
  EXPECT_TRUE(go::net::is_timeout(werr)) << werr;
  EXPECT_GT(n, 0u);
  EXPECT_LT(n, std::size_t{64} << 20);
  done_writing.done();
  c.close();
  wg.wait();
  ln.close();
}

TEST(Net, PlainThreadsAndTasksMix) {
  Listener ln = must_listen();
  go::sync::WaitGroup server;
  serve_echo(ln, server);
  const std::string addr = ln.addr().address;
  synctest::runner r;
  for (int i = 0; i < 8; ++i) {
    r.start_mixed(i, [addr, i] {
      auto [c, err] = go::net::dial("tcp", addr);
      ASSERT_FALSE(err) << err;
      std::string msg(1000 + i, static_cast<char>('A' + i));
      c.write(msg);
      EXPECT_EQ(read_n(c, msg.size()), msg);
      c.close();
    });
  }
  r.join();
  ln.close();
  server.wait();
}

TEST(Net, UnixSockets) {
  const std::string path = "/tmp/gocxx_net_test_" + std::to_string(::getpid()) + ".sock";
  for (const std::string& addr : {path, "@gocxx_net_test_" + std::to_string(::getpid())}) {
    Listener ln = must_listen("unix", addr);
    ASSERT_TRUE(ln);
    EXPECT_EQ(ln.addr().network, "unix");
    EXPECT_EQ(ln.addr().address, addr);
    go::sync::WaitGroup server;
    serve_echo(ln, server);
    auto [c, err] = go::net::dial("unix", addr);
    ASSERT_FALSE(err) << err;
    c.write("over unix");
    EXPECT_EQ(read_n(c, 9), "over unix");
    c.close();
    ln.close();
    server.wait();
  }
  EXPECT_NE(::access(path.c_str(), F_OK), 0) << "close() removes the socket file";
  auto [c, err] = go::net::dial("unix", path);
  EXPECT_TRUE(err);
}

TEST(Net, SplitHostPortLikeGo) {
  struct ok_case { const char* in; const char* host; const char* port; };
  for (auto [in, host, port] : {ok_case{"localhost:http", "localhost", "http"}, ok_case{"127.0.0.1:80", "127.0.0.1", "80"},
                                ok_case{"[::1]:80", "::1", "80"}, ok_case{"[fe80::1%lo0]:80", "fe80::1%lo0", "80"},
                                ok_case{":80", "", "80"}, ok_case{"[]:80", "", "80"}, ok_case{"host:", "host", ""}}) {
    auto [hp, err] = go::net::split_host_port(in);
    EXPECT_FALSE(err) << in << ": " << err;
    EXPECT_EQ(hp.first, host) << in;
    EXPECT_EQ(hp.second, port) << in;
  }
  struct bad_case { const char* in; const char* msg; };
  for (auto [in, msg] : {bad_case{"golang.org", "address golang.org: missing port in address"},
                         bad_case{"127.0.0.1", "address 127.0.0.1: missing port in address"},
                         bad_case{"[::1]", "address [::1]: missing port in address"},
                         bad_case{"::1:80", "address ::1:80: too many colons in address"},
                         bad_case{"[::1]:80:90", "address [::1]:80:90: too many colons in address"},
                         bad_case{"[::1", "address [::1: missing ']' in address"},
                         bad_case{"127.0.0.1:[80]", "address 127.0.0.1:[80]: unexpected '[' in address"}}) {
    auto [hp, err] = go::net::split_host_port(in);
    ASSERT_TRUE(err) << in;
    EXPECT_EQ(err.message(), msg);
    EXPECT_NE(go::errors::as<go::net::addr_error>(err), nullptr);
  }
  EXPECT_EQ(go::net::join_host_port("::1", "80"), "[::1]:80");
  EXPECT_EQ(go::net::join_host_port("example.com", "443"), "example.com:443");
}

TEST(Net, MisuseReturnsErrors) {
  auto [c, err] = go::net::dial("udp7", "127.0.0.1:1");
  ASSERT_TRUE(err);
  EXPECT_EQ(err.message(), "dial udp7: unknown network udp7");
  auto [c2, err2] = go::net::dial("tcp", "127.0.0.1");
  EXPECT_EQ(err2.message(), "dial tcp 127.0.0.1: address 127.0.0.1: missing port in address");
  auto [c3, err3] = go::net::dial("tcp", "127.0.0.1:99999");
  EXPECT_TRUE(err3);
  auto [l, err4] = go::net::listen("tcp", "nosuch.invalid:0");
  ASSERT_TRUE(err4);
  EXPECT_NE(go::errors::as<go::net::dns_error>(err4), nullptr) << err4;
  Conn empty;
  char buf[4];
  EXPECT_TRUE(go::errors::is(empty.read(buf).err, go::net::err_closed));
  EXPECT_TRUE(go::errors::is(empty.write("x").err, go::net::err_closed));
  Listener none;
  EXPECT_TRUE(go::errors::is(none.accept().err, go::net::err_closed));
  // A listen on a port in use.
  Listener ln = must_listen();
  auto [l2, err5] = go::net::listen("tcp", ln.addr().address);
  EXPECT_TRUE(go::errors::is(err5, std::errc::address_in_use)) << err5;
  ln.close();
}

TEST(Net, LookupAndDialByName) {
  auto [addrs, err] = go::net::lookup_host(go::context::background(), "localhost");
  ASSERT_FALSE(err) << err;
  ASSERT_FALSE(addrs.empty());
  Listener ln = must_listen("tcp", "localhost:0");
  go::sync::WaitGroup server;
  serve_echo(ln, server);
  auto port = ln.addr().address.substr(ln.addr().address.rfind(':') + 1);
  synctest::in_task([&] {
    auto [c, derr] = go::net::dial("tcp", "localhost:" + port);
    ASSERT_FALSE(derr) << derr;
    c.write("by name");
    EXPECT_EQ(read_n(c, 7), "by name");
    c.close();
  });
  ln.close();
  server.wait();
  auto [none, nerr] = go::net::lookup_host(go::context::background(), "nosuch.invalid");
  ASSERT_TRUE(nerr);
  const auto* de = go::errors::as<go::net::dns_error>(nerr);
  ASSERT_NE(de, nullptr);
  EXPECT_TRUE(de->is_not_found());
  EXPECT_EQ(nerr.message(), "lookup nosuch.invalid: no such host");
}

TEST(Net, DialNeverSucceedsBeforeTheHandshake) {
  // A listener with a full accept queue makes the kernel drop SYNs, so connects stay
  // in SYN_SENT. A socket is registered with epoll before connect(), and its first
  // readiness report (writable, hung up: the unconnected state) must not be taken
  // for a completed connect: every dial here must time out, none may "succeed".
  // (Found by review; Go checks getpeername for the same reason.)
  int l = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(l, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(l, 0), 0);
  socklen_t len = sizeof a;
  ::getsockname(l, reinterpret_cast<sockaddr*>(&a), &len);
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {
    int c = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a);
    fillers.push_back(c);
  }
  go::time::sleep_for(100ms);
  const std::string addr = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  std::atomic<int> bogus{0};
  synctest::runner r;
  for (int k = 0; k < 6; ++k) {
    r.start_mixed(k, [&] {
      for (int i = 0; i < scaled(100); ++i) {
        auto [c, err] = go::net::dial_timeout("tcp", addr, 3ms);
        if (!err) {
          bogus.fetch_add(1);
        } else {
          EXPECT_TRUE(go::net::is_timeout(err)) << err;
        }
      }
    });
  }
  r.join();
  EXPECT_EQ(bogus.load(), 0);
  for (int c : fillers) ::close(c);
  ::close(l);
}

TEST(Net, StressRandomizedOpenCloseRaces) {
  // Rounds of clients that close their connection while a read is in flight, from
  // either side, at random moments: nothing may crash, leak or hang.
  Listener ln = must_listen();
  go::sync::WaitGroup server;
  serve_echo(ln, server);
  const std::string addr = ln.addr().address;
  const int rounds = scaled(200);
  go::sync::WaitGroup wg;
  for (int i = 0; i < rounds; ++i) {
    wg.go([addr, i] {
      auto [conn, err] = go::net::dial("tcp", addr);
      if (err) return;
      Conn c = conn;
      go::sync::WaitGroup inner;
      inner.go([c]() mutable {
        char buf[64];
        while (!c.read(buf).err) {
        }
      });
      for (int k = 0; k < i % 5; ++k) c.write("abc");
      if (i % 3 == 0) go::this_task::yield();
      c.close();
      inner.wait();
    });
  }
  wg.wait();
  ln.close();
  server.wait();
}

}  // namespace
