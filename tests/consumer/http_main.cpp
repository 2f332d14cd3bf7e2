// Uses gocxx::http through the installed package: serves one request on loopback with
// go::http::Server and fetches it with the libcurl client.
#include <go/context.hpp>
#include <go/http.hpp>
#include <go/net.hpp>
#include <go/runtime.hpp>
#include <go/sync.hpp>

#include <cstdio>

int main() {
  go::http::ServeMux mux;
  mux.handle("/", [](go::http::ResponseWriter& w, const go::http::Request&) { w.write("hello"); });
  go::http::Server srv(mux);
  auto [ln, err] = go::net::listen("tcp", "127.0.0.1:0");
  if (err) return 1;
  go::sync::WaitGroup served;
  served.go([&srv, l = ln] { srv.serve(l); });
  auto [resp, gerr] = go::http::get(go::context::background(), "http://" + ln.addr().address + "/");
  std::printf("consumer_http: %d %s\n", resp.status_code, resp.body.c_str());
  srv.close();
  served.wait();
  return !gerr && resp.status_code == 200 && resp.body == "hello" ? 0 : 1;
}
