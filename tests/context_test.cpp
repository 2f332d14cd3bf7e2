// Tests of go::context: the cases of Go's context_test.go / x_test.go /
// afterfunc_test.go that apply (custom Context implementations and allocation counts
// do not), plus tasks-and-threads interplay, std::stop_token interop, the done_channel
// hooks for select, lifetime (no leaks, no dangling) and a randomized stress test.
//
// Timing: nothing here uses sleep as synchronization. Deadlines are asserted with
// generous upper bounds (`generous`) and exact lower bounds (never early).
#include "go/context.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "go/chan.hpp"
#include "go/detail/waiter.hpp"
#include "go/errors.hpp"
#include "go/runtime.hpp"
#include "go/sync.hpp"
#include "go/time.hpp"

using namespace std::chrono_literals;
namespace ctx = go::context;
using ctx::Context;

namespace {

constexpr auto short_duration = 1ms;
constexpr auto very_long_duration = 1000h;
constexpr auto generous = 30s;  // an upper bound that only a hang exceeds

#if defined(__SANITIZE_THREAD__)
constexpr bool sanitized = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
constexpr bool sanitized = true;
#else
constexpr bool sanitized = false;
#endif
#else
constexpr bool sanitized = false;
#endif

// A one-shot event built on a context: fire() cancels it, wait() parks on it.
struct event {
  std::pair<Context, ctx::cancel_func> p = ctx::with_cancel(ctx::background());
  void fire() const { p.second(); }
  bool wait() const { return p.first.wait_for(generous); }
  bool fired() const { return p.first.done().is_closed(); }
};

void expect_done(const Context& c, const go::error& want, const char* what) {
  EXPECT_TRUE(c.done().is_closed()) << what;
  EXPECT_EQ(c.err(), want) << what << ": err() = " << c.err();
}

void expect_not_done(const Context& c, const char* what) {
  EXPECT_FALSE(c.done().is_closed()) << what;
  EXPECT_EQ(c.err(), nullptr) << what;
}

// Go's testDeadline: the context must time out, with deadline_exceeded.
void test_deadline(const Context& c, const char* name) {
  ASSERT_TRUE(c.wait_for(generous)) << name << ": context not timed out";
  EXPECT_EQ(c.err(), ctx::deadline_exceeded) << name;
}

inline const ctx::key<std::string> k1{"k1"};
inline const ctx::key<std::string> k2{"k2"};
inline const ctx::key<std::string> k3{"k3"};
inline const ctx::key<int> int_key{"int_key"};
inline const ctx::key<std::string> unnamed_key;

}  // namespace

// --- Roots -------------------------------------------------------------------------

TEST(Context, Background) {
  Context c = ctx::background();
  EXPECT_EQ(c, Context{});
  EXPECT_TRUE(c.done().is_nil());
  EXPECT_FALSE(c.done().is_closed());
  EXPECT_FALSE(c.wait_for(1ms));
  EXPECT_EQ(c.err(), nullptr);
  EXPECT_EQ(ctx::cause(c), nullptr);
  EXPECT_FALSE(c.deadline().has_value());
  EXPECT_FALSE(c.stop_token().stop_possible());
  EXPECT_EQ(c.value(k1), nullptr);
  EXPECT_EQ(c.to_string(), "context.Background");
}

TEST(Context, TODO) {
  Context c = ctx::todo();
  EXPECT_NE(c, ctx::background());
  EXPECT_EQ(c, ctx::todo());
  EXPECT_TRUE(c.done().is_nil());
  EXPECT_EQ(c.err(), nullptr);
  EXPECT_FALSE(c.deadline().has_value());
  EXPECT_EQ(c.to_string(), "context.TODO");
  auto [c2, cancel] = ctx::with_cancel(c);
  EXPECT_EQ(c2.to_string(), "context.TODO.WithCancel");
  cancel();
}

TEST(Context, ErrorsAreGos) {
  EXPECT_EQ(ctx::canceled.message(), "context canceled");
  EXPECT_EQ(ctx::deadline_exceeded.message(), "context deadline exceeded");
  EXPECT_NE(ctx::canceled, ctx::deadline_exceeded);
}

// Go's TestDeadlineExceededSupportsTimeout.
TEST(Context, DeadlineExceededSupportsTimeout) {
  auto* e = go::errors::as<ctx::deadline_exceeded_error>(ctx::deadline_exceeded);
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(e->timeout());
  EXPECT_EQ(go::errors::as<ctx::deadline_exceeded_error>(ctx::canceled), nullptr);
}

// --- WithCancel --------------------------------------------------------------------

TEST(Context, WithCancel) {
  auto [c1, cancel] = ctx::with_cancel(ctx::background());
  EXPECT_EQ(c1.to_string(), "context.Background.WithCancel");

  Context o = ctx::with_value(c1, int_key, 1);  // stands in for Go's otherContext
  auto [c2, cancel2] = ctx::with_cancel(o);
  std::vector<Context> contexts = {c1, o, c2};
  for (auto& c : contexts) {
    EXPECT_FALSE(c.done().is_nil());
    expect_not_done(c, "before cancel");
    EXPECT_FALSE(c.wait_for(0s));
  }
  EXPECT_EQ(c1.done(), o.done());  // a value context shares its parent's channel
  EXPECT_NE(c1.done(), c2.done());

  cancel();  // propagates synchronously
  for (auto& c : contexts) {
    expect_done(c, ctx::canceled, "after cancel");
    EXPECT_TRUE(c.wait());
    EXPECT_TRUE(c.wait_for(0s));
  }
  cancel();  // idempotent
  cancel2();
  EXPECT_EQ(c2.err(), ctx::canceled);
}

// Go's XTestParentFinishesChild.
TEST(Context, ParentFinishesChild) {
  auto [parent, cancel] = ctx::with_cancel(ctx::background());
  auto [cancel_child, stop_cancel_child] = ctx::with_cancel(parent);
  Context value_child = ctx::with_value(parent, k1, "v");
  auto [timer_child, stop_timer_child] = ctx::with_timeout(value_child, very_long_duration);
  event after_ran;
  auto after_stop = ctx::after_func(parent, [&] { after_ran.fire(); });

  expect_not_done(parent, "parent");
  expect_not_done(cancel_child, "cancel_child");
  expect_not_done(value_child, "value_child");
  expect_not_done(timer_child, "timer_child");
  // cancel_child, timer_child (through value_child) and the after_func registration.
  EXPECT_EQ(ctx::internal::num_children(parent), 3u);
  EXPECT_EQ(ctx::internal::num_children(value_child), 3u);  // same cancelable ancestor
  EXPECT_EQ(ctx::internal::num_children(cancel_child), 0u);

  cancel();
  EXPECT_EQ(ctx::internal::num_children(parent), 0u);
  for (const Context* c : {&parent, &cancel_child, &value_child, &timer_child}) {
    expect_done(*c, ctx::canceled, "after parent cancel");
  }
  ASSERT_TRUE(after_ran.wait());
  EXPECT_FALSE(after_stop());

  // A child of a canceled parent is born canceled and never registered.
  auto [late, cancel_late] = ctx::with_cancel(parent);
  expect_done(late, ctx::canceled, "late child");
  EXPECT_EQ(ctx::internal::num_children(parent), 0u);
  cancel_late();
  stop_cancel_child();
  stop_timer_child();
}

// Go's XTestChildFinishesFirst.
TEST(Context, ChildFinishesFirst) {
  auto [cancelable, stop] = ctx::with_cancel(ctx::background());
  for (const Context& parent : {ctx::background(), cancelable}) {
    auto [child, cancel] = ctx::with_cancel(parent);
    const bool registered = !parent.done().is_nil();
    EXPECT_EQ(ctx::internal::num_children(parent), registered ? 1u : 0u);
    cancel();
    expect_done(child, ctx::canceled, "child");
    expect_not_done(parent, "parent");
    EXPECT_EQ(ctx::internal::num_children(parent), 0u);
  }
  stop();
}

// --- Deadlines ---------------------------------------------------------------------

TEST(Context, Deadline) {
  {
    auto [c, cancel] = ctx::with_deadline(ctx::background(), ctx::clock::now() + short_duration);
    EXPECT_EQ(c.to_string().rfind("context.Background.WithDeadline(", 0), 0u) << c.to_string();
    test_deadline(c, "WithDeadline");
  }
  {
    auto [c, cancel] = ctx::with_deadline(ctx::background(), ctx::clock::now() + short_duration);
    test_deadline(ctx::with_value(c, int_key, 1), "WithDeadline+value");
  }
  {
    auto [c, cancel] = ctx::with_deadline(ctx::background(), ctx::clock::now() + short_duration);
    auto [c2, cancel2] = ctx::with_deadline(ctx::with_value(c, int_key, 1), ctx::clock::now() + very_long_duration);
    test_deadline(c2, "WithDeadline+value+WithDeadline");
  }
  {
    auto [c, cancel] = ctx::with_deadline(ctx::background(), ctx::clock::now() - short_duration);
    expect_done(c, ctx::deadline_exceeded, "WithDeadline+inthepast (born done)");
    test_deadline(c, "WithDeadline+inthepast");
  }
  {
    auto [c, cancel] = ctx::with_deadline(ctx::background(), ctx::clock::now());
    test_deadline(c, "WithDeadline+now");
  }
}

TEST(Context, Timeout) {
  {
    auto [c, cancel] = ctx::with_timeout(ctx::background(), short_duration);
    EXPECT_EQ(c.to_string().rfind("context.Background.WithDeadline(", 0), 0u) << c.to_string();
    test_deadline(c, "WithTimeout");
  }
  {
    auto [c, cancel] = ctx::with_timeout(ctx::background(), short_duration);
    test_deadline(ctx::with_value(c, int_key, 1), "WithTimeout+value");
  }
  {
    auto [c, cancel] = ctx::with_timeout(ctx::background(), short_duration);
    auto [c2, cancel2] = ctx::with_timeout(ctx::with_value(c, int_key, 1), very_long_duration);
    test_deadline(c2, "WithTimeout+value+WithTimeout");
  }
  {
    auto [c, cancel] = ctx::with_timeout(ctx::background(), -1s);
    expect_done(c, ctx::deadline_exceeded, "negative timeout");
  }
  {
    // Durations that overflow the clock saturate to "never".
    auto [c, cancel] = ctx::with_timeout(ctx::background(), std::chrono::hours::max());
    ASSERT_TRUE(c.deadline().has_value());
    EXPECT_EQ(*c.deadline(), ctx::time_point::max());
    expect_not_done(c, "huge timeout");
    cancel();
    expect_done(c, ctx::canceled, "huge timeout canceled");
  }
}

TEST(Context, DeadlineNeverEarly) {
  const auto start = ctx::clock::now();
  const auto d = start + 20ms;
  auto [c, cancel] = ctx::with_deadline(ctx::background(), d);
  ASSERT_TRUE(c.deadline().has_value());
  EXPECT_EQ(*c.deadline(), d);
  ASSERT_TRUE(c.wait());
  EXPECT_GE(ctx::clock::now(), d);
  EXPECT_EQ(c.err(), ctx::deadline_exceeded);
  EXPECT_EQ(ctx::cause(c), ctx::deadline_exceeded);
}

TEST(Context, WaitForTimesOutNotEarly) {
  auto [c, cancel] = ctx::with_cancel(ctx::background());
  const auto start = ctx::clock::now();
  EXPECT_FALSE(c.wait_for(15ms));
  EXPECT_GE(ctx::clock::now() - start, 15ms);
  EXPECT_FALSE(c.wait_until(ctx::clock::now() - 1s));
  EXPECT_FALSE(c.done().wait_for(1ms));
  cancel();
  EXPECT_TRUE(c.wait_until(ctx::clock::now() - 1s));
}

// Go's TestCanceledTimeout.
TEST(Context, CanceledTimeout) {
  auto [c, cancel0] = ctx::with_timeout(ctx::background(), 1s);
  Context o = ctx::with_value(c, int_key, 1);
  auto [c2, cancel] = ctx::with_timeout(o, very_long_duration);
  cancel();  // propagates synchronously
  expect_done(c2, ctx::canceled, "c2");
  expect_not_done(c, "c");
  cancel0();
}

TEST(Context, ParentDeadlineEarlier) {
  const auto d1 = ctx::clock::now() + 50ms;
  auto [parent, cancel_parent] = ctx::with_deadline(ctx::background(), d1);
  // A later deadline: a cancel-only child reporting the parent's deadline.
  auto [child, cancel_child] = ctx::with_deadline(parent, d1 + very_long_duration);
  ASSERT_TRUE(child.deadline().has_value());
  EXPECT_EQ(*child.deadline(), d1);
  EXPECT_TRUE(child.to_string().ends_with("s).WithCancel"))
      << child.to_string();
  // An equal deadline makes a timer child of its own.
  auto [same, cancel_same] = ctx::with_deadline(parent, d1);
  EXPECT_FALSE(same.to_string().ends_with(".WithCancel")) << same.to_string();
  // An earlier deadline wins for the child only.
  auto [earlier, cancel_earlier] = ctx::with_deadline(parent, ctx::clock::now() + very_long_duration / 2);
  EXPECT_EQ(*earlier.deadline(), d1);
  auto [earliest, cancel_earliest] = ctx::with_deadline(parent, d1 - 1ms);
  EXPECT_EQ(*earliest.deadline(), d1 - 1ms);
  EXPECT_EQ(*parent.deadline(), d1);

  ASSERT_TRUE(child.wait_for(generous));
  EXPECT_EQ(child.err(), ctx::deadline_exceeded);
  EXPECT_EQ(parent.err(), ctx::deadline_exceeded);
  // Siblings are canceled one after the other by the same timer callback.
  ASSERT_TRUE(same.wait_for(generous));
  EXPECT_EQ(same.err(), ctx::deadline_exceeded);
  EXPECT_GE(ctx::clock::now(), d1);
  cancel_child();
  EXPECT_EQ(child.err(), ctx::deadline_exceeded);  // stable
}

// --- Values ------------------------------------------------------------------------

TEST(Context, Values) {
  auto check = [](const Context& c, const char* nm, const char* v1, const char* v2, const char* v3) {
    auto one = [&](const ctx::key<std::string>& k, const char* want, const char* kn) {
      const std::string* got = c.value(k);
      if (want == nullptr) {
        EXPECT_EQ(got, nullptr) << nm << ".value(" << kn << ")";
      } else {
        ASSERT_NE(got, nullptr) << nm << ".value(" << kn << ")";
        EXPECT_EQ(*got, want) << nm << ".value(" << kn << ")";
      }
    };
    one(k1, v1, "k1");
    one(k2, v2, "k2");
    one(k3, v3, "k3");
  };

  Context c0 = ctx::background();
  check(c0, "c0", nullptr, nullptr, nullptr);

  Context c1 = ctx::with_value(ctx::background(), k1, "c1k1");
  check(c1, "c1", "c1k1", nullptr, nullptr);
  EXPECT_EQ(c1.to_string(), "context.Background.WithValue(k1, c1k1)");

  Context c2 = ctx::with_value(c1, k2, "c2k2");
  check(c2, "c2", "c1k1", "c2k2", nullptr);
  EXPECT_EQ(c2.to_string(), "context.Background.WithValue(k1, c1k1).WithValue(k2, c2k2)");

  Context c3 = ctx::with_value(c2, k3, "c3k3");
  check(c3, "c3", "c1k1", "c2k2", "c3k3");

  Context c4 = ctx::with_value(c3, k1, "c4k1");  // shadows c1's binding
  check(c4, "c4", "c4k1", "c2k2", "c3k3");
  check(c3, "c3 again", "c1k1", "c2k2", "c3k3");

  // Values pass through cancelable and without_cancel contexts.
  auto [c5, cancel] = ctx::with_cancel(c4);
  check(c5, "c5", "c4k1", "c2k2", "c3k3");
  cancel();
  check(c5, "c5 canceled", "c4k1", "c2k2", "c3k3");
  check(ctx::without_cancel(c5), "without_cancel", "c4k1", "c2k2", "c3k3");

  // Keys of different types, and keys compared by identity (not by name).
  Context c6 = ctx::with_value(c4, int_key, 42);
  ASSERT_NE(c6.value(int_key), nullptr);
  EXPECT_EQ(*c6.value(int_key), 42);
  EXPECT_EQ(c4.value(int_key), nullptr);
  EXPECT_EQ(c6.value(unnamed_key), nullptr);
  Context c7 = ctx::with_value(c6, unnamed_key, "anon");
  ASSERT_NE(c7.value(unnamed_key), nullptr);
  EXPECT_EQ(*c7.value(unnamed_key), "anon");

  // The pointer is stable: it points into the immutable context.
  EXPECT_EQ(c7.value(k2), c2.value(k2));
}

struct move_only {
  std::unique_ptr<int> p;
};

TEST(Context, ValuesOfMoveOnlyAndUnprintableTypes) {
  static const ctx::key<move_only> mk{"mk"};
  Context c = ctx::with_value(ctx::background(), mk, move_only{std::make_unique<int>(7)});
  ASSERT_NE(c.value(mk), nullptr);
  EXPECT_EQ(*c.value(mk)->p, 7);
  EXPECT_EQ(c.to_string().rfind("context.Background.WithValue(mk, <", 0), 0u) << c.to_string();
}

// --- Concurrency cases of Go's tests -----------------------------------------------

// Go's TestSimultaneousCancels: a tree of ~100 contexts canceled in random order by
// tasks and threads while the main thread waits on every context.
TEST(Context, SimultaneousCancels) {
  auto [root, cancel_root] = ctx::with_cancel(ctx::background());
  std::vector<std::pair<Context, ctx::cancel_func>> m = {{root, cancel_root}};
  std::vector<Context> q = {root};
  for (std::size_t head = 0; head < q.size() && m.size() < 100; ++head) {
    Context parent = q[head];
    for (int i = 0; i < 4; ++i) {
      auto p = ctx::with_cancel(parent);
      m.push_back(p);
      q.push_back(p.first);
    }
  }
  std::mt19937 rng(12345);
  std::shuffle(m.begin(), m.end(), rng);

  go::sync::WaitGroup wg;
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < m.size(); ++i) {
    if (i % 4 == 0) {
      threads.emplace_back([cancel = m[i].second] { cancel(); });
    } else {
      wg.go([cancel = m[i].second] { cancel(); });
    }
  }
  std::shuffle(m.begin(), m.end(), rng);
  for (auto& [c, cancel] : m) ASSERT_TRUE(c.wait_for(generous));
  wg.wait();
  for (auto& t : threads) t.join();
  EXPECT_EQ(ctx::internal::num_children(root), 0u);
}

// Go's TestInterlockedCancels.
TEST(Context, InterlockedCancels) {
  auto [parent, cancel_parent] = ctx::with_cancel(ctx::background());
  auto [child, cancel_child] = ctx::with_cancel(parent);
  go::sync::WaitGroup wg;
  wg.go([parent = parent, cancel_child = cancel_child] {
    parent.wait();
    cancel_child();
  });
  cancel_parent();
  EXPECT_TRUE(child.wait_for(generous));
  wg.wait();
}

// Go's cancel returns only when every descendant is done, even when a node in between
// is being canceled concurrently by someone else: Go's cancel waits for that node's
// lock, held while its own cancel reaches its children. Here the intermediate node's
// cancel is held up (a stop callback blocks until released), and the root's cancel,
// from a thread or a task, must not return before the grandchild is done.
// While `release` holds up another cancel in the middle of the tree, calls cancel_root
// from a thread or a task and checks that it does not return before `release` is
// fired, and that `leaf` is done by the time it returns. The 20 ms pause only gives a
// premature return the chance to show; the checks do not depend on it.
void expect_cancel_waits_for_subtree(const ctx::cancel_func& cancel_root, const Context& leaf,
                                     const event& release, bool from_task) {
  std::atomic<bool> returned{false};
  std::atomic<bool> leaf_done_at_return{false};
  auto cancel_and_look = [&] {
    cancel_root();
    leaf_done_at_return = leaf.err() != nullptr;
    returned = true;
  };
  go::sync::WaitGroup wg;
  std::thread root_canceller;
  if (from_task) wg.go(cancel_and_look); else root_canceller = std::thread(cancel_and_look);
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(returned.load());
  release.fire();
  wg.wait();
  if (root_canceller.joinable()) root_canceller.join();
  EXPECT_TRUE(returned.load());
  EXPECT_TRUE(leaf_done_at_return.load());
}

TEST(Context, CancelWaitsForConcurrentlyCanceledSubtree) {
  for (bool from_task : {false, true}) {
    SCOPED_TRACE(from_task ? "root canceled from a task" : "root canceled from a thread");
    auto [root, cancel_root] = ctx::with_cancel(ctx::background());
    auto [mid, cancel_mid] = ctx::with_cancel(root);
    auto [leaf, cancel_leaf] = ctx::with_cancel(mid);
    event entered, release;
    std::stop_callback hold(mid.stop_token(), [&] {
      entered.fire();
      release.wait();  // mid's cancel is stuck before it reaches leaf
    });
    std::thread mid_canceller([cancel = cancel_mid] { cancel(); });
    ASSERT_TRUE(entered.wait());
    ASSERT_EQ(leaf.err(), nullptr);  // held up: mid is done, leaf not yet
    expect_cancel_waits_for_subtree(cancel_root, leaf, release, from_task);
    mid_canceller.join();
    EXPECT_EQ(leaf.err(), ctx::canceled);
  }
}

// The same when the node in between is being canceled by its deadline: the timer's
// cancel keeps the node among its parent's children until its whole subtree is done
// (Go's order: cancel the children, then removeChild), so the root's cancel finds it
// and waits. The timer's cancel is held up one level further down, past the point
// where it would have unlinked itself.
TEST(Context, CancelWaitsForSubtreeOfFiringDeadline) {
  auto [root, cancel_root] = ctx::with_cancel(ctx::background());
  auto [timed, cancel_timed] = ctx::with_timeout(root, short_duration);
  auto [mid, cancel_mid] = ctx::with_cancel(timed);
  auto [leaf, cancel_leaf] = ctx::with_cancel(mid);
  event entered, release;
  std::stop_callback hold(mid.stop_token(), [&] {  // runs on the timer thread
    entered.fire();
    release.wait();
  });
  ASSERT_TRUE(entered.wait());
  ASSERT_EQ(timed.err(), ctx::deadline_exceeded);
  ASSERT_EQ(leaf.err(), nullptr);
  expect_cancel_waits_for_subtree(cancel_root, leaf, release, /*from_task=*/false);
  EXPECT_EQ(leaf.err(), ctx::deadline_exceeded);
}

// A cancel issued from inside another cancel (a stop callback on a descendant's token
// cancels an ancestor, from the same stack) does not wait for the outer cancel, which
// cannot finish before it returns: it returns at once, and the outer cancel completes.
TEST(Context, StopCallbackCancelingAnAncestorDoesNotDeadlock) {
  auto [top, cancel_top] = ctx::with_cancel(ctx::background());
  auto [mid, cancel_mid] = ctx::with_cancel(top);
  auto [leaf, cancel_leaf] = ctx::with_cancel(mid);
  std::atomic<int> calls{0};
  std::stop_callback on_leaf(leaf.stop_token(), [&calls, mid = mid, cancel = cancel_top] {
    calls.fetch_add(1);
    cancel();  // top is being canceled by this very stack
    EXPECT_NE(mid.err(), nullptr);
  });
  go::sync::WaitGroup wg;
  wg.go([cancel = cancel_top] { cancel(); });
  wg.wait();
  EXPECT_EQ(calls.load(), 1);
  expect_done(leaf, ctx::canceled, "leaf");
}

// A nested cancel (a stop callback reacting to the outer drain) that finds a node
// being drained by another thread does not wait for it, but must not report its own
// node settled before that one is: here A's drain stops B, whose token cancels S (a
// nested cancel), whose child X thread U is still draining. cancel_A must wait for Y.
TEST(Context, NestedCancelDoesNotSettleBeforeAConcurrentDrainBelow) {
  for (bool from_task : {false, true}) {
    SCOPED_TRACE(from_task ? "A canceled from a task" : "A canceled from a thread");
    auto [a, cancel_a] = ctx::with_cancel(ctx::background());
    auto [b, cancel_b] = ctx::with_cancel(a);  // attached first: drained first
    Context s = ctx::from_stop_token(a, b.stop_token());
    auto [x, cancel_x] = ctx::with_cancel(s);
    auto [y, cancel_y] = ctx::with_cancel(x);
    event entered, release;
    std::stop_callback hold(x.stop_token(), [&] {
      entered.fire();
      release.wait();  // U's cancel of x is stuck before it reaches y
    });
    std::thread u([cancel = cancel_x] { cancel(); });
    ASSERT_TRUE(entered.wait());
    expect_cancel_waits_for_subtree(cancel_a, y, release, from_task);
    u.join();
    EXPECT_EQ(s.err(), ctx::canceled);
  }
}

// A value destructor that parks on a runtime timer (a pooled resource, say).
struct sleeps_when_destroyed {
  std::chrono::milliseconds d;
  explicit sleeps_when_destroyed(std::chrono::milliseconds x) : d(x) {}
  sleeps_when_destroyed(sleeps_when_destroyed&& o) noexcept : d(std::exchange(o.d, 0ms)) {}
  ~sleeps_when_destroyed() {
    if (d > 0ms) go::time::sleep_for(d);
  }
};
inline const ctx::key<sleeps_when_destroyed> sleeper_key{"sleeper"};

// The deadline's cancel runs in a task, not on the timer thread: here it fires while
// a task's drain below the deadline node is parked on a runtime timer (a destructor
// the drain runs). Had the timer thread waited for that drain, the sleeper's timer
// could never fire and every timer of the process would stop.
TEST(Context, DeadlineCancelDoesNotBlockTheTimerThread) {
  auto [d, cancel_d] = ctx::with_timeout(ctx::background(), 50ms);
  auto [c, cancel_c] = ctx::with_cancel(d);
  {
    Context v = ctx::with_value(c, sleeper_key, sleeps_when_destroyed(100ms));
    ctx::after_func(v, [] {});  // the registration is now v's only owner
  }
  event returned;
  go::spawn([&returned, cancel = cancel_c] {
    go::time::sleep_for(30ms);
    cancel();  // the drain drops the registration: ~v sleeps until ~130 ms
    returned.fire();
  });
  EXPECT_TRUE(returned.wait());
  EXPECT_EQ(d.err(), ctx::deadline_exceeded);
}

// A deadline takes effect when its time passes, not when a task gets round to it: a
// task that sleeps past its context's deadline finds the context done (the timer
// fires timers in deadline order, and the deadline makes its node done right there),
// however many tasks are runnable.
TEST(Context, DeadlineIsDoneOnceItsTimeHasPassed) {
  constexpr int n = 500;
  std::atomic<int> not_done{0};
  go::sync::WaitGroup wg;
  for (int i = 0; i < n; ++i) {
    wg.go([&not_done] {
      auto [c, cancel] = ctx::with_timeout(ctx::background(), 2ms);
      go::time::sleep_for(3ms);
      if (!c.err()) not_done.fetch_add(1);
    });
  }
  wg.wait();
  EXPECT_EQ(not_done.load(), 0);
}

// Which cancels are nested is tracked per task: a drain parked in a destructor does
// not make the other tasks of its worker look nested (their cancels would stop
// waiting for settling). Runs in a fresh process with one worker.
class ContextOneWorker : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

// Cancels P from a task while thread U is held inside Q's drain; whether R (under Q)
// was done when P's cancel returned.
bool cancel_waits_while_other_drain_runs() {
  auto [p, cancel_p] = ctx::with_cancel(ctx::background());
  auto [q, cancel_q] = ctx::with_cancel(p);
  auto [r, cancel_r] = ctx::with_cancel(q);
  event entered, release;
  std::stop_callback hold(q.stop_token(), [&] {
    entered.fire();
    release.wait();
  });
  std::thread u([cancel = cancel_q] { cancel(); });
  entered.wait();
  std::atomic<bool> r_done{false};
  event returned;
  go::spawn([&r_done, &returned, leaf = r, cancel = cancel_p] {
    cancel();
    r_done = leaf.err() != nullptr;
    returned.fire();
  });
  std::this_thread::sleep_for(20ms);
  release.fire();
  returned.wait();
  u.join();
  return r_done;
}

void drain_parks_in_destructor(std::chrono::milliseconds d) {
  auto [a, cancel_a] = ctx::with_cancel(ctx::background());
  {
    Context v = ctx::with_value(a, sleeper_key, sleeps_when_destroyed(d));
    ctx::after_func(v, [] {});
  }
  cancel_a();  // parks inside the drain, in ~sleeps_when_destroyed
}

[[noreturn]] void cancel_depth_scenario() {
  go::runtime::set_max_procs(1);
  std::atomic<int> finished{0};
  // Two drains park on the one worker and end in the opposite order of their start.
  go::spawn([&] { drain_parks_in_destructor(50ms); ++finished; });
  go::spawn([&] { drain_parks_in_destructor(100ms); ++finished; });
  while (finished < 2) std::this_thread::sleep_for(1ms);
  std::_Exit(cancel_waits_while_other_drain_runs() ? 0 : 1);
}

TEST_F(ContextOneWorker, CancelDepthIsPerTask) {
  EXPECT_EXIT(cancel_depth_scenario(), ::testing::ExitedWithCode(0), "");
}

// Go's testLayers: random layers of values, cancels and timeouts.
static void test_layers(std::uint64_t seed, bool test_timeout) {
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::mt19937_64 r(seed);
  constexpr int min_layers = 30;
  std::vector<std::unique_ptr<ctx::key<int>>> keys;  // each key lives past the contexts
  std::vector<ctx::cancel_func> cancels;
  int num_timers = 0;
  Context c = ctx::background();
  for (int i = 0; i < min_layers || num_timers == 0 || cancels.empty() || keys.empty(); ++i) {
    switch (r() % 3) {
      case 0: {
        keys.push_back(std::make_unique<ctx::key<int>>());
        c = ctx::with_value(c, *keys.back(), static_cast<int>(keys.size()));
        break;
      }
      case 1: {
        auto [c2, cancel] = ctx::with_cancel(c);
        c = c2;
        cancels.push_back(cancel);
        break;
      }
      case 2: {
        auto [c2, cancel] = test_timeout ? ctx::with_timeout(c, short_duration)
                                         : ctx::with_timeout(c, very_long_duration);
        c = c2;
        cancels.push_back(cancel);
        ++num_timers;
        break;
      }
    }
  }
  auto check_values = [&](const char* when) {
    for (std::size_t i = 0; i < keys.size(); ++i) {
      const int* v = c.value(*keys[i]);
      ASSERT_NE(v, nullptr) << when;
      EXPECT_EQ(*v, static_cast<int>(i + 1)) << when;
    }
  };
  if (!test_timeout) expect_not_done(c, "should not be canceled yet");
  EXPECT_EQ(c.to_string().rfind("context.Background.", 0), 0u);
  check_values("before cancel");
  if (test_timeout) {
    EXPECT_TRUE(c.wait_for(generous)) << "ctx should have timed out";
    check_values("after timeout");
  } else {
    cancels[r() % cancels.size()]();
    EXPECT_TRUE(c.done().is_closed()) << "ctx should be canceled";
    check_values("after cancel");
  }
  for (auto& cancel : cancels) cancel();
}

TEST(Context, LayersCancel) {
  const auto seed = static_cast<std::uint64_t>(ctx::clock::now().time_since_epoch().count());
  for (int i = 0; i < 20; ++i) test_layers(seed + i, false);
}

TEST(Context, LayersTimeout) {
  const auto seed = static_cast<std::uint64_t>(ctx::clock::now().time_since_epoch().count());
  for (int i = 0; i < 5; ++i) test_layers(seed + i, true);
}

// Go's XTestCancelRemoves.
TEST(Context, CancelRemoves) {
  auto [parent, cancel_parent] = ctx::with_cancel(ctx::background());
  EXPECT_EQ(ctx::internal::num_children(parent), 0u);

  auto [c1, cancel1] = ctx::with_cancel(parent);
  EXPECT_EQ(ctx::internal::num_children(parent), 1u);
  cancel1();
  EXPECT_EQ(ctx::internal::num_children(parent), 0u);

  auto [c2, cancel2] = ctx::with_timeout(parent, very_long_duration);
  EXPECT_EQ(ctx::internal::num_children(parent), 1u);
  cancel2();
  EXPECT_EQ(ctx::internal::num_children(parent), 0u);

  auto stop = ctx::after_func(parent, [] {});
  EXPECT_EQ(ctx::internal::num_children(parent), 1u);
  EXPECT_TRUE(stop());
  EXPECT_EQ(ctx::internal::num_children(parent), 0u);

  auto [c3, cancel3] = ctx::with_cancel_cause(ctx::with_value(parent, int_key, 3));
  EXPECT_EQ(ctx::internal::num_children(parent), 1u);
  cancel3(nullptr);
  EXPECT_EQ(ctx::internal::num_children(parent), 0u);
  cancel_parent();
}

// Not in Go (which relies on its GC): a long-lived parent holds none of the derived
// contexts whose every handle was dropped, canceled or not.
TEST(Context, DroppedChildrenUnregister) {
  auto [parent, cancel_parent] = ctx::with_cancel(ctx::background());
  for (int i = 0; i < 1000; ++i) {
    auto a = ctx::with_cancel(parent);
    auto b = ctx::with_timeout(ctx::with_value(a.first, int_key, i), very_long_duration);
    auto c = ctx::with_cancel_cause(b.first);
    if (i % 2) a.second();
  }
  EXPECT_EQ(ctx::internal::num_children(parent), 0u);
  std::weak_ptr<int> probe;
  {
    auto owned = std::make_shared<int>(1);
    probe = owned;
    auto [c, cancel] = ctx::with_cancel(parent);
    ctx::after_func(c, [owned] {})();  // registered, then stopped: f released at once
  }
  EXPECT_TRUE(probe.expired());
  cancel_parent();
}

// Go's TestWithCancelCanceledParent.
TEST(Context, WithCancelCanceledParent) {
  auto [parent, pcancel] = ctx::with_cancel_cause(ctx::background());
  const go::error because = go::errors::make("Because!");
  pcancel(because);

  auto [c, cancel] = ctx::with_cancel(parent);
  EXPECT_TRUE(c.done().is_closed()) << "child not done immediately upon construction";
  EXPECT_EQ(c.err(), ctx::canceled);
  EXPECT_EQ(ctx::cause(c), because);

  auto [t, cancel_t] = ctx::with_timeout(parent, very_long_duration);
  EXPECT_EQ(t.err(), ctx::canceled);
  EXPECT_EQ(ctx::cause(t), because);
}

// Go's TestWithCancelSimultaneouslyCanceledParent.
TEST(Context, WithCancelSimultaneouslyCanceledParent) {
  for (int i = 0; i < 100; ++i) {
    auto [parent, pcancel] = ctx::with_cancel_cause(ctx::background());
    const go::error because = go::errors::make("Because!");
    if (i % 2) {
      go::spawn([pcancel = pcancel, because] { pcancel(because); });
    } else {
      std::thread([pcancel = pcancel, because] { pcancel(because); }).detach();
    }
    auto [c, cancel] = ctx::with_cancel(parent);
    ASSERT_TRUE(c.wait_for(generous));
    EXPECT_EQ(c.err(), ctx::canceled);
    EXPECT_EQ(ctx::cause(c), because);
  }
}

// Go's TestCause (every case without a custom Context type).
TEST(Context, Cause) {
  const auto forever = std::chrono::seconds(1000000);
  const go::error parent_cause = go::errors::make("parentCause");
  const go::error child_cause = go::errors::make("childCause");
  const go::error too_slow = go::errors::make("tooSlow");
  const go::error finished_early = go::errors::make("finishedEarly");
  struct test_case {
    const char* name;
    std::function<Context()> make;
    go::error err, cause;
  };
  const std::vector<test_case> tests = {
      {"Background", [] { return ctx::background(); }, nullptr, nullptr},
      {"TODO", [] { return ctx::todo(); }, nullptr, nullptr},
      {"WithCancel",
       [] {
         auto [c, cancel] = ctx::with_cancel(ctx::background());
         cancel();
         return c;
       },
       ctx::canceled, ctx::canceled},
      {"WithCancelCause",
       [&] {
         auto [c, cancel] = ctx::with_cancel_cause(ctx::background());
         cancel(parent_cause);
         return c;
       },
       ctx::canceled, parent_cause},
      {"WithCancelCause nil",
       [] {
         auto [c, cancel] = ctx::with_cancel_cause(ctx::background());
         cancel(nullptr);
         return c;
       },
       ctx::canceled, ctx::canceled},
      {"WithCancelCause: parent cause before child",
       [&] {
         auto [p, cancel_parent] = ctx::with_cancel_cause(ctx::background());
         auto [c, cancel_child] = ctx::with_cancel_cause(p);
         cancel_parent(parent_cause);
         cancel_child(child_cause);
         return c;
       },
       ctx::canceled, parent_cause},
      {"WithCancelCause: parent cause after child",
       [&] {
         auto [p, cancel_parent] = ctx::with_cancel_cause(ctx::background());
         auto [c, cancel_child] = ctx::with_cancel_cause(p);
         cancel_child(child_cause);
         cancel_parent(parent_cause);
         return c;
       },
       ctx::canceled, child_cause},
      {"WithCancelCause: parent cause before nil",
       [&] {
         auto [p, cancel_parent] = ctx::with_cancel_cause(ctx::background());
         auto [c, cancel_child] = ctx::with_cancel(p);
         cancel_parent(parent_cause);
         cancel_child();
         return c;
       },
       ctx::canceled, parent_cause},
      {"WithCancelCause: parent cause after nil",
       [&] {
         auto [p, cancel_parent] = ctx::with_cancel_cause(ctx::background());
         auto [c, cancel_child] = ctx::with_cancel(p);
         cancel_child();
         cancel_parent(parent_cause);
         return c;
       },
       ctx::canceled, ctx::canceled},
      {"WithCancelCause: child cause after nil",
       [&] {
         auto [p, cancel_parent] = ctx::with_cancel(ctx::background());
         auto [c, cancel_child] = ctx::with_cancel_cause(p);
         cancel_parent();
         cancel_child(child_cause);
         return c;
       },
       ctx::canceled, ctx::canceled},
      {"WithCancelCause: child cause before nil",
       [&] {
         auto [p, cancel_parent] = ctx::with_cancel(ctx::background());
         auto [c, cancel_child] = ctx::with_cancel_cause(p);
         cancel_child(child_cause);
         cancel_parent();
         return c;
       },
       ctx::canceled, child_cause},
      {"WithTimeout",
       [] {
         auto [c, cancel] = ctx::with_timeout(ctx::background(), 0s);
         cancel();
         return c;
       },
       ctx::deadline_exceeded, ctx::deadline_exceeded},
      {"WithTimeout canceled",
       [&] {
         auto [c, cancel] = ctx::with_timeout(ctx::background(), forever);
         cancel();
         return c;
       },
       ctx::canceled, ctx::canceled},
      {"WithTimeoutCause",
       [&] {
         auto [c, cancel] = ctx::with_timeout_cause(ctx::background(), 0s, too_slow);
         cancel();
         return c;
       },
       ctx::deadline_exceeded, too_slow},
      {"WithTimeoutCause canceled",
       [&] {
         auto [c, cancel] = ctx::with_timeout_cause(ctx::background(), forever, too_slow);
         cancel();
         return c;
       },
       ctx::canceled, ctx::canceled},
      {"WithTimeoutCause stacked",
       [&] {
         auto [p, cancel] = ctx::with_cancel_cause(ctx::background());
         auto [c, cancel2] = ctx::with_timeout_cause(p, 0s, too_slow);
         cancel(finished_early);
         return c;
       },
       ctx::deadline_exceeded, too_slow},
      {"WithTimeoutCause stacked canceled",
       [&] {
         auto [p, cancel] = ctx::with_cancel_cause(ctx::background());
         auto [c, cancel2] = ctx::with_timeout_cause(p, forever, too_slow);
         cancel(finished_early);
         return c;
       },
       ctx::canceled, finished_early},
      {"WithoutCancel", [] { return ctx::without_cancel(ctx::background()); }, nullptr, nullptr},
      {"WithoutCancel canceled",
       [&] {
         auto [p, cancel] = ctx::with_cancel_cause(ctx::background());
         Context c = ctx::without_cancel(p);
         cancel(finished_early);
         return c;
       },
       nullptr, nullptr},
      {"WithoutCancel timeout",
       [&] {
         auto [p, cancel] = ctx::with_timeout_cause(ctx::background(), 0s, too_slow);
         Context c = ctx::without_cancel(p);
         cancel();
         return c;
       },
       nullptr, nullptr},
      {"value of canceled",
       [&] {
         auto [p, cancel] = ctx::with_cancel_cause(ctx::background());
         cancel(child_cause);
         return ctx::with_value(p, int_key, 1);
       },
       ctx::canceled, child_cause},
  };
  for (const auto& t : tests) {
    Context c = t.make();
    EXPECT_EQ(c.err(), t.err) << t.name << ": err() = " << c.err();
    EXPECT_EQ(ctx::cause(c), t.cause) << t.name << ": cause() = " << ctx::cause(c);
  }
}

TEST(Context, TimeoutCauseFromTimer) {
  const go::error too_slow = go::errors::make("tooSlow");
  auto [c, cancel] = ctx::with_timeout_cause(ctx::background(), short_duration, too_slow);
  auto [child, cancel_child] = ctx::with_cancel(c);
  ASSERT_TRUE(child.wait_for(generous));
  EXPECT_EQ(c.err(), ctx::deadline_exceeded);
  EXPECT_EQ(ctx::cause(c), too_slow);
  EXPECT_EQ(child.err(), ctx::deadline_exceeded);
  EXPECT_EQ(ctx::cause(child), too_slow);
  cancel();
  EXPECT_EQ(ctx::cause(c), too_slow);  // first cause wins
}

// Go's TestCauseRace: poll cause() (not done) while a task cancels.
TEST(Context, CauseRace) {
  const go::error because = go::errors::make("TestCauseRace");
  auto [c, cancel] = ctx::with_cancel_cause(ctx::background());
  go::spawn([cancel = cancel, because] { cancel(because); });
  for (;;) {
    if (go::error e = ctx::cause(c)) {
      EXPECT_EQ(e, because);
      break;
    }
    std::this_thread::yield();
  }
}

// Go's TestContextErrDoneRace (issue 75533): err() != nil implies done is closed.
TEST(Context, ErrDoneRace) {
  for (int i = 0; i < 100; ++i) {
    auto [c, cancel] = ctx::with_cancel(ctx::background());
    ctx::done_channel d = c.done();
    go::spawn([cancel = cancel] { cancel(); });
    while (c.err() == nullptr) std::this_thread::yield();
    ASSERT_TRUE(d.is_closed()) << "err is non-nil, but done is not closed";
  }
}

// Go's TestWithoutCancel, plus its independence from the parent.
TEST(Context, WithoutCancel) {
  static const ctx::key<std::string> key{"key"};
  auto [parent, cancel] = ctx::with_timeout(ctx::with_value(ctx::background(), key, "value"), very_long_duration);
  Context c = ctx::without_cancel(parent);
  EXPECT_FALSE(c.deadline().has_value());
  EXPECT_TRUE(c.done().is_nil());
  EXPECT_EQ(c.err(), nullptr);
  ASSERT_NE(c.value(key), nullptr);
  EXPECT_EQ(*c.value(key), "value");
  EXPECT_EQ(c.to_string().substr(c.to_string().size() - 14), ".WithoutCancel");
  EXPECT_FALSE(c.stop_token().stop_possible());

  auto [child, cancel_child] = ctx::with_cancel(c);
  EXPECT_EQ(ctx::internal::num_children(parent), 0u);  // a new cancellation tree
  cancel();
  EXPECT_EQ(parent.err(), ctx::canceled);
  EXPECT_EQ(c.err(), nullptr);
  expect_not_done(child, "child of without_cancel");
  EXPECT_EQ(*child.value(key), "value");
  cancel_child();
  EXPECT_EQ(child.err(), ctx::canceled);
}

// --- after_func (Go's TestAfterFunc*) -----------------------------------------------

TEST(Context, AfterFuncCalledAfterCancel) {
  auto [c, cancel] = ctx::with_cancel(ctx::background());
  event donec;
  auto stop = ctx::after_func(c, [&] { donec.fire(); });
  EXPECT_FALSE(donec.p.first.wait_for(short_duration)) << "after_func called before context is done";
  cancel();
  ASSERT_TRUE(donec.wait()) << "after_func not called after context is canceled";
  EXPECT_FALSE(stop());
}

TEST(Context, AfterFuncCalledAfterTimeout) {
  auto [c, cancel] = ctx::with_timeout(ctx::background(), short_duration);
  event donec;
  ctx::after_func(c, [&] { donec.fire(); });
  ASSERT_TRUE(donec.wait()) << "after_func not called after the deadline";
  cancel();
}

TEST(Context, AfterFuncCalledImmediately) {
  auto [c, cancel] = ctx::with_cancel(ctx::background());
  cancel();
  event donec;
  auto stop = ctx::after_func(c, [&] { donec.fire(); });
  ASSERT_TRUE(donec.wait()) << "after_func not called for already-canceled context";
  EXPECT_FALSE(stop());
}

TEST(Context, AfterFuncNotCalledAfterStop) {
  auto [c, cancel] = ctx::with_cancel(ctx::background());
  std::atomic<bool> called{false};
  auto stop = ctx::after_func(c, [&] { called = true; });
  EXPECT_TRUE(stop());
  cancel();
  go::time::sleep_for(short_duration);  // give a (wrongly) spawned f a chance to run
  EXPECT_FALSE(called.load());
  EXPECT_FALSE(stop());
}

// Canceling does not wait for after_func callbacks: f blocks until cancel returned.
TEST(Context, AfterFuncCalledAsynchronously) {
  auto [c, cancel] = ctx::with_cancel(ctx::background());
  event cancel_returned, f_done;
  std::atomic<bool> in_task{false};
  auto stop = ctx::after_func(c, [&] {
    in_task = go::this_task::in_task();
    cancel_returned.wait();
    f_done.fire();
  });
  cancel();
  cancel_returned.fire();
  ASSERT_TRUE(f_done.wait());
  EXPECT_TRUE(in_task.load());
  EXPECT_FALSE(stop());
}

TEST(Context, AfterFuncOnBackgroundNeverRuns) {
  for (Context c : {ctx::background(), ctx::todo(), ctx::without_cancel(ctx::with_value(ctx::todo(), int_key, 1))}) {
    auto stop = ctx::after_func(c, [] { ADD_FAILURE() << "f ran"; });
    EXPECT_TRUE(stop());
    EXPECT_FALSE(stop());
  }
  EXPECT_THROW(ctx::after_func(ctx::background(), nullptr), std::invalid_argument);
}

// The registration keeps its context alive: f runs even if every other handle is gone.
TEST(Context, AfterFuncKeepsContextAlive) {
  event donec;
  {
    auto [c, cancel] = ctx::with_timeout(ctx::background(), short_duration);
    ctx::after_func(ctx::with_value(c, int_key, 1), [&] { donec.fire(); });
  }
  ASSERT_TRUE(donec.wait());
}

// stop() racing with cancel: exactly one of "stop returned true" and "f ran" happens.
TEST(Context, AfterFuncStopRace) {
  for (int i = 0; i < 300; ++i) {
    auto [c, cancel] = ctx::with_cancel(ctx::background());
    auto ran = std::make_shared<std::atomic<int>>(0);
    auto stop = ctx::after_func(c, [ran] { ran->fetch_add(1); });
    event stopped;
    std::atomic<bool> stop_result{false};
    go::spawn([&, stop = stop] {
      stop_result = stop();
      stopped.fire();
    });
    cancel();
    ASSERT_TRUE(stopped.wait());
    if (stop_result.load()) {
      go::time::sleep_for(100us);
      EXPECT_EQ(ran->load(), 0);
    } else {
      const auto until = ctx::clock::now() + generous;
      while (ran->load() == 0 && ctx::clock::now() < until) std::this_thread::yield();
      EXPECT_EQ(ran->load(), 1);
    }
  }
}

// --- Tasks and threads ------------------------------------------------------------

TEST(Context, TasksParkedWokenByThreadCancel) {
  auto [c, cancel] = ctx::with_cancel(ctx::background());
  constexpr int n = 200;
  go::sync::WaitGroup started, finished;
  std::atomic<int> woke{0};
  for (int i = 0; i < n; ++i) {
    started.add(1);
    finished.go([&, c = c, i] {
      started.done();
      if (i % 3 == 0) {
        EXPECT_TRUE(c.wait());
      } else if (i % 3 == 1) {
        EXPECT_TRUE(c.wait_for(generous));
      } else {
        c.done().wait();
      }
      EXPECT_EQ(c.err(), ctx::canceled);
      woke.fetch_add(1);
    });
  }
  started.wait();
  std::thread([cancel = cancel] { cancel(); }).join();
  finished.wait();
  EXPECT_EQ(woke.load(), n);
}

TEST(Context, ThreadsWokenByTaskCancel) {
  auto [c, cancel] = ctx::with_cancel_cause(ctx::background());
  const go::error because = go::errors::make("from a task");
  std::vector<std::thread> threads;
  std::atomic<int> woke{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, c = c, i] {
      if (i % 2) EXPECT_TRUE(c.wait()); else EXPECT_TRUE(c.wait_for(generous));
      EXPECT_EQ(ctx::cause(c), because);
      woke.fetch_add(1);
    });
  }
  go::spawn([cancel = cancel, because] { cancel(because); });
  for (auto& t : threads) t.join();
  EXPECT_EQ(woke.load(), 8);
}

TEST(Context, TasksWokenByDeadline) {
  auto [c, cancel] = ctx::with_timeout(ctx::background(), 5ms);
  go::sync::WaitGroup wg;
  std::atomic<int> ok{0};
  for (int i = 0; i < 50; ++i) {
    wg.go([&, c = c] {
      if (c.wait_for(generous) && c.err() == ctx::deadline_exceeded) ok.fetch_add(1);
    });
  }
  wg.wait();
  EXPECT_EQ(ok.load(), 50);
}

TEST(Context, TaskWaitForTimesOut) {
  auto [c, cancel] = ctx::with_cancel(ctx::background());
  go::sync::WaitGroup wg;
  std::atomic<bool> result{true};
  wg.go([&, c = c] {
    const auto start = ctx::clock::now();
    result = c.wait_for(10ms);
    EXPECT_GE(ctx::clock::now() - start, 10ms);
  });
  wg.wait();
  EXPECT_FALSE(result.load());
  cancel();
}

// A long chain is canceled iteratively: doing it from a task (small stack) must not
// overflow.
TEST(Context, DeepChainCanceledFromTask) {
  auto [root, cancel_root] = ctx::with_cancel(ctx::background());
  Context leaf = root;
  std::vector<ctx::cancel_func> cancels;
  for (int i = 0; i < 20000; ++i) {
    auto [c, cancel] = ctx::with_cancel(leaf);
    leaf = c;
    cancels.push_back(cancel);  // keeps every node alive, so no destruction happens in the task
  }
  go::sync::WaitGroup wg;
  wg.go([cancel_root = cancel_root] { cancel_root(); });
  wg.wait();
  expect_done(leaf, ctx::canceled, "leaf");
}

// Dropping the last handle to a long chain releases the ancestors in a loop: from a
// task (small stack) a chain of 100,000 must not overflow, whatever the node kinds,
// and nor must a chain that holds another long chain as a value.
TEST(Context, DeepChainDestroyedFromTask) {
  static const ctx::key<Context> inner_key("inner");
  static const ctx::key<int> int_key("n");
  go::sync::WaitGroup wg;
  std::atomic<bool> checked{false};
  wg.go([&] {
    auto build = [](Context c, int depth) {
      for (int i = 0; i < depth; ++i) {
        switch (i % 3) {
          case 0: c = ctx::with_cancel(c).first; break;
          case 1: c = ctx::with_value(c, int_key, i); break;
          default: c = ctx::with_timeout(c, std::chrono::hours(1)).first; break;
        }
      }
      return c;
    };
    Context inner = build(ctx::background(), 100000);
    Context outer = ctx::with_value(build(ctx::background(), 100000), inner_key, std::move(inner));
    EXPECT_NE(outer.value(inner_key), nullptr);
    checked = true;
    // `outer` goes out of scope here: both chains, 200,000 nodes, are destroyed.
  });
  wg.wait();
  EXPECT_TRUE(checked.load());
}

// --- done_channel: the hooks go::select will use ------------------------------------

TEST(Context, DoneChannelHooks) {
  auto [c, cancel] = ctx::with_cancel(ctx::background());
  ctx::done_channel d = c.done();
  EXPECT_EQ(d, c.done());

  {  // enqueue, then dequeue without a close.
    go::detail::waiter w;
    go::detail::wait_node n;
    n.w = &w;
    EXPECT_TRUE(d.enqueue(&n));
    EXPECT_TRUE(n.linked);
    d.dequeue(&n);
    EXPECT_FALSE(n.linked);
    d.dequeue(&n);  // no-op
  }
  {  // a select-like waiter with a token: the close claims it with that token.
    go::detail::waiter w;
    go::detail::wait_node n;
    n.w = &w;
    n.token = 7;
    ASSERT_TRUE(d.enqueue(&n));
    std::thread t([cancel = cancel] { cancel(); });
    w.park();
    EXPECT_EQ(w.token(), 7u);
    EXPECT_FALSE(n.linked);
    d.dequeue(&n);
    t.join();
  }
  {  // closed: enqueue refuses.
    go::detail::waiter w;
    go::detail::wait_node n;
    n.w = &w;
    EXPECT_FALSE(d.enqueue(&n));
    EXPECT_FALSE(n.linked);
  }
  {  // a node claimed elsewhere (e.g. another select case) is skipped by the close.
    auto [c2, cancel2] = ctx::with_cancel(ctx::background());
    go::detail::waiter w;
    go::detail::wait_node n;
    n.w = &w;
    ASSERT_TRUE(c2.done().enqueue(&n));
    ASSERT_TRUE(w.try_claim(3));
    cancel2();
    EXPECT_EQ(w.token(), 3u);
    w.wake();
    w.park();
  }
  {  // nil channel: enqueue "parks forever" (accepts without storing); dequeue no-op.
    ctx::done_channel nil;
    go::detail::waiter w;
    go::detail::wait_node n;
    n.w = &w;
    EXPECT_TRUE(nil.is_nil());
    EXPECT_TRUE(nil.enqueue(&n));
    EXPECT_FALSE(n.linked);
    nil.dequeue(&n);
    EXPECT_FALSE(nil.wait_for(1ms));
    EXPECT_EQ(nil, ctx::background().done());
  }
}

TEST(Context, DoneChannelKeepsContextAlive) {
  auto [parent, cancel] = ctx::with_cancel(ctx::background());
  ctx::done_channel d;
  {
    auto [child, cancel_child] = ctx::with_cancel(parent);
    d = child.done();
  }
  EXPECT_EQ(ctx::internal::num_children(parent), 1u);  // still observable through d
  cancel();
  EXPECT_TRUE(d.wait_for(generous));
  d = ctx::done_channel();
}

// --- std::stop_token interop --------------------------------------------------------

TEST(Context, StopToken) {
  auto [c, cancel] = ctx::with_cancel(ctx::background());
  std::stop_token st = c.stop_token();
  EXPECT_TRUE(st.stop_possible());
  EXPECT_FALSE(st.stop_requested());
  std::atomic<int> callbacks{0};
  std::stop_callback cb(st, [&] { callbacks.fetch_add(1); });

  // A jthread waiting with the token on a condition_variable_any.
  std::mutex mu;
  std::condition_variable_any cv;
  std::jthread worker([st2 = c.stop_token(), &mu, &cv] {
    std::unique_lock lock(mu);
    cv.wait(lock, st2, [] { return false; });
  });

  Context value_child = ctx::with_value(c, int_key, 1);
  EXPECT_FALSE(value_child.stop_token().stop_requested());
  cancel();
  EXPECT_TRUE(st.stop_requested());
  EXPECT_TRUE(value_child.stop_token().stop_requested());
  EXPECT_EQ(callbacks.load(), 1);
  worker.join();

  // Already done: the first token is already stop-requested.
  auto [d, cancel_d] = ctx::with_cancel(ctx::background());
  cancel_d();
  EXPECT_TRUE(d.stop_token().stop_requested());
  // Deadline: requested by the timer.
  auto [t, cancel_t] = ctx::with_timeout(ctx::background(), short_duration);
  std::stop_token tt = t.stop_token();
  ASSERT_TRUE(t.wait_for(generous));
  EXPECT_TRUE(tt.stop_requested());
}

TEST(Context, FromStopToken) {
  {  // jthread's token cancels the context.
    std::jthread th([](std::stop_token) {});
    th.join();
    std::stop_source src;
    Context c = ctx::from_stop_token(src.get_token());
    expect_not_done(c, "before request_stop");
    EXPECT_EQ(c.to_string(), "context.Background.WithStopToken");
    auto [child, cancel_child] = ctx::with_cancel(c);
    src.request_stop();
    expect_done(c, ctx::canceled, "after request_stop");
    expect_done(child, ctx::canceled, "child after request_stop");
    EXPECT_EQ(ctx::cause(c), ctx::canceled);
  }
  {  // Already requested: born done.
    std::stop_source src;
    src.request_stop();
    expect_done(ctx::from_stop_token(src.get_token()), ctx::canceled, "born done");
  }
  {  // A token that can never stop: never done; the parent still cancels it.
    auto [p, cancel] = ctx::with_cancel(ctx::background());
    Context c = ctx::from_stop_token(p, std::stop_token());
    expect_not_done(c, "no stop possible");
    cancel();
    expect_done(c, ctx::canceled, "parent canceled");
  }
  {  // Dropping the context unregisters its callback.
    std::stop_source src;
    { Context c = ctx::from_stop_token(src.get_token()); }
    src.request_stop();
  }
  {  // A jthread's stop request reaches a task parked on the context.
    event parked;
    go::sync::WaitGroup wg;
    std::atomic<bool> ok{false};
    std::jthread th([&](std::stop_token st) {
      Context c = ctx::from_stop_token(st);
      wg.go([&, c] {
        parked.fire();
        ok = c.wait_for(generous) && c.err() == ctx::canceled;
      });
      wg.wait();
    });
    ASSERT_TRUE(parked.wait());
    th.request_stop();
    th.join();
    EXPECT_TRUE(ok.load());
  }
}

// --- Randomized stress ---------------------------------------------------------------

// Rounds of concurrent child creation, waiting, after_func, value lookups and
// cancellation from tasks and threads. Checks the invariants at the end of each round:
// everything derived from the root is done with the root's cause (or its own earlier
// one), nothing stays registered, and every after_func ran or was stopped.
// A cancel wakes the done signal's waiters a batch at a time (detail::wake_closed):
// thousands of them, tasks and threads, waiting with wait(), done().wait(), wait_for
// (whose timeouts expire while the broadcast is under way) and select (whose other
// case may win meanwhile). Every waiter returns exactly once, and err() is set when
// it returns from a wake. A second cancel racing with the first returns only once a
// child made before it is done, too (the settle waiters queue apart from the done
// signal's, so the broadcast does not wake them early).
TEST(Context, CancelWakesThousandsOfWaitersWhileSomeLeave) {
  const int rounds = sanitized ? 3 : 20;
  const int tasks = sanitized ? 300 : 3000;
  const int threads = 4;
  std::mt19937 rng(777);
  for (int r = 0; r < rounds; ++r) {
    auto [c, cancel] = ctx::with_cancel(ctx::background());
    std::vector<std::pair<Context, ctx::cancel_func>> children;
    for (int i = 0; i < 50; ++i) children.push_back(ctx::with_cancel(c));
    go::chan<int> other(static_cast<std::size_t>(tasks + threads));
    std::atomic<int> started{0}, woken{0}, timed_out{0}, from_other{0};
    auto wait = [c = c, other, &started, &woken, &timed_out, &from_other](int i) {
      started.fetch_add(1);
      switch (i % 4) {
        case 0:
          c.wait();
          break;
        case 1:
          c.done().wait();
          break;
        case 2:
          if (!c.wait_for(std::chrono::microseconds(50 + i % 500))) {
            timed_out.fetch_add(1);
            return;
          }
          break;
        default: {
          bool got = false;
          go::select(go::recv(c.done()), go::recv(other, [&](int) { got = true; }));
          if (got) {
            from_other.fetch_add(1);
            return;
          }
        }
      }
      EXPECT_TRUE(c.err() == ctx::canceled);
      woken.fetch_add(1);
    };
    const int extra = static_cast<int>(rng() % static_cast<unsigned>(tasks / 4 + 1));
    std::thread canceller([&, cancel = cancel] {
      while (started.load() < tasks + threads) std::this_thread::yield();
      std::thread feeder([&] {
        for (int k = 0; k < extra; ++k) other.send(k);
      });
      std::thread second([&, cancel] {
        cancel();
        for (auto& ch : children) EXPECT_TRUE(ch.first.err() == ctx::canceled);
      });
      cancel();
      for (auto& ch : children) EXPECT_TRUE(ch.first.err() == ctx::canceled);
      second.join();
      feeder.join();
    });
    std::vector<std::thread> ts;
    for (int i = 0; i < threads; ++i) ts.emplace_back([&wait, i] { wait(i); });
    go::sync::WaitGroup wg;
    for (int i = 0; i < tasks; ++i) wg.go([&wait, i] { wait(i); });
    wg.wait();
    for (auto& t : ts) t.join();
    canceller.join();
    ASSERT_EQ(woken.load() + timed_out.load() + from_other.load(), tasks + threads);
    ASSERT_EQ(from_other.load() + static_cast<int>(other.size()), extra);
  }
}

TEST(Context, RandomizedStress) {
  const int rounds = sanitized ? 15 : 60;
  const int workers = 8;
  const int ops = sanitized ? 60 : 200;
  std::mt19937_64 seed_rng(20240601);
  for (int round = 0; round < rounds; ++round) {
    auto [root, cancel_root] = ctx::with_cancel_cause(ctx::background());
    const go::error root_cause = go::errors::make("root");
    std::mutex mu;
    std::vector<std::pair<Context, ctx::cancel_func>> pool{{root, nullptr}};  // null: no cancel
    std::atomic<int> after_registered{0}, after_ran{0}, after_stopped{0};
    std::atomic<int> started{0};
    go::sync::WaitGroup wg;
    std::vector<std::thread> threads;

    auto body = [&, root = root](std::uint64_t seed) {
      std::mt19937_64 r(seed);
      started.fetch_add(1);
      for (int i = 0; i < ops; ++i) {
        std::pair<Context, ctx::cancel_func> pick;
        {
          std::lock_guard g(mu);
          pick = pool[r() % pool.size()];
        }
        switch (r() % 8) {
          case 0:
          case 1: {
            auto p = ctx::with_cancel(pick.first);
            std::lock_guard g(mu);
            pool.push_back(std::move(p));
            break;
          }
          case 2: {
            auto p = ctx::with_timeout(pick.first, std::chrono::microseconds(r() % 2000));
            std::lock_guard g(mu);
            pool.push_back(std::move(p));
            break;
          }
          case 3: {
            Context v = ctx::with_value(pick.first, int_key, static_cast<int>(i));
            EXPECT_EQ(*v.value(int_key), static_cast<int>(i));
            std::lock_guard g(mu);
            pool.emplace_back(v, nullptr);
            break;
          }
          case 4: {
            after_registered.fetch_add(1);
            auto stop = ctx::after_func(pick.first, [&] { after_ran.fetch_add(1); });
            if (r() % 2 && stop()) after_stopped.fetch_add(1);
            break;
          }
          case 5:
            if (pick.second) {
              pick.second();
              EXPECT_NE(pick.first.err(), nullptr);
            }
            break;
          case 6:
            pick.first.wait_for(std::chrono::microseconds(r() % 200));
            break;
          case 7: {
            auto p = ctx::with_cancel(pick.first);  // created and dropped at once
            if (r() % 2) p.second();
            break;
          }
        }
      }
      // Finally wait for the whole tree to be canceled.
      EXPECT_TRUE(root.wait_for(generous));
    };
    for (int w = 0; w < workers; ++w) {
      const std::uint64_t seed = seed_rng();
      if (w % 4 == 0) threads.emplace_back(body, seed); else wg.go([&body, seed] { body(seed); });
    }
    // Cancel the root from a task or a thread while the workers are busy.
    while (started.load() < workers) std::this_thread::yield();
    // The canceller is waited for below: the root is done before cancel() has reached
    // its descendants (as in Go), so only cancel()'s return says the tree is done.
    go::sync::WaitGroup canceller;
    if (round % 2) {
      canceller.go([cancel = cancel_root, root_cause] { cancel(root_cause); });
    } else {
      std::thread([cancel = cancel_root, root_cause] { cancel(root_cause); }).join();
    }
    wg.wait();
    canceller.wait();
    for (auto& t : threads) t.join();

    EXPECT_EQ(ctx::internal::num_children(root), 0u);
    for (auto& [c, cancel] : pool) {
      ASSERT_TRUE(c.done().is_closed());
      ASSERT_NE(c.err(), nullptr);
      ASSERT_NE(ctx::cause(c), nullptr);
      if (ctx::cause(c) != root_cause) {
        // Canceled on its own (or by a deadline) before the root.
        EXPECT_TRUE(ctx::cause(c) == ctx::canceled || ctx::cause(c) == ctx::deadline_exceeded);
      }
    }
    const auto until = ctx::clock::now() + generous;
    while (after_ran.load() + after_stopped.load() < after_registered.load() && ctx::clock::now() < until) {
      std::this_thread::yield();
    }
    EXPECT_EQ(after_ran.load() + after_stopped.load(), after_registered.load());
  }
}
