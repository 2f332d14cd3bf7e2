// sync_test_util.hpp — helpers shared by the tests of go/sync.hpp's Mutex, RWMutex,
// Once, Cond, Map and of go/semaphore.hpp and go/singleflight.hpp: start work as tasks
// or threads in any mix, and scale loop counts down under the sanitizers.
#pragma once

#include <functional>
#include <future>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "go/runtime.hpp"

#include "test_support.hpp"

namespace synctest {

using gocxx_test::scale;

using gocxx_test::scaled;

enum class kind { task, thread };

// Starts functions as tasks or threads; join() waits for all of them (the caller is a
// plain thread: tasks report through std::promise).
class runner {
 public:
  void start(kind k, std::function<void()> f) {
    if (k == kind::thread) {
      threads_.emplace_back(std::move(f));
      return;
    }
    auto p = std::make_shared<std::promise<void>>();
    futures_.push_back(p->get_future());
    go::spawn([p, f = std::move(f)] {
      f();
      p->set_value();
    });
  }
  // Even-numbered starts are tasks, odd ones threads.
  void start_mixed(int i, std::function<void()> f) { start(i % 2 == 0 ? kind::task : kind::thread, std::move(f)); }
  void join() {
    for (auto& t : threads_) t.join();
    for (auto& f : futures_) f.get();
    threads_.clear();
    futures_.clear();
  }
  ~runner() { join(); }

 private:
  std::vector<std::thread> threads_;
  std::vector<std::future<void>> futures_;
};

// Runs body on a task and waits for it from the calling thread.
inline void in_task(std::function<void()> body) {
  runner r;
  r.start(kind::task, std::move(body));
  r.join();
}

}  // namespace synctest
