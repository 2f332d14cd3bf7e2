// Tests of go::singleflight::Group: x/sync's singleflight_test.go cases (TestDo,
// TestDoErr, TestDoDupSuppress, TestForget, TestDoChan, TestPanicDo — as exceptions —
// and TestPanicDoSharedByDoChan), with tasks and threads mixed; exceptions reach every
// caller as the same object, and nobody hangs.
#include "go/singleflight.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "go/context.hpp"
#include "go/errors.hpp"
#include "sync_test_util.hpp"

namespace {

using namespace std::chrono_literals;
using go::singleflight::Group;
using synctest::runner;

// Go's TestDo.
TEST(Singleflight, Do) {
  Group<std::string, std::string> g;
  auto r = g.do_call("key", [] { return std::string("bar"); });
  EXPECT_EQ(r.value, "bar");
  EXPECT_FALSE(r.err);
  EXPECT_FALSE(r.shared);
}

// Go's TestDoErr.
TEST(Singleflight, DoErr) {
  Group<std::string, int> g;
  const go::error some_err = go::errors::make("Some error");
  auto r = g.do_call("key", [&] { return std::pair<int, go::error>(0, some_err); });
  EXPECT_EQ(r.err, some_err);
  EXPECT_EQ(r.value, 0);
}

// Go's TestDoDupSuppress: concurrent callers share one execution.
TEST(Singleflight, DoDupSuppress) {
  Group<std::string, std::string> g;
  std::atomic<int> calls{0};
  std::atomic<bool> release{false};
  std::atomic<int> started{0};
  std::atomic<int> shared_count{0};
  const int n = 10;
  auto fn = [&] {
    calls.fetch_add(1);
    while (!release.load()) std::this_thread::sleep_for(100us);
    return std::string("bar");
  };
  runner r;
  for (int i = 0; i < n; ++i) {
    r.start_mixed(i, [&] {
      started.fetch_add(1);
      auto res = g.do_call("key", fn);
      EXPECT_EQ(res.value, "bar");
      if (res.shared) shared_count.fetch_add(1);
    });
  }
  while (started.load() < n) std::this_thread::sleep_for(100us);
  std::this_thread::sleep_for(50ms);  // let every caller join the call in flight
  release = true;
  r.join();
  EXPECT_GE(calls.load(), 1);
  EXPECT_LT(calls.load(), n) << "no suppression at all";
  EXPECT_GT(shared_count.load(), 0);
}

// Go's TestForget: after forget, a new call runs; a third one joins the second.
TEST(Singleflight, Forget) {
  Group<std::string, int> g;
  std::atomic<bool> first_started{false}, release_first{false};
  std::atomic<bool> second_started{false}, release_second{false};
  runner r;
  r.start(synctest::kind::task, [&] {
    auto res = g.do_call("key", [&] {
      first_started = true;
      while (!release_first.load()) std::this_thread::sleep_for(100us);
      return 1;
    });
    EXPECT_EQ(res.value, 1);
  });
  while (!first_started.load()) std::this_thread::sleep_for(100us);
  g.forget("key");
  r.start(synctest::kind::thread, [&] {
    auto res = g.do_call("key", [&] {
      second_started = true;
      while (!release_second.load()) std::this_thread::sleep_for(100us);
      return 2;
    });
    EXPECT_EQ(res.value, 2);
  });
  while (!second_started.load()) std::this_thread::sleep_for(100us);
  // A third call joins the second one (still in flight), not a new one. do_chan
  // registers synchronously, which makes the join deterministic.
  std::atomic<bool> third_ran{false};
  auto third = g.do_chan("key", [&] {
    third_ran = true;
    return 3;
  });
  release_first = true;
  release_second = true;
  r.join();
  auto res = third.recv();
  ASSERT_TRUE(res.has_value());
  const int third_value = res->value;
  EXPECT_TRUE(res->shared);
  EXPECT_FALSE(third_ran.load());
  EXPECT_EQ(third_value, 2);
}

// Go's TestDoChan.
TEST(Singleflight, DoChan) {
  Group<std::string, std::string> g;
  auto ch = g.do_chan("key", [] { return std::string("bar"); });
  auto res = ch.recv();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->value, "bar");
  EXPECT_FALSE(res->err);
}

// do_chan callers joining a do_call in flight share its result.
TEST(Singleflight, DoChanJoinsDoCall) {
  Group<int, int> g;
  std::atomic<bool> started{false}, release{false};
  runner r;
  r.start(synctest::kind::task, [&] {
    auto res = g.do_call(7, [&] {
      started = true;
      while (!release.load()) std::this_thread::sleep_for(100us);
      return 42;
    });
    EXPECT_TRUE(res.shared);
  });
  while (!started.load()) std::this_thread::sleep_for(100us);
  auto ch = g.do_chan(7, [] { return -1; });
  release = true;
  auto res = ch.recv();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->value, 42);
  EXPECT_TRUE(res->shared);
  r.join();
}

// Go's TestPanicDo, as exceptions: every caller gets the same exception object.
TEST(Singleflight, ExceptionReachesEveryCaller) {
  Group<std::string, int> g;
  const int n = 5;
  std::atomic<bool> release{false};
  std::atomic<int> caught{0};
  std::vector<const void*> objects(n, nullptr);
  runner r;
  for (int i = 0; i < n; ++i) {
    r.start_mixed(i, [&, i] {
      try {
        (void)g.do_call("key", [&]() -> int {
          while (!release.load()) std::this_thread::sleep_for(100us);
          throw std::runtime_error("invalid memory address");
        });
      } catch (const std::runtime_error& e) {
        objects[static_cast<std::size_t>(i)] = &e;
        caught.fetch_add(1);
      }
    });
  }
  std::this_thread::sleep_for(30ms);
  release = true;
  r.join();
  EXPECT_EQ(caught.load(), n);
  // Those that shared one call got one object; every caller got an exception.
  int non_null = 0;
  for (auto* p : objects) non_null += p != nullptr;
  EXPECT_EQ(non_null, n);
  // The key is free again.
  EXPECT_EQ(g.do_call("key", [] { return 1; }).value, 1);
}

// The exception object is the very same for shared callers (one call, deterministic).
TEST(Singleflight, SameExceptionObject) {
  Group<int, int> g;
  std::atomic<bool> started{false}, release{false};
  const void* leader_obj = nullptr;
  const void* dup_obj = nullptr;
  runner r;
  r.start(synctest::kind::task, [&] {
    try {
      (void)g.do_call(1, [&]() -> int {
        started = true;
        while (!release.load()) std::this_thread::sleep_for(100us);
        throw std::logic_error("boom");
      });
    } catch (const std::logic_error& e) {
      leader_obj = &e;
    }
  });
  while (!started.load()) std::this_thread::sleep_for(100us);
  std::atomic<bool> dup_calling{false};
  r.start(synctest::kind::thread, [&] {
    dup_calling = true;
    try {
      (void)g.do_call(1, [] { return 0; });
    } catch (const std::logic_error& e) {
      dup_obj = &e;
    }
  });
  while (!dup_calling.load()) std::this_thread::sleep_for(100us);
  std::this_thread::sleep_for(50ms);  // the duplicate is a few instructions from joining
  release = true;
  r.join();
  ASSERT_NE(leader_obj, nullptr);
  EXPECT_EQ(leader_obj, dup_obj);
}

// Go's TestPanicDoSharedByDoChan, as exceptions: a do_chan receiver gets the
// exception as an error (Go crashes instead).
TEST(Singleflight, ExceptionSharedByDoChan) {
  Group<std::string, int> g;
  std::atomic<bool> started{false}, release{false};
  runner r;
  r.start(synctest::kind::task, [&] {
    EXPECT_THROW((void)g.do_call("key", [&]() -> int {
      started = true;
      while (!release.load()) std::this_thread::sleep_for(100us);
      throw std::runtime_error("Panicking in DoChan");
    }), std::runtime_error);
  });
  while (!started.load()) std::this_thread::sleep_for(100us);
  auto ch = g.do_chan("key", [] { return 1; });
  release = true;
  auto res = ch.recv();
  r.join();
  ASSERT_TRUE(res.has_value());
  ASSERT_TRUE(res->err);
  EXPECT_THROW(go::errors::rethrow_if_exception(res->err), std::runtime_error);
}

// Stress: many keys, many callers, tasks and threads; each call's value is its key.
TEST(Singleflight, Stress) {
  Group<int, int> g;
  std::atomic<int> executions{0};
  std::atomic<bool> bad{false};
  runner r;
  const int loops = synctest::scaled(2000);
  for (int p = 0; p < 8; ++p) {
    r.start_mixed(p, [&, p] {
      for (int k = 0; k < loops; ++k) {
        const int key = (p + k) % 7;
        auto res = g.do_call(key, [&, key] {
          executions.fetch_add(1);
          go::this_task::yield();
          return key * 10;
        });
        if (res.value != key * 10) bad = true;
        if (k % 100 == 0) g.forget(key);
      }
    });
  }
  r.join();
  EXPECT_FALSE(bad.load());
  EXPECT_LE(executions.load(), 8 * loops);
}

}  // namespace
