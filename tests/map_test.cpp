// Tests of go::sync::Map: Go's sync/map_test.go cases (TestMapMatchesRWMutex /
// DeepCopy as a seeded random comparison against std::unordered_map,
// TestConcurrentRange, TestIssue40999 as a bound on live values, TestMapRangeNestedCall,
// TestCompareAndSwap_NonExistingKey, TestMapClear), plus every operation's edge cases
// and a randomized concurrent stress with tasks and threads.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "go/sync.hpp"
#include "sync_test_util.hpp"

namespace {

using go::sync::Map;
using synctest::runner;
using synctest::scaled;

TEST(Map, Basics) {
  Map<std::string, int> m;
  EXPECT_FALSE(m.load("a").has_value());
  m.store("a", 1);
  EXPECT_EQ(m.load("a"), 1);
  EXPECT_TRUE(m.contains("a"));
  EXPECT_EQ(m.swap("a", 2), 1);
  EXPECT_EQ(m.swap("b", 3), std::nullopt);
  auto [v, loaded] = m.load_or_store("a", 9);
  EXPECT_EQ(v, 2);
  EXPECT_TRUE(loaded);
  auto [w, loaded2] = m.load_or_store("c", 4);
  EXPECT_EQ(w, 4);
  EXPECT_FALSE(loaded2);
  EXPECT_EQ(m.load_and_delete("c"), 4);
  EXPECT_EQ(m.load_and_delete("c"), std::nullopt);
  EXPECT_TRUE(m.erase("b"));
  EXPECT_FALSE(m.erase("b"));
  EXPECT_FALSE(m.compare_and_swap("a", 5, 6));
  EXPECT_TRUE(m.compare_and_swap("a", 2, 6));
  EXPECT_EQ(m.load("a"), 6);
  EXPECT_FALSE(m.compare_and_delete("a", 2));
  EXPECT_TRUE(m.compare_and_delete("a", 6));
  EXPECT_FALSE(m.contains("a"));
}

// Go's TestCompareAndSwap_NonExistingKey.
TEST(Map, CompareAndSwapNonExistingKey) {
  Map<int, int> m;
  EXPECT_FALSE(m.compare_and_swap(1, 0, 42));
  EXPECT_FALSE(m.load(1).has_value());
  EXPECT_FALSE(m.compare_and_delete(1, 0));
}

// Go's TestMapMatchesRWMutex / TestMapMatchesDeepCopy: random operation sequences
// give the same results as a plain map.
TEST(Map, MatchesReference) {
  for (unsigned seed = 1; seed <= 20; ++seed) {
    std::mt19937 rng(seed);
    Map<int, int> m;
    std::unordered_map<int, int> ref;
    for (int step = 0; step < 2000; ++step) {
      const int k = static_cast<int>(rng() % 16);
      const int v = static_cast<int>(rng() % 4);
      switch (rng() % 10) {
        case 0: {
          auto got = m.load(k);
          auto it = ref.find(k);
          ASSERT_EQ(got.has_value(), it != ref.end());
          if (got) {
            ASSERT_EQ(*got, it->second);
          }
          break;
        }
        case 1:
          m.store(k, v);
          ref[k] = v;
          break;
        case 2: {
          auto [got, loaded] = m.load_or_store(k, v);
          auto it = ref.find(k);
          ASSERT_EQ(loaded, it != ref.end());
          if (it != ref.end()) {
            ASSERT_EQ(got, it->second);
          }
          else {
            ref[k] = v;
            ASSERT_EQ(got, v);
          }
          break;
        }
        case 3: {
          auto got = m.load_and_delete(k);
          auto it = ref.find(k);
          ASSERT_EQ(got.has_value(), it != ref.end());
          if (got) {
            ASSERT_EQ(*got, it->second);
            ref.erase(it);
          }
          break;
        }
        case 4:
          ASSERT_EQ(m.erase(k), ref.erase(k) == 1);
          break;
        case 5: {
          auto got = m.swap(k, v);
          auto it = ref.find(k);
          ASSERT_EQ(got.has_value(), it != ref.end());
          if (got) {
            ASSERT_EQ(*got, it->second);
          }
          ref[k] = v;
          break;
        }
        case 6: {
          const int old = static_cast<int>(rng() % 4);
          auto it = ref.find(k);
          const bool want = it != ref.end() && it->second == old;
          ASSERT_EQ(m.compare_and_swap(k, old, v), want);
          if (want) it->second = v;
          break;
        }
        case 7: {
          const int old = static_cast<int>(rng() % 4);
          auto it = ref.find(k);
          const bool want = it != ref.end() && it->second == old;
          ASSERT_EQ(m.compare_and_delete(k, old), want);
          if (want) ref.erase(it);
          break;
        }
        case 8: {
          std::map<int, int> seen;
          m.range([&](const int& key, const int& val) {
            EXPECT_TRUE(seen.emplace(key, val).second) << "key visited twice";
            return true;
          });
          ASSERT_EQ(seen, (std::map<int, int>(ref.begin(), ref.end())));
          break;
        }
        case 9:
          if (rng() % 20 == 0) {
            m.clear();
            ref.clear();
          }
          break;
      }
    }
  }
}

// Go's TestConcurrentRange: writers store n -> i*n for growing i while readers range
// and check every value is a multiple of its key; every key is seen once per range.
TEST(Map, ConcurrentRange) {
  const long map_size = 1 << 10;
  Map<long, long> m;
  for (long n = 1; n <= map_size; ++n) m.store(n, n);
  std::atomic<bool> stop{false};
  std::atomic<bool> bad{false};
  runner r;
  for (int g = 0; g < 4; ++g) {
    r.start_mixed(g, [&, g] {
      std::mt19937 rng(static_cast<unsigned>(g) + 1);
      for (long i = 0; !stop.load(); ++i) {
        for (long n = 1; n < map_size; ++n) {
          if (rng() % map_size == 0) m.store(n, n * i * map_size);
        }
      }
    });
  }
  const int iters = scaled(200);
  for (int it = 0; it < iters; ++it) {
    std::set<long> seen;
    m.range([&](const long& k, const long& v) {
      if (v % k != 0) bad = true;
      if (!seen.insert(k).second) bad = true;
      return true;
    });
    EXPECT_EQ(seen.size(), static_cast<std::size_t>(map_size));
  }
  stop = true;
  r.join();
  EXPECT_FALSE(bad.load());
}

// Go's TestMapRangeNestedCall: range within range, with loads, stores and deletes.
TEST(Map, RangeNestedCall) {
  Map<int, std::string> m;
  for (int i = 0; i < 3; ++i) m.store(i, std::to_string(i));
  m.range([&](const int& k, const std::string& v) {
    m.range([&](const int& k2, const std::string& v2) {
      auto got = m.load(k2);
      EXPECT_TRUE(got.has_value());
      EXPECT_EQ(*got, v2);
      // Store a new key and delete it again.
      m.store(1000, "x");
      EXPECT_TRUE(m.erase(1000));
      return true;
    });
    // Delete and restore k; the outer range is unaffected.
    EXPECT_EQ(m.load_and_delete(k), v);
    m.store(k, v);
    return true;
  });
  int count = 0;
  m.range([&](const int&, const std::string&) {
    ++count;
    return true;
  });
  EXPECT_EQ(count, 3);
}

TEST(Map, RangeStopsAndVoidCallbacks) {
  Map<int, int> m;
  for (int i = 0; i < 10; ++i) m.store(i, i);
  int visited = 0;
  m.range([&](const int&, const int&) { return ++visited < 3; });
  EXPECT_EQ(visited, 3);
  visited = 0;
  m.range([&](const int&, const int&) { ++visited; });
  EXPECT_EQ(visited, 10);
}

TEST(Map, Clear) {
  Map<int, int> m;
  m.clear();
  for (int i = 0; i < 100; ++i) m.store(i, i);
  m.clear();
  EXPECT_FALSE(m.load(5).has_value());
  int n = 0;
  m.range([&](const int&, const int&) { ++n; });
  EXPECT_EQ(n, 0);
  m.store(5, 6);
  EXPECT_EQ(m.load(5), 6);
}

// A value type that counts live instances.
std::atomic<long> live{0};
struct counted {
  long v = 0;
  explicit counted(long x) : v(x) { live.fetch_add(1); }
  counted(const counted& o) : v(o.v) { live.fetch_add(1); }
  ~counted() { live.fetch_sub(1); }
  bool operator==(const counted& o) const { return v == o.v; }
};

// Go's TestIssue40999 (memory must not grow without bound under churn), and no leaks:
// after the Map is destroyed and enough later churn, retired values are freed.
TEST(Map, ReclaimsMemory) {
  const long base = live.load();
  {
    Map<int, counted> m;
    for (int i = 0; i < 200000 / synctest::scale; ++i) {
      m.store(i % 64, counted(i));
      if (i % 3 == 0) m.erase((i + 7) % 64);
      if (i % 5 == 0) (void)m.compare_and_swap(i % 64, counted(i), counted(i + 1));
    }
    // Deferred frees are bounded: far fewer than the number of stores stay alive.
    EXPECT_LT(live.load() - base, 5000);
  }
  EXPECT_LT(live.load() - base, 5000);
}

// Randomized concurrent stress: tasks and threads, shared and private keys; checks
// per-party private keys exactly and shared keys for plausibility.
TEST(Map, ConcurrentStress) {
  Map<int, long> m;
  const int parties = 8, loops = scaled(20000);
  std::atomic<bool> bad{false};
  {
    runner r;
    for (int p = 0; p < parties; ++p) {
      r.start_mixed(p, [&, p] {
        std::mt19937 rng(static_cast<unsigned>(p) * 31u + 3);
        std::unordered_map<int, long> mine;  // keys (p+1)*1000 + [0, 50)
        for (int i = 0; i < loops; ++i) {
          const unsigned op = rng() % 12;
          const int shared_key = static_cast<int>(rng() % 32);
          const int my_key = (p + 1) * 1000 + static_cast<int>(rng() % 50);
          const long val = static_cast<long>(rng() % 1000);
          switch (op) {
            case 0: m.store(shared_key, val); break;
            case 1: (void)m.load(shared_key); break;
            case 2: (void)m.erase(shared_key); break;
            case 3: (void)m.load_or_store(shared_key, val); break;
            case 4: (void)m.compare_and_swap(shared_key, val, val + 1); break;
            case 5:
              m.store(my_key, val);
              mine[my_key] = val;
              break;
            case 6: {
              auto got = m.load(my_key);
              auto it = mine.find(my_key);
              if (got.has_value() != (it != mine.end()) || (got && *got != it->second)) bad = true;
              break;
            }
            case 7: {
              auto got = m.load_and_delete(my_key);
              auto it = mine.find(my_key);
              if (got.has_value() != (it != mine.end()) || (got && *got != it->second)) bad = true;
              if (it != mine.end()) mine.erase(it);
              break;
            }
            case 8: {
              auto got = m.swap(my_key, val);
              auto it = mine.find(my_key);
              if (got.has_value() != (it != mine.end()) || (got && *got != it->second)) bad = true;
              mine[my_key] = val;
              break;
            }
            case 9: {
              int n = 0;
              m.range([&](const int&, const long&) { return ++n < 20; });
              break;
            }
            case 10: {
              auto it = mine.find(my_key);
              const long old = it != mine.end() ? it->second : 0;
              const bool ok = m.compare_and_delete(my_key, old);
              if (ok != (it != mine.end())) bad = true;
              if (ok) mine.erase(it);
              break;
            }
            default:
              (void)m.contains(shared_key);
          }
        }
        // Final check of the private keys.
        for (int k = (p + 1) * 1000; k < (p + 1) * 1000 + 50; ++k) {
          auto got = m.load(k);
          auto it = mine.find(k);
          if (got.has_value() != (it != mine.end()) || (got && *got != it->second)) bad = true;
        }
      });
    }
  }
  EXPECT_FALSE(bad.load());
}

}  // namespace
