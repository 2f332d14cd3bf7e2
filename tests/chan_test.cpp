// Tests of go::chan: the cases of Go's chan_test.go that apply (TestChan's sync/async
// and close semantics, TestNonblockRecvRace, TestMultiConsumer, FIFO), nil channels,
// send/recv views, move-only values, misuse exceptions (Go's panics), tasks and
// threads on either side, and a randomized conservation stress test.
//
// Sleeps are used only where Go's tests use them, to check that an operation is
// still blocked (a blocked operation must not complete) — never for correctness of a
// passing run. Loops are scaled down under sanitizers.
#include "go/chan.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "go/runtime.hpp"
#include "go/time.hpp"

#include "test_support.hpp"

using namespace std::chrono_literals;

namespace {

using gocxx_test::scale;

// Runs f(i) for i in [0, n) in n tasks (or threads) and waits for all of them.
template <class F>
void run_tasks(int n, F f, bool threads = false) {
  go::chan<int> done(static_cast<std::size_t>(n));
  std::vector<std::thread> ts;
  for (int i = 0; i < n; ++i) {
    auto body = [done, f, i]() mutable {
      f(i);
      done.send(i);
    };
    if (threads) ts.emplace_back(body);
    else go::spawn(body);
  }
  for (int i = 0; i < n; ++i) ASSERT_TRUE(done.recv().has_value());
  for (auto& t : ts) t.join();
}

// A value type that counts live instances (checks no value is lost or duplicated).
struct counted {
  static std::atomic<int> live;
  int v = 0;
  explicit counted(int x = 0) : v(x) { ++live; }
  counted(const counted& o) noexcept : v(o.v) { ++live; }
  counted(counted&& o) noexcept : v(o.v) { ++live; }
  counted& operator=(const counted&) = default;
  ~counted() { --live; }
};
std::atomic<int> counted::live{0};

TEST(Chan, UnbufferedAndBufferedBasics) {
  go::chan<int> u(go::nil);
  EXPECT_TRUE(u.is_nil());
  go::chan<int> made;  // Go's make(chan int)
  EXPECT_FALSE(made.is_nil());
  EXPECT_EQ(made.capacity(), 0u);
  EXPECT_FALSE(made.try_send(1));
  go::chan<int> moved = std::move(made);
  EXPECT_TRUE(made.is_nil());  // NOLINT: moved-from is nil
  EXPECT_FALSE(moved.is_nil());
  go::chan<int> c0(0), c3(3);
  EXPECT_EQ(c0.capacity(), 0u);
  EXPECT_EQ(c3.capacity(), 3u);
  EXPECT_FALSE(c0.try_send(1));  // no receiver
  EXPECT_TRUE(c3.try_send(1));
  EXPECT_TRUE(c3.try_send(2));
  EXPECT_TRUE(c3.try_send(3));
  EXPECT_FALSE(c3.try_send(4));  // full
  EXPECT_EQ(c3.size(), 3u);
  EXPECT_EQ(c3.recv(), 1);
  EXPECT_EQ(c3.try_recv(), 2);
  EXPECT_EQ(c3.recv(), 3);
  EXPECT_EQ(c3.try_recv(), std::nullopt);
  EXPECT_EQ(c3.size(), 0u);
  go::chan<int> copy = c3;
  EXPECT_TRUE(copy == c3);
  EXPECT_FALSE(copy == c0);
}

// Go's TestChan, for capacities 0, 1, 10 and 100.
TEST(Chan, GoTestChan) {
  const int n = 100 / scale + 10;
  for (std::size_t cap : {0u, 1u, 10u, 100u}) {
    SCOPED_TRACE(cap);
    {
      // Ensure that receive from empty chan blocks.
      go::chan<int> c(cap);
      std::atomic<bool> recv1{false}, recv2{false};
      go::chan<int> joined(2);
      go::spawn([=, &recv1]() mutable { c.recv(); recv1 = true; joined.send(1); });
      go::spawn([=, &recv2]() mutable { c.recv(); recv2 = true; joined.send(1); });
      std::this_thread::sleep_for(1ms);
      EXPECT_FALSE(recv1.load() || recv2.load()) << "recv from empty chan";
      // Ensure that non-blocking receive does not block.
      EXPECT_EQ(c.try_recv(), std::nullopt);
      c.send(0);
      c.send(0);
      joined.recv();
      joined.recv();
    }
    {
      // Ensure that send to full chan blocks.
      go::chan<int> c(cap);
      for (std::size_t i = 0; i < cap; ++i) c.send(static_cast<int>(i));
      std::atomic<bool> sent{false};
      go::chan<int> joined(1);
      go::spawn([=, &sent]() mutable { c.send(0); sent = true; joined.send(1); });
      std::this_thread::sleep_for(1ms);
      EXPECT_FALSE(sent.load()) << "send to full chan";
      // Ensure that non-blocking send does not block.
      EXPECT_FALSE(c.try_send(0));
      c.recv();
      joined.recv();
    }
    {
      // Ensure that we receive 0 (nullopt) from closed chan.
      go::chan<int> c(cap);
      for (std::size_t i = 0; i < cap; ++i) c.send(static_cast<int>(i));
      c.close();
      for (std::size_t i = 0; i < cap; ++i) EXPECT_EQ(c.recv(), static_cast<int>(i));
      EXPECT_EQ(c.recv(), std::nullopt);
      EXPECT_EQ(c.try_recv(), std::nullopt);
      bool ok = true;
      go::select(go::recv(c, [&](int v, bool k) { ok = k; EXPECT_EQ(v, 0); }));
      EXPECT_FALSE(ok);
    }
    {
      // Ensure that close unblocks receive.
      go::chan<int> c(cap);
      go::chan<bool> done(0);
      go::spawn([=]() mutable { done.send(!c.recv().has_value()); });
      std::this_thread::sleep_for(1ms);
      c.close();
      EXPECT_EQ(done.recv(), true);
    }
    {
      // Send 100 integers, ensure that we receive them non-corrupted in FIFO order.
      go::chan<int> c(cap);
      go::spawn([=]() mutable { for (int i = 0; i < n; ++i) c.send(i); });
      for (int i = 0; i < n; ++i) ASSERT_EQ(c.recv(), i);
      // Same, but using recv2 (select with ok).
      go::spawn([=]() mutable { for (int i = 0; i < n; ++i) c.send(i); });
      for (int i = 0; i < n; ++i) {
        go::select(go::recv(c, [&](int v, bool ok) { ASSERT_TRUE(ok); ASSERT_EQ(v, i); }));
      }
    }
    {
      // Send 1000 integers in 4 goroutines, ensure that we receive what we send.
      const int p = 4, l = 1000 / scale;
      go::chan<int> c(cap);
      go::chan<std::vector<int>> done(0);
      for (int i = 0; i < p; ++i) {
        go::spawn([=]() mutable { for (int j = 0; j < l; ++j) c.send(j); });
      }
      for (int i = 0; i < p; ++i) {
        go::spawn([=]() mutable {
          std::vector<int> recv(static_cast<std::size_t>(l));
          for (int j = 0; j < l; ++j) recv[static_cast<std::size_t>(c.recv().value())]++;
          done.send(std::move(recv));
        });
      }
      std::vector<int> total(static_cast<std::size_t>(l));
      for (int i = 0; i < p; ++i) {
        auto r = done.recv().value();
        for (int j = 0; j < l; ++j) total[static_cast<std::size_t>(j)] += r[static_cast<std::size_t>(j)];
      }
      for (int j = 0; j < l; ++j) ASSERT_EQ(total[static_cast<std::size_t>(j)], p) << j;
    }
    {
      // Test len/cap.
      go::chan<int> c(cap);
      EXPECT_EQ(c.size(), 0u);
      EXPECT_EQ(c.capacity(), cap);
      for (std::size_t i = 0; i < cap; ++i) c.send(static_cast<int>(i));
      EXPECT_EQ(c.size(), cap);
      EXPECT_EQ(c.capacity(), cap);
    }
  }
}

TEST(Chan, NilChannel) {
  go::chan<int> nil(go::nil);
  EXPECT_FALSE(nil.try_send(1));
  EXPECT_EQ(nil.try_recv(), std::nullopt);
  EXPECT_EQ(nil.size(), 0u);
  EXPECT_EQ(nil.capacity(), 0u);
  try {
    nil.close();
    FAIL() << "close of nil channel did not throw";
  } catch (const go::channel_error& e) {
    EXPECT_STREQ(e.what(), "close of nil channel");
  }
  // Send and receive block forever (the tasks are abandoned at exit, as in Go).
  std::atomic<bool> moved{false};
  go::spawn([nil, &moved] { nil.send(1); moved = true; });
  go::spawn([nil, &moved] { (void)nil.recv(); moved = true; });
  std::this_thread::sleep_for(2ms);
  EXPECT_FALSE(moved.load());
  // Select never picks a nil case.
  EXPECT_EQ(go::select(go::recv(nil), go::send(nil, 1), go::default_case()), 2u);
}

TEST(Chan, Misuse) {
  go::chan<std::unique_ptr<int>> c(1);
  c.close();
  try {
    c.close();
    FAIL() << "close of closed channel did not throw";
  } catch (const go::channel_error& e) {
    EXPECT_STREQ(e.what(), "close of closed channel");
  }
  auto p = std::make_unique<int>(7);
  try {
    c.send(std::move(p));
    FAIL() << "send on closed channel did not throw";
  } catch (const go::channel_error& e) {
    EXPECT_STREQ(e.what(), "send on closed channel");
  }
  ASSERT_TRUE(p);  // the value was not consumed
  EXPECT_EQ(*p, 7);
  EXPECT_THROW(c.try_send(std::move(p)), go::channel_error);
  ASSERT_TRUE(p);
  EXPECT_THROW(go::select(go::send(c, std::make_unique<int>(1))), go::channel_error);
  EXPECT_TRUE((std::is_base_of_v<std::logic_error, go::channel_error>));
}

// A sender blocked when the channel is closed throws and keeps its value.
TEST(Chan, CloseWakesBlockedSenders) {
  for (std::size_t cap : {0u, 2u}) {
    go::chan<std::unique_ptr<int>> c(cap);
    for (std::size_t i = 0; i < cap; ++i) c.send(std::make_unique<int>(-1));
    go::chan<int> result(8);
    const int senders = 4;
    for (int i = 0; i < senders; ++i) {
      go::spawn([=]() mutable {
        auto v = std::make_unique<int>(i);
        try {
          c.send(std::move(v));
          result.send(-100);
        } catch (const go::channel_error& e) {
          result.send(v && *v == i && std::string(e.what()) == "send on closed channel" ? 1 : -1);
        }
      });
    }
    std::thread t([&] {
      auto v = std::make_unique<int>(99);
      try {
        c.send(std::move(v));
        result.send(-100);
      } catch (const go::channel_error&) {
        result.send(v && *v == 99 ? 1 : -1);
      }
    });
    std::this_thread::sleep_for(2ms);
    c.close();
    for (int i = 0; i < senders + 1; ++i) EXPECT_EQ(result.recv(), 1);
    t.join();
    // The buffered values are still delivered after close.
    for (std::size_t i = 0; i < cap; ++i) EXPECT_EQ(*c.recv().value(), -1);
    EXPECT_EQ(c.recv(), std::nullopt);
  }
}

// close() wakes its receivers a batch at a time (detail::wake_closed): thousands of
// receivers, tasks and threads, some in a select whose other case may win while the
// broadcast is under way. Every receiver returns exactly once, and every value sent on
// the other channel is received exactly once or stays buffered.
TEST(Chan, CloseWakesThousandsOfReceiversWhileSomeLeave) {
  const int rounds = gocxx_test::scaled(20);
  const int tasks = gocxx_test::scaled(3000);
  const int threads = 4;
  std::mt19937 rng(12345);
  for (int r = 0; r < rounds; ++r) {
    go::chan<int> c;
    go::chan<int> other(static_cast<std::size_t>(tasks + threads));
    std::atomic<int> started{0}, closed_seen{0}, other_seen{0};
    auto receive = [c, other, &started, &closed_seen, &other_seen](int i) {
      started.fetch_add(1);
      if (i % 3 == 0) {
        bool from_other = false;
        go::select(go::recv(c, [](std::optional<int> v) { EXPECT_EQ(v, std::nullopt); }),
                   go::recv(other, [&](int) { from_other = true; }));
        (from_other ? other_seen : closed_seen).fetch_add(1);
      } else {
        EXPECT_EQ(c.recv(), std::nullopt);
        closed_seen.fetch_add(1);
      }
    };
    const int extra = static_cast<int>(rng() % static_cast<unsigned>(tasks / 3 + 1));
    std::thread closer([&] {
      while (started.load() < tasks + threads) std::this_thread::yield();
      std::thread feeder([&] {
        for (int k = 0; k < extra; ++k) other.send(k);
      });
      if (rng() % 2) std::this_thread::sleep_for(std::chrono::microseconds(rng() % 200));
      c.close();
      feeder.join();
    });
    std::vector<std::thread> ts;
    for (int i = 0; i < threads; ++i) ts.emplace_back([&receive, i] { receive(3 * i); });
    run_tasks(tasks, receive);
    for (auto& t : ts) t.join();
    closer.join();
    ASSERT_EQ(closed_seen.load() + other_seen.load(), tasks + threads);
    ASSERT_EQ(other_seen.load() + static_cast<int>(other.size()), extra);
  }
}

TEST(Chan, MoveOnlyAndNoLeaks) {
  {
    go::chan<std::unique_ptr<std::string>> u(0), b(4);
    go::spawn([u, b] {
      for (int i = 0; i < 10; ++i) u.send(std::make_unique<std::string>(std::to_string(i)));
      for (int i = 0; i < 4; ++i) b.send(std::make_unique<std::string>(std::to_string(i) + "b"));
      b.close();
    });
    for (int i = 0; i < 10; ++i) EXPECT_EQ(*u.recv().value(), std::to_string(i));
    int i = 0;
    for (auto& s : b) EXPECT_EQ(*s, std::to_string(i++) + "b");
    EXPECT_EQ(i, 4);
  }
  {
    go::chan<counted> c(5);
    for (int i = 0; i < 5; ++i) c.send(counted(i));
    EXPECT_EQ(counted::live.load(), 5);
    EXPECT_EQ(c.recv()->v, 0);
    EXPECT_EQ(counted::live.load(), 4);
    // The channel's destructor destroys the buffered values.
  }
  EXPECT_EQ(counted::live.load(), 0);
}

TEST(Chan, RangeFor) {
  go::chan<int> c(3);
  go::spawn([c] {
    for (int i = 1; i <= 100; ++i) c.send(i);
    c.close();
  });
  int sum = 0, count = 0, last = 0;
  for (int v : c) {
    sum += v;
    ++count;
    EXPECT_GT(v, last);
    last = v;
  }
  EXPECT_EQ(count, 100);
  EXPECT_EQ(sum, 5050);
}

template <class C> concept can_send = requires(C c) { c.send(1); };
template <class C> concept can_close = requires(C c) { c.close(); };
template <class C> concept can_recv = requires(C c) { c.recv(); };

// An API can hand out one direction only.
go::recv_chan<int> produce(int n) {
  go::chan<int> c(0);
  go::spawn([c, n] {
    for (int i = 0; i < n; ++i) c.send(i);
    c.close();
  });
  return c;
}
void consume_into(go::send_chan<int> out, int n) {
  for (int i = 0; i < n; ++i) out.send(i * i);
  out.close();
}

TEST(Chan, DirectionalViews) {
  static_assert(!can_send<go::recv_chan<int>> && !can_close<go::recv_chan<int>> && can_recv<go::recv_chan<int>>);
  static_assert(can_send<go::send_chan<int>> && can_close<go::send_chan<int>> && !can_recv<go::send_chan<int>>);
  static_assert(can_send<go::chan<int>> && can_close<go::chan<int>> && can_recv<go::chan<int>>);
  static_assert(std::is_convertible_v<go::chan<int>, go::recv_chan<int>>);
  static_assert(std::is_convertible_v<go::chan<int>, go::send_chan<int>>);
  static_assert(!std::is_convertible_v<go::recv_chan<int>, go::chan<int>>);
  int expect = 0;
  for (int v : produce(50)) EXPECT_EQ(v, expect++);
  EXPECT_EQ(expect, 50);
  go::chan<int> sq(0);
  go::spawn([sq] { consume_into(sq, 10); });
  go::recv_chan<int> r = sq;
  int i = 0;
  for (int v : r) {
    EXPECT_EQ(v, i * i);
    ++i;
  }
  go::send_chan<int> s = sq;
  EXPECT_EQ(s.capacity(), 0u);
  EXPECT_TRUE(go::send_chan<int>().is_nil());
  EXPECT_TRUE(go::recv_chan<int>().is_nil());
}

// Go's TestNonblockRecvRace: a non-blocking receive of a ready value must succeed even
// while the channel is being closed.
TEST(Chan, NonblockRecvRace) {
  const int n = 1000 / scale;
  for (int i = 0; i < n; ++i) {
    go::chan<int> c(1);
    c.send(1);
    go::chan<bool> ready(1);
    go::spawn([c, ready] {
      bool got = false;
      go::select(go::recv(c, [&] { got = true; }), go::default_case());
      ready.send(got);
    });
    c.close();
    (void)c.recv();
    EXPECT_TRUE(ready.recv().value()) << "chan is not ready";
  }
}

// Go's TestMultiConsumer: workers forward values from q to r; the sum must match.
TEST(Chan, MultiConsumer) {
  const int nwork = 23;
  const int niter = 271828 / (scale * 10);
  const int pn[] = {2, 3, 7, 11, 13, 17, 19, 23, 27, 31};
  go::chan<int> q(nwork * 3), r(nwork * 3);
  go::chan<int> done(nwork);
  for (int i = 0; i < nwork; ++i) {
    go::spawn([=] {
      for (int v : q) {
        // mess with the fifo-ish nature of range
        if (pn[i % 10] == v) go::this_task::yield();
        r.send(v);
      }
      done.send(1);
    });
  }
  go::chan<int> sum_ch(1);
  go::spawn([=] {
    int s = 0, n = 0;
    for (int v : r) {
      ++n;
      s += v;
    }
    if (n != niter) s = -1;
    sum_ch.send(s);
  });
  int expect = 0;
  for (int i = 0; i < niter; ++i) {
    int v = pn[i % 10];
    expect += v;
    q.send(v);
  }
  q.close();
  for (int i = 0; i < nwork; ++i) done.recv();
  r.close();
  EXPECT_EQ(sum_ch.recv(), expect);
}

// Blocked receivers are served in arrival order.
TEST(Chan, ReceiversServedInArrivalOrder) {
  go::chan<int> c(0);
  go::chan<std::pair<int, int>> got(8);
  for (int i = 0; i < 5; ++i) {
    go::spawn([=] { got.send({i, c.recv().value()}); });
    // wait until receiver i is queued: a try_send succeeds only with a waiting receiver
    // — instead we give it time to block (order of queueing needs it).
    std::this_thread::sleep_for(2ms);
  }
  for (int i = 0; i < 5; ++i) c.send(i * 10);
  for (int i = 0; i < 5; ++i) {
    auto [who, v] = got.recv().value();
    EXPECT_EQ(v, who * 10);
  }
}

// Producers and consumers on tasks and threads, in every combination: each producer's
// values arrive in order, and every value arrives exactly once.
TEST(Chan, TasksAndThreadsMix) {
  const int producers = 3, consumers = 3, per = 3000 / scale;
  for (std::size_t cap : {0u, 1u, 64u}) {
    for (int mode = 0; mode < 4; ++mode) {
      SCOPED_TRACE(testing::Message() << "cap " << cap << " mode " << mode);
      const bool prod_threads = mode & 1, cons_threads = mode & 2;
      go::chan<std::pair<int, int>> c(cap);
      std::vector<std::atomic<int>> seen(static_cast<std::size_t>(producers * per));
      std::atomic<bool> order_ok{true};
      std::thread closer([&] {
        run_tasks(producers, [&](int p) {
          for (int i = 0; i < per; ++i) c.send({p, i});
        }, prod_threads);
        c.close();
      });
      run_tasks(consumers, [&](int) {
        std::vector<int> last(producers, -1);
        for (auto [p, i] : c) {
          if (i <= last[static_cast<std::size_t>(p)]) order_ok = false;
          last[static_cast<std::size_t>(p)] = i;
          seen[static_cast<std::size_t>(p * per + i)]++;
        }
      }, cons_threads);
      closer.join();
      EXPECT_TRUE(order_ok.load());
      for (auto& s : seen) ASSERT_EQ(s.load(), 1);
    }
  }
}

// Randomized: tasks and threads do random blocking and non-blocking sends and
// receives on a few channels of random capacities; each value is received exactly once.
TEST(Chan, RandomizedConservationStress) {
  const int rounds = 4;
  for (int round = 0; round < rounds; ++round) {
    std::mt19937 rng(1234u + static_cast<unsigned>(round));
    const int nch = 3;
    std::vector<go::chan<int>> chans;
    for (int i = 0; i < nch; ++i) chans.emplace_back(static_cast<std::size_t>(rng() % 4));
    const int senders = 6, per = 2000 / scale;
    std::vector<std::atomic<int>> seen(static_cast<std::size_t>(senders * per));
    std::atomic<int> received{0};
    go::chan<int> done(64);
    std::vector<std::thread> threads;
    auto receiver = [&, chans, done](unsigned seed) mutable {
      std::mt19937 r(seed);
      while (received.load() < senders * per) {
        auto& ch = chans[r() % nch];
        std::optional<int> v;
        switch (r() % 3) {
          case 0: v = ch.try_recv(); break;
          case 1:
            go::select(go::recv(chans[0], [&](std::optional<int> x) { v = x; }),
                       go::recv(chans[1], [&](std::optional<int> x) { v = x; }),
                       go::recv(chans[2], [&](std::optional<int> x) { v = x; }),
                       go::default_case());
            break;
          default:
            // A blocking select over every channel (a blocking recv on one channel could
            // deadlock with senders blocked on another); the sentinels (-1) sent at the
            // end unblock it.
            go::select(go::recv(chans[0], [&](std::optional<int> x) { v = x; }),
                       go::recv(chans[1], [&](std::optional<int> x) { v = x; }),
                       go::recv(chans[2], [&](std::optional<int> x) { v = x; }));
        }
        if (v && *v >= 0) {
          seen[static_cast<std::size_t>(*v)]++;
          ++received;
        }
        if (r() % 16 == 0) go::this_task::yield();
      }
      done.send(1);
    };
    const int receivers = 4;
    for (int i = 0; i < receivers; ++i) {
      if (i % 2) threads.emplace_back(receiver, 100u + static_cast<unsigned>(i));
      else go::spawn([receiver, i]() mutable { receiver(200u + static_cast<unsigned>(i)); });
    }
    for (int s = 0; s < senders; ++s) {
      auto body = [&, chans, s, seed = rng()]() mutable {
        std::mt19937 r(seed);
        for (int i = 0; i < per; ++i) {
          int v = s * per + i;
          auto& ch = chans[r() % nch];
          if (r() % 2 == 0 || !ch.try_send(v)) ch.send(v);
        }
        done.send(2);
      };
      if (s % 2) threads.emplace_back(body);
      else go::spawn(body);
    }
    // Wait for the senders, then unblock receivers stuck in recv with sentinels.
    int sdone = 0, rdone = 0;
    while (sdone < senders || rdone < receivers) {
      auto v = done.try_recv();
      if (!v) {
        if (sdone == senders) {
          for (auto& ch : chans) ch.try_send(-1);
        }
        go::this_task::yield();
        std::this_thread::sleep_for(50us);
        continue;
      }
      if (*v == 1) ++rdone; else ++sdone;
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(received.load(), senders * per);
    for (auto& s : seen) ASSERT_EQ(s.load(), 1);
  }
}

}  // namespace
