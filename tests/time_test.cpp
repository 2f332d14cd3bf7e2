// Tests of go::time's timers: after, Timer (stop/reset with Go 1.23 semantics), Ticker
// (tick dropping, stop, reset), after_func, tick, misuse, and a million-timer scale
// check (memory, not threads). Deadlines are checked exactly from below (never early)
// and generously from above (only a hang fails).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <dirent.h>
#include <stdexcept>
#include <thread>
#include <optional>
#include <random>
#include <vector>

#include "go/chan.hpp"
#include "go/runtime.hpp"
#include "go/sync.hpp"
#include "go/time.hpp"

#include "test_support.hpp"

using namespace std::chrono_literals;
namespace gt = go::time;

namespace {

// The million-timer cases are the heaviest: a larger cut under sanitizers.
constexpr int scale = gocxx_test::sanitized ? 20 : 1;

constexpr auto generous = 30s;

int thread_count() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/task")) {
    while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
    closedir(d);
  }
  return n;
}

// Receives from c with a generous timeout; returns the value or nullopt on timeout.
std::optional<gt::time_point> recv_within(const go::recv_chan<gt::time_point>& c, gt::duration d = generous) {
  std::optional<gt::time_point> v;
  go::select(go::recv(c, [&](gt::time_point t) { v = t; }), go::recv(gt::after(d)));
  return v;
}

TEST(Time, AfterFiresOnceNotEarly) {
  auto t0 = gt::clock::now();
  auto c = gt::after(10ms);
  EXPECT_EQ(c.capacity(), 1u);
  auto v = c.recv();
  ASSERT_TRUE(v);
  EXPECT_GE(*v - t0, 10ms);
  EXPECT_GE(gt::clock::now() - t0, 10ms);
  EXPECT_EQ(c.try_recv(), std::nullopt);  // delivers once
  // Zero and negative durations fire promptly.
  EXPECT_TRUE(recv_within(gt::after(0ms)));
  EXPECT_TRUE(recv_within(gt::after(-5s)));
}

TEST(Time, AfterInTasksAndSelect) {
  const int n = 200;
  go::chan<int> done(n);
  for (int i = 0; i < n; ++i) {
    go::spawn([=] {
      auto t0 = gt::clock::now();
      (void)gt::after(std::chrono::microseconds(100 * (i % 20))).recv();
      done.send(gt::clock::now() - t0 >= std::chrono::microseconds(100 * (i % 20)) ? 1 : 0);
    });
  }
  int ok = 0;
  for (int i = 0; i < n; ++i) ok += done.recv().value();
  EXPECT_EQ(ok, n);
}

TEST(Time, TimerStopBeforeFire) {
  gt::Timer t(1h);
  EXPECT_TRUE(t.stop());   // was pending
  EXPECT_FALSE(t.stop());  // already stopped
  EXPECT_EQ(t.c().try_recv(), std::nullopt);
}

// Go 1.23: a timer that fired but whose value was not received is still active: stop
// returns true and discards the value, so no stale value is received afterwards.
TEST(Time, TimerStopDiscardsUnreceivedValue) {
  gt::Timer t(1ms);
  gt::sleep_for(20ms);  // fired (sent into the channel), not received
  EXPECT_TRUE(t.stop());
  EXPECT_EQ(t.c().try_recv(), std::nullopt);
  EXPECT_FALSE(t.stop());
  // Received: expired, stop returns false.
  gt::Timer u(1ms);
  EXPECT_TRUE(u.c().recv());
  EXPECT_FALSE(u.stop());
}

TEST(Time, TimerReset) {
  gt::Timer t(1h);
  auto t0 = gt::clock::now();
  EXPECT_TRUE(t.reset(5ms));  // was active
  auto v = recv_within(t.c());
  ASSERT_TRUE(v);
  EXPECT_GE(*v - t0, 5ms);
  EXPECT_FALSE(t.reset(5ms));  // expired (received)
  EXPECT_TRUE(recv_within(t.c()));
  // Reset after fire without receive: the stale value is dropped.
  t.reset(1ms);
  gt::sleep_for(20ms);
  auto t1 = gt::clock::now();
  EXPECT_TRUE(t.reset(30ms));
  v = recv_within(t.c());
  ASSERT_TRUE(v);
  EXPECT_GE(*v - t1, 30ms) << "received a stale value";
  // The channel of a Timer is the same across resets.
  EXPECT_TRUE(t.c() == t.c());
}

// Go 1.23's lazy timer channels: a channel timer enters the runtime's heap only while a
// receiver waits on it; otherwise a look at the channel delivers a due value. These
// cases check that every way of looking delivers it, and that receivers parked across
// stop and reset are woken by the new deadline.
TEST(Time, UnwatchedTimerDeliversWhenLookedAt) {
  auto t0 = gt::clock::now();
  gt::Timer t(2ms);
  gt::sleep_for(10ms);  // due; nobody was waiting
  EXPECT_EQ(t.c().size(), 1u);  // size() looks, so the value is there
  auto v = t.c().try_recv();
  ASSERT_TRUE(v);
  EXPECT_GE(*v - t0, 2ms);   // the time it was due (Go 1.23), never earlier
  EXPECT_LE(*v, gt::clock::now());
  EXPECT_EQ(t.c().try_recv(), std::nullopt);  // once
  EXPECT_FALSE(t.stop());
  // A select with a default case delivers it too.
  auto c = gt::after(1ms);
  gt::sleep_for(5ms);
  int which = -1;
  go::select(go::recv(c, [&] { which = 0; }), go::default_case([&] { which = 1; }));
  EXPECT_EQ(which, 0);
}

TEST(Time, ParkedReceiverFollowsResetAndStop) {
  for (bool use_select : {false, true}) {
    gt::Timer t(1h);
    go::chan<gt::time_point> got(1);
    auto c = t.c();
    go::spawn([c, got, use_select] {
      if (use_select) go::select(go::recv(c, [&](gt::time_point v) { got.send(v); }));
      else got.send(c.recv().value());
    });
    gt::sleep_for(5ms);  // parked, the 1h timer armed for it
    auto t0 = gt::clock::now();
    EXPECT_TRUE(t.reset(5ms));  // the parked receiver must see the new deadline
    auto v = recv_within(got);
    ASSERT_TRUE(v) << "select: " << use_select;
    EXPECT_GE(*v - t0, 5ms);
    // Stopped while a receiver is parked: nothing comes until a reset.
    go::spawn([c, got] { got.send(c.recv().value()); });
    EXPECT_FALSE(t.reset(1h));
    gt::sleep_for(5ms);
    EXPECT_TRUE(t.stop());
    gt::sleep_for(10ms);
    EXPECT_EQ(got.try_recv(), std::nullopt);
    t.reset(1ms);
    EXPECT_TRUE(recv_within(got));
  }
}

// One value per arming, however many receivers wait or look.
TEST(Time, OneValueForManyReceivers) {
  auto c = gt::after(5ms);
  go::chan<int> got(16);
  for (int i = 0; i < 8; ++i) {
    go::spawn([c, got] {
      int n = 0;
      go::select(go::recv(c, [&] { n = 1; }), go::recv(gt::after(100ms)));
      got.send(n);
    });
  }
  int sum = 0;
  for (int i = 0; i < 8; ++i) sum += got.recv().value();
  EXPECT_EQ(sum, 1);
  EXPECT_EQ(c.try_recv(), std::nullopt);
}

TEST(Time, NilTimerAndTickerThrow) {
  gt::Timer t;
  EXPECT_TRUE(t.is_nil());
  EXPECT_THROW(t.stop(), std::logic_error);
  EXPECT_THROW(t.reset(1s), std::logic_error);
  EXPECT_TRUE(t.c().is_nil());
  gt::Ticker k;
  EXPECT_THROW(k.stop(), std::logic_error);
  EXPECT_THROW(k.reset(1s), std::logic_error);
  EXPECT_THROW(gt::Ticker(0s), std::invalid_argument);
  EXPECT_THROW(gt::Ticker(-1s), std::invalid_argument);
  gt::Ticker ok(1h);
  EXPECT_THROW(ok.reset(0s), std::invalid_argument);
  EXPECT_TRUE(gt::tick(0s).is_nil());
  EXPECT_THROW(gt::after_func(1s, nullptr), std::invalid_argument);
}

TEST(Time, TickerTicksAndStops) {
  auto t0 = gt::clock::now();  // before the ticker: its ticks are scheduled from creation
  gt::Ticker tk(2ms);
  for (int i = 1; i <= 5; ++i) {
    auto v = recv_within(tk.c());
    ASSERT_TRUE(v);
    EXPECT_GE(*v - t0, i * 2ms);
  }
  tk.stop();
  gt::sleep_for(10ms);
  EXPECT_EQ(tk.c().try_recv(), std::nullopt);  // no tick after stop (nor a stale one)
  // Reset restarts it with a new period.
  auto t1 = gt::clock::now();
  tk.reset(5ms);
  auto v = recv_within(tk.c());
  ASSERT_TRUE(v);
  EXPECT_GE(*v - t1, 5ms);
  tk.stop();
}

// A slow receiver misses ticks: the channel holds one, the rest are dropped.
TEST(Time, TickerDropsTicksForSlowReceivers) {
  gt::Ticker tk(1ms);
  gt::sleep_for(30ms);
  EXPECT_LE(tk.c().size(), 1u);
  EXPECT_TRUE(tk.c().try_recv());
  // Roughly one tick per period afterwards, not a backlog.
  int got = 0;
  auto end = gt::clock::now() + 20ms;
  while (gt::clock::now() < end) {
    if (tk.c().try_recv()) ++got;
    gt::sleep_for(5ms);
  }
  EXPECT_LE(got, 6);
  tk.stop();
}

TEST(Time, TickChannelKeepsTicking) {
  auto c = gt::tick(1ms);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(recv_within(c));
}

TEST(Time, AfterFuncRunsInATask) {
  go::chan<bool> ran(4);
  auto t0 = gt::clock::now();
  gt::Timer t = gt::after_func(5ms, [ran] { ran.send(go::this_task::in_task()); });
  EXPECT_TRUE(t.c().is_nil());
  EXPECT_EQ(ran.recv(), true);
  EXPECT_GE(gt::clock::now() - t0, 5ms);
  EXPECT_FALSE(t.stop());  // already ran
  // Reset runs it again.
  EXPECT_FALSE(t.reset(1ms));
  EXPECT_EQ(ran.recv(), true);
  // Stop prevents it.
  gt::Timer s = gt::after_func(1h, [ran] { ran.send(false); });
  EXPECT_TRUE(s.stop());
  EXPECT_FALSE(s.stop());
  EXPECT_TRUE(s.reset(1h) == false);
  EXPECT_TRUE(s.stop());
  // A dropped Timer still runs f (the pending call keeps it alive).
  gt::after_func(1ms, [ran] { ran.send(true); });
  EXPECT_EQ(ran.recv(), true);
  EXPECT_EQ(ran.try_recv(), std::nullopt);
}

TEST(Time, ConcurrentStopResetFromTasksAndThreads) {
  gt::Timer t(1ms);
  gt::Ticker k(1ms);
  go::chan<int> done(8);
  auto body = [=](int seed) mutable {
    for (int i = 0; i < 200 / scale + 20; ++i) {
      if ((i + seed) % 3 == 0) t.stop();
      else t.reset(std::chrono::microseconds(50 * (i % 5)));
      if (i % 7 == 0) k.reset(std::chrono::microseconds(100 + i));
      (void)t.c().try_recv();
      (void)k.c().try_recv();
    }
    done.send(1);
  };
  std::thread th(body, 1);
  go::spawn([body]() mutable { body(2); });
  go::spawn([body]() mutable { body(3); });
  for (int i = 0; i < 3; ++i) (void)done.recv();
  th.join();
  t.stop();
  k.stop();
  EXPECT_EQ(t.c().try_recv(), std::nullopt);
  EXPECT_EQ(k.c().try_recv(), std::nullopt);
}

// Receivers parking and waking on a timer's channel while other threads reset and stop
// it, in random rounds: never more values than armings, nobody left hanging, and a
// final arming reaches a parked receiver.
TEST(Time, LazyTimerStress) {
  std::mt19937 rng(12345);
  for (int round = 0; round < 40 / scale + 5; ++round) {
    gt::Timer t(std::chrono::microseconds(rng() % 200));
    std::atomic<long> arms{1}, got{0};
    std::atomic<bool> stop{false};
    go::sync::WaitGroup wg;
    const int receivers = 1 + static_cast<int>(rng() % 4);
    for (int r = 0; r < receivers; ++r) {
      wg.go([&, c = t.c(), r] {
        while (!stop.load()) {
          if (r % 2) go::select(go::recv(c, [&] { got.fetch_add(1); }), go::recv(gt::after(300us)));
          else if (c.try_recv()) got.fetch_add(1);
          else gt::sleep_for(50us);
        }
      });
    }
    std::thread resetter([&, seed = rng()] {
      std::mt19937 local(seed);
      for (int i = 0; i < 60; ++i) {
        if (local() % 4 == 0) {
          t.stop();
        } else {
          t.reset(std::chrono::microseconds(local() % 300));
          arms.fetch_add(1);
        }
        std::this_thread::sleep_for(std::chrono::microseconds(local() % 200));
      }
    });
    resetter.join();
    stop.store(true);
    wg.wait();
    EXPECT_LE(got.load(), arms.load()) << "round " << round;
    // A final arming reaches a receiver parked before it.
    go::chan<int> one(1);
    auto c = t.c();
    t.stop();
    go::spawn([c, one] { one.send(c.recv() ? 1 : 0); });
    gt::sleep_for(1ms);
    t.reset(100us);
    std::optional<int> v;
    go::select(go::recv(one, [&](int x) { v = x; }), go::recv(gt::after(generous)));
    EXPECT_EQ(v, 1) << "round " << round;
  }
}

// A million pending timers cost memory (heap slots), not threads; dropping their
// channels stops and frees them.
TEST(Time, MillionPendingTimersCostNoThreads) {
  const int n = 1'000'000 / scale;
  (void)gt::after(0ms).recv();  // the runtime and timer thread are up
  const int threads_before = thread_count();
  {
    std::vector<go::recv_chan<gt::time_point>> chans;
    chans.reserve(n);
    for (int i = 0; i < n; ++i) chans.push_back(gt::after(1h + std::chrono::microseconds(i)));
    EXPECT_LE(thread_count(), threads_before + 1);
  }  // dropped: freed
  {
    // In the heap for real: after_func timers (channel timers enter it only while
    // someone waits on them), stopped, which frees them.
    std::vector<gt::Timer> timers;
    timers.reserve(n);
    for (int i = 0; i < n; ++i) timers.push_back(gt::after_func(1h + std::chrono::microseconds(i), [] {}));
    EXPECT_LE(thread_count(), threads_before + 1);
    for (auto& t : timers) ASSERT_TRUE(t.stop());
  }
  // Many short ones fire, each exactly once.
  std::vector<go::recv_chan<gt::time_point>> chans;
  const int m = n / 10;
  chans.reserve(m);
  for (int i = 0; i < m; ++i) chans.push_back(gt::after(std::chrono::microseconds(i % 1000)));
  for (auto& c : chans) ASSERT_TRUE(c.recv());
  EXPECT_LE(thread_count(), threads_before + 1);
}

}  // namespace
