// Tests of go::errgroup: every case of x/sync's errgroup_test.go (TestZeroGroup,
// TestWithContext, TestTryGo, TestGoLimit, TestCancelCause, ExampleGroup_justErrors,
// ExampleGroup_parallel, ExampleGroup_pipeline), then the C++ additions (exceptions,
// cancel(cause), destructor, own-task wait, concurrent wait, function shapes), and a
// randomized stress test.
#include "go/errgroup.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "go/context.hpp"
#include "go/errors.hpp"
#include "go/runtime.hpp"
#include "go/sync.hpp"
#include "go/time.hpp"

namespace {

using namespace std::chrono_literals;
using go::context::Context;
using go::errgroup::Group;

// A one-shot gate: pass() blocks (parks a task, blocks a thread) until open().
struct gate {
  gate() { wg.add(1); }
  void open() { wg.done(); }
  void pass() { wg.wait(); }
  go::sync::WaitGroup wg;
};

// ---- x/sync errgroup_test.go -------------------------------------------------------

TEST(Errgroup, TestZeroGroup) {
  const go::error err1 = go::errors::make("errgroup_test: 1");
  const go::error err2 = go::errors::make("errgroup_test: 2");

  const std::vector<std::vector<go::error>> cases = {
      {}, {nullptr}, {err1}, {err1, nullptr}, {err1, nullptr, err2},
  };

  for (const auto& errs : cases) {
    Group g;
    go::error first_err;
    for (std::size_t i = 0; i < errs.size(); ++i) {
      go::error err = errs[i];
      g.go([err] { return err; });

      if (!first_err && err) first_err = err;

      go::error g_err = g.wait();
      EXPECT_EQ(g_err, first_err) << "after Group.go(func() error { return err }) for err #" << i
                                  << ": g.wait() = " << g_err << "; want " << first_err;
    }
  }
}

TEST(Errgroup, TestWithContext) {
  const go::error err_doom = go::errors::make("group_test: doomed");

  struct tc {
    std::vector<go::error> errs;
    go::error want;
  };
  const std::vector<tc> cases = {
      {{}, nullptr},
      {{nullptr}, nullptr},
      {{err_doom}, err_doom},
      {{err_doom, nullptr}, err_doom},
  };

  for (const auto& c : cases) {
    auto [g, ctx] = go::errgroup::with_context(go::context::background());

    for (const go::error& err : c.errs) g.go([err] { return err; });

    go::error err = g.wait();
    EXPECT_EQ(err, c.want) << "g.wait() = " << err << "; want " << c.want;

    EXPECT_TRUE(ctx.done().is_closed()) << "after wait(), ctx.done() was not closed";
  }
}

TEST(Errgroup, TestTryGo) {
  Group g;
  const int n = 42;
  g.set_limit(42);
  // Go's fn sends on an unbuffered channel that a helper drains; here each phase's
  // functions pass a gate that the "draining" side opens.
  auto make_fn = [](const std::shared_ptr<gate>& ch) {
    return [ch]() -> go::error {
      ch->pass();
      return nullptr;
    };
  };

  auto ch = std::make_shared<gate>();
  std::function<go::error()> fn = make_fn(ch);
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(g.try_go(fn)) << "try_go should succeed but got fail at " << i << "-th call.";
  }
  if (g.try_go(fn)) {
    ch->open();
    g.wait();
    FAIL() << "try_go is expected to fail but succeeded.";
  }
  go::spawn([ch] { ch->open(); });
  g.wait();

  ch = std::make_shared<gate>();
  fn = make_fn(ch);
  ASSERT_TRUE(g.try_go(fn)) << "try_go should succeed but got fail after all goroutines.";
  go::spawn([ch] { ch->open(); });
  g.wait();

  // Switch limit.
  g.set_limit(1);
  ch = std::make_shared<gate>();
  fn = make_fn(ch);
  ASSERT_TRUE(g.try_go(fn)) << "try_go should succeed but got failed.";
  EXPECT_FALSE(g.try_go(fn)) << "try_go should fail but succeeded.";
  go::spawn([ch] { ch->open(); });
  g.wait();

  // Block all calls.
  g.set_limit(0);
  for (int i = 0; i < 1 << 10; ++i) {
    ASSERT_FALSE(g.try_go(fn)) << "try_go should fail but got succeeded.";
  }
  g.wait();
}

TEST(Errgroup, TestGoLimit) {
  const int limit = 10;

  Group g;
  g.set_limit(limit);
  std::atomic<int> active{0};
  for (int i = 0; i <= 1 << 10; ++i) {
    g.go([&]() -> go::error {
      int n = active.fetch_add(1) + 1;
      if (n > limit) {
        return go::errors::make("saw " + std::to_string(n) + " active goroutines; want <= " + std::to_string(limit));
      }
      go::time::sleep_for(1us);  // Give other tasks a chance to increment active.
      active.fetch_sub(1);
      return nullptr;
    });
  }
  go::error err = g.wait();
  EXPECT_FALSE(err) << err;
}

TEST(Errgroup, TestCancelCause) {
  const go::error err_doom = go::errors::make("group_test: doomed");

  struct tc {
    std::vector<go::error> errs;
    go::error want;
  };
  const std::vector<tc> cases = {
      {{}, nullptr},
      {{nullptr}, nullptr},
      {{err_doom}, err_doom},
      {{err_doom, nullptr}, err_doom},
  };

  for (auto c : cases) {
    auto [g, ctx] = go::errgroup::with_context(go::context::background());

    for (const go::error& err : c.errs) g.try_go([err] { return err; });

    go::error err = g.wait();
    EXPECT_EQ(err, c.want) << "g.wait() = " << err << "; want " << c.want;

    if (!c.want) c.want = go::context::canceled;

    go::error cause = go::context::cause(ctx);
    EXPECT_EQ(cause, c.want) << "context::cause(ctx) = " << cause << "; want " << c.want;
  }
}

// ExampleGroup_justErrors, with a fake http.Get.
go::error fake_http_get(const std::string& url) {
  if (url.find("somestupidname") != std::string::npos) {
    return go::errors::make("Get \"" + url + "\": dial tcp: lookup www.somestupidname.com: no such host");
  }
  return nullptr;
}

TEST(Errgroup, ExampleGroup_justErrors) {
  auto fetch_all = [](const std::vector<std::string>& urls) {
    Group g;
    for (const std::string& url : urls) {
      // Launch a task to fetch the URL (the URL is captured by value).
      g.go([url] { return fake_http_get(url); });
    }
    // Wait for all HTTP fetches to complete.
    return g.wait();
  };
  EXPECT_FALSE(fetch_all({"http://www.golang.org/", "http://www.google.com/"}));
  go::error err = fetch_all({"http://www.golang.org/", "http://www.google.com/", "http://www.somestupidname.com/"});
  ASSERT_TRUE(err);
  EXPECT_NE(err.message().find("no such host"), std::string::npos);
}

// ExampleGroup_parallel: Google Search 2.0 with fake searches.
using Result = std::string;
using Search = std::function<go::error(const Context&, const std::string&, Result&)>;

Search fake_search(std::string kind) {
  return [kind](const Context&, const std::string& query, Result& out) -> go::error {
    out = kind + " result for \"" + query + "\"";
    return nullptr;
  };
}

go::error google(const Context& parent, const std::string& query, std::vector<Result>& out) {
  auto [g, ctx] = go::errgroup::with_context(parent);
  const std::vector<Search> searches = {fake_search("web"), fake_search("image"), fake_search("video")};
  std::vector<Result> results(searches.size());
  for (std::size_t i = 0; i < searches.size(); ++i) {
    g.go([i, search = searches[i], ctx = ctx, &query, &results] { return search(ctx, query, results[i]); });
  }
  if (go::error err = g.wait()) return err;
  out = std::move(results);
  return nullptr;
}

TEST(Errgroup, ExampleGroup_parallel) {
  std::vector<Result> results;
  go::error err = google(go::context::background(), "golang", results);
  ASSERT_FALSE(err) << err;
  const std::vector<Result> want = {
      "web result for \"golang\"",
      "image result for \"golang\"",
      "video result for \"golang\"",
  };
  EXPECT_EQ(results, want);
}

// ExampleGroup_pipeline: MD5All over an in-memory file tree with a stand-in digest
// (64-bit FNV-1a), and a mutex-guarded queue in place of the `paths` channel.
using digest = std::uint64_t;

digest fnv1a(const std::string& data) {
  digest h = 14695981039346656037ull;
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

struct fake_file {
  std::string content;
  bool readable = true;
};
using fake_fs = std::map<std::string, fake_file>;

// A closable queue of paths; pop() yields while empty and not closed, and gives up
// when ctx is done.
class path_queue {
 public:
  bool push(const Context& ctx, std::string p) {
    if (ctx.err()) return false;
    std::lock_guard<std::mutex> lock(mu_);
    q_.push_back(std::move(p));
    return true;
  }
  void close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  bool pop(const Context& ctx, std::string& out) {
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (!q_.empty()) {
          out = std::move(q_.front());
          q_.pop_front();
          return true;
        }
        if (closed_) return false;
      }
      if (ctx.err()) return false;
      go::this_task::yield();
    }
  }

 private:
  std::mutex mu_;
  std::deque<std::string> q_;
  bool closed_ = false;
};

go::error md5_all(const Context& parent, const fake_fs& fs, std::map<std::string, digest>& out) {
  // ctx is cancelled when g.wait() returns. When md5_all returns — even in case of
  // error! — every task of the group has finished.
  Group g(parent);
  const Context& ctx = g.context();
  path_queue paths;

  g.go([&]() -> go::error {
    struct closer {
      path_queue& q;
      ~closer() { q.close(); }
    } c{paths};
    for (const auto& [path, file] : fs) {
      if (!paths.push(ctx, path)) return ctx.err();
    }
    return nullptr;
  });

  // Start a fixed number of tasks to read and digest files.
  std::mutex mu;
  std::map<std::string, digest> m;
  const int num_digesters = 20;
  for (int i = 0; i < num_digesters; ++i) {
    g.go([&]() -> go::error {
      std::string path;
      while (paths.pop(ctx, path)) {
        const fake_file& f = fs.at(path);
        if (!f.readable) return go::errors::make("open " + path + ": permission denied");
        digest d = fnv1a(f.content);
        if (ctx.err()) return ctx.err();
        std::lock_guard<std::mutex> lock(mu);
        m[path] = d;
      }
      return nullptr;
    });
  }
  // Go closes the results channel from another goroutine after g.Wait(); wait here
  // from a task too, concurrently with the final wait below.
  go::sync::WaitGroup closer;
  closer.go([&] { (void)g.wait(); });
  closer.wait();

  // Check whether any of the tasks failed.
  if (go::error err = g.wait()) return err;
  out = std::move(m);
  return nullptr;
}

TEST(Errgroup, ExampleGroup_pipeline) {
  fake_fs fs;
  for (int i = 0; i < 200; ++i) fs["dir" + std::to_string(i % 7) + "/file" + std::to_string(i)] = {std::string(i, 'x') + std::to_string(i * 31)};
  std::map<std::string, digest> m;
  go::error err = md5_all(go::context::background(), fs, m);
  ASSERT_FALSE(err) << err;
  ASSERT_EQ(m.size(), fs.size());
  for (const auto& [path, file] : fs) EXPECT_EQ(m.at(path), fnv1a(file.content)) << path;

  fs["dir3/secret"] = {"s", false};
  std::map<std::string, digest> m2;
  err = md5_all(go::context::background(), fs, m2);
  ASSERT_TRUE(err);
  EXPECT_EQ(err.message(), "open dir3/secret: permission denied");
  EXPECT_TRUE(m2.empty());
}

// BenchmarkGo as a smoke test (the benchmark proper is bench/errgroup_bench.cpp).
TEST(Errgroup, BenchmarkGoSmoke) {
  Group g;
  std::atomic<int> n{0};
  for (int i = 0; i < 100000; ++i) g.go([&n] { n.fetch_add(1, std::memory_order_relaxed); });
  EXPECT_FALSE(g.wait());
  EXPECT_EQ(n.load(), 100000);
}

// ---- the C++ additions -------------------------------------------------------------

struct my_error : std::runtime_error {
  explicit my_error(int c) : std::runtime_error("my error " + std::to_string(c)), code(c) {}
  int code;
};

TEST(ErrgroupCxx, ExceptionIsRethrownByWait) {
  auto [g, ctx] = go::errgroup::with_context(go::context::background());
  std::atomic<bool> saw_cancel{false};
  Context c = ctx;
  g.go([c, &saw_cancel] { saw_cancel = c.wait_for(10s); });
  g.go([]() -> go::error { throw my_error(42); });
  try {
    g.wait();
    FAIL() << "wait() should rethrow";
  } catch (const my_error& e) {
    EXPECT_EQ(e.code, 42);
  }
  EXPECT_TRUE(saw_cancel.load());
  // The context's cause is the error carrying the exception.
  go::error cause = go::context::cause(ctx);
  ASSERT_TRUE(cause);
  EXPECT_EQ(cause.message(), "my error 42");
  ASSERT_TRUE(go::errors::exception(cause));
  EXPECT_THROW(std::rethrow_exception(go::errors::exception(cause)), my_error);
  EXPECT_EQ(ctx.err(), go::context::canceled);
  // Every wait() rethrows it.
  EXPECT_THROW(g.wait(), my_error);
}

TEST(ErrgroupCxx, ExceptionFromVoidFunctionAndNonStdException) {
  Group g;
  g.go([] { throw 7; });
  try {
    g.wait();
    FAIL();
  } catch (int v) {
    EXPECT_EQ(v, 7);
  }
}

TEST(ErrgroupCxx, ExceptionAfterFirstErrorIsNotRethrown) {
  auto [g, ctx] = go::errgroup::with_context(go::context::background());
  const go::error first = go::errors::make("first");
  g.go([first] { return first; });
  EXPECT_EQ(g.wait(), first);
  g.go([] { throw my_error(1); });
  EXPECT_EQ(g.wait(), first);  // the exception failed a task, but was not the first
  EXPECT_EQ(go::context::cause(ctx), first);
}

TEST(ErrgroupCxx, CancelWithCause) {
  auto [g, ctx] = go::errgroup::with_context(go::context::background());
  const go::error stop = go::errors::make("stop requested");
  std::atomic<int> stopped{0};
  for (int i = 0; i < 8; ++i) {
    g.go([c = ctx, &stopped] {
      c.wait();
      stopped.fetch_add(1);
    });
  }
  g.cancel(stop);
  EXPECT_EQ(g.wait(), nullptr);  // cancel does not fail the group
  EXPECT_EQ(stopped.load(), 8);
  EXPECT_EQ(go::context::cause(ctx), stop);
  EXPECT_EQ(ctx.err(), go::context::canceled);
  g.cancel(go::errors::make("later"));  // first cause wins
  EXPECT_EQ(go::context::cause(ctx), stop);
}

TEST(ErrgroupCxx, CancelWithNilCauseAndOnZeroGroup) {
  Group g(go::context::background());
  g.cancel();
  EXPECT_EQ(go::context::cause(g.context()), go::context::canceled);
  Group zero;
  zero.cancel(go::errors::make("x"));  // no effect: a zero group has no context
  EXPECT_EQ(zero.context(), go::context::background());
  EXPECT_FALSE(zero.context().err());
}

TEST(ErrgroupCxx, ParentCancellationReachesGroupContext) {
  auto [parent, cancel] = go::context::with_cancel(go::context::background());
  Group g(parent);
  std::atomic<bool> done{false};
  g.go([&done](Context ctx) -> go::error {
    ctx.wait();
    done = true;
    return ctx.err();
  });
  cancel();
  EXPECT_EQ(g.wait(), go::context::canceled);
  EXPECT_TRUE(done.load());
}

TEST(ErrgroupCxx, DestructorWaitsForEveryTask) {
  std::atomic<int> finished{0};
  {
    Group g;
    for (int i = 0; i < 16; ++i) {
      g.go([&finished] {
        go::time::sleep_for(5ms);
        finished.fetch_add(1);
      });
    }
  }
  EXPECT_EQ(finished.load(), 16);
  // From a thread and a task, with a context: the destructor does not cancel first
  // when no exception is in flight (the task's wait times out), and cancels after.
  Context kept;
  std::atomic<bool> was_cancelled{true};
  go::sync::WaitGroup wg;
  wg.go([&] {
    Group g(go::context::background());
    kept = g.context();
    g.go([&was_cancelled](const Context& ctx) { was_cancelled = ctx.wait_for(30ms); });
  });
  wg.wait();
  EXPECT_FALSE(was_cancelled.load());
  EXPECT_EQ(kept.err(), go::context::canceled);
}

TEST(ErrgroupCxx, DestructorDuringUnwindingCancelsFirst) {
  std::atomic<bool> saw_cancel{false};
  Context kept;
  const auto start = std::chrono::steady_clock::now();
  try {
    Group g(go::context::background());
    kept = g.context();
    g.go([&saw_cancel](const Context& ctx) { saw_cancel = ctx.wait_for(20s); });
    throw my_error(3);
  } catch (const my_error& e) {
    EXPECT_EQ(e.code, 3);
  }
  EXPECT_TRUE(saw_cancel.load());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  EXPECT_EQ(go::context::cause(kept), go::context::canceled);
}

TEST(ErrgroupCxx, DestructorDuringUnwindingInTask) {
  std::atomic<bool> saw_cancel{false};
  go::sync::WaitGroup wg;
  wg.go([&] {
    try {
      auto [g, ctx] = go::errgroup::with_context(go::context::background());
      g.go([c = ctx, &saw_cancel] { saw_cancel = c.wait_for(20s); });
      throw my_error(4);
    } catch (const my_error&) {
    }
  });
  wg.wait();
  EXPECT_TRUE(saw_cancel.load());
}

TEST(ErrgroupCxx, WaitFromOwnTaskThrows) {
  Group g;
  std::atomic<int> threw{0};
  for (int i = 0; i < 8; ++i) {
    g.go([&g, &threw, i] {
      if (i % 2) go::time::sleep_for(1ms);  // also after a park, with others run meanwhile
      try {
        g.wait();
      } catch (const std::logic_error&) {
        threw.fetch_add(1);
      }
    });
  }
  EXPECT_FALSE(g.wait());
  EXPECT_EQ(threw.load(), 8);
}

TEST(ErrgroupCxx, WaitFromOtherTasksDoesNotThrow) {
  Group a, b;
  gate open;
  // Many of b's tasks parked on every worker thread: the waiters below share threads
  // with them, and are still not b's own tasks.
  for (int i = 0; i < 1000; ++i) b.go([&open] { open.pass(); });
  // A task of group a waits for group b: allowed (a different group).
  a.go([&b] { return b.wait(); });
  // A plain task waits for group b: allowed.
  go::sync::WaitGroup plain;
  plain.go([&b] { EXPECT_FALSE(b.wait()); });
  go::time::sleep_for(5ms);
  open.open();
  EXPECT_FALSE(a.wait());
  plain.wait();
}

TEST(ErrgroupCxx, ConcurrentWaitFromThreadsAndTasks) {
  Group g(go::context::background());
  const Context ctx = g.context();
  const go::error boom = go::errors::make("boom");
  gate open;
  for (int i = 0; i < 50; ++i) {
    g.go([&open]() -> go::error {
      open.pass();
      return nullptr;
    });
  }
  g.go([&open, boom] {
    open.pass();
    return boom;
  });
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  go::sync::WaitGroup tasks;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      if (g.wait() == boom) ok.fetch_add(1);
    });
    tasks.go([&] {
      if (g.wait() == boom) ok.fetch_add(1);
    });
  }
  go::time::sleep_for(5ms);
  open.open();
  for (auto& t : threads) t.join();
  tasks.wait();
  EXPECT_EQ(g.wait(), boom);
  EXPECT_EQ(ok.load(), 8);
  EXPECT_EQ(go::context::cause(ctx), boom);
}

TEST(ErrgroupCxx, FunctionShapes) {
  auto [g, ctx] = go::errgroup::with_context(go::context::background());
  std::atomic<int> calls{0};
  g.go([&] { calls++; });                                          // void()
  g.go([&]() -> go::error { calls++; return nullptr; });           // error()
  g.go([&](const Context&) { calls++; });                          // void(const Context&)
  g.go([&](Context c) -> go::error { calls++; return c.err(); });  // error(Context)
  g.go([&]() mutable { calls++; return nullptr; });                // returns nullptr_t
  std::function<go::error()> f = [&]() -> go::error { calls++; return nullptr; };
  g.go(f);
  g.go(std::move(f));
  struct functor {
    std::atomic<int>* c;
    go::error operator()(const Context& ctx) const { c->fetch_add(1); return ctx.err(); }
  };
  g.go(functor{&calls});
  EXPECT_TRUE(g.try_go([&] { calls++; }));
  EXPECT_FALSE(g.wait());
  EXPECT_EQ(calls.load(), 9);

  // The context passed is the group's.
  Group h(go::context::background());
  const Context expected = h.context();
  h.go([&expected](const Context& c) { EXPECT_EQ(c, expected); });
  h.wait();
  // A zero group passes background().
  Group zero;
  zero.go([](const Context& c) { EXPECT_EQ(c, go::context::background()); });
  zero.wait();

  static_assert(go::errgroup::detail::task_function<void (*)()>);
  static_assert(go::errgroup::detail::task_function<go::error (*)(const Context&)>);
  static_assert(!go::errgroup::detail::task_function<int (*)()>);
  static_assert(!go::errgroup::detail::task_function<void (*)(int)>);
  static_assert(!go::errgroup::detail::task_function<std::string (*)(Context)>);
}

TEST(ErrgroupCxx, EmptyFunctionsAreRejected) {
  Group g;
  std::function<go::error()> empty;
  EXPECT_THROW(g.go(empty), std::invalid_argument);
  go::error (*null)() = nullptr;
  EXPECT_THROW(g.go(null), std::invalid_argument);
  g.set_limit(1);  // nothing is active: the failed calls hold no slot
  EXPECT_THROW(g.try_go(empty), std::invalid_argument);
  EXPECT_TRUE(g.try_go([] {}));
  EXPECT_FALSE(g.wait());
}

TEST(ErrgroupCxx, SetLimitWhileActiveThrows) {
  Group g;
  gate open;
  g.go([&open] { open.pass(); });
  try {
    g.set_limit(4);
    FAIL() << "set_limit should throw";
  } catch (const std::logic_error& e) {
    EXPECT_STREQ(e.what(), "errgroup: modify limit while 1 goroutines in the group are still active");
  }
  open.open();
  g.wait();
  g.set_limit(4);  // fine once idle
  g.set_limit(-1);
}

TEST(ErrgroupCxx, GoBlocksWhileLimitReachedFromThreadsAndTasks) {
  Group g;
  g.set_limit(1);
  std::atomic<int> active{0}, peak{0}, ran{0};
  auto work = [&] {
    int a = active.fetch_add(1) + 1;
    int p = peak.load();
    while (a > p && !peak.compare_exchange_weak(p, a)) {
    }
    go::time::sleep_for(200us);
    active.fetch_sub(1);
    ran.fetch_add(1);
  };
  // Many tasks blocked in go() must park, not hold their workers: otherwise the task
  // holding the slot could never run and this would deadlock.
  go::sync::WaitGroup launchers;
  for (int i = 0; i < 32; ++i) launchers.go([&] { g.go(work); });
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) threads.emplace_back([&] { g.go(work); });
  launchers.wait();
  for (auto& t : threads) t.join();
  EXPECT_FALSE(g.wait());
  EXPECT_EQ(ran.load(), 36);
  EXPECT_EQ(peak.load(), 1);
}

TEST(ErrgroupCxx, SetLimitAdmitsBlockedGo) {
  Group g;
  g.set_limit(0);
  std::atomic<bool> started{false};
  std::thread t([&] { g.go([&] { started = true; }); });
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(started.load());
  g.set_limit(1);  // no task is active: allowed, and admits the blocked go()
  t.join();
  EXPECT_FALSE(g.wait());
  EXPECT_TRUE(started.load());
}

TEST(ErrgroupCxx, StructuredBindingsAndGroupContext) {
  auto [g, ctx] = go::errgroup::with_context(go::context::background());
  EXPECT_EQ(g.context(), ctx);
  EXPECT_FALSE(ctx.err());
  g.go([] { return go::error{}; });
  EXPECT_FALSE(g.wait());
  EXPECT_EQ(ctx.err(), go::context::canceled);
  EXPECT_EQ(go::context::cause(ctx), go::context::canceled);
}

TEST(ErrgroupCxx, CapturesDieBeforeWaitReturns) {
  struct counted {
    std::atomic<int>* n;
    explicit counted(std::atomic<int>* p) : n(p) { n->fetch_add(1); }
    counted(const counted& o) : n(o.n) { n->fetch_add(1); }
    ~counted() { n->fetch_sub(1); }
  };
  for (int round = 0; round < 200; ++round) {
    std::atomic<int> alive{0};
    Group g;
    for (int i = 0; i < 4; ++i) g.go([c = counted(&alive)] { (void)c; });
    g.wait();
    EXPECT_EQ(alive.load(), 0);
  }
}

TEST(ErrgroupCxx, DestroyRightAfterWait) {
  for (int round = 0; round < 1000; ++round) {
    auto g = std::make_unique<Group>(go::context::background());
    g->set_limit(round % 3 == 0 ? 1 : -1);
    for (int i = 0; i < 3; ++i) g->go([i] { return i == 1 ? go::errors::make("x") : nullptr; });
    EXPECT_TRUE(g->wait());
    g.reset();
  }
}

// ---- randomized stress -------------------------------------------------------------

TEST(ErrgroupStress, RandomLimitsFailuresTasksAndThreads) {
  const auto budget = 3s;
  const auto start = std::chrono::steady_clock::now();
  std::mt19937 rng(12345);
  int rounds = 0;
  while (rounds < 20 || std::chrono::steady_clock::now() - start < budget) {
    if (rounds >= 2000) break;
    ++rounds;
    const int limit = static_cast<int>(rng() % 6) - 1;  // -1 (none) .. 4
    const int tasks = static_cast<int>(rng() % 40);
    const int fail_every = 1 + static_cast<int>(rng() % 8);  // some rounds fail often
    const bool fail_at_all = rng() % 3 != 0;
    const bool use_context = rng() % 2 == 0;
    const int launchers = 1 + static_cast<int>(rng() % 3);
    const bool thread_launchers = rng() % 2 == 0;
    const std::uint32_t seed = rng();

    std::unique_ptr<Group> gp = use_context ? std::make_unique<Group>(go::context::background())
                                            : std::make_unique<Group>();
    Group& g = *gp;
    g.set_limit(limit == 0 ? 1 : limit);
    const int cap = limit <= 0 ? (limit == 0 ? 1 : 1 << 30) : limit;

    std::mutex mu;
    std::set<const go::error_impl*> failed_errors;
    std::set<int> failed_exceptions;
    std::atomic<int> active{0}, over_limit{0}, ran{0}, expected{0};

    auto body = [&](int id) -> go::error {
      int a = active.fetch_add(1) + 1;
      if (a > cap) over_limit.fetch_add(1);
      std::minstd_rand r(seed + static_cast<std::uint32_t>(id));
      if (r() % 4 == 0) go::this_task::yield();
      if (r() % 8 == 0) go::time::sleep_for(std::chrono::microseconds(r() % 50));
      active.fetch_sub(1);
      ran.fetch_add(1);
      if (fail_at_all && id % fail_every == 0) {
        if (r() % 2) {
          std::lock_guard<std::mutex> lock(mu);
          failed_exceptions.insert(id);
          throw my_error(id);
        }
        go::error e = go::errors::make("task " + std::to_string(id));
        std::lock_guard<std::mutex> lock(mu);
        failed_errors.insert(e.get());
        return e;
      }
      return nullptr;
    };

    // Launch from several tasks or threads at once, with go and try_go, sometimes with
    // nested go() from inside group tasks.
    std::atomic<int> next_id{0};
    auto launch = [&](int count) {
      for (int i = 0; i < count; ++i) {
        const int id = next_id.fetch_add(1);
        if (id % 5 == 0 && g.try_go([&body, id] { return body(id); })) {
          expected.fetch_add(1);
          continue;
        }
        if (id % 7 == 3) {
          // Nested: a group task starts another (try_go: a blocking go() from a task
          // holding the last slot would wait for itself, in Go as here).
          expected.fetch_add(1);
          g.go([&, id](const Context&) -> go::error {
            const int child = id + 1000000;
            if (g.try_go([&body, child] { return body(child); })) expected.fetch_add(1);
            return body(id);
          });
          continue;
        }
        expected.fetch_add(1);
        g.go([&body, id] { return body(id); });
      }
    };
    const int per = tasks / launchers;
    std::vector<std::thread> threads;
    go::sync::WaitGroup launch_wg;
    for (int l = 0; l < launchers; ++l) {
      const int count = l == 0 ? tasks - per * (launchers - 1) : per;
      if (thread_launchers) threads.emplace_back([&launch, count] { launch(count); });
      else launch_wg.go([&launch, count] { launch(count); });
    }
    for (auto& t : threads) t.join();
    launch_wg.wait();

    // Wait from the main thread and, sometimes, from a task as well.
    go::error err;
    int thrown = -1;
    auto do_wait = [&](go::error& e, int& th) {
      try {
        e = g.wait();
      } catch (const my_error& x) {
        th = x.code;
      }
    };
    go::error err2;
    int thrown2 = -1;
    go::sync::WaitGroup extra;
    if (rng() % 2) extra.go([&] { do_wait(err2, thrown2); });
    do_wait(err, thrown);
    extra.wait();

    ASSERT_EQ(over_limit.load(), 0) << "round " << rounds;
    ASSERT_EQ(ran.load(), expected.load()) << "round " << rounds;
    std::lock_guard<std::mutex> lock(mu);
    if (failed_errors.empty() && failed_exceptions.empty()) {
      ASSERT_FALSE(err) << "round " << rounds;
      ASSERT_EQ(thrown, -1);
      if (use_context) {
        ASSERT_EQ(go::context::cause(g.context()), go::context::canceled);
      }
    } else if (thrown != -1) {
      ASSERT_TRUE(failed_exceptions.count(thrown)) << "round " << rounds;
      if (use_context) {
        ASSERT_TRUE(go::errors::exception(go::context::cause(g.context())));
      }
    } else {
      ASSERT_TRUE(err) << "round " << rounds;
      ASSERT_TRUE(failed_errors.count(err.get())) << "round " << rounds;
      if (use_context) {
        ASSERT_EQ(go::context::cause(g.context()), err);
      }
    }
    if (use_context) {
      ASSERT_TRUE(g.context().err());
    }
  }
  std::printf("stress: %d rounds\n", rounds);
}

}  // namespace
