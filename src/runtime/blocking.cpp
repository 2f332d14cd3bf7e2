// blocking.cpp — the blocking pool behind go::blocking.
//
// A task that must make a call that blocks its OS thread hands the call to a pool
// thread and parks; the pool thread runs it and wakes the task. Pool threads are
// created when a job finds none idle and exit after 10 s without work, so the pool
// costs nothing when unused and grows with the number of calls blocked at once.
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "go/detail/waiter.hpp"
#include "go/runtime.hpp"

namespace go::detail {

namespace {

constexpr auto idle_timeout = std::chrono::seconds(10);

struct pending {
  blocking_job* job;
  waiter* w;
  pending* next = nullptr;
};

struct blocking_pool {
  std::mutex mu;
  std::condition_variable cv;
  pending* head = nullptr;
  pending* tail = nullptr;
  int idle = 0;    // pool threads waiting for a job
  int queued = 0;  // jobs not yet taken by a thread

  static blocking_pool& get() {
    static blocking_pool* p = new blocking_pool;  // never destroyed (runtime exit rules)
    return *p;
  }

  void run_thread() {
    std::unique_lock lock(mu);
    for (;;) {
      while (!head) {
        ++idle;
        bool got = cv.wait_for(lock, idle_timeout, [this] { return head != nullptr; });
        --idle;
        if (!got) return;
      }
      pending* p = head;
      --queued;
      head = p->next;
      if (!head) tail = nullptr;
      lock.unlock();
      p->job->run(p->job);
      p->w->notify();  // p lives on the parked task's stack until this wakes it
      lock.lock();
    }
  }
};

}  // namespace

void run_blocking(blocking_job* job) {
  blocking_pool& pool = blocking_pool::get();
  waiter w;
  pending p{job, &w};
  {
    std::lock_guard lock(pool.mu);
    if (pool.queued >= pool.idle) {
      std::thread([&pool] { pool.run_thread(); }).detach();  // may throw: nothing queued yet
    } else {
      pool.cv.notify_one();
    }
    if (pool.tail) pool.tail->next = &p; else pool.head = &p;
    pool.tail = &p;
    ++pool.queued;
  }
  w.park();
}

}  // namespace go::detail
