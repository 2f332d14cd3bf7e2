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
#include <vector>

#include "go/chan.hpp"
#include "go/runtime.hpp"
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
  }  // dropped: stopped and freed
  // Many short ones fire, each exactly once.
  std::vector<go::recv_chan<gt::time_point>> chans;
  const int m = n / 10;
  chans.reserve(m);
  for (int i = 0; i < m; ++i) chans.push_back(gt::after(std::chrono::microseconds(i % 1000)));
  for (auto& c : chans) ASSERT_TRUE(c.recv());
  EXPECT_LE(thread_count(), threads_before + 1);
}

}  // namespace
