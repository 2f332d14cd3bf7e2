// parallel.cpp — x/sync's ExampleGroup_parallel: the "Google Search 2.0" function
// from https://talks.golang.org/2012/concurrency.slide#46, augmented with a Context
// and error handling. Three fake searches run in parallel; their results are stored
// in distinct slots, so they come out in the order of the searches.
#include <chrono>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "go/context.hpp"
#include "go/errgroup.hpp"
#include "go/time.hpp"

using Result = std::string;
// A search: fills `out` or returns an error.
using Search = std::function<go::error(const go::context::Context&, const std::string& query, Result& out)>;

// A fake search backend that takes `latency` to answer, or gives up when ctx is done.
Search fake_search(std::string kind, std::chrono::milliseconds latency) {
  return [kind, latency](const go::context::Context& ctx, const std::string& query, Result& out) -> go::error {
    if (ctx.wait_for(latency)) return ctx.err();
    out = kind + " result for \"" + query + "\"";
    return nullptr;
  };
}

const Search Web = fake_search("web", std::chrono::milliseconds(30));
const Search Image = fake_search("image", std::chrono::milliseconds(10));
const Search Video = fake_search("video", std::chrono::milliseconds(20));

// Runs the three searches in parallel; the first failure cancels the others.
go::error Google(const go::context::Context& parent, const std::string& query, std::vector<Result>& results) {
  go::errgroup::Group g(parent);
  const std::vector<Search> searches = {Web, Image, Video};
  std::vector<Result> slots(searches.size());
  for (std::size_t i = 0; i < searches.size(); ++i) {
    // i and the search are captured by value; each task writes only its own slot.
    g.go([i, search = searches[i], &query, &slots](const go::context::Context& ctx) {
      return search(ctx, query, slots[i]);
    });
  }
  if (go::error err = g.wait()) return err;
  results = std::move(slots);
  return nullptr;
}

int main() {
  std::vector<Result> results;
  if (go::error err = Google(go::context::background(), "golang", results)) {
    std::cerr << err << std::endl;
    return 1;
  }
  for (const Result& result : results) std::cout << result << std::endl;
}
