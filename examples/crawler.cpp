// crawler.cpp — a crawler-style fan-out over a fake, in-memory link graph, using Go's
// sync and x/sync tools:
//
//   go::sync::Map                 each crawl job records the pages it has visited
//                                 (many tasks insert at once: load_or_store)
//   go::semaphore::Weighted       at most 3 page fetches in flight, however many
//                                 tasks want one
//   go::singleflight::Group       concurrent lookups of the same page collapse into
//                                 one fetch; a shared cache serves later ones
//
// Three crawl jobs start from different pages at the same time and share one fetcher,
// so the same pages are wanted by several tasks at once. Every page is fetched exactly
// once: the number of fetches equals the number of distinct pages.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "go/context.hpp"
#include "go/semaphore.hpp"
#include "go/singleflight.hpp"
#include "go/sync.hpp"
#include "go/time.hpp"

namespace {

// The fake web: each page and the links on it.
const std::map<std::string, std::vector<std::string>> web = {
    {"/", {"/about", "/blog", "/docs"}},
    {"/about", {"/", "/team"}},
    {"/team", {"/about", "/blog/hello"}},
    {"/blog", {"/blog/hello", "/blog/tasks", "/"}},
    {"/blog/hello", {"/blog", "/docs/start"}},
    {"/blog/tasks", {"/blog", "/docs/sync", "/docs/context"}},
    {"/docs", {"/docs/start", "/docs/sync", "/docs/context", "/"}},
    {"/docs/start", {"/docs", "/docs/sync"}},
    {"/docs/sync", {"/docs", "/docs/context", "/blog/tasks"}},
    {"/docs/context", {"/docs", "/docs/sync"}},
};

using links = std::vector<std::string>;

// The shared fetcher: bounded, deduplicated, cached.
class fetcher {
 public:
  static constexpr int max_in_flight = 3;

  links get(const std::string& url) {
    if (auto cached = cache_.load(url)) return *cached;
    // Concurrent callers for url share one call; the call re-checks the cache, so a
    // caller that arrives just after a fetch completed does not fetch again.
    return flight_.do_call(url, [&] {
             if (auto cached = cache_.load(url)) return *cached;
             links l = fetch(url);
             cache_.store(url, l);
             return l;
           })
        .value;
  }

  int fetches() const { return fetches_.load(); }
  int peak_in_flight() const { return peak_.load(); }

 private:
  links fetch(const std::string& url) {
    if (go::error err = sem_.acquire(go::context::background(), 1)) throw std::runtime_error(err.message());
    const int now = in_flight_.fetch_add(1) + 1;
    int p = peak_.load();
    while (now > p && !peak_.compare_exchange_weak(p, now)) {
    }
    fetches_.fetch_add(1);
    go::time::sleep_for(std::chrono::milliseconds(2));  // the "network"
    in_flight_.fetch_sub(1);
    sem_.release(1);
    auto it = web.find(url);
    return it == web.end() ? links{} : it->second;
  }

  go::semaphore::Weighted sem_{max_in_flight};
  go::singleflight::Group<std::string, links> flight_;
  go::sync::Map<std::string, links> cache_;
  std::atomic<int> fetches_{0}, in_flight_{0}, peak_{0};
};

// One crawl job: visits every page reachable from seed, one task per page.
class crawl {
 public:
  crawl(fetcher& f, std::string seed) : f_(f) { visit(std::move(seed)); }
  void wait() { wg_.wait(); }

  std::vector<std::string> visited() const {
    std::vector<std::string> out;
    visited_.range([&](const std::string& url, const bool&) { out.push_back(url); });
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  void visit(std::string url) {
    // Only the first task to record url crawls it.
    if (visited_.load_or_store(url, true).second) return;
    wg_.go([this, url] {
      for (const std::string& next : f_.get(url)) visit(next);
    });
  }

  fetcher& f_;
  go::sync::Map<std::string, bool> visited_;
  go::sync::WaitGroup wg_;
};

}  // namespace

int main() {
  fetcher f;
  crawl a(f, "/"), b(f, "/docs/sync"), c(f, "/team");
  a.wait();
  b.wait();
  c.wait();

  std::cout << "visited pages (sorted):" << std::endl;
  for (const std::string& url : a.visited()) std::cout << "  " << url << std::endl;
  const bool same = a.visited() == b.visited() && b.visited() == c.visited();
  std::cout << "all 3 crawl jobs visited the same " << a.visited().size() << " pages: " << (same ? "yes" : "no")
            << std::endl;
  std::cout << "fetches: " << f.fetches() << " (distinct pages: " << web.size() << ")" << std::endl;
  std::cout << "in-flight bound: " << fetcher::max_in_flight << std::endl;
  std::cout << "peak in-flight within bound: " << (f.peak_in_flight() <= fetcher::max_in_flight ? "yes" : "no")
            << std::endl;
}
