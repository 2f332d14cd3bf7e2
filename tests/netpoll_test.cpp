// netpoll_test.cpp — the runtime's netpoller (go/detail/netpoll.hpp) on socketpairs:
// readiness, deadlines, cancellation, eviction, many descriptors, watches, and
// descriptor reuse under randomized rounds. Waits run on tasks and on plain threads.
#include "go/detail/netpoll.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>
#include <vector>

#include "go/context.hpp"
#include "go/runtime.hpp"
#include "go/sync.hpp"
#include "go/time.hpp"
#include "sync_test_util.hpp"
#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using go::detail::poll_desc;
using go::detail::poll_mode;
using go::detail::poll_status;
using gocxx_test::scaled;

// A non-blocking socketpair whose end [0] is registered with the netpoller.
struct pair {
  int fd[2] = {-1, -1};
  poll_desc* pd = nullptr;
  pair() {
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fd), 0);
    pd = poll_desc::open(fd[0]);
  }
  ~pair() {
    pd->evict();
    pd->release();
    ::close(fd[0]);
    ::close(fd[1]);
  }
  void send(char c = 'x') { EXPECT_EQ(::write(fd[1], &c, 1), 1); }
  // Drains fd[0]; returns the bytes read.
  int drain() {
    char buf[256];
    int total = 0;
    ssize_t n;
    while ((n = ::read(fd[0], buf, sizeof buf)) > 0) total += static_cast<int>(n);
    return total;
  }
};

// Waits for readability the way net does: retry the read until it returns data.
poll_status wait_readable(pair& p, const go::context::done_channel* done = nullptr) {
  for (;;) {
    char c;
    ssize_t n = ::read(p.fd[0], &c, 1);
    if (n > 0) return poll_status::ready;
    if (auto s = p.pd->wait(poll_mode::read, done); s != poll_status::ready) return s;
  }
}

TEST(Netpoll, ReadinessWakesTaskAndThread) {
  for (auto k : {synctest::kind::task, synctest::kind::thread}) {
    pair p;
    std::atomic<bool> woke{false};
    synctest::runner r;
    r.start(k, [&] {
      EXPECT_EQ(wait_readable(p), poll_status::ready);
      woke = true;
    });
    go::time::sleep_for(10ms);
    EXPECT_FALSE(woke.load());
    p.send();
    r.join();
    EXPECT_TRUE(woke.load());
  }
}

TEST(Netpoll, EdgeBeforeWaitIsNotLost) {
  pair p;
  p.send();
  synctest::in_task([&] { EXPECT_EQ(wait_readable(p), poll_status::ready); });
  // Writability is reported at registration: a write wait returns at once.
  EXPECT_EQ(p.pd->wait(poll_mode::write), poll_status::ready);
}

TEST(Netpoll, DeadlineTimesOutAndCanBeCleared) {
  pair p;
  synctest::in_task([&] {
    const auto start = go::detail::clock::now();
    p.pd->set_deadline(poll_mode::read, start + 30ms);
    EXPECT_EQ(wait_readable(p), poll_status::timeout);
    EXPECT_GE(go::detail::clock::now() - start, 30ms);
    EXPECT_EQ(p.pd->prepare(poll_mode::read), poll_status::timeout);
    EXPECT_EQ(p.pd->prepare(poll_mode::write), poll_status::ready) << "deadlines are per direction";
    p.pd->set_deadline(poll_mode::read, go::detail::clock::time_point::max());
    EXPECT_EQ(p.pd->prepare(poll_mode::read), poll_status::ready);
  });
}

TEST(Netpoll, DeadlineChangeWakesBlockedWaiter) {
  pair p;
  go::sync::WaitGroup wg;
  poll_status got = poll_status::ready;
  wg.go([&] { got = wait_readable(p); });
  go::time::sleep_for(10ms);
  p.pd->set_deadline(poll_mode::read, go::detail::clock::now() - 1s);
  wg.wait();
  EXPECT_EQ(got, poll_status::timeout);
}

TEST(Netpoll, DoneChannelCancelsWait) {
  for (auto k : {synctest::kind::task, synctest::kind::thread}) {
    pair p;
    auto [ctx, cancel] = go::context::with_cancel(go::context::background());
    auto done = ctx.done();
    poll_status got = poll_status::ready;
    synctest::runner r;
    r.start(k, [&] { got = wait_readable(p, &done); });
    go::time::sleep_for(10ms);
    cancel();
    r.join();
    EXPECT_EQ(got, poll_status::canceled);
    // An already-closed done channel cancels at once.
    EXPECT_EQ(wait_readable(p, &done), poll_status::canceled);
  }
}

TEST(Netpoll, EvictWakesEveryWaiter) {
  pair p;
  go::sync::WaitGroup wg;
  std::atomic<int> closed{0};
  for (int i = 0; i < 8; ++i) {
    wg.go([&] {
      if (wait_readable(p) == poll_status::closed) closed.fetch_add(1);
    });
  }
  go::time::sleep_for(10ms);
  p.pd->evict();
  wg.wait();
  EXPECT_EQ(closed.load(), 8);
  EXPECT_EQ(p.pd->prepare(poll_mode::write), poll_status::closed);
}

TEST(Netpoll, ManyDescriptorsEachWithAParkedTask) {
  const std::size_t base = go::detail::netpoll_registered();
  const int n = scaled(1000);
  {
    std::vector<std::unique_ptr<pair>> pairs;
    for (int i = 0; i < n; ++i) pairs.push_back(std::make_unique<pair>());
    EXPECT_EQ(go::detail::netpoll_registered(), base + static_cast<std::size_t>(n));
    go::sync::WaitGroup wg;
    std::atomic<int> ready{0};
    for (auto& p : pairs) {
      wg.go([&ready, pp = p.get()] {
        if (wait_readable(*pp) == poll_status::ready) ready.fetch_add(1);
      });
    }
    go::time::sleep_for(10ms);
    for (auto& p : pairs) p->send();
    wg.wait();
    EXPECT_EQ(ready.load(), n);
  }
  EXPECT_EQ(go::detail::netpoll_registered(), base);
}

TEST(Netpoll, WatchCallbackIsLevelTriggered) {
  int fd[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fd), 0);
  static std::atomic<int> calls{0};
  static std::atomic<std::uint32_t> last{0};
  calls = 0;
  {
    go::detail::poll_watch w(fd[0], EPOLLIN, [](void*, int, std::uint32_t ev) {
      last = ev;
      calls.fetch_add(1);
    }, nullptr);
    go::time::sleep_for(10ms);
    EXPECT_EQ(calls.load(), 0);
    char c = 'x';
    ASSERT_EQ(::write(fd[1], &c, 1), 1);
    // Level-triggered: reported again and again while the byte is unread.
    for (int i = 0; i < 1000 && calls.load() < 3; ++i) go::time::sleep_for(1ms);
    EXPECT_GE(calls.load(), 3);
    EXPECT_TRUE(last.load() & EPOLLIN);
    w.modify(0);
    go::time::sleep_for(5ms);
    const int frozen = calls.load();
    go::time::sleep_for(20ms);
    EXPECT_EQ(calls.load(), frozen) << "interest 0 stops the callbacks";
    w.modify(EPOLLOUT);
    for (int i = 0; i < 1000 && calls.load() == frozen; ++i) go::time::sleep_for(1ms);
    EXPECT_TRUE(last.load() & EPOLLOUT);
  }
  go::time::sleep_for(5ms);
  const int after_close = calls.load();
  go::time::sleep_for(20ms);
  EXPECT_EQ(calls.load(), after_close) << "no callback after the watch is closed";
  ::close(fd[0]);
  ::close(fd[1]);
}

// Interest in user space: a watch made with none is not in the kernel until modify()
// asks for some; dropping the interest and taking it up again works whether or not an
// event came in between; and an fd that hangs up while nobody is interested is dropped
// from the kernel instead of being reported on every poll (EPOLLHUP cannot be masked).
TEST(Netpoll, WatchInterestIsKeptInUserSpace) {
  int fd[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fd), 0);
  static std::atomic<int> calls{0};
  static std::atomic<std::uint32_t> last{0};
  calls = 0;
  auto wait_calls = [](int above) {
    for (int i = 0; i < 1000 && calls.load() <= above; ++i) go::time::sleep_for(1ms);
    return calls.load() > above;
  };
  {
    const std::size_t base = go::detail::netpoll_registered();
    go::detail::poll_watch w(fd[0], 0, [](void*, int, std::uint32_t ev) {
      last = ev;
      calls.fetch_add(1);
    }, nullptr);
    EXPECT_EQ(go::detail::netpoll_registered(), base + 1);
    char c = 'x';
    ASSERT_EQ(::write(fd[1], &c, 1), 1);
    go::time::sleep_for(20ms);
    EXPECT_EQ(calls.load(), 0) << "no interest yet";
    ASSERT_TRUE(w.modify(EPOLLIN));
    ASSERT_TRUE(wait_calls(0)) << "the byte written before the interest is reported";
    EXPECT_TRUE(last.load() & EPOLLIN);

    // Narrowed to nothing (no system call) while the byte is still unread: the next
    // event finds no interest, so callbacks stop.
    ASSERT_TRUE(w.modify(0));
    go::time::sleep_for(5ms);
    int frozen = calls.load();
    go::time::sleep_for(20ms);
    EXPECT_EQ(calls.load(), frozen) << "interest 0 stops the callbacks";
    ASSERT_TRUE(w.modify(EPOLLIN));
    ASSERT_TRUE(wait_calls(frozen)) << "interest taken up again: the unread byte is reported again";

    // Drained, interest dropped and taken up again with no event in between, then a
    // new byte: reported.
    ASSERT_EQ(::read(fd[0], &c, 1), 1);
    ASSERT_TRUE(w.modify(0));
    ASSERT_TRUE(w.modify(EPOLLIN));
    go::time::sleep_for(5ms);
    frozen = calls.load();
    ASSERT_EQ(::write(fd[1], &c, 1), 1);
    ASSERT_TRUE(wait_calls(frozen));
    ASSERT_EQ(::read(fd[0], &c, 1), 1);

    // The peer hangs up while there is no interest: a handful of events at most, not
    // one per poll.
    ASSERT_TRUE(w.modify(0));
    go::time::sleep_for(5ms);
    frozen = calls.load();
    const std::uint64_t events_before = go::detail::netpoll_events();
    ::close(fd[1]);
    fd[1] = -1;
    go::time::sleep_for(50ms);
    EXPECT_EQ(calls.load(), frozen);
    // A handful (the counter is process-wide); reported on every poll it would be
    // thousands in 50 ms.
    EXPECT_LE(go::detail::netpoll_events() - events_before, 50u);
    ASSERT_TRUE(w.modify(EPOLLIN));
    ASSERT_TRUE(wait_calls(frozen)) << "the hang-up is reported once there is interest";
    EXPECT_TRUE(last.load() & (EPOLLIN | EPOLLHUP));
  }
  ::close(fd[0]);
}

// The owner may close a watched fd behind the watch's back while its interest is
// dropped, and the number may then be reused by another socket (libcurl 7.88 closes a
// socket whose connect failed without its close-socket callback, and its resolver's
// socketpair then gets the number). Taking the interest up again must register the
// new socket, even though the kernel's old mask covered that interest.
TEST(Netpoll, WatchSurvivesItsFdReusedBehindItsBack) {
  int a[2], b[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, a), 0);
  static std::atomic<int> calls{0};
  static std::atomic<int> last_fd{-1};
  calls = 0;
  go::detail::poll_watch w(a[0], EPOLLIN, [](void*, int fd, std::uint32_t) {
    last_fd = fd;
    calls.fetch_add(1);
  }, nullptr);
  ASSERT_TRUE(w.modify(0));  // dropped: the kernel still has EPOLLIN
  ::close(a[0]);             // behind the watch's back: the kernel forgets the fd
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, b), 0);
  if (b[0] != a[0]) {  // the lowest free number is usually the old one already
    ASSERT_EQ(::dup3(b[0], a[0], O_CLOEXEC), a[0]);  // a new socket under the old number
    ::close(b[0]);
  }
  ASSERT_TRUE(w.modify(EPOLLIN));
  char c = 'x';
  ASSERT_EQ(::write(b[1], &c, 1), 1);
  for (int i = 0; i < 1000 && calls.load() == 0; ++i) go::time::sleep_for(1ms);
  EXPECT_GT(calls.load(), 0) << "the reused number was not registered";
  EXPECT_EQ(last_fd.load(), a[0]);
  w.close();
  ::close(a[0]);
  ::close(a[1]);
  ::close(b[1]);
}

TEST(Netpoll, StressReuseUnderTraffic) {
  // Descriptors are released and reused while the poller is busy with events for
  // them: stale events must be dropped, never delivered to the next user.
  const int rounds = scaled(300);
  std::mt19937 rng(42);
  go::sync::WaitGroup wg;
  for (int r = 0; r < rounds; ++r) {
    const int k = static_cast<int>(rng() % 4) + 1;
    const bool send_first = rng() % 2;
    wg.go([k, send_first] {
      for (int i = 0; i < k; ++i) {
        pair p;
        if (send_first) p.send();
        go::sync::WaitGroup inner;
        inner.go([&p] { EXPECT_EQ(wait_readable(p), poll_status::ready); });
        if (!send_first) p.send();
        inner.wait();
        // A fresh descriptor must start with no readiness from its previous user.
        EXPECT_EQ(p.drain(), 0);
      }
    });
  }
  wg.wait();
}

}  // namespace
