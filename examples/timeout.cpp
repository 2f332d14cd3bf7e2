// timeout.cpp — tasks that give up when their group's context is done.
//
// Two tasks of an errgroup each wait for their "work" to finish (a 2 s and a 3 s
// timer) or for the group's context to be done, whichever comes first — a select on
// ctx.done() and time::after, exactly as the Go original — and report which
// happened. The group then waits for both.
//
// Run 1 has no deadline: both tasks finish their work. Run 2 derives the group from a
// context with a 2.5 s deadline: task 1 (2 s) finishes, task 2 (3 s) is cancelled at
// 2.5 s and returns ctx.err(), which wait() reports: "context deadline exceeded".
//
// Go equivalent:
//   g, ctx := errgroup.WithContext(parent)
//   g.Go(func() error {
//       select {
//       case <-time.After(2 * time.Second): fmt.Println("task 1 done"); return nil
//       case <-ctx.Done(): fmt.Println("task 1 cancelled"); return ctx.Err()
//       }
//   })
#include <chrono>
#include <iostream>
#include <string>

#include "go/chan.hpp"
#include "go/context.hpp"
#include "go/errgroup.hpp"
#include "go/time.hpp"

using namespace std::chrono_literals;

// Starts task `id` that "works" for `work` unless ctx is done first.
void start_task(go::errgroup::Group& g, int id, std::chrono::milliseconds work) {
  g.go([id, work](const go::context::Context& ctx) -> go::error {
    go::error result;
    go::select(
        go::recv(ctx.done(), [&] {
          std::cout << "task " << id << " cancelled" << std::endl;
          result = ctx.err();
        }),
        go::recv(go::time::after(work), [&] { std::cout << "task " << id << " done" << std::endl; }));
    return result;
  });
}

void run(const std::string& title, const go::context::Context& parent) {
  std::cout << "== " << title << " ==" << std::endl;
  auto [g, ctx] = go::errgroup::with_context(parent);
  start_task(g, 1, 2000ms);
  start_task(g, 2, 3000ms);
  go::error err = g.wait();
  std::cout << "wait: " << err << std::endl;
}

int main() {
  run("no deadline", go::context::background());

  auto [deadline_ctx, cancel] = go::context::with_timeout(go::context::background(), 2500ms);
  run("2.5 s deadline", deadline_ctx);
  cancel();  // release the deadline's resources, as Go's `defer cancel()` does
}
