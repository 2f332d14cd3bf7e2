// Tests of go::select: the cases of Go's chan_test.go / select tests that apply
// (TestSelectFairness, TestSelectDuplicateChannel, TestSelfSelect, TestSelectStress,
// TestNonblockSelectRace), handler signatures, nil cases, the default case, context
// done() and time::after cases, misuse, tasks and threads mixes and a randomized
// conservation stress test.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "go/chan.hpp"
#include "go/context.hpp"
#include "go/runtime.hpp"
#include "go/time.hpp"

#include "test_support.hpp"

using namespace std::chrono_literals;

namespace {

using gocxx_test::scale;

TEST(Select, ReadyCaseRunsAndReturnsItsIndex) {
  go::chan<int> a(1), b(1);
  b.send(5);
  int got = 0;
  std::size_t i = go::select(go::recv(a, [&](int v) { got = v; }), go::recv(b, [&](int v) { got = v * 2; }));
  EXPECT_EQ(i, 1u);
  EXPECT_EQ(got, 10);
  // A send case.
  bool sent = false;
  i = go::select(go::recv(b), go::send(a, 3, [&] { sent = true; }));
  EXPECT_EQ(i, 1u);
  EXPECT_TRUE(sent);
  EXPECT_EQ(a.recv(), 3);
  // Default when nothing is ready.
  bool dflt = false;
  i = go::select(go::recv(a), go::recv(b), go::default_case([&] { dflt = true; }));
  EXPECT_EQ(i, 2u);
  EXPECT_TRUE(dflt);
  // The default case may come first.
  EXPECT_EQ(go::select(go::default_case(), go::recv(a)), 0u);
  a.send(1);
  EXPECT_EQ(go::select(go::default_case(), go::recv(a)), 1u);
  // Only a default.
  EXPECT_EQ(go::select(go::default_case()), 0u);
}

TEST(Select, HandlerSignatures) {
  go::chan<std::string> c(4);
  c.send("a");
  c.send("b");
  c.send("c");
  c.send("d");
  std::string seen;
  go::select(go::recv(c, [&](std::string s) { seen += s; }));
  go::select(go::recv(c, [&](std::optional<std::string> s) { seen += s.value_or("?"); }));
  go::select(go::recv(c, [&](std::string s, bool ok) { seen += ok ? s : "?"; }));
  go::select(go::recv(c, [&](auto s) { static_assert(std::is_same_v<decltype(s), std::optional<std::string>>); seen += *s; }));
  EXPECT_EQ(seen, "abcd");
  c.close();
  std::optional<std::string> last = "x";
  bool ok = true;
  go::select(go::recv(c, [&](std::optional<std::string> s) { last = s; }));
  EXPECT_EQ(last, std::nullopt);
  go::select(go::recv(c, [&](std::string s, bool k) { ok = k; EXPECT_EQ(s, ""); }));
  EXPECT_FALSE(ok);
  // Move-only through a send case.
  go::chan<std::unique_ptr<int>> u(1);
  go::select(go::send(u, std::make_unique<int>(42)));
  go::select(go::recv(u, [&](std::unique_ptr<int> p) { EXPECT_EQ(*p, 42); }));
}

// The seed's pattern: a context's done() against time::after.
TEST(Select, ContextDoneAndTimeAfter) {
  auto [ctx, cancel] = go::context::with_cancel(go::context::background());
  int which = -1;
  auto t0 = std::chrono::steady_clock::now();
  go::select(go::recv(ctx.done(), [&] { which = 0; }), go::recv(go::time::after(20ms), [&] { which = 1; }));
  EXPECT_EQ(which, 1);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 20ms);
  go::spawn([cancel = cancel] { cancel(); });
  go::select(go::recv(ctx.done(), [&] { which = 0; }), go::recv(go::time::after(1h), [&] { which = 1; }));
  EXPECT_EQ(which, 0);
  // A context that can never be done: its nil done() is never chosen.
  auto bg = go::context::background();
  EXPECT_EQ(go::select(go::recv(bg.done()), go::default_case()), 1u);
  EXPECT_EQ(go::select(go::recv(bg.done()), go::recv(go::time::after(1ms))), 1u);
  // Already done: chosen at once; with_timeout's done from a task.
  auto [tctx, tcancel] = go::context::with_timeout(go::context::background(), 5ms);
  go::chan<int> never(0);
  go::chan<std::size_t> res(1);
  go::spawn([tctx = tctx, never, res] { res.send(go::select(go::recv(never), go::recv(tctx.done()))); });
  EXPECT_EQ(res.recv(), 1u);
  tcancel();
}

TEST(Select, NilCasesNeverChosen) {
  go::chan<int> nil(go::nil), ready(1);
  ready.send(1);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(go::select(go::recv(nil), go::send(nil, 1), go::recv(ready, [&](int) { ready.send(1); })), 2u);
  }
  EXPECT_EQ(go::select(go::recv(nil), go::send(nil, 1), go::default_case()), 2u);
  // Only nil cases and no default: blocks forever (the task is abandoned at exit).
  std::atomic<bool> returned{false};
  go::spawn([nil, &returned] {
    go::select(go::recv(nil), go::send(nil, 2));
    returned = true;
  });
  std::this_thread::sleep_for(2ms);
  EXPECT_FALSE(returned.load());
}

TEST(Select, SendOnClosedThrows) {
  go::chan<int> c(0);
  c.close();
  try {
    go::select(go::send(c, 1), go::default_case());
    FAIL();
  } catch (const go::channel_error& e) {
    EXPECT_STREQ(e.what(), "send on closed channel");
  }
  // A select blocked on a send case throws when the channel is closed.
  go::chan<int> d(0), never(0);
  go::chan<std::string> res(1);
  go::spawn([=] {
    try {
      go::select(go::send(d, 1), go::recv(never));
      res.send("sent");
    } catch (const go::channel_error& e) {
      res.send(e.what());
    }
  });
  std::this_thread::sleep_for(2ms);
  d.close();
  EXPECT_EQ(res.recv(), "send on closed channel");
  // An exception from a handler propagates; the communication happened.
  go::chan<int> e(1);
  e.send(9);
  EXPECT_THROW(go::select(go::recv(e, [](int) { throw std::runtime_error("handler"); })), std::runtime_error);
  EXPECT_EQ(e.size(), 0u);
}

// Go's TestSelectFairness: among ready cases, select picks uniformly.
TEST(Select, Fairness) {
  const int trials = 10000;
  go::chan<std::uint8_t> c1(trials + 1), c2(trials + 1);
  for (int i = 0; i < trials + 1; ++i) {
    c1.send(1);
    c2.send(2);
  }
  go::chan<std::uint8_t> c3(go::nil), c4(go::nil);
  go::chan<std::uint8_t> done(0);
  int cnt1 = 0, cnt2 = 0;
  for (int i = 0; i < trials; ++i) {
    std::uint8_t b = 0;
    go::select(go::recv(c1, [&](std::uint8_t v) { b = v; }), go::recv(c2, [&](std::uint8_t v) { b = v; }),
               go::recv(c3, [&](std::uint8_t v) { b = v; }), go::recv(c4, [&](std::uint8_t v) { b = v; }),
               go::recv(done));
    if (b == 1) ++cnt1;
    else if (b == 2) ++cnt2;
    else FAIL() << "unexpected value " << int(b);
  }
  // Go: "If the select in the goroutine is fair, cnt1 and cnt2 should be about the
  // same value. See if we're more than 10 sigma away." sigma = sqrt(trials)/2 = 50.
  const double r = double(cnt1) / trials;
  const double e = std::abs(r - 0.5);
  EXPECT_LT(e, 10 * 0.5 / std::sqrt(double(trials))) << cnt1 << " vs " << cnt2;
}

// Go's TestSelectDuplicateChannel: a select waiting twice on the same channel.
TEST(Select, DuplicateChannel) {
  go::chan<int> c(0), d(0), e(0);
  go::spawn([=] {
    go::select(go::recv(c), go::recv(c), go::recv(d));
    e.send(9);
  });
  std::this_thread::sleep_for(1ms);  // make sure the select is parked on c twice
  go::spawn([=] { (void)c.recv(); });
  std::this_thread::sleep_for(1ms);
  d.send(7);
  (void)e.recv();
  c.send(8);  // received by the plain receiver, not the finished select
}

// Go's TestSelfSelect: a select sending and receiving on the same channel never
// matches itself.
TEST(Select, SelfSelect) {
  const int iters = 1000 / scale;
  for (std::size_t cap : {0u, 1u}) {
    go::chan<int> c(cap);
    go::chan<std::string> done(2);
    for (int p = 0; p < 2; ++p) {
      go::spawn([=] {
        std::string err;
        for (int i = 0; i < iters; ++i) {
          if (p == 0 || i % 2 == 0) {
            go::select(go::send(c, p), go::recv(c, [&](int v) {
                         if (cap == 0 && v == p) err = "self receive";
                       }));
          } else {
            go::select(go::recv(c, [&](int v) {
                         if (cap == 0 && v == p) err = "self receive";
                       }),
                       go::send(c, p));
          }
        }
        done.send(err);
      });
    }
    EXPECT_EQ(done.recv(), "");
    EXPECT_EQ(done.recv(), "");
  }
}

// Go's TestSelectStress: senders and receivers through plain operations and selects
// over four channels (unbuffered and buffered), disabling a case (setting its channel
// to nil) once its quota is done.
TEST(Select, Stress) {
  const int n = 10000 / scale;
  go::chan<int> c[4] = {go::chan<int>(0), go::chan<int>(0), go::chan<int>(2), go::chan<int>(3)};
  go::chan<int> done(8);
  // Plain senders and receivers, 1 per channel each.
  for (int k = 0; k < 4; ++k) {
    go::spawn([=] {
      for (int i = 0; i < n; ++i) c[k].send(0);
      done.send(0);
    });
    go::spawn([=] {
      for (int i = 0; i < n; ++i) (void)c[k].recv();
      done.send(0);
    });
  }
  // A select sender: n values on each channel.
  go::spawn([=] {
    int ns[4] = {};
    go::chan<int> c4[4] = {c[0], c[1], c[2], c[3]};
    for (int i = 0; i < 4 * n; ++i) {
      go::select(go::send(c4[3], 0, [&] { if (++ns[3] == n) c4[3] = go::nil; }),
                 go::send(c4[1], 0, [&] { if (++ns[1] == n) c4[1] = go::nil; }),
                 go::send(c4[0], 0, [&] { if (++ns[0] == n) c4[0] = go::nil; }),
                 go::send(c4[2], 0, [&] { if (++ns[2] == n) c4[2] = go::nil; }));
    }
    done.send(0);
  });
  // A select receiver: n values from each channel.
  go::spawn([=] {
    int ns[4] = {};
    go::chan<int> c4[4] = {c[0], c[1], c[2], c[3]};
    for (int i = 0; i < 4 * n; ++i) {
      go::select(go::recv(c4[0], [&] { if (++ns[0] == n) c4[0] = go::nil; }),
                 go::recv(c4[2], [&] { if (++ns[2] == n) c4[2] = go::nil; }),
                 go::recv(c4[3], [&] { if (++ns[3] == n) c4[3] = go::nil; }),
                 go::recv(c4[1], [&] { if (++ns[1] == n) c4[1] = go::nil; }));
    }
    done.send(0);
  });
  for (int i = 0; i < 10; ++i) (void)done.recv();
}

// Go's TestNonblockSelectRace: a select with default racing with a close must see
// the ready channel.
TEST(Select, NonblockSelectRace2) {
  const int n = 1000 / scale;
  for (int i = 0; i < n; ++i) {
    go::chan<int> c1(1), c2(1);
    c1.send(1);
    go::chan<bool> done(1);
    go::spawn([=] {
      bool ok = true;
      go::select(go::recv(c1), go::recv(c2), go::default_case([&] { ok = false; }));
      done.send(ok);
    });
    c1.close();
    c2.close();
    EXPECT_TRUE(done.recv().value()) << "no chan is ready";
  }
}

// Ping-pong through selects between a task and a thread, in both directions.
TEST(Select, TaskThreadPingPong) {
  const int n = 20000 / scale;
  go::chan<int> ping(0), pong(0);
  go::chan<int> stop(0);
  std::thread t([=] {
    for (;;) {
      bool quit = false;
      go::select(go::recv(ping, [&](int v) { pong.send(v + 1); }), go::recv(stop, [&] { quit = true; }));
      if (quit) return;
    }
  });
  go::chan<long> res(1);
  go::spawn([=] {
    long sum = 0;
    for (int i = 0; i < n; ++i) {
      go::select(go::send(ping, i));
      go::select(go::recv(pong, [&](int v) { sum += v; }));
    }
    res.send(sum);
  });
  EXPECT_EQ(res.recv(), long(n) * (n - 1) / 2 + n);
  stop.close();
  t.join();
}

// Randomized: tasks and threads run random selects mixing send and receive cases
// (and defaults) over a set of channels, plus plain operations; every value sent is
// received exactly once.
TEST(Select, RandomizedConservationStress) {
  for (int round = 0; round < 3; ++round) {
    std::mt19937 rng(77u + static_cast<unsigned>(round));
    const int nch = 4;
    std::vector<go::chan<int>> ch;
    for (int i = 0; i < nch; ++i) ch.emplace_back(static_cast<std::size_t>(rng() % 3));
    const int actors = 6, per = 3000 / scale;
    const int total = actors * per;
    std::vector<std::atomic<int>> seen(static_cast<std::size_t>(total));
    std::atomic<int> received{0};
    go::chan<int> finished(2 * actors);
    std::vector<std::thread> threads;
    // Each actor sends its own values and receives until everything is received.
    auto actor = [&, ch, finished](int id, unsigned seed) mutable {
      std::mt19937 r(seed);
      int next = 0;
      auto got = [&](std::optional<int> v) {
        if (v && *v >= 0) {
          seen[static_cast<std::size_t>(*v)]++;
          ++received;
        }
      };
      while (next < per || received.load() < total) {
        const int v = id * per + next;
        const bool can_send = next < per;
        auto a = ch[r() % nch], b = ch[r() % nch], c2 = ch[r() % nch];
        go::chan<int> sa = can_send ? a : go::chan<int>(go::nil);
        go::chan<int> sb = can_send ? b : go::chan<int>(go::nil);
        const unsigned mode = r() % 3;
        if (!can_send) {
          // Done sending: block on every channel until everything is received (the
          // sentinels sent at the end release the last ones).
          go::select(go::recv(ch[0], got), go::recv(ch[1], got), go::recv(ch[2], got), go::recv(ch[3], got));
        } else if (mode == 0) {
          go::select(go::send(sa, v, [&] { ++next; }), go::recv(b, got), go::recv(c2, got), go::send(sb, v, [&] { ++next; }),
                     go::default_case());
        } else if (mode == 1) {
          // Blocking: may wait for a partner; someone always has a receive case open.
          go::select(go::send(sa, v, [&] { ++next; }), go::recv(b, got), go::recv(c2, got), go::recv(a, got),
                     go::recv(ch[0], got), go::recv(ch[1], got), go::recv(ch[2], got), go::recv(ch[3], got));
        } else if (auto x = a.try_recv()) {
          got(x);
        }
      }
      finished.send(id);
    };
    for (int i = 0; i < actors; ++i) {
      if (i % 3 == 2) threads.emplace_back(actor, i, rng());
      else go::spawn([actor, i, s = rng()]() mutable { actor(i, s); });
    }
    // Actors still blocked in a blocking select once all values are received are
    // released by sentinels.
    int fin = 0;
    while (fin < actors) {
      if (finished.try_recv()) {
        ++fin;
        continue;
      }
      if (received.load() == total) {
        for (auto& x : ch) x.try_send(-1);
      }
      std::this_thread::sleep_for(20us);
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(received.load(), total);
    for (auto& s : seen) ASSERT_EQ(s.load(), 1);
  }
}

}  // namespace
