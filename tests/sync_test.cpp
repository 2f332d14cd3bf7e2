// Tests of go::sync::WaitGroup: Go's sync/waitgroup_test.go cases (TestWaitGroup,
// TestWaitGroupMisuse, TestWaitGroupRace, TestWaitGroupAlign, TestWaitGroupGo), run
// with tasks and threads in every combination of waiter and waker, plus C++ extras
// (destruction right after wait, many concurrent waiters, captures of go()).
#include "go/sync.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "go/runtime.hpp"
#include "go/time.hpp"

#include "sync_test_util.hpp"

namespace {

using namespace std::chrono_literals;

using synctest::kind;
using synctest::runner;

const char* name(kind k) { return k == kind::task ? "task" : "thread"; }

// Runs body as `waiter` kind (a task or the calling thread) and waits for it.
void run_as(kind waiter, const std::function<void()>& body) {
  runner r;
  if (waiter == kind::thread) {
    body();
  } else {
    r.start(kind::task, body);
    r.join();
  }
}

// Go's testWaitGroup: n workers each do wg1.done() then wg2.wait(); the waiter waits
// on wg1, checks nobody passed wg2 early, releases them one by one, and waits for all.
void test_wait_group(go::sync::WaitGroup& wg1, go::sync::WaitGroup& wg2, kind workers) {
  const int n = 16;
  wg1.add(n);
  wg2.add(n);
  std::atomic<int> exited{0};
  go::sync::WaitGroup all_exited;
  all_exited.add(n);
  runner r;
  for (int i = 0; i != n; ++i) {
    r.start(workers, [&] {
      wg1.done();
      wg2.wait();
      exited.fetch_add(1);
      all_exited.done();
    });
  }
  wg1.wait();
  for (int i = 0; i != n; ++i) {
    EXPECT_EQ(exited.load(), 0) << "WaitGroup released group too soon";
    wg2.done();
  }
  all_exited.wait();  // blocks forever if the barrier failed to unlock someone
  EXPECT_EQ(exited.load(), n);
  r.join();
}

class WaitGroupKinds : public ::testing::TestWithParam<std::tuple<kind, kind>> {};

TEST_P(WaitGroupKinds, TestWaitGroup) {
  auto [waiter, workers] = GetParam();
  run_as(waiter, [workers = workers] {
    go::sync::WaitGroup wg1, wg2;
    // Run the same test a few times to ensure the barrier is in a proper state.
    for (int i = 0; i != 8; ++i) test_wait_group(wg1, wg2, workers);
  });
}

// Go's TestWaitGroupRace: two wakers, one waiter, check no spurious wakeup.
TEST_P(WaitGroupKinds, TestWaitGroupRace) {
  auto [waiter, wakers] = GetParam();
  const int rounds = wakers == kind::thread ? 200 : 1000;
  run_as(waiter, [wakers = wakers, rounds] {
    for (int i = 0; i < rounds; ++i) {
      go::sync::WaitGroup wg;
      std::atomic<int> n{0};
      runner r;
      wg.add(1);
      r.start(wakers, [&] {
        n.fetch_add(1);
        wg.done();
      });
      wg.add(1);
      r.start(wakers, [&] {
        n.fetch_add(1);
        wg.done();
      });
      wg.wait();
      ASSERT_EQ(n.load(), 2) << "Spurious wakeup from Wait";
      r.join();
    }
  });
}

// Several waiters of both kinds on one WaitGroup, released by one waker.
TEST_P(WaitGroupKinds, ManyWaitersOneWaker) {
  auto [waiters, waker] = GetParam();
  for (int round = 0; round < 20; ++round) {
    go::sync::WaitGroup wg, ready;
    std::atomic<int> passed{0};
    std::atomic<bool> released{false};
    wg.add(1);
    const int n = 8;
    ready.add(n);
    runner r;
    for (int i = 0; i < n; ++i) {
      r.start(waiters, [&] {
        ready.done();
        wg.wait();
        EXPECT_TRUE(released.load());
        passed.fetch_add(1);
      });
    }
    ready.wait();
    runner w;
    w.start(waker, [&] {
      go::time::sleep_for(1ms);
      released.store(true);
      wg.done();
    });
    w.join();
    r.join();
    EXPECT_EQ(passed.load(), n);
  }
}

INSTANTIATE_TEST_SUITE_P(AllKinds, WaitGroupKinds,
                         ::testing::Combine(::testing::Values(kind::task, kind::thread),
                                            ::testing::Values(kind::task, kind::thread)),
                         [](const auto& info) {
                           return std::string(name(std::get<0>(info.param))) + "_waits_" +
                                  name(std::get<1>(info.param)) + "s_wake";
                         });

// Go's TestWaitGroupMisuse: a negative counter panics in Go, throws here, and the
// counter is left unchanged.
TEST(WaitGroup, TestWaitGroupMisuse) {
  go::sync::WaitGroup wg;
  wg.add(1);
  wg.done();
  try {
    wg.done();
    FAIL() << "Should throw";
  } catch (const std::logic_error& e) {
    EXPECT_STREQ(e.what(), "sync: negative WaitGroup counter");
  }
  wg.wait();  // still zero: returns at once

  wg.add(2);
  EXPECT_THROW(wg.add(-3), std::logic_error);
  // Still 2: one done leaves it at 1, so wait must not return yet.
  wg.done();
  std::atomic<bool> waited{false};
  std::thread t([&] {
    wg.wait();
    waited.store(true);
  });
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(waited.load());
  wg.done();
  t.join();
  EXPECT_TRUE(waited.load());
  EXPECT_THROW(wg.done(), std::logic_error);
}

// The misuse exception is thrown in the task that made the misuse, where it can be
// caught like any other.
TEST(WaitGroup, MisuseFromTaskThrowsInTask) {
  go::sync::WaitGroup wg, done;
  std::atomic<bool> threw{false};
  done.go([&] {
    try {
      wg.done();
    } catch (const std::logic_error&) {
      threw.store(true);
    }
  });
  done.wait();
  EXPECT_TRUE(threw.load());
  wg.wait();
}

// Go's TestWaitGroupAlign: a WaitGroup that is not the first member.
TEST(WaitGroup, TestWaitGroupAlign) {
  struct X {
    char x;
    go::sync::WaitGroup wg;
  } x{};
  x.wg.add(1);
  go::spawn([p = &x] { p->wg.done(); });
  x.wg.wait();
}

// Go 1.25's TestWaitGroupGo.
TEST(WaitGroup, TestWaitGroupGo) {
  go::sync::WaitGroup wg;
  int i = 0;
  wg.go([&] { i++; });
  wg.wait();
  EXPECT_EQ(i, 1);
}

// WaitGroup::go from tasks and threads, many at once, nested.
TEST(WaitGroup, GoManyNested) {
  go::sync::WaitGroup wg;
  std::atomic<int> count{0};
  for (int i = 0; i < 100; ++i) {
    wg.go([&] {
      for (int j = 0; j < 10; ++j) wg.go([&] { count.fetch_add(1); });
      count.fetch_add(1);
    });
  }
  wg.wait();
  EXPECT_EQ(count.load(), 1100);
}

// go(f) destroys f's captures before its done(): they never outlive the wait().
TEST(WaitGroup, GoDestroysClosureBeforeDone) {
  for (int round = 0; round < 200; ++round) {
    std::atomic<int> alive{0};
    struct guard {
      std::atomic<int>* n;
      explicit guard(std::atomic<int>* p) : n(p) { n->fetch_add(1); }
      guard(const guard& o) : n(o.n) { n->fetch_add(1); }
      ~guard() { n->fetch_sub(1); }
    };
    go::sync::WaitGroup wg;
    for (int i = 0; i < 4; ++i) wg.go([g = guard(&alive)] { (void)g; });
    wg.wait();
    EXPECT_EQ(alive.load(), 0);
  }
}

TEST(WaitGroup, GoRejectsEmptyFunction) {
  go::sync::WaitGroup wg;
  std::function<void()> empty;
  EXPECT_THROW(wg.go(empty), std::invalid_argument);
  void (*null)() = nullptr;
  EXPECT_THROW(wg.go(null), std::invalid_argument);
  wg.wait();  // the counter was left at zero
}

// The owner may destroy the WaitGroup as soon as wait() returns, while the last
// done() may still be finishing (ASan/TSan check there is no access after that).
TEST(WaitGroup, DestroyRightAfterWait) {
  for (int round = 0; round < 2000; ++round) {
    auto wg = std::make_unique<go::sync::WaitGroup>();
    wg->add(2);
    go::sync::WaitGroup* p = wg.get();
    go::spawn([p] { p->done(); });
    std::thread t([p] { p->done(); });
    wg->wait();
    wg.reset();
    t.join();
  }
}

// The same with the waiter a task and extra late waiters that find the counter zero.
TEST(WaitGroup, DestroyRightAfterWaitInTask) {
  go::sync::WaitGroup outer;
  for (int round = 0; round < 500; ++round) {
    outer.go([] {
      auto wg = std::make_unique<go::sync::WaitGroup>();
      wg->add(3);
      go::sync::WaitGroup* p = wg.get();
      for (int i = 0; i < 3; ++i) go::spawn([p] { p->done(); });
      wg->wait();
    });
  }
  outer.wait();
}

// Zero-count wait returns at once from tasks and threads; reuse after wait.
TEST(WaitGroup, ZeroAndReuse) {
  go::sync::WaitGroup wg;
  wg.wait();
  for (int round = 0; round < 100; ++round) {
    std::atomic<int> n{0};
    for (int i = 0; i < 10; ++i) wg.go([&] { n.fetch_add(1); });
    wg.wait();
    EXPECT_EQ(n.load(), 10);
  }
  go::sync::WaitGroup done;
  done.go([&] { wg.wait(); });
  done.wait();
}

// A task waits for a thread, which waits for a task: chains of both kinds.
TEST(WaitGroup, MixedChain) {
  go::sync::WaitGroup a, b, c;
  a.add(1);
  b.add(1);
  c.add(1);
  std::atomic<int> order{0};
  go::spawn([&] {
    a.wait();
    EXPECT_EQ(order.fetch_add(1), 1);
    b.done();
  });
  std::thread t([&] {
    b.wait();
    EXPECT_EQ(order.fetch_add(1), 2);
    c.done();
  });
  EXPECT_EQ(order.fetch_add(1), 0);
  a.done();
  c.wait();
  t.join();
  EXPECT_EQ(order.load(), 3);
}

}  // namespace
