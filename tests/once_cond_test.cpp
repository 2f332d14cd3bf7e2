// Tests of go::sync::Once and go::sync::Cond: Go's sync/once_test.go (TestOnce,
// TestOncePanic — adapted: a throwing f leaves the Once not done) and cond_test.go
// (TestCondSignal, TestCondSignalGenerations, TestCondBroadcast, TestRace,
// TestCondSignalStealing), with tasks and threads mixed.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "go/sync.hpp"
#include "sync_test_util.hpp"

namespace {

using namespace std::chrono_literals;
using go::sync::Cond;
using go::sync::Mutex;
using go::sync::Once;
using synctest::runner;

// Go's TestOnce: 10 parties call once.Do(f); f runs once, and every caller sees its
// effect when Do returns.
TEST(Once, Once) {
  Once once;
  int o = 0;  // plain: Once's memory model makes it safe
  std::atomic<int> bad{0};
  runner r;
  for (int i = 0; i < 10; ++i) {
    r.start_mixed(i, [&] {
      once.call([&] {
        std::this_thread::sleep_for(1ms);
        ++o;
      });
      if (o != 1) bad.fetch_add(1);
    });
  }
  r.join();
  EXPECT_EQ(o, 1);
  EXPECT_EQ(bad.load(), 0);
  EXPECT_TRUE(once.done());
}

// Adapted TestOncePanic: in gocxx a throwing f does NOT count as done; the next call
// runs its f.
TEST(Once, ThrowingFunctionIsRetried) {
  Once once;
  EXPECT_THROW(once.call([] { throw std::runtime_error("failed"); }), std::runtime_error);
  EXPECT_FALSE(once.done());
  bool ran = false;
  once.call([&] { ran = true; });
  EXPECT_TRUE(ran);
  EXPECT_TRUE(once.done());
  once.call([] { FAIL() << "Once called twice"; });
}

// Concurrent callers while the first f throws: exactly one later f succeeds.
TEST(Once, ConcurrentRetryAfterThrow) {
  Once once;
  std::atomic<int> attempts{0}, successes{0};
  runner r;
  for (int i = 0; i < 8; ++i) {
    r.start_mixed(i, [&] {
      try {
        once.call([&] {
          if (attempts.fetch_add(1) < 3) throw std::runtime_error("not yet");
          successes.fetch_add(1);
        });
      } catch (const std::runtime_error&) {
      }
    });
  }
  r.join();
  if (!once.done()) once.call([&] { successes.fetch_add(1); });
  EXPECT_EQ(successes.load(), 1);
}

// Go's TestCondSignal: n waiters; each signal wakes exactly one.
TEST(Cond, Signal) {
  Mutex m;
  Cond c(m);
  const int n = 4;
  std::atomic<int> running{0}, awake{0};
  runner r;
  for (int i = 0; i < n; ++i) {
    r.start_mixed(i, [&] {
      m.lock();
      running.fetch_add(1);
      c.wait();
      awake.fetch_add(1);
      m.unlock();
    });
  }
  for (;;) {  // all waiting (each incremented `running` under m before waiting)
    m.lock();
    const bool all = running.load() == n;
    m.unlock();
    if (all) break;
    std::this_thread::sleep_for(100us);
  }
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(awake.load(), i);
    m.lock();  // the waiters are all inside wait() once `running` was seen under m
    c.signal();
    m.unlock();
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (awake.load() != i + 1 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(100us);
    std::this_thread::sleep_for(1ms);
    EXPECT_EQ(awake.load(), i + 1) << "signal woke the wrong number of waiters";
  }
  c.signal();  // no waiters: no-op
  r.join();
}

// Go's TestCondSignalGenerations: waiters are woken in the order they waited.
TEST(Cond, SignalGenerations) {
  Mutex m;
  Cond c(m);
  const int n = 50;
  std::vector<int> order;
  std::atomic<int> waiting{0};
  runner r;
  for (int i = 0; i < n; ++i) {
    // Start one at a time, so the waiting order is i.
    r.start_mixed(i, [&, i] {
      m.lock();
      waiting.fetch_add(1);
      c.wait();
      order.push_back(i);
      m.unlock();
    });
    while (waiting.load() != i + 1) std::this_thread::yield();
    m.lock();  // i is inside wait() now
    m.unlock();
  }
  for (int i = 0; i < n; ++i) {
    c.signal();
    for (;;) {
      m.lock();
      const std::size_t got = order.size();
      m.unlock();
      if (got == static_cast<std::size_t>(i + 1)) break;
      std::this_thread::yield();
    }
  }
  r.join();
  for (int i = 0; i < n; ++i) EXPECT_EQ(order[static_cast<std::size_t>(i)], i);
}

// Go's TestCondBroadcast: repeated rounds; broadcast wakes every waiter.
TEST(Cond, Broadcast) {
  Mutex m;
  Cond c(m);
  const int n = 20, rounds = synctest::scaled(100);
  int round = 0;  // under m
  int exited = 0;
  std::atomic<int> woken_total{0};
  runner r;
  for (int i = 0; i < n; ++i) {
    r.start_mixed(i, [&] {
      for (int k = 0; k < rounds; ++k) {
        m.lock();
        const int start = round;
        while (round == start) c.wait();
        woken_total.fetch_add(1);
        m.unlock();
      }
      m.lock();
      ++exited;
      m.unlock();
    });
  }
  for (int k = 0; k < rounds; ++k) {
    std::this_thread::sleep_for(50us);
    m.lock();
    ++round;
    m.unlock();
    c.broadcast();
  }
  // Parties may miss a round (they wait for "the next round"): keep ringing until all
  // have done their rounds.
  for (;;) {
    m.lock();
    const bool all = exited == n;
    if (!all) ++round;
    m.unlock();
    if (all) break;
    c.broadcast();
    std::this_thread::sleep_for(100us);
  }
  r.join();
  EXPECT_EQ(woken_total.load(), n * rounds);
}

// Go's TestRace: a ping-pong through a Cond between three parties.
TEST(Cond, Race) {
  Mutex m;
  Cond c(m);
  int x = 0;
  runner r;
  r.start(synctest::kind::task, [&] {
    m.lock();
    x = 1;
    c.wait();
    EXPECT_EQ(x, 2);
    x = 3;
    c.signal();
    m.unlock();
  });
  r.start(synctest::kind::thread, [&] {
    m.lock();
    for (;;) {
      if (x == 1) {
        x = 2;
        c.signal();
        break;
      }
      m.unlock();
      std::this_thread::yield();
      m.lock();
    }
    m.unlock();
  });
  r.start(synctest::kind::task, [&] {
    m.lock();
    for (;;) {
      if (x == 2) {
        c.wait();
        EXPECT_EQ(x, 3);
        break;
      }
      if (x == 3) break;
      m.unlock();
      go::this_task::yield();
      m.lock();
    }
    m.unlock();
  });
  r.join();
  EXPECT_EQ(x, 3);
}

// Go's TestCondSignalStealing: a signal sent while a waiter is queued is not stolen
// by a later waiter.
TEST(Cond, SignalStealing) {
  for (int iter = 0; iter < synctest::scaled(200); ++iter) {
    Mutex m;
    Cond c(m);
    std::atomic<bool> first_waiting{false}, first_woken{false};
    bool done = false;
    runner r;
    r.start_mixed(iter, [&] {
      m.lock();
      first_waiting = true;
      c.wait();
      m.unlock();
      first_woken = true;
    });
    while (!first_waiting.load()) std::this_thread::yield();
    m.lock();  // first is inside wait()
    c.signal();
    m.unlock();
    // A second waiter arriving now must not take the signal.
    r.start_mixed(iter + 1, [&] {
      m.lock();
      while (!done) c.wait();
      m.unlock();
    });
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!first_woken.load() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    EXPECT_TRUE(first_woken.load()) << "first waiter didn't get the signal";
    m.lock();
    done = true;
    m.unlock();
    c.broadcast();
    r.join();
  }
}

TEST(Cond, WaitWithoutLockThrows) {
  Mutex m;
  Cond c(m);
  EXPECT_THROW(c.wait(), std::logic_error);
  c.signal();  // nothing queued
  EXPECT_TRUE(m.try_lock());
  m.unlock();
}

}  // namespace
