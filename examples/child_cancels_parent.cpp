// child_cancels_parent.cpp — one task of a group stops the whole group's work through
// the group's context.
//
// Eight tasks search eight shards of a range for a target. The task that finds it
// calls g.cancel(cause): the group's context is cancelled with that cause, and the
// other tasks, which check the context as they go, stop early. cancel() is not a
// failure: wait() returns nil, and go::context::cause(ctx) tells why the work stopped.
//
// The second part shows the other way a child stops its siblings: by failing. The
// first error cancels the context with that error as cause, and wait() returns it.
#include <atomic>
#include <iostream>
#include <string>

#include "go/context.hpp"
#include "go/errgroup.hpp"
#include "go/errors.hpp"
#include "go/runtime.hpp"

constexpr int shards = 8;
constexpr int shard_size = 1000;
constexpr int target = 4242;

int main() {
  std::cout << "searching " << shards << " shards for " << target << std::endl;
  {
    auto [g, ctx] = go::errgroup::with_context(go::context::background());
    go::errgroup::Group& group = g;  // a named reference lambdas may capture
    std::atomic<int> finder{-1};
    for (int shard = 0; shard < shards; ++shard) {
      group.go([shard, &group, &finder](const go::context::Context& c) {
        for (int i = shard * shard_size; i < (shard + 1) * shard_size; ++i) {
          if (c.err()) return;  // another task found it: stop early
          if (i == target) {
            finder = shard;
            group.cancel(go::errors::make("found " + std::to_string(target) + " in shard " + std::to_string(shard)));
            return;
          }
          if (i % 64 == 0) go::this_task::yield();  // let the other shards progress
        }
      });
    }
    go::error err = g.wait();
    std::cout << "shard " << finder.load() << " found the target and cancelled the others" << std::endl;
    std::cout << "wait: " << err << std::endl;
    std::cout << "ctx.err(): " << ctx.err() << std::endl;
    std::cout << "cause: " << go::context::cause(ctx) << std::endl;
  }

  std::cout << "--- a failing child ---" << std::endl;
  {
    go::errgroup::Group g(go::context::background());
    const go::context::Context ctx = g.context();
    std::atomic<int> stopped{0};
    for (int shard = 0; shard < shards; ++shard) {
      g.go([shard, &stopped](const go::context::Context& c) -> go::error {
        if (shard == 2) return go::errors::make("shard 2: disk on fire");
        c.wait();  // the others work until told to stop
        stopped.fetch_add(1);
        return nullptr;
      });
    }
    go::error err = g.wait();
    std::cout << "wait: " << err << std::endl;
    std::cout << "cause: " << go::context::cause(ctx) << std::endl;
    std::cout << "siblings stopped: " << stopped.load() << std::endl;
  }
}
