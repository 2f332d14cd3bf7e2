// just_errors.cpp — Go's errgroup "JustErrors" example (golang.org/x/sync/errgroup,
// ExampleGroup_justErrors): a Group used only to join tasks and report the first
// error, one task per URL, each doing an HTTP GET.
//
// Go's original fetches www.golang.org, www.google.com and www.somestupidname.com,
// the last of which fails (no such host). Here the URLs point at a server embedded in
// this process (go::http::Server on 127.0.0.1, a port the kernel picks), and the one
// that fails points at a port where nothing listens: the GET fails with "connection
// refused". As in Go, only a transport failure is an error (a status code is not),
// and wait() returns the first error, so the program prints it instead of
// "Successfully fetched all URLs.".
//
// Go original:
//   g := new(errgroup.Group)
//   for _, url := range urls {
//       url := url // https://golang.org/doc/faq#closures_and_goroutines
//       g.Go(func() error {
//           resp, err := http.Get(url)
//           if err == nil { resp.Body.Close() }
//           return err
//       })
//   }
//   if err := g.Wait(); err == nil { fmt.Println("Successfully fetched all URLs.") }
//
// (C++ lambdas capture `url` by value, so the `url := url` line has no counterpart.)
// The error's full message contains the port; the line tests/examples_net_check.sh
// checks names only its cause.
#include <iostream>
#include <string>
#include <system_error>
#include <vector>

#include "go/context.hpp"
#include "go/errgroup.hpp"
#include "go/errors.hpp"
#include "go/http.hpp"
#include "go/net.hpp"
#include "go/sync.hpp"

namespace {

// A "host:port" where nothing listens: a port the kernel handed to a listener that
// is closed again at once (Go's example uses a host name that does not resolve).
std::string closed_address() {
  auto [ln, err] = go::net::listen("tcp", "127.0.0.1:0");
  if (err) return "127.0.0.1:1";
  std::string addr = ln.addr().address;
  (void)ln.close();
  return addr;
}

// The example proper: fetch every URL, one task each; report the first error.
void just_errors(const std::vector<std::string>& urls) {
  go::errgroup::Group g;
  for (const auto& url : urls) {
    // Launch a task to fetch the URL.
    g.go([url]() -> go::error {
      // Fetch the URL (the body is read in full; nothing to close).
      auto [resp, err] = go::http::get(go::context::background(), url);
      return err;
    });
  }
  // Wait for all HTTP fetches to complete.
  if (go::error err = g.wait(); !err) {
    std::cout << "Successfully fetched all URLs." << std::endl;
  } else {
    std::cout << "error: " << err << std::endl;  // names the URL, port included
    std::cout << "the first error is a connection refused: "
              << (go::errors::is(err, std::errc::connection_refused) ? "yes" : "no") << std::endl;
  }
}

}  // namespace

int main() {
  go::http::ServeMux mux;
  mux.handle("/", [](go::http::ResponseWriter& w, const go::http::Request& r) {
    (void)w.write("you asked for " + r.path + "\n");
  });
  go::http::Server srv(mux);
  auto [ln, err] = go::net::listen("tcp", "127.0.0.1:0");
  if (err) {
    std::cerr << "just_errors: " << err << std::endl;
    return 1;
  }
  const std::string server = "http://" + ln.addr().address;
  go::sync::WaitGroup serving;
  serving.go([&srv, l = ln] { (void)srv.serve(l); });

  std::cout << "== every URL answers ==" << std::endl;
  just_errors({server + "/golang", server + "/google", server + "/go.dev"});

  std::cout << "== one URL points at a port where nothing listens ==" << std::endl;
  just_errors({server + "/golang", server + "/google", "http://" + closed_address() + "/somestupidname"});

  (void)srv.close();
  serving.wait();
}
