// fetch.cpp — the seed's concurrent fetch, for real: one task per URL in an errgroup,
// each doing an HTTP GET with go::http::get against a server embedded in this process
// (go::http::Server on 127.0.0.1, a port the kernel picks).
//
// The server's routes:
//   /good   answers 200 at once;
//   /fail   answers 500 after 300 ms (so that the quick requests have finished when
//           it fails);
//   /slow   answers 200 after 2 s — unless the request's context (r.ctx) is done
//           first, which the server does when the client goes away.
//
// Run 1 fetches only /good URLs with a plain Group and prints Go's "Successfully
// fetched all URLs.". Run 2 fetches a mix through errgroup::with_context: the task of
// /fail turns the 500 into an error (as in Go, a status is not a transport error; the
// task decides), which cancels the group's context; the two /slow GETs, parked in
// go::http::get on that context, are aborted at once and return "context canceled";
// wait() returns the first error. The run takes about 300 ms instead of the slow
// route's 2 s, and the server's /slow handlers see their r.ctx done and stop early.
//
// Go equivalent of a task:
//   g.Go(func() error {
//       req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
//       resp, err := http.DefaultClient.Do(req)
//       if err != nil { return err }
//       defer resp.Body.Close()
//       if resp.StatusCode/100 != 2 { return fmt.Errorf("GET %s: %s", path, resp.Status) }
//       return nil
//   })
//
// Output lines do not contain the port or timings (the run's duration is printed as a
// bound), so the output is the same from run to run (tests/examples_net_check.sh).
#include <atomic>
#include <chrono>
#include <cstddef>
#include <iostream>
#include <string>
#include <vector>

#include "go/chan.hpp"
#include "go/context.hpp"
#include "go/errgroup.hpp"
#include "go/errors.hpp"
#include "go/http.hpp"
#include "go/net.hpp"
#include "go/sync.hpp"
#include "go/time.hpp"

using namespace std::chrono_literals;

namespace {

std::atomic<int> slow_started{0};
std::atomic<int> slow_stopped_early{0};

// The embedded server's routes (see the file comment).
go::http::ServeMux make_routes() {
  go::http::ServeMux mux;
  mux.handle("/good", [](go::http::ResponseWriter& w, const go::http::Request&) {
    w.header().set("Content-Type", "text/plain");
    (void)w.write("good\n");
  });
  mux.handle("/fail", [](go::http::ResponseWriter& w, const go::http::Request& r) {
    go::select(go::recv(r.ctx.done(), [] {}), go::recv(go::time::after(300ms), [] {}));
    go::http::error(w, "something went wrong", go::http::status_internal_server_error);
  });
  mux.handle("/slow", [](go::http::ResponseWriter& w, const go::http::Request& r) {
    slow_started.fetch_add(1);
    bool early = false;
    go::select(go::recv(r.ctx.done(), [&] { early = true; }), go::recv(go::time::after(2s), [] {}));
    if (early) {
      slow_stopped_early.fetch_add(1);
      return;  // nobody is listening any more
    }
    (void)w.write("slow\n");
  });
  return mux;
}

// GETs base + path under ctx. A transport failure (ctx done included) or a non-2xx
// status is an error; errors name the path, not the whole URL, so they carry no port.
go::error fetch(const go::context::Context& ctx, const std::string& base, const std::string& path) {
  auto [resp, err] = go::http::get(ctx, base + path);
  if (err) return go::errors::wrap(go::errors::unwrap(err), "GET " + path);  // drop the url_error's URL
  if (resp.status_code / 100 != 2) return go::errors::make("GET " + path + ": " + resp.status);
  return {};
}

// Run 1: only good URLs, a plain Group (Go's zero errgroup.Group).
void run_all_good(const std::string& base) {
  std::cout << "== run 1: three good URLs ==" << std::endl;
  const std::vector<std::string> paths = {"/good?page=1", "/good?page=2", "/good?page=3"};
  go::errgroup::Group g;
  for (const auto& path : paths) {
    g.go([&base, path]() -> go::error { return fetch(go::context::background(), base, path); });
  }
  if (go::error err = g.wait()) {
    std::cout << "one of the requests returned an error: " << err << std::endl;
  } else {
    std::cout << "Successfully fetched all URLs." << std::endl;
  }
}

// Run 2: a mix; the failure cancels the slow requests through the group's context.
void run_mix(const std::string& base) {
  std::cout << "== run 2: a failing URL cancels the slow ones ==" << std::endl;
  const std::vector<std::string> paths = {"/good", "/slow", "/fail", "/slow", "/good"};
  std::vector<go::error> results(paths.size());
  const auto start = std::chrono::steady_clock::now();
  go::error err;
  {
    auto [g, ctx] = go::errgroup::with_context(go::context::background());
    for (std::size_t i = 0; i < paths.size(); ++i) {
      g.go([ctx = ctx, &base, &paths, &results, i]() -> go::error {
        results[i] = fetch(ctx, base, paths[i]);
        return results[i];
      });
    }
    err = g.wait();
  }
  const auto took = std::chrono::steady_clock::now() - start;

  for (std::size_t i = 0; i < paths.size(); ++i) {
    std::cout << "  " << paths[i] << ": ";
    if (!results[i]) {
      std::cout << "ok" << std::endl;
    } else if (go::errors::is(results[i], go::context::canceled)) {
      std::cout << "cancelled (" << results[i] << ")" << std::endl;
    } else {
      std::cout << "failed (" << results[i] << ")" << std::endl;
    }
  }
  if (err) std::cout << "one of the requests returned an error: " << err << std::endl;
  std::cout << (took < 1s ? "finished in under 1s (the slow route takes 2s)" : "took 1s or more: the slow requests were not cancelled promptly")
            << std::endl;
}

}  // namespace

int main() {
  const go::http::ServeMux mux = make_routes();  // must outlive the server
  go::http::Server srv(mux);
  auto [ln, err] = go::net::listen("tcp", "127.0.0.1:0");
  if (err) {
    std::cerr << "fetch: " << err << std::endl;
    return 1;
  }
  const std::string base = "http://" + ln.addr().address;
  go::sync::WaitGroup serving;
  serving.go([&srv, l = ln] { (void)srv.serve(l); });

  run_all_good(base);
  std::cout << std::endl;
  run_mix(base);

  // Graceful stop: waits for the handlers still running (the /slow ones, if the
  // cancellation did not reach them) for up to 5 s.
  auto [ctx, cancel] = go::context::with_timeout(go::context::background(), 5s);
  if (go::error serr = srv.shutdown(ctx)) std::cout << "shutdown: " << serr << std::endl;
  cancel();
  serving.wait();
  std::cout << "server: /slow handlers that saw their request's context done: " << slow_stopped_early.load()
            << " of " << slow_started.load() << std::endl;
}
