// Tests of go::semaphore::Weighted: x/sync's semaphore_test.go cases (TestWeighted's
// hammer, TestWeightedPanic, TestWeightedTryAcquire, TestWeightedAcquire,
// TestWeightedDoesntBlockIfTooBig, TestLargeAcquireDoesntStarve,
// TestAllocCancelDoesntStarve, the already-canceled context case), FIFO order,
// cancellation races, with tasks and threads mixed.
#include "go/semaphore.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "go/context.hpp"
#include "go/sync.hpp"
#include "sync_test_util.hpp"

namespace {

using namespace std::chrono_literals;
namespace ctxns = go::context;
using go::semaphore::Weighted;
using synctest::runner;
using synctest::scaled;

// Go's HammerWeighted / TestWeighted: n parties acquire and release i tokens.
TEST(Semaphore, Hammer) {
  const int n = 8, loops = scaled(10000) / n;
  Weighted sem(n);
  std::atomic<long> held{0};
  std::atomic<bool> bad{false};
  runner r;
  for (int i = 0; i < n; ++i) {
    r.start_mixed(i, [&, i] {
      for (int k = 0; k < loops; ++k) {
        if (sem.acquire(ctxns::background(), i)) bad = true;
        if (held.fetch_add(i) + i > n) bad = true;
        held.fetch_sub(i);
        sem.release(i);
      }
    });
  }
  r.join();
  EXPECT_FALSE(bad.load());
  EXPECT_TRUE(sem.try_acquire(n));
}

// Go's TestWeightedPanic.
TEST(Semaphore, ReleaseMoreThanHeld) {
  Weighted sem(1);
  try {
    sem.release(1);
    FAIL();
  } catch (const std::logic_error& e) {
    EXPECT_EQ(std::string(e.what()), "semaphore: released more than held");
  }
  EXPECT_TRUE(sem.try_acquire(1));  // unchanged
  EXPECT_THROW(sem.release(2), std::logic_error);
  sem.release(1);
}

// Go's TestWeightedTryAcquire.
TEST(Semaphore, TryAcquire) {
  auto ctx = ctxns::background();
  Weighted sem(2);
  std::vector<bool> tries;
  EXPECT_FALSE(sem.acquire(ctx, 1));
  tries.push_back(sem.try_acquire(1));
  tries.push_back(sem.try_acquire(1));
  sem.release(2);
  tries.push_back(sem.try_acquire(1));
  EXPECT_FALSE(sem.acquire(ctx, 1));
  tries.push_back(sem.try_acquire(1));
  EXPECT_EQ(tries, (std::vector<bool>{true, false, true, false}));
}

// Go's TestWeightedAcquire: acquires with a 10 ms timeout.
TEST(Semaphore, AcquireWithTimeout) {
  Weighted sem(2);
  auto try_acquire = [&](std::int64_t n) {
    auto [ctx, cancel] = ctxns::with_timeout(ctxns::background(), 10ms);
    const bool ok = !sem.acquire(ctx, n);
    cancel();
    return ok;
  };
  std::vector<bool> tries;
  tries.push_back(try_acquire(1));
  tries.push_back(try_acquire(1));
  tries.push_back(try_acquire(1));  // times out
  sem.release(2);
  tries.push_back(try_acquire(1));
  tries.push_back(try_acquire(1));
  tries.push_back(try_acquire(1));  // times out
  EXPECT_EQ(tries, (std::vector<bool>{true, true, false, true, true, false}));
  // The timed-out waiters left the semaphore unchanged.
  sem.release(2);
  EXPECT_TRUE(sem.try_acquire(2));
}

TEST(Semaphore, TimeoutReturnsDeadlineExceeded) {
  Weighted sem(1);
  ASSERT_TRUE(sem.try_acquire(1));
  go::error err;
  synctest::in_task([&] {
    auto [ctx, cancel] = ctxns::with_timeout(ctxns::background(), 5ms);
    err = sem.acquire(ctx, 1);
    cancel();
  });
  EXPECT_EQ(err, ctxns::deadline_exceeded);
}

// An already-done context fails even when tokens are free, and changes nothing.
TEST(Semaphore, AcquireCanceledContext) {
  Weighted sem(5);
  auto [ctx, cancel] = ctxns::with_cancel(ctxns::background());
  cancel();
  EXPECT_EQ(sem.acquire(ctx, 1), ctxns::canceled);
  EXPECT_TRUE(sem.try_acquire(5));
}

// Go's TestWeightedDoesntBlockIfTooBig: a request larger than the size waits only for
// its context and blocks nobody.
TEST(Semaphore, DoesntBlockIfTooBig) {
  const int n = 2;
  Weighted sem(n);
  auto [big_ctx, big_cancel] = ctxns::with_cancel(ctxns::background());
  std::atomic<bool> big_done{false};
  go::error big_err;
  runner r;
  r.start(synctest::kind::task, [&, c = big_ctx] {
    big_err = sem.acquire(c, n + 1);
    big_done = true;
  });
  std::atomic<int> ok{0};
  {
    runner small;
    for (int i = n * 3; i > 0; --i) {
      small.start_mixed(i, [&] {
        if (!sem.acquire(ctxns::background(), 1)) {
          std::this_thread::sleep_for(1ms);
          sem.release(1);
          ok.fetch_add(1);
        }
      });
    }
  }
  EXPECT_EQ(ok.load(), n * 3);
  EXPECT_FALSE(big_done.load());
  big_cancel();
  r.join();
  EXPECT_EQ(big_err, ctxns::canceled);
}

// Go's TestLargeAcquireDoesntStarve: a stream of small acquires must not starve a
// large one (FIFO).
TEST(Semaphore, LargeAcquireDoesntStarve) {
  const int n = 4;
  Weighted sem(n);
  std::atomic<bool> running{true};
  runner r;
  for (int i = 0; i < n; ++i) {
    ASSERT_FALSE(sem.acquire(ctxns::background(), 1));
    r.start_mixed(i, [&] {
      while (running.load()) {
        std::this_thread::sleep_for(100us);
        sem.release(1);
        (void)sem.acquire(ctxns::background(), 1);
      }
      sem.release(1);
    });
  }
  EXPECT_FALSE(sem.acquire(ctxns::background(), n));  // must get through
  running = false;
  sem.release(n);
  r.join();
}

// Go's TestAllocCancelDoesntStarve: a canceled large request at the head lets the
// small requests queued behind it through.
TEST(Semaphore, AllocCancelDoesntStarve) {
  Weighted sem(10);
  ASSERT_FALSE(sem.acquire(ctxns::background(), 1));  // 9 free
  auto [ctx, cancel] = ctxns::with_cancel(ctxns::background());
  go::error big_err;
  std::atomic<bool> small_done{false};
  runner r;
  r.start(synctest::kind::task, [&, c = ctx] { big_err = sem.acquire(c, 10); });  // waits at the head
  std::this_thread::sleep_for(10ms);
  r.start(synctest::kind::thread, [&] {
    EXPECT_FALSE(sem.acquire(ctxns::background(), 1));  // waits behind the big one
    small_done = true;
  });
  std::this_thread::sleep_for(10ms);
  EXPECT_FALSE(small_done.load());
  EXPECT_FALSE(sem.try_acquire(1));  // no barging past waiters
  cancel();
  r.join();
  EXPECT_EQ(big_err, ctxns::canceled);
  EXPECT_TRUE(small_done.load());
  sem.release(2);
  EXPECT_TRUE(sem.try_acquire(10));
}

// FIFO: waiters are granted in arrival order, a large head blocks smaller ones.
TEST(Semaphore, FifoOrder) {
  Weighted sem(3);
  ASSERT_TRUE(sem.try_acquire(3));
  go::sync::Mutex mu;
  std::vector<int> order;
  runner r;
  const std::int64_t weights[] = {3, 1, 2, 1};
  for (int i = 0; i < 4; ++i) {
    r.start_mixed(i, [&, i] {
      EXPECT_FALSE(sem.acquire(ctxns::background(), weights[i]));
      {
        std::lock_guard<go::sync::Mutex> g(mu);
        order.push_back(i);
      }
      sem.release(weights[i]);
    });
    std::this_thread::sleep_for(5ms);  // queue in index order
  }
  sem.release(3);
  r.join();
  ASSERT_EQ(order.size(), 4u);
  EXPECT_EQ(order[0], 0);  // the 3 at the head went first
}

// Cancellation racing with grants: every acquire either succeeds (and is released)
// or fails with the context's error; the semaphore ends balanced.
TEST(Semaphore, CancelRaceStress) {
  Weighted sem(4);
  std::atomic<long> held{0};
  std::atomic<bool> bad{false};
  runner r;
  const int loops = scaled(2000);
  for (int p = 0; p < 8; ++p) {
    r.start_mixed(p, [&, p] {
      for (int k = 0; k < loops; ++k) {
        auto [ctx, cancel] = ctxns::with_cancel(ctxns::background());
        const std::int64_t w = 1 + (p + k) % 3;
        if (k % 4 == 0) cancel();
        go::error err;
        if (k % 4 == 1) {
          auto [tctx, tcancel] = ctxns::with_timeout(ctx, 50us);
          err = sem.acquire(tctx, w);
          tcancel();
        } else {
          err = sem.acquire(ctx, w);
        }
        if (!err) {
          if (held.fetch_add(w) + w > 4) bad = true;
          held.fetch_sub(w);
          sem.release(w);
        }
        cancel();
      }
    });
  }
  r.join();
  EXPECT_FALSE(bad.load());
  EXPECT_TRUE(sem.try_acquire(4));
}

}  // namespace
