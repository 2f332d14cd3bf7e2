// Tests of go::sync::Mutex: Go's sync/mutex_test.go cases (TestMutex's hammer,
// TestMutexMisuse, TestMutexFairness, the TryLock checks), run with tasks, threads and
// mixes of both, plus the standard lock adaptors and a randomized stress.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>

#include "go/sync.hpp"
#include "sync_test_util.hpp"

namespace {

using namespace std::chrono_literals;
using go::sync::Mutex;
using synctest::runner;
using synctest::scaled;

// Go's HammerMutex: n parties, each locking and unlocking `loops` times, checking
// mutual exclusion through a non-atomic counter.
void hammer(runner& r, Mutex& m, long& counter, int parties, int loops, bool tasks_only, bool threads_only) {
  for (int i = 0; i < parties; ++i) {
    auto body = [&m, &counter, loops] {
      for (int j = 0; j < loops; ++j) {
        if (j % 3 == 0 && m.try_lock()) {
          ++counter;
          m.unlock();
          continue;
        }
        m.lock();
        ++counter;
        m.unlock();
      }
    };
    if (tasks_only) r.start(synctest::kind::task, body);
    else if (threads_only) r.start(synctest::kind::thread, body);
    else r.start_mixed(i, body);
  }
}

TEST(Mutex, HammerTasks) {
  Mutex m;
  long counter = 0;
  const int loops = scaled(20000);
  {
    runner r;
    hammer(r, m, counter, 10, loops, true, false);
  }
  EXPECT_EQ(counter, 10L * loops);
}

TEST(Mutex, HammerThreads) {
  Mutex m;
  long counter = 0;
  const int loops = scaled(20000);
  {
    runner r;
    hammer(r, m, counter, 4, loops, false, true);
  }
  EXPECT_EQ(counter, 4L * loops);
}

TEST(Mutex, HammerMixed) {
  Mutex m;
  long counter = 0;
  const int loops = scaled(20000);
  {
    runner r;
    hammer(r, m, counter, 8, loops, false, false);
  }
  EXPECT_EQ(counter, 8L * loops);
}

TEST(Mutex, Misuse) {
  Mutex m;
  try {
    m.unlock();
    FAIL() << "no exception";
  } catch (const std::logic_error& e) {
    EXPECT_EQ(std::string(e.what()), "sync: unlock of unlocked mutex");
  }
  // Still usable, and unlocked.
  EXPECT_TRUE(m.try_lock());
  m.unlock();
  EXPECT_THROW(m.unlock(), std::logic_error);
}

TEST(Mutex, TryLock) {
  Mutex m;
  EXPECT_TRUE(m.try_lock());
  EXPECT_FALSE(m.try_lock());
  m.unlock();
  EXPECT_TRUE(m.try_lock());
  m.unlock();
  m.lock();
  std::atomic<bool> got{true};
  std::thread([&] { got = m.try_lock(); }).join();
  EXPECT_FALSE(got.load());
  m.unlock();
}

TEST(Mutex, StandardAdaptors) {
  Mutex a, b;
  {
    std::lock_guard<Mutex> g(a);
    EXPECT_FALSE(a.try_lock());
  }
  {
    std::unique_lock<Mutex> u(a, std::try_to_lock);
    EXPECT_TRUE(u.owns_lock());
  }
  {
    std::scoped_lock both(a, b);
    EXPECT_FALSE(a.try_lock());
    EXPECT_FALSE(b.try_lock());
  }
  EXPECT_TRUE(a.try_lock());
  EXPECT_TRUE(b.try_lock());
  a.unlock();
  b.unlock();
}

// Go allows unlocking from another goroutine than the locker.
TEST(Mutex, UnlockFromAnotherParty) {
  Mutex m;
  m.lock();
  std::atomic<bool> acquired{false};
  runner r;
  r.start(synctest::kind::task, [&] {
    m.lock();  // parks until the thread below unlocks
    acquired = true;
  });
  std::this_thread::sleep_for(10ms);
  EXPECT_FALSE(acquired.load());
  std::thread([&] { m.unlock(); }).join();  // another thread unlocks
  r.join();
  EXPECT_TRUE(acquired.load());
  // The task locked it last; a thread unlocks it.
  m.unlock();
}

// Go's TestMutexFairness: a party holding the lock in a tight loop must not starve
// another one; starvation mode bounds the wait.
TEST(Mutex, Fairness) {
  Mutex m;
  std::atomic<bool> stop{false};
  std::atomic<bool> done{false};
  runner r;
  r.start(synctest::kind::task, [&] {
    while (!stop.load(std::memory_order_relaxed)) {
      m.lock();
      const auto until = std::chrono::steady_clock::now() + 100us;
      while (std::chrono::steady_clock::now() < until) {
      }
      m.unlock();
    }
  });
  r.start(synctest::kind::thread, [&] {
    for (int i = 0; i < 10; ++i) {
      std::this_thread::sleep_for(100us);
      m.lock();
      m.unlock();
    }
    done = true;
  });
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!done.load() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
  stop = true;
  r.join();
  EXPECT_TRUE(done.load()) << "can't acquire Mutex in 10 seconds";
}

// Starvation mode, observed: with several waiters and a holder that keeps the lock
// for over 1 ms, every waiter gets the lock (hand-off in FIFO order) well before the
// holder finishes its many rounds.
TEST(Mutex, StarvationHandOff) {
  Mutex m;
  std::atomic<int> waiters_done{0};
  std::atomic<bool> stop{false};
  runner r;
  r.start(synctest::kind::thread, [&] {
    while (!stop.load()) {
      m.lock();
      std::this_thread::sleep_for(2ms);
      m.unlock();
    }
  });
  std::this_thread::sleep_for(5ms);
  for (int i = 0; i < 4; ++i) {
    r.start_mixed(i, [&] {
      m.lock();
      m.unlock();
      waiters_done.fetch_add(1);
    });
  }
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (waiters_done.load() < 4 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
  stop = true;
  r.join();
  EXPECT_EQ(waiters_done.load(), 4);
}

// Randomized stress: tasks and threads, random critical-section lengths, try_lock
// mixed in; checks exclusion with an "inside" counter.
TEST(Mutex, RandomizedStress) {
  Mutex m;
  std::atomic<int> inside{0};
  std::atomic<bool> violated{false};
  long total = 0;
  const int parties = 12, loops = scaled(3000);
  {
    runner r;
    for (int i = 0; i < parties; ++i) {
      r.start_mixed(i, [&, seed = i] {
        std::mt19937 rng(static_cast<unsigned>(seed) * 7919u + 1);
        for (int j = 0; j < loops; ++j) {
          const unsigned op = rng() % 8;
          if (op == 0) {
            if (!m.try_lock()) continue;
          } else {
            m.lock();
          }
          if (inside.fetch_add(1) != 0) violated = true;
          ++total;
          if (op == 1) go::this_task::yield();
          const unsigned spin = rng() % 64;
          std::atomic<unsigned> k{0};
          while (k.load(std::memory_order_relaxed) < spin) k.fetch_add(1, std::memory_order_relaxed);
          inside.fetch_sub(1);
          m.unlock();
        }
      });
    }
  }
  EXPECT_FALSE(violated.load());
  EXPECT_GT(total, 0);
}

// Many tasks on few workers: a task that waits must park, not block its worker, or
// the holder (another task) could never run and unlock.
TEST(Mutex, ParksInsteadOfBlocking) {
  Mutex m;
  const int n = scaled(2000);
  std::atomic<int> count{0};
  m.lock();
  {
    runner r;
    for (int i = 0; i < 50; ++i) {
      r.start(synctest::kind::task, [&] {
        for (int j = 0; j < n / 50; ++j) {
          m.lock();
          count.fetch_add(1, std::memory_order_relaxed);
          m.unlock();
        }
      });
    }
    std::thread([&] { m.unlock(); }).join();
  }
  EXPECT_EQ(count.load(), (n / 50) * 50);
}

}  // namespace
