// Tests of the M:N runtime: spawning, the parking primitive from tasks and threads in
// every combination, timers, stealing, stuck workers, per-task thread and exception
// state, stacks, go::blocking, misuse and exit.
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <algorithm>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "go/detail/timer.hpp"
#include "go/detail/waiter.hpp"
#include "go/runtime.hpp"
#include "go/time.hpp"
#include "runtime/scheduler.hpp"
#include "test_support.hpp"

using namespace std::chrono_literals;
namespace gd = go::detail;

namespace {

using gocxx_test::sanitized;
// 1,000,000 parked tasks; fewer under sanitizers (TSan counts fibers as threads).
constexpr long parked_tasks = gocxx_test::tsan ? 3000 : gocxx_test::asan ? 20000 : 1000000;

// A countdown latch built directly on the parking primitive.
class countdown {
 public:
  explicit countdown(long n) : n_(n) {}
  // Wakes after unlocking (wake_list): wait() may return and destroy the latch at once.
  void done() {
    gd::wake_list wakes;
    std::lock_guard lock(mu_);
    if (n_.fetch_sub(1, std::memory_order_acq_rel) == 1) q_.claim_all(wakes);
  }
  void wait() {
    gd::waiter w;
    gd::wait_node node{&w};
    {
      std::lock_guard lock(mu_);
      if (n_.load(std::memory_order_acquire) == 0) return;
      q_.push_back(&node);
    }
    w.park();
  }

 private:
  std::atomic<long> n_;
  gd::spin_mutex mu_;
  gd::wait_queue q_;
};

// A one-slot event: wait() parks until set().
class event {
 public:
  void set() {
    gd::wake_list wakes;
    std::lock_guard lock(mu_);
    set_ = true;
    q_.claim_all(wakes);
  }
  void wait() {
    gd::waiter w;
    gd::wait_node node{&w};
    {
      std::lock_guard lock(mu_);
      if (set_) return;
      q_.push_back(&node);
    }
    w.park();
  }
  bool wait_until(gd::clock::time_point t) {
    gd::waiter w;
    gd::wait_node node{&w};
    {
      std::lock_guard lock(mu_);
      if (set_) return true;
      q_.push_back(&node);
    }
    if (w.park_until(t)) return true;
    std::lock_guard lock(mu_);
    q_.remove(&node);
    return false;
  }

 private:
  gd::spin_mutex mu_;
  gd::wait_queue q_;
  bool set_ = false;
};

void wait_for_goroutines(long n) {
  for (int i = 0; i < 2000 && go::runtime::num_goroutine() > n; ++i) std::this_thread::sleep_for(1ms);
}

}  // namespace

TEST(Runtime, SpawnRunsEveryTask) {
  constexpr int n = 10000;
  std::atomic<int> ran{0};
  countdown done(n);
  for (int i = 0; i < n; ++i) go::spawn([&] {
    ran.fetch_add(1);
    done.done();
  });
  done.wait();
  EXPECT_EQ(ran.load(), n);
  wait_for_goroutines(0);
  EXPECT_EQ(go::runtime::num_goroutine(), 0);
}

TEST(Runtime, SpawnFromTasksNested) {
  // Each task spawns two children down to depth 12: 8191 tasks in all.
  std::atomic<int> ran{0};
  countdown done(8191);
  std::function<void(int)> node = [&](int depth) {
    ran.fetch_add(1);
    if (depth < 12) {
      go::spawn([&, depth] { node(depth + 1); });
      go::spawn([&, depth] { node(depth + 1); });
    }
    done.done();
  };
  go::spawn([&] { node(0); });
  done.wait();
  EXPECT_EQ(ran.load(), 8191);
}

TEST(Runtime, InTask) {
  EXPECT_FALSE(go::this_task::in_task());
  std::atomic<bool> inside{false};
  countdown done(1);
  go::spawn([&] {
    inside = go::this_task::in_task();
    done.done();
  });
  done.wait();
  EXPECT_TRUE(inside.load());
}

// Park and wake in every combination of waiter and waker: task/task, task/thread,
// thread/task, thread/thread.
enum class side { task, thread };

void run_on(side s, std::function<void()> f, std::vector<std::thread>& threads) {
  if (s == side::task) go::spawn(std::move(f));
  else threads.emplace_back(std::move(f));
}

class ParkWake : public ::testing::TestWithParam<std::tuple<side, side>> {};

TEST_P(ParkWake, PingPong) {
  auto [a_side, b_side] = GetParam();
  constexpr int rounds = 2000;
  gd::spin_mutex mu;
  gd::waiter* slot[2] = {nullptr, nullptr};  // the waiter parked by each side
  int turn = 0;                              // whose move: 0 = a, 1 = b
  countdown done(2);
  auto player = [&](int me) {
    for (int r = 0; r < rounds; ++r) {
      gd::waiter w;
      bool must_wait;
      {
        std::lock_guard lock(mu);
        must_wait = turn != me;
        if (must_wait) slot[me] = &w;
      }
      if (must_wait) w.park();
      std::lock_guard lock(mu);
      turn = 1 - me;
      slot[me] = nullptr;
      if (gd::waiter* other = slot[1 - me]) {
        slot[1 - me] = nullptr;
        other->notify();
      }
    }
    done.done();
  };
  std::vector<std::thread> threads;
  run_on(a_side, [&] { player(0); }, threads);
  run_on(b_side, [&] { player(1); }, threads);
  done.wait();
  for (auto& t : threads) t.join();
  SUCCEED();
}

INSTANTIATE_TEST_SUITE_P(AllMixes, ParkWake,
                         ::testing::Combine(::testing::Values(side::task, side::thread),
                                            ::testing::Values(side::task, side::thread)));

TEST(Runtime, NotifyBeforeParkReturnsAtOnce) {
  gd::waiter w;
  EXPECT_TRUE(w.notify());
  EXPECT_FALSE(w.notify());  // claimed once only
  w.park();                  // already woken: returns
  countdown done(1);
  go::spawn([&] {
    gd::waiter tw;
    tw.notify(7);
    tw.park();
    EXPECT_EQ(tw.token(), 7u);
    done.done();
  });
  done.wait();
}

TEST(Runtime, ParkUntilTimesOutFromTaskAndThread) {
  auto check = [] {
    gd::waiter w;
    auto start = gd::clock::now();
    EXPECT_FALSE(w.park_until(start + 20ms));
    EXPECT_GE(gd::clock::now() - start, 20ms);
    EXPECT_EQ(w.token(), gd::timeout_token);
  };
  check();
  countdown done(1);
  go::spawn([&] {
    check();
    done.done();
  });
  done.wait();
}

TEST(Runtime, ParkUntilWokenBeforeDeadline) {
  event e;
  countdown done(1);
  std::atomic<bool> result{false};
  go::spawn([&] {
    result = e.wait_until(gd::clock::now() + 10s);
    done.done();
  });
  std::this_thread::sleep_for(5ms);
  e.set();
  done.wait();
  EXPECT_TRUE(result.load());
}

TEST(Runtime, YieldLetsOthersRun) {
  go::runtime::max_procs();
  std::atomic<int> counter{0};
  countdown done(2);
  // Two tasks alternate through yield on whatever workers they land on.
  for (int k = 0; k < 2; ++k) {
    go::spawn([&] {
      for (int i = 0; i < 1000; ++i) {
        counter.fetch_add(1);
        go::this_task::yield();
      }
      done.done();
    });
  }
  done.wait();
  EXPECT_EQ(counter.load(), 2000);
  go::this_task::yield();  // from a thread: std::this_thread::yield
}

TEST(Runtime, YieldRunsQueuedTasksOnSameWorker) {
  // A task that spawns another and yields lets it run before continuing.
  std::atomic<int> order{0};
  std::atomic<int> child_saw{-1}, parent_saw{-1};
  countdown done(1);
  go::spawn([&] {
    go::spawn([&] { child_saw = order.fetch_add(1); });
    while (child_saw.load() < 0) go::this_task::yield();
    parent_saw = order.fetch_add(1);
    done.done();
  });
  done.wait();
  EXPECT_EQ(child_saw.load(), 0);
  EXPECT_EQ(parent_saw.load(), 1);
}

TEST(Time, SleepNeverEarly) {
  for (auto d : {1ms, 5ms, 20ms}) {
    auto start = std::chrono::steady_clock::now();
    go::time::sleep_for(d);
    EXPECT_GE(std::chrono::steady_clock::now() - start, d);
  }
  countdown done(1);
  go::spawn([&] {
    for (auto d : {1ms, 5ms, 20ms}) {
      auto start = std::chrono::steady_clock::now();
      go::time::sleep_for(d);
      EXPECT_GE(std::chrono::steady_clock::now() - start, d);
    }
    done.done();
  });
  done.wait();
  go::time::sleep_for(0ms);
  go::time::sleep_for(-5ms);
  go::time::sleep_until(std::chrono::steady_clock::now() - 1s);
}

TEST(Time, TimersFireInOrderAndNeverEarly) {
  // 300 timers with shuffled deadlines (several equal): callbacks run in deadline
  // order, each at or after its deadline.
  constexpr int n = 300;
  std::vector<int> ms(n);
  for (int i = 0; i < n; ++i) ms[i] = i / 3;
  std::shuffle(ms.begin(), ms.end(), std::mt19937(42));
  std::mutex mu;
  std::vector<std::pair<gd::clock::time_point, gd::clock::time_point>> fired;  // deadline, when
  countdown done(n);
  std::vector<std::unique_ptr<gd::timer>> timers;
  auto base = gd::clock::now() + 20ms;
  for (int i = 0; i < n; ++i) {
    auto deadline = base + std::chrono::milliseconds(ms[i]);
    timers.push_back(std::make_unique<gd::timer>([&, deadline] {
      {
        std::lock_guard lock(mu);
        fired.emplace_back(deadline, gd::clock::now());
      }
      done.done();
    }));
    // Half through start() (the lock-free hand-off), half through reset().
    if (i % 2) timers.back()->start(deadline); else timers.back()->reset(deadline);
  }
  done.wait();
  ASSERT_EQ(fired.size(), static_cast<size_t>(n));
  for (size_t i = 0; i < fired.size(); ++i) {
    EXPECT_GE(fired[i].second, fired[i].first);
    if (i > 0) {
      EXPECT_LE(fired[i - 1].first, fired[i].first) << i;
    }
  }
}

TEST(Time, TimerStopAndReset) {
  std::atomic<int> fires{0};
  gd::timer t([&] { fires.fetch_add(1); });
  EXPECT_FALSE(t.stop());                        // never armed
  EXPECT_FALSE(t.reset(gd::clock::now() + 1h));  // was not pending
  EXPECT_TRUE(t.reset(gd::clock::now() + 1h));   // was pending
  EXPECT_TRUE(t.stop());                         // prevented the fire
  EXPECT_FALSE(t.stop());
  t.reset(gd::clock::now() + 1ms);
  for (int i = 0; i < 2000 && fires.load() == 0; ++i) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(fires.load(), 1);
  EXPECT_FALSE(t.stop());  // already fired
}

TEST(Time, TimerStartStopAndReset) {
  std::atomic<int> fires{0};
  gd::timer t([&] { fires.fetch_add(1); });
  t.start(gd::clock::now() + 1h);
  EXPECT_TRUE(t.stop());   // pending (still on the started list, or in the heap)
  EXPECT_FALSE(t.stop());
  t.start(gd::clock::now() + 1h);
  EXPECT_TRUE(t.reset(gd::clock::now() + 2h));  // reset finds a started timer pending
  EXPECT_TRUE(t.stop());
  t.start(gd::clock::now() + 1ms);
  for (int i = 0; i < 2000 && fires.load() == 0; ++i) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(fires.load(), 1);
  EXPECT_FALSE(t.stop());  // already fired
  gd::timer dropped([&] { fires.fetch_add(1); });
  dropped.start(gd::clock::now() + 1h);  // destroyed while pending: ~timer stops it
}

// The timer thread sleeps until its earliest deadline (here an hour away, with idle
// workers, so no monitor tick wakes it either). A timer started with an earlier
// deadline — at random moments relative to the thread's going to sleep — must wake
// it: a lost notification would leave the timer unfired for the hour.
TEST(Time, StartedTimerWakesTheSleepingTimerThread) {
  gd::timer far([] {});
  far.reset(gd::clock::now() + 1h);
  std::mt19937 rng(7);
  const int rounds = sanitized ? 60 : 300;
  for (int round = 0; round < rounds; ++round) {
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 2000));
    gd::waiter w;
    gd::timer t([&w] { w.notify(); });
    t.start(gd::clock::now() + std::chrono::microseconds(rng() % 500));
    const bool woken = w.park_until(gd::clock::now() + 20s);  // true: the timer fired
    ASSERT_TRUE(woken) << "round " << round << ": the started timer did not fire";
  }
}

TEST(Runtime, ThreadLocalAndErrnoStableAcrossParks) {
  static thread_local int tls_marker = 0;
  constexpr int tasks = 64;
  std::atomic<int> failures{0};
  countdown done(tasks);
  for (int k = 0; k < tasks; ++k) {
    go::spawn([&, k] {
      auto id = std::this_thread::get_id();
      for (int i = 0; i < 50; ++i) {
        tls_marker = k * 1000 + i;
        errno = k + i;
        if (i % 2) go::this_task::yield(); else go::time::sleep_for(100us);
        if (std::this_thread::get_id() != id || errno != k + i) failures.fetch_add(1);
        // Other tasks on this worker may have changed tls_marker: a thread_local is
        // per thread, not per task. What must hold is that it is *this thread's*.
        tls_marker = k * 1000 + i;
        if (tls_marker != k * 1000 + i) failures.fetch_add(1);
      }
      done.done();
    });
  }
  done.wait();
  EXPECT_EQ(failures.load(), 0);
}

TEST(Runtime, ExceptionStatePerTask) {
  // Tasks park inside catch blocks while other tasks on the same workers throw and
  // catch; each still rethrows and sees its own exception afterwards.
  constexpr int tasks = 100;
  std::atomic<int> ok{0};
  countdown done(tasks);
  for (int k = 0; k < tasks; ++k) {
    go::spawn([&, k] {
      try {
        throw std::runtime_error("task " + std::to_string(k));
      } catch (const std::runtime_error& e) {
        for (int i = 0; i < 5; ++i) go::this_task::yield();
        go::time::sleep_for(100us);
        if (std::uncaught_exceptions() != 0) return done.done();
        try {
          throw;  // rethrows *this task's* current exception
        } catch (const std::runtime_error& again) {
          if (std::string(again.what()) == "task " + std::to_string(k) && &again == &e) ok.fetch_add(1);
        }
      }
      done.done();
    });
  }
  done.wait();
  EXPECT_EQ(ok.load(), tasks);
}

TEST(Runtime, IdleWorkersStealUnstartedTasks) {
  if (go::runtime::max_procs() < 2) GTEST_SKIP() << "needs 2 workers";
  // One task hogs its worker (no parking) after spawning 100 tasks onto that worker's
  // own queue; they must run elsewhere while it spins.
  std::atomic<int> ran{0};
  std::atomic<bool> release{false};
  countdown done(101);
  go::spawn([&] {
    for (int i = 0; i < 100; ++i) go::spawn([&] {
      ran.fetch_add(1);
      done.done();
    });
    auto until = std::chrono::steady_clock::now() + 20s;
    while (ran.load() < 100 && std::chrono::steady_clock::now() < until) {
    }
    release = true;
    done.done();
  });
  done.wait();
  EXPECT_EQ(ran.load(), 100);
  EXPECT_TRUE(release.load());
}

TEST(Runtime, AddsWorkersWhenAllAreStuck) {
  int procs = go::runtime::max_procs();
  // procs tasks spin (never park) until a task that cannot start on any existing
  // worker runs: the runtime must add a worker for it.
  std::atomic<bool> flag{false};
  countdown done(procs + 1);
  for (int i = 0; i < procs; ++i) {
    go::spawn([&] {
      auto until = std::chrono::steady_clock::now() + 20s;
      while (!flag.load() && std::chrono::steady_clock::now() < until) {
      }
      done.done();
    });
  }
  std::this_thread::sleep_for(20ms);
  go::spawn([&] {
    flag = true;
    done.done();
  });
  done.wait();
  EXPECT_TRUE(flag.load());
  EXPECT_GT(go::runtime::get_stats().workers, procs);
}

// wait_set against a model (a std::set of the nodes inside): random inserts, removals
// and bounded claims, with some waiters already claimed elsewhere (a select's other
// case, a timeout), which a claim must drop and never return.
TEST(Runtime, WaitSetMatchesAModel) {
  std::mt19937 rng(2026);
  for (int round = 0; round < 200; ++round) {
    const int n = 1 + static_cast<int>(rng() % 300);
    std::vector<std::unique_ptr<gd::waiter>> ws;
    std::vector<gd::wait_node> nodes(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
      ws.push_back(std::make_unique<gd::waiter>());
      nodes[static_cast<std::size_t>(i)].w = ws.back().get();
      nodes[static_cast<std::size_t>(i)].token = static_cast<std::uint32_t>(i + 1);
    }
    gd::wait_set set;
    std::set<int> inside, claimed_elsewhere, claimed;
    int next = 0;
    while (next < n || !inside.empty()) {
      const unsigned op = rng() % 4;
      if (op == 0 && next < n) {
        set.insert(&nodes[static_cast<std::size_t>(next)]);
        inside.insert(next++);
      } else if (op == 1 && !inside.empty()) {  // a waiter leaves by itself
        auto it = std::next(inside.begin(), static_cast<long>(rng() % inside.size()));
        ASSERT_TRUE(set.remove(&nodes[static_cast<std::size_t>(*it)]));
        ASSERT_FALSE(set.remove(&nodes[static_cast<std::size_t>(*it)]));
        inside.erase(it);
      } else if (op == 2 && !inside.empty()) {  // claimed elsewhere, still inside
        auto it = std::next(inside.begin(), static_cast<long>(rng() % inside.size()));
        if (ws[static_cast<std::size_t>(*it)]->try_claim(gd::timeout_token)) claimed_elsewhere.insert(*it);
      } else if (op == 3) {
        const std::size_t max = 1 + rng() % 8;
        gd::wake_list out;
        const bool more = set.claim_some(out, max);
        // What the claim returned (linked through next, until the list wakes them).
        std::set<int> got;
        for (gd::wait_node* n = out.front(); n; n = n->next) got.insert(static_cast<int>(n - nodes.data()));
        // What left the set: every node it returned, and the claimed-elsewhere ones it
        // dropped on the way.
        for (auto& node : nodes) {
          const int i = static_cast<int>(&node - nodes.data());
          if (!node.linked && inside.count(i)) {
            inside.erase(i);
            if (claimed_elsewhere.count(i)) {
              EXPECT_FALSE(got.count(i)) << "a waiter claimed elsewhere was returned";
            } else {
              EXPECT_TRUE(got.count(i)) << "a waiter left the set without being returned";
              EXPECT_EQ(ws[static_cast<std::size_t>(i)]->token(), node.token);
              EXPECT_TRUE(claimed.insert(i).second);
            }
          }
        }
        for (int i : got) EXPECT_FALSE(nodes[static_cast<std::size_t>(i)].linked);
        EXPECT_LE(got.size(), max);
        EXPECT_EQ(more, !inside.empty());
        if (more) {
          EXPECT_EQ(got.size(), max);
        }
      }
      ASSERT_EQ(set.empty(), inside.empty());
    }
    // Every node left the set exactly once: removed, dropped, or claimed here.
    for (int i : claimed) EXPECT_FALSE(claimed_elsewhere.count(i));
  }
}

// A broadcast through a wait_set (wake_closed, a batch at a time; the workers' batches
// of exclusive waiters handed over) wakes every task and thread still waiting, while
// others leave the set at their deadlines.
TEST(Runtime, WaitSetBroadcastWhileWaitersLeave) {
  struct gate {
    gd::spin_mutex mu;
    gd::wait_set waiters;
    bool open = false;
    bool wait(gd::clock::time_point deadline) {
      gd::waiter w;
      gd::wait_node node{&w};
      const bool exclusive = deadline == gd::clock::time_point::max();
      {
        std::lock_guard lock(mu);
        if (open) return true;
        if (exclusive) waiters.insert_exclusive(&node); else waiters.insert(&node);
      }
      if (w.park_until(deadline)) return true;
      std::lock_guard lock(mu);
      waiters.remove(&node);
      return false;
    }
    void set() {  // the caller keeps the gate alive until this returns
      gd::wake_list wakes;
      bool more;
      gd::wake_block* batches;
      {
        std::lock_guard lock(mu);
        open = true;
        more = waiters.claim_some(wakes, gd::wake_batch);
        batches = waiters.take_batches();
      }
      gd::hand_over(batches);
      gd::wake_closed(mu, waiters, wakes, more);
    }
  };
  const int rounds = sanitized ? 3 : 20;
  const int tasks = sanitized ? 300 : 3000;
  std::mt19937 rng(99);
  for (int r = 0; r < rounds; ++r) {
    gate g;
    std::atomic<int> started{0}, woken{0}, left{0};
    countdown finished(tasks + 2);
    auto body = [&](int i) {
      started.fetch_add(1);
      const auto deadline = i % 3 == 0 ? gd::clock::now() + std::chrono::microseconds(20 + i % 400)
                                       : gd::clock::time_point::max();
      (g.wait(deadline) ? woken : left).fetch_add(1);
      finished.done();
    };
    for (int i = 0; i < tasks; ++i) go::spawn([&body, i] { body(i); });
    std::thread t1([&] { body(1); }), t2([&] { body(3); });
    while (started.load() < tasks + 2) std::this_thread::yield();
    // Broadcast while the timed waiters' deadlines (20-420 µs after they started)
    // fall due, so that some leave the set during the broadcast's batches.
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 300));
    if (r % 2 == 0) {
      g.set();  // from a thread
    } else {    // from a task: its own worker's batch goes through its own inbox
      countdown set(1);
      go::spawn([&] {
        g.set();
        set.done();
      });
      set.wait();
    }
    finished.wait();
    t1.join();
    t2.join();
    EXPECT_EQ(woken.load() + left.load(), tasks + 2);
    EXPECT_TRUE(g.waiters.empty());
  }
}

TEST(Runtime, ManyParkedTasks) {
  // 1,000,000 parked tasks on a stock Linux (vm.max_map_count 65530); fewer under
  // sanitizers, whose per-fiber bookkeeping is far heavier.
  const long n = parked_tasks;
  event release;
  countdown parked(n), finished(n);
  for (long i = 0; i < n; ++i) {
    go::spawn([&] {
      parked.done();
      release.wait();
      finished.done();
    });
  }
  parked.wait();
  EXPECT_GE(go::runtime::num_goroutine(), n);
  auto st = go::runtime::get_stats();
  EXPECT_GE(st.stacks, n / 2);
  release.set();
  finished.wait();
}

TEST(Runtime, BlockingReturnsResultAndRethrows) {
  // From a thread: runs inline.
  EXPECT_EQ(go::blocking([] { return 42; }), 42);
  countdown done(1);
  std::atomic<int> result{0};
  std::atomic<bool> caught{false};
  std::atomic<bool> ran_off_worker{false};
  go::spawn([&] {
    auto worker_thread = std::this_thread::get_id();
    result = go::blocking([&] {
      ran_off_worker = std::this_thread::get_id() != worker_thread;
      std::this_thread::sleep_for(10ms);  // a real blocking call
      return 7;
    });
    try {
      go::blocking([]() -> int { throw std::out_of_range("boom"); });
    } catch (const std::out_of_range& e) {
      caught = std::string(e.what()) == "boom";
    }
    int x = 5;
    int& r = go::blocking([&]() -> int& { return x; });
    if (&r != &x) caught = false;
    done.done();
  });
  done.wait();
  EXPECT_EQ(result.load(), 7);
  EXPECT_TRUE(caught.load());
  EXPECT_TRUE(ran_off_worker.load());
}

TEST(Runtime, BlockingCallsDoNotHoldWorkers) {
  // More simultaneous blocking calls than workers: they all overlap.
  int procs = go::runtime::max_procs();
  int n = procs * 4;
  std::atomic<int> inside{0}, peak{0};
  countdown done(n);
  for (int i = 0; i < n; ++i) {
    go::spawn([&] {
      go::blocking([&] {
        int now = inside.fetch_add(1) + 1;
        int p = peak.load();
        while (now > p && !peak.compare_exchange_weak(p, now)) {
        }
        auto until = std::chrono::steady_clock::now() + 5s;
        while (peak.load() < n && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(1ms);
        inside.fetch_sub(1);
      });
      done.done();
    });
  }
  done.wait();
  EXPECT_EQ(peak.load(), n);
}

TEST(Runtime, SpawnEmptyFunctionThrows) {
  std::function<void()> empty;
  EXPECT_THROW(go::spawn(empty), std::invalid_argument);
  void (*null_fn)() = nullptr;
  EXPECT_THROW(go::spawn(null_fn), std::invalid_argument);
}

TEST(Runtime, ConfigAfterStartThrows) {
  go::runtime::max_procs();
  EXPECT_THROW(go::runtime::set_max_procs(4), std::logic_error);
  EXPECT_THROW(go::runtime::set_max_procs(0), std::invalid_argument);
  EXPECT_THROW(go::runtime::set_stack_size(1 << 20), std::logic_error);
}

TEST(Runtime, Stress) {
  // Random rounds: tasks and threads park on and wake each other in random patterns.
  std::mt19937 rng(1234);
  const int rounds = sanitized ? 20 : 100;
  for (int round = 0; round < rounds; ++round) {
    int tasks = 1 + static_cast<int>(rng() % 64);
    int threads = static_cast<int>(rng() % 3);
    event go_event;
    countdown done(tasks + threads);
    std::atomic<long> sum{0};
    for (int i = 0; i < tasks; ++i) {
      int pattern = static_cast<int>(rng() % 4);
      go::spawn([&, pattern, i] {
        if (pattern == 0) go_event.wait();
        if (pattern == 1) go::this_task::yield();
        if (pattern == 2) go::time::sleep_for(std::chrono::microseconds(i * 10));
        if (pattern == 3) go_event.wait_until(gd::clock::now() + std::chrono::microseconds(i * 20));
        sum.fetch_add(i);
        done.done();
      });
    }
    std::vector<std::thread> ths;
    for (int i = 0; i < threads; ++i) {
      ths.emplace_back([&] {
        go_event.wait();
        done.done();
      });
    }
    if (rng() % 2) std::this_thread::sleep_for(std::chrono::microseconds(rng() % 500));
    if (rng() % 2) {
      go::spawn([&] { go_event.set(); });
    } else {
      go_event.set();
    }
    done.wait();
    for (auto& t : ths) t.join();
    EXPECT_EQ(sum.load(), static_cast<long>(tasks) * (tasks - 1) / 2);
  }
}

// ---- death tests: each runs in a fresh process --------------------------------------

class RuntimeDeath : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

// Recurses until the stack runs out (the depth limit is never reached in practice).
int recurse_deep(volatile char* prev, long depth) {
  volatile char buf[512];
  buf[0] = static_cast<char>(depth);
  if (prev) buf[1] = prev[0];
  if (depth > (1L << 40)) return buf[1];
  return recurse_deep(buf, depth + 1) + buf[0];
}

TEST_F(RuntimeDeath, StackOverflowHitsGuardPage) {
  if (sanitized) GTEST_SKIP() << "sanitizers report overflows themselves";
  EXPECT_DEATH(
      {
        countdown done(1);
        go::spawn([&] {
          recurse_deep(nullptr, 0);
          done.done();
        });
        done.wait();
      },
      "gocxx: task stack overflow");
}

TEST_F(RuntimeDeath, EscapingExceptionTerminatesWithMessage) {
  EXPECT_DEATH(
      {
        go::spawn([] { throw std::runtime_error("kaboom"); });
        std::this_thread::sleep_for(10s);
      },
      "exception escaped a task started by go::spawn: kaboom");
}

TEST_F(RuntimeDeath, BadMaxProcsNamesTheVariable) {
  EXPECT_EXIT(
      {
        ::setenv("GOCXX_MAXPROCS", "two", 1);
        try {
          go::spawn([] {});
        } catch (const std::runtime_error& e) {
          fprintf(stderr, "%s\n", e.what());
          std::exit(3);
        }
        std::exit(0);
      },
      ::testing::ExitedWithCode(3), "GOCXX_MAXPROCS=\"two\" is not a positive integer");
}

// Guarded stacks are handed out before unguarded ones, also through the workers' stack
// caches. One worker; more tasks than the guard budget park and finish (the last to
// finish, whose stacks land in the worker's cache, ran on unguarded stacks); then in
// rounds of 300 parked tasks at most a few may run on unguarded stacks (a loop fiber
// may keep the stack it has), not the cache's 16-32. Exits 0 if so.
[[noreturn]] void guarded_first_scenario() {
  go::runtime::set_max_procs(1);
  long max_maps = 65530;
  std::ifstream("/proc/sys/vm/max_map_count") >> max_maps;
  const long budget = max_maps / 4 / 2;  // stack.cpp's guard budget
  auto park_all = [](long n, std::atomic<long>* unguarded) {
    event release;
    countdown parked(n), finished(n);
    for (long i = 0; i < n; ++i) {
      go::spawn([&] {
        if (unguarded && !gd::current_fiber()->stk.guarded) unguarded->fetch_add(1);
        parked.done();
        release.wait();
        finished.done();
      });
    }
    parked.wait();
    release.set();
    finished.wait();
  };
  park_all(budget + 1000, nullptr);
  long counts[3];
  for (long& c : counts) {
    std::atomic<long> unguarded{0};
    park_all(300, &unguarded);
    c = unguarded.load();
  }
  std::fprintf(stderr, "unguarded: %ld %ld %ld\n", counts[0], counts[1], counts[2]);
  std::exit(counts[0] <= 8 && counts[1] <= 8 && counts[2] <= 8 ? 0 : 1);
}

TEST_F(RuntimeDeath, GuardedStacksAreUsedFirst) {
  if (sanitized) GTEST_SKIP() << "thousands of fibers are too heavy under sanitizers";
  EXPECT_EXIT(guarded_first_scenario(), ::testing::ExitedWithCode(0), "");
}

TEST_F(RuntimeDeath, MaxProcsFromEnvironment) {
  EXPECT_EXIT(
      {
        ::setenv("GOCXX_MAXPROCS", "3", 1);
        std::exit(go::runtime::max_procs() == 3 ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

// One worker; two tasks wake each other endlessly (the ready list is never empty),
// while a third task waits in the run queue: it must still run. Exits 0 if it did.
[[noreturn]] void starvation_scenario() {
  go::runtime::set_max_procs(1);
  static std::atomic<bool> stop{false};
  static gd::spin_mutex mu;
  static gd::waiter* parked[2] = {nullptr, nullptr};
  static event done;
  auto player = [](int me) {
    for (long i = 0; !stop.load(); ++i) {
      if (me == 0 && i == 100) {
        go::spawn([] {  // queued behind two fibers that are always ready
          stop = true;
          done.set();
        });
      }
      gd::waiter w;
      gd::waiter* other;
      {
        std::lock_guard lock(mu);
        other = parked[1 - me];
        parked[1 - me] = nullptr;
        parked[me] = &w;
      }
      if (other) other->notify();
      w.park();
    }
    std::lock_guard lock(mu);
    if (gd::waiter* other = parked[1 - me]) {
      parked[1 - me] = nullptr;
      other->notify();
    }
  };
  go::spawn([player] { player(0); });
  go::spawn([player] { player(1); });
  std::exit(done.wait_until(gd::clock::now() + 20s) ? 0 : 1);
}

TEST_F(RuntimeDeath, WakingTasksDoNotStarveQueuedOnes) {
  EXPECT_EXIT(starvation_scenario(), ::testing::ExitedWithCode(0), "");
}

// One worker; two tasks yield to each other endlessly (the ready list never runs
// dry), while a task parked on a waiter is woken from a plain thread (through the
// worker's inbox): it must still run. Exits 0 if it did.
[[noreturn]] void inbox_starvation_scenario() {
  go::runtime::set_max_procs(1);
  static std::atomic<bool> stop{false};
  static std::atomic<gd::waiter*> parked{nullptr};
  static event done;
  go::spawn([] {
    gd::waiter w;
    parked = &w;
    w.park();
    stop = true;
    done.set();
  });
  for (int i = 0; i < 2; ++i) {
    go::spawn([] {
      while (!stop.load()) go::this_task::yield();
    });
  }
  while (!parked.load()) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(10ms);  // the yielders are running by now
  parked.load()->notify();
  std::exit(done.wait_until(gd::clock::now() + 20s) ? 0 : 1);
}

TEST_F(RuntimeDeath, YieldingTasksDoNotStarveWokenOnes) {
  EXPECT_EXIT(inbox_starvation_scenario(), ::testing::ExitedWithCode(0), "");
}

TEST_F(RuntimeDeath, ExitWithParkedAndRunningTasks) {
  // main() returning (here: exit) while tasks are parked forever and running neither
  // crashes nor hangs.
  EXPECT_EXIT(
      {
        static event never;
        for (int i = 0; i < 1000; ++i) go::spawn([] { never.wait(); });
        for (int i = 0; i < 4; ++i) go::spawn([] {
          for (;;) go::this_task::yield();
        });
        go::spawn([] { go::time::sleep_for(1h); });
        std::this_thread::sleep_for(20ms);
        std::exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}
