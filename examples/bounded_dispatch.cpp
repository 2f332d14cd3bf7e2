// bounded_dispatch.cpp — a producer feeds a bounded queue (a buffered channel), N
// workers consume it, the first failing job cancels the rest, and everything stops
// cleanly: the producer stops dispatching, the workers stop taking jobs, wait()
// returns the first error, and no task is left behind.
//
// The producer's send and the workers' receive both select on the group's
// ctx.done(), so neither can stay blocked once the group is cancelled (Go's pattern
// for errgroup pipelines).
#include <atomic>
#include <chrono>
#include <iostream>
#include <string>

#include "go/chan.hpp"
#include "go/context.hpp"
#include "go/errgroup.hpp"
#include "go/errors.hpp"
#include "go/runtime.hpp"
#include "go/time.hpp"

int main() {
  constexpr int jobs = 100;
  constexpr int workers = 4;
  constexpr std::size_t queue_capacity = 8;
  constexpr int bad_job = 37;

  std::cout << "workers: " << workers << ", queue capacity: " << queue_capacity << ", jobs: " << jobs << std::endl;

  auto [g, gctx] = go::errgroup::with_context(go::context::background());
  auto& group = g;
  const go::context::Context ctx = gctx;
  go::chan<int> queue(queue_capacity);
  std::atomic<int> dispatched{0}, processed{0}, workers_returned{0};

  // The producer: dispatches jobs until all are queued or the group is cancelled.
  group.go([queue, ctx, &dispatched]() -> go::error {
    struct closer {
      go::chan<int> q;
      ~closer() { q.close(); }
    } close_queue{queue};
    for (int job = 0; job < jobs; ++job) {
      bool cancelled = false;
      go::select(go::send(queue, job, [&] { dispatched.fetch_add(1); }),
                 go::recv(ctx.done(), [&] { cancelled = true; }));
      if (cancelled) return nullptr;  // not an error of its own: the cause is elsewhere
    }
    return nullptr;
  });

  // The workers: take jobs until the queue is closed and drained, or the group is
  // cancelled; job `bad_job` fails.
  for (int w = 0; w < workers; ++w) {
    group.go([queue, ctx, &processed, &workers_returned]() -> go::error {
      struct returned {
        std::atomic<int>& n;
        ~returned() { n.fetch_add(1); }
      } mark{workers_returned};
      for (;;) {
        std::optional<int> job;
        bool cancelled = false;
        go::select(go::recv(queue, [&](std::optional<int> j) { job = j; }),
                   go::recv(ctx.done(), [&] { cancelled = true; }));
        if (cancelled || !job) return nullptr;
        if (*job == bad_job) {
          std::cout << "job " << *job << " failed: invalid input" << std::endl;
          return go::errors::make("job " + std::to_string(*job) + ": invalid input");
        }
        go::time::sleep_for(std::chrono::milliseconds(1));  // the "work"
        processed.fetch_add(1);
      }
    });
  }

  go::error err = group.wait();
  std::cout << "wait: " << err << std::endl;
  std::cout << "ctx.err(): " << ctx.err() << std::endl;
  std::cout << "cause: " << go::context::cause(ctx) << std::endl;
  std::cout << "dispatched: " << dispatched.load() << " of " << jobs << std::endl;
  std::cout << "processed: " << processed.load() << std::endl;
  std::cout << "producer stopped early: " << (dispatched.load() < jobs ? "yes" : "no") << std::endl;
  std::cout << "all workers returned: " << (workers_returned.load() == workers ? "yes" : "no") << std::endl;
  // Jobs still queued when the failure came are simply dropped with the channel.
  std::cout << "left in queue: " << queue.size() << std::endl;
  return err ? 0 : 1;
}
