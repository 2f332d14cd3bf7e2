// Tests of go::sync::RWMutex: Go's sync/rwmutex_test.go cases (TestParallelReaders,
// TestRWMutex's hammer, TestRLocker via std::shared_lock, the misuse cases of
// mutex_test.go), writer preference, try_* and a randomized stress, with tasks and
// threads mixed.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <random>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include "go/sync.hpp"
#include "sync_test_util.hpp"

namespace {

using namespace std::chrono_literals;
using go::sync::RWMutex;
using synctest::runner;
using synctest::scaled;

// Go's doTestParallelReaders: n readers must hold the read lock at the same time.
void parallel_readers(int n) {
  RWMutex m;
  std::atomic<int> locked{0};
  std::atomic<bool> release{false};
  runner r;
  for (int i = 0; i < n; ++i) {
    r.start_mixed(i, [&] {
      m.rlock();
      locked.fetch_add(1);
      while (!release.load()) {
        if (go::this_task::in_task()) go::this_task::yield(); else std::this_thread::yield();
      }
      m.runlock();
    });
  }
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (locked.load() < n && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(100us);
  EXPECT_EQ(locked.load(), n);
  release = true;
  r.join();
}

TEST(RWMutex, ParallelReaders) {
  parallel_readers(1);
  parallel_readers(3);
  parallel_readers(4);
}

// Go's HammerRWMutex: writers add 10000 to `activity`, readers 1; each checks the
// other kind is absent.
TEST(RWMutex, Hammer) {
  RWMutex m;
  std::atomic<int> activity{0};
  std::atomic<bool> bad{false};
  const int iterations = scaled(4000);
  runner r;
  auto writer = [&] {
    for (int i = 0; i < iterations; ++i) {
      m.lock();
      if (activity.fetch_add(10000) != 0) bad = true;
      for (int k = 0; k < 20; ++k) {
      }
      if (activity.fetch_sub(10000) != 10000) bad = true;
      m.unlock();
    }
  };
  auto reader = [&] {
    for (int i = 0; i < iterations; ++i) {
      m.lock_shared();
      const int n = activity.fetch_add(1);
      if (n < 0 || n >= 10000) bad = true;
      activity.fetch_sub(1);
      m.unlock_shared();
    }
  };
  r.start(synctest::kind::task, writer);
  r.start(synctest::kind::thread, writer);
  for (int i = 0; i < 8; ++i) r.start_mixed(i, reader);
  r.join();
  EXPECT_FALSE(bad.load());
  EXPECT_EQ(activity.load(), 0);
}

TEST(RWMutex, Misuse) {
  RWMutex m;
  try {
    m.runlock();
    FAIL();
  } catch (const std::logic_error& e) {
    EXPECT_EQ(std::string(e.what()), "sync: RUnlock of unlocked RWMutex");
  }
  try {
    m.unlock();
    FAIL();
  } catch (const std::logic_error& e) {
    EXPECT_EQ(std::string(e.what()), "sync: Unlock of unlocked RWMutex");
  }
  m.lock();  // write-locked: runlock is misuse too
  EXPECT_THROW(m.runlock(), std::logic_error);
  m.unlock();
  m.rlock();  // read-locked: unlock is misuse
  EXPECT_THROW(m.unlock(), std::logic_error);
  m.runlock();
  // Still consistent.
  EXPECT_TRUE(m.try_lock());
  m.unlock();
  EXPECT_TRUE(m.try_rlock());
  m.runlock();
}

TEST(RWMutex, StandardAdaptors) {
  RWMutex m;
  {
    std::shared_lock<RWMutex> a(m);
    std::shared_lock<RWMutex> b(m);
    EXPECT_FALSE(m.try_lock());
    EXPECT_TRUE(m.try_lock_shared());
    m.unlock_shared();
  }
  {
    std::unique_lock<RWMutex> w(m);
    EXPECT_FALSE(m.try_lock_shared());
  }
  std::lock_guard<RWMutex> g(m);
}

// A waiting writer blocks new readers (Go's writer preference), from tasks and threads.
TEST(RWMutex, WaitingWriterBlocksNewReaders) {
  RWMutex m;
  m.rlock();  // an active reader
  std::atomic<bool> writer_in{false}, reader2_in{false};
  runner r;
  r.start(synctest::kind::task, [&] {
    m.lock();
    writer_in = true;
    std::this_thread::sleep_for(5ms);
    EXPECT_FALSE(reader2_in.load());
    m.unlock();
  });
  // Wait until the writer has announced itself: from then on try_rlock fails.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (m.try_rlock()) {
    m.runlock();
    if (std::chrono::steady_clock::now() > deadline) {
      ADD_FAILURE() << "the writer never announced itself";
      break;
    }
    std::this_thread::sleep_for(100us);
  }
  EXPECT_FALSE(writer_in.load());
  EXPECT_FALSE(m.try_rlock());  // blocked by the waiting writer
  r.start(synctest::kind::thread, [&] {
    m.rlock();
    reader2_in = true;
    EXPECT_TRUE(writer_in.load());  // only after the writer had its turn
    m.runlock();
  });
  std::this_thread::sleep_for(10ms);
  EXPECT_FALSE(reader2_in.load());
  m.runlock();  // the first reader leaves: the writer goes, then the second reader
  r.join();
  EXPECT_TRUE(writer_in.load());
  EXPECT_TRUE(reader2_in.load());
}

TEST(RWMutex, RandomizedStress) {
  RWMutex m;
  std::atomic<int> readers{0}, writers{0};
  std::atomic<bool> bad{false};
  long data = 0;
  long writes = 0;
  const int loops = scaled(3000);
  {
    runner r;
    for (int i = 0; i < 10; ++i) {
      r.start_mixed(i, [&, seed = i] {
        std::mt19937 rng(static_cast<unsigned>(seed) + 17);
        for (int j = 0; j < loops; ++j) {
          const unsigned op = rng() % 10;
          if (op < 2) {
            if (op == 0 ? m.try_lock() : (m.lock(), true)) {
              if (writers.fetch_add(1) != 0 || readers.load() != 0) bad = true;
              ++data;
              ++writes;
              writers.fetch_sub(1);
              m.unlock();
            }
          } else {
            if (op == 2 ? m.try_lock_shared() : (m.lock_shared(), true)) {
              readers.fetch_add(1);
              if (writers.load() != 0) bad = true;
              (void)data;
              if (op == 3) go::this_task::yield();
              readers.fetch_sub(1);
              m.unlock_shared();
            }
          }
        }
      });
    }
  }
  EXPECT_FALSE(bad.load());
  EXPECT_EQ(data, writes);
}

}  // namespace
