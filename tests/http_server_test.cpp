// Tests of the HTTP/1.1 server of go/http.hpp (Server, ServeMux, ResponseWriter) and
// of the common part (status_text, Header, Request::query_value, http::error).
//
// Every test runs on loopback (127.0.0.1:0). The client side writes raw HTTP text over
// go::net::dial and reads responses with http_parser in response mode, so the server
// is checked against the bytes on the wire. Nothing here uses sleep as
// synchronization: handlers and tests meet through events (a context canceled once),
// and every client socket has a generous deadline so that a bug fails a test instead
// of hanging it.
#include <http_parser.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "go/context.hpp"
#include "go/errors.hpp"
#include "go/http.hpp"
#include "go/net.hpp"
#include "go/runtime.hpp"
#include "go/sync.hpp"
#include "test_support.hpp"

using namespace std::chrono_literals;
namespace http = go::http;
namespace net = go::net;
using go::context::Context;

namespace {

constexpr auto generous = 30s;  // an upper bound that only a hang exceeds

// A one-shot event: set() once (or more), wait() from tasks and threads.
class event {
 public:
  event() {
    auto [ctx, cancel] = go::context::with_cancel(go::context::background());
    ctx_ = ctx;
    cancel_ = cancel;
  }
  void set() const { cancel_(); }
  bool wait() const { return ctx_.wait_for(generous); }
  bool is_set() const { return ctx_.err() != nullptr; }

 private:
  Context ctx_;
  go::context::cancel_func cancel_;
};

// A Server on 127.0.0.1:0 served by a task; close()d and joined on destruction.
class test_server {
 public:
  explicit test_server(http::Handler h) : srv(std::move(h)) {}
  test_server(const test_server&) = delete;
  test_server& operator=(const test_server&) = delete;
  ~test_server() {
    srv.close();
    wg_.wait();
  }

  // Listens and starts serving (set the options first).
  void start() {
    auto [listener, err] = net::listen("tcp", "127.0.0.1:0");
    ASSERT_FALSE(err) << err.message();
    addr = listener.addr().address;
    wg_.go([this, ln = listener] { serve_err = srv.serve(ln); });
  }
  // Waits for serve() to return.
  void wait_served() { wg_.wait(); }

  http::Server srv;
  std::string addr;
  go::error serve_err;

 private:
  go::sync::WaitGroup wg_;
};

// A response as read off the wire.
struct response_msg {
  int status = 0;  // 0: no complete response (EOF or a parse error)
  std::string reason;
  http::Header header;
  std::string body;
  bool chunked = false;
};

// The http_parser callbacks of response_reader.
struct response_parse {
  http_parser p{};
  response_msg* m = nullptr;
  bool head = false;
  bool complete = false;
  std::string field, value;
  bool in_value = false;

  void commit() {
    if (!field.empty()) m->header.add(field, value);
    field.clear();
    value.clear();
  }
  static response_parse& of(http_parser* p) { return *static_cast<response_parse*>(p->data); }
  static const http_parser_settings& settings() {
    static const http_parser_settings s = [] {
      http_parser_settings st{};
      http_parser_settings_init(&st);
      st.on_status = [](http_parser* p, const char* at, std::size_t n) {
        of(p).m->reason.append(at, n);
        return 0;
      };
      st.on_header_field = [](http_parser* p, const char* at, std::size_t n) {
        auto& r = of(p);
        if (r.in_value) r.commit();
        r.in_value = false;
        r.field.append(at, n);
        return 0;
      };
      st.on_header_value = [](http_parser* p, const char* at, std::size_t n) {
        auto& r = of(p);
        r.in_value = true;
        r.value.append(at, n);
        return 0;
      };
      st.on_headers_complete = [](http_parser* p) {
        auto& r = of(p);
        r.commit();
        r.m->status = static_cast<int>(p->status_code);
        r.m->chunked = (p->flags & F_CHUNKED) != 0;
        return r.head ? 1 : 0;  // a response to HEAD has no body
      };
      st.on_body = [](http_parser* p, const char* at, std::size_t n) {
        of(p).m->body.append(at, n);
        return 0;
      };
      st.on_message_complete = [](http_parser* p) {
        of(p).complete = true;
        http_parser_pause(p, 1);
        return 0;
      };
      return st;
    }();
    return s;
  }
};

// A raw HTTP client connection.
class client {
 public:
  explicit client(const std::string& addr) {
    auto [c, err] = net::dial("tcp", addr);
    EXPECT_FALSE(err) << err.message();
    c_ = c;
    c_.set_deadline(go::net::clock::now() + generous);
  }

  void send(std::string_view s) {
    auto [n, err] = c_.write(s);
    EXPECT_FALSE(err) << err.message();
  }

  // Reads one response (head: it answers a HEAD request). status 0 if the connection
  // ended first.
  response_msg read(bool head = false) {
    response_msg m;
    response_parse rp;
    http_parser_init(&rp.p, HTTP_RESPONSE);
    rp.p.data = &rp;
    rp.m = &m;
    rp.head = head;
    char tmp[4096];
    for (;;) {
      if (!buf_.empty()) {
        const std::size_t n = http_parser_execute(&rp.p, &response_parse::settings(), buf_.data(), buf_.size());
        if (HTTP_PARSER_ERRNO(&rp.p) == HPE_PAUSED) {
          buf_.erase(0, n);
          return m;
        }
        if (HTTP_PARSER_ERRNO(&rp.p) != HPE_OK) {
          ADD_FAILURE() << "bad response: " << http_errno_name(HTTP_PARSER_ERRNO(&rp.p)) << " in " << buf_;
          return response_msg{};
        }
        buf_.clear();
      }
      auto [n, err] = c_.read(tmp);
      buf_.append(tmp, n);
      if (err && n == 0) {
        if (err == go::io::eof) {
          http_parser_execute(&rp.p, &response_parse::settings(), nullptr, 0);  // a close-delimited body ends
          if (rp.complete) return m;
        }
        return response_msg{};
      }
    }
  }

  // Sends a request and reads its response.
  response_msg roundtrip(std::string_view request, bool head = false) {
    send(request);
    return read(head);
  }

  // True when the server closed the connection: the next read is EOF (or a reset)
  // with no byte before it.
  bool closed_by_peer() {
    if (!buf_.empty()) return false;
    char tmp[256];
    auto [n, err] = c_.read(tmp);
    if (n != 0) return false;
    return err == go::io::eof || go::errors::is(err, std::errc::connection_reset);
  }

  net::Conn& conn() { return c_; }

 private:
  net::Conn c_;
  std::string buf_;
};

std::string get(std::string_view target, std::string_view extra = "") {
  std::string s = "GET ";
  s += target;
  s += " HTTP/1.1\r\nHost: test\r\n";
  s += extra;
  s += "\r\n";
  return s;
}

// A handler that answers "method path query body" as text.
void echo(http::ResponseWriter& w, const http::Request& r) {
  w.write(r.method + " " + r.path + " " + r.raw_query + " " + r.body);
}

// ---- common ---------------------------------------------------------------------------

TEST(HttpCommon, StatusText) {
  EXPECT_EQ(http::status_text(200), "OK");
  EXPECT_EQ(http::status_text(404), "Not Found");
  EXPECT_EQ(http::status_text(413), "Request Entity Too Large");
  EXPECT_EQ(http::status_text(418), "I'm a teapot");
  EXPECT_EQ(http::status_text(500), "Internal Server Error");
  EXPECT_EQ(http::status_text(599), "");
  EXPECT_EQ(http::status_text(-1), "");
}

TEST(HttpCommon, CanonicalKey) {
  EXPECT_EQ(http::Header::canonical_key("content-type"), "Content-Type");
  EXPECT_EQ(http::Header::canonical_key("CONTENT-LENGTH"), "Content-Length");
  EXPECT_EQ(http::Header::canonical_key("x-fOO-bAR"), "X-Foo-Bar");
  EXPECT_EQ(http::Header::canonical_key("etag"), "Etag");
  EXPECT_EQ(http::Header::canonical_key("a--b"), "A--B");
  EXPECT_EQ(http::Header::canonical_key("1abc-2def"), "1abc-2def");
  EXPECT_EQ(http::Header::canonical_key("foo bar"), "foo bar");  // not a token: unchanged
  EXPECT_EQ(http::Header::canonical_key("foo:bar"), "foo:bar");
  EXPECT_EQ(http::Header::canonical_key(""), "");
}

TEST(HttpCommon, Header) {
  http::Header h;
  EXPECT_TRUE(h.empty());
  h.add("x-multi", "1");
  h.add("Content-Type", "text/html");
  h.add("X-MULTI", "2");
  EXPECT_EQ(h.get("X-Multi"), "1");
  EXPECT_EQ(h.values("x-multi"), (std::vector<std::string>{"1", "2"}));
  EXPECT_TRUE(h.has("content-type"));
  EXPECT_FALSE(h.has("missing"));
  EXPECT_EQ(h.get("missing"), "");
  h.set("x-multi", "3");
  EXPECT_EQ(h.values("X-Multi"), (std::vector<std::string>{"3"}));
  ASSERT_EQ(h.entries().size(), 2u);
  EXPECT_EQ(h.entries()[0].first, "X-Multi");  // set keeps the first entry's place
  EXPECT_EQ(h.entries()[1].first, "Content-Type");
  h.set("new-key", "v");
  EXPECT_EQ(h.entries().back().first, "New-Key");
  h.del("CONTENT-type");
  EXPECT_FALSE(h.has("Content-Type"));
  EXPECT_EQ(h.entries().size(), 2u);
}

TEST(HttpCommon, QueryValue) {
  http::Request r;
  r.raw_query = "a=1&b=hello+world&c=%41%42%2b&a=2&d&e=%zz&e=ok&f=&%67=h&semi=1;x=2";
  EXPECT_EQ(r.query_value("a"), "1");
  EXPECT_EQ(r.query_value("b"), "hello world");
  EXPECT_EQ(r.query_value("c"), "AB+");
  EXPECT_EQ(r.query_value("d"), "");
  EXPECT_EQ(r.query_value("e"), "ok");  // the malformed pair is skipped
  EXPECT_EQ(r.query_value("f"), "");
  EXPECT_EQ(r.query_value("g"), "h");  // keys are decoded too
  EXPECT_EQ(r.query_value("semi"), "1;x=2");  // ';' is not a separator (Go 1.17)
  EXPECT_EQ(r.query_value("missing"), "");
}

// ---- ServeMux, without a network ------------------------------------------------------

// A ResponseWriter that records what a handler did.
class recorder final : public http::ResponseWriter {
 public:
  http::Header& header() override { return header_; }
  void write_header(int code) override {
    if (code_ == 0) {
      code_ = code;
      sent_ = header_;
    }
  }
  go::io::result write(std::string_view data) override {
    write_header(200);
    body += data;
    return {data.size(), nullptr};
  }
  go::error flush() override { return nullptr; }

  int code() const { return code_ == 0 ? 200 : code_; }
  const http::Header& sent() const { return sent_; }
  std::string body;

 private:
  http::Header header_, sent_;
  int code_ = 0;
};

recorder dispatch(const http::ServeMux& mux, std::string method, std::string path, std::string query = "") {
  http::Request r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.url = r.path;
  r.raw_query = std::move(query);
  recorder w;
  mux.serve(w, r);
  return w;
}

http::Handler named(std::string name) {
  return [name](http::ResponseWriter& w, const http::Request&) { w.write(name); };
}

TEST(HttpServeMux, Routes) {
  http::ServeMux mux;
  mux.handle("/", named("root"));
  mux.handle("/exact", named("exact"));
  mux.handle("/tree/", named("tree"));
  mux.handle("/tree/deeper/", named("deeper"));
  mux.handle("/tree/deeper/leaf", named("leaf"));
  mux.handle("GET /items", named("get-items"));
  mux.handle("POST /items", named("post-items"));
  mux.handle("/both", named("both-any"));
  mux.handle("DELETE /both", named("both-delete"));

  EXPECT_EQ(dispatch(mux, "GET", "/").body, "root");
  EXPECT_EQ(dispatch(mux, "GET", "/unknown/x").body, "root");  // "/" is the catch-all subtree
  EXPECT_EQ(dispatch(mux, "GET", "/exact").body, "exact");
  EXPECT_EQ(dispatch(mux, "GET", "/exact/more").body, "root");  // exact does not match below
  EXPECT_EQ(dispatch(mux, "GET", "/tree/").body, "tree");
  EXPECT_EQ(dispatch(mux, "GET", "/tree/a/b").body, "tree");
  EXPECT_EQ(dispatch(mux, "GET", "/tree/deeper/x").body, "deeper");  // the longest wins
  EXPECT_EQ(dispatch(mux, "GET", "/tree/deeper/leaf").body, "leaf");
  EXPECT_EQ(dispatch(mux, "GET", "/items").body, "get-items");
  EXPECT_EQ(dispatch(mux, "HEAD", "/items").body, "get-items");  // GET matches HEAD
  EXPECT_EQ(dispatch(mux, "POST", "/items").body, "post-items");
  EXPECT_EQ(dispatch(mux, "DELETE", "/both").body, "both-delete");  // a method pattern is more specific
  EXPECT_EQ(dispatch(mux, "GET", "/both").body, "both-any");

  // "/" matches any method: it takes what the method patterns refuse (as Go).
  EXPECT_EQ(dispatch(mux, "PUT", "/items").body, "root");

  // The trailing-slash redirect.
  auto w = dispatch(mux, "GET", "/tree", "a=1");
  EXPECT_EQ(w.code(), 301);
  EXPECT_EQ(w.sent().get("Location"), "/tree/?a=1");
}

TEST(HttpServeMux, MethodNotAllowed) {
  http::ServeMux mux;
  mux.handle("GET /items", named("get-items"));
  mux.handle("POST /items", named("post-items"));
  mux.handle("/other/", named("other"));
  // 405 with Allow: the path matches only patterns for other methods.
  auto w = dispatch(mux, "PUT", "/items");
  EXPECT_EQ(w.code(), 405);
  EXPECT_EQ(w.sent().get("Allow"), "GET, HEAD, POST");
  EXPECT_EQ(w.body, "Method Not Allowed\n");
  EXPECT_EQ(dispatch(mux, "DELETE", "/other/x").body, "other");
  EXPECT_EQ(dispatch(mux, "DELETE", "/nothing").code(), 404);
}

TEST(HttpServeMux, NotFound) {
  http::ServeMux mux;
  mux.handle("/a", named("a"));
  auto w = dispatch(mux, "GET", "/b");
  EXPECT_EQ(w.code(), 404);
  EXPECT_EQ(w.body, "404 page not found\n");
  EXPECT_EQ(w.sent().get("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(w.sent().get("X-Content-Type-Options"), "nosniff");
}

TEST(HttpServeMux, BadPatterns) {
  http::ServeMux mux;
  mux.handle("/x", named("x"));
  mux.handle("GET /x", named("x"));  // another method: not a duplicate
  EXPECT_THROW(mux.handle("/x", named("x")), std::invalid_argument);
  EXPECT_THROW(mux.handle("GET /x", named("x")), std::invalid_argument);
  EXPECT_THROW(mux.handle("", named("x")), std::invalid_argument);
  EXPECT_THROW(mux.handle("x", named("x")), std::invalid_argument);
  EXPECT_THROW(mux.handle("GET ", named("x")), std::invalid_argument);
  EXPECT_THROW(mux.handle("/a/{id}", named("x")), std::invalid_argument);
  EXPECT_THROW(mux.handle("/y", http::Handler{}), std::invalid_argument);
}

// ---- the server -----------------------------------------------------------------------

TEST(HttpServer, StatusCodesAndReasonPhrases) {
  test_server ts([](http::ResponseWriter& w, const http::Request& r) {
    w.write_header(std::stoi(r.query_value("code")));
    if (r.query_value("body") == "1") w.write("text");
  });
  ts.start();
  client c(ts.addr);
  struct want {
    int code;
    std::string reason;
  };
  for (const want& x : {want{200, "OK"}, want{201, "Created"}, want{404, "Not Found"}, want{418, "I'm a teapot"},
                        want{503, "Service Unavailable"}, want{599, "status code 599"}}) {
    auto m = c.roundtrip(get("/?body=1&code=" + std::to_string(x.code)));
    EXPECT_EQ(m.status, x.code);
    EXPECT_EQ(m.reason, x.reason);
    EXPECT_EQ(m.body, "text");
  }
  // 204 and 304 carry no body and no Content-Length.
  for (int code : {204, 304}) {
    auto m = c.roundtrip(get("/?body=1&code=" + std::to_string(code)));
    EXPECT_EQ(m.status, code);
    EXPECT_EQ(m.body, "");
    EXPECT_FALSE(m.header.has("Content-Length"));
  }
  // Still in sync after them.
  EXPECT_EQ(c.roundtrip(get("/?code=202")).status, 202);
}

TEST(HttpServer, HeadersRoundTrip) {
  test_server ts([](http::ResponseWriter& w, const http::Request& r) {
    std::string joined;
    for (const auto& v : r.header.values("X-Custom-Header")) joined += v + ";";
    w.header().set("x-reply", joined);
    w.header().add("X-MULTI", "a");
    w.header().add("x-multi", "b");
    w.header().set("x-evil", "a\r\nInjected: yes");
    w.write(r.host + "|" + r.proto + "|" + r.header.get("user-agent") + "|" + r.remote_addr +
            (r.header.has("Host") ? "|Host in header" : ""));
  });
  ts.start();
  client c(ts.addr);
  auto m = c.roundtrip(
      "GET /h HTTP/1.1\r\nHost: example.com:8080\r\nx-custom-header: v1\r\nX-CUSTOM-HEADER:   v2  \r\n"
      "user-agent: raw-test\r\n\r\n");
  ASSERT_EQ(m.status, 200);
  EXPECT_EQ(m.header.get("X-Reply"), "v1;v2;");
  EXPECT_EQ(m.header.values("X-Multi"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(m.header.get("X-Evil"), "a  Injected: yes");  // no response splitting
  EXPECT_FALSE(m.header.has("Injected"));
  EXPECT_EQ(m.header.get("Content-Type"), "text/plain; charset=utf-8");  // the default
  EXPECT_TRUE(m.header.has("Date"));
  const std::string local = c.conn().local_addr().address;
  EXPECT_EQ(m.body, "example.com:8080|HTTP/1.1|raw-test|" + local) << "Host is promoted, not kept in header (Go)";
  EXPECT_EQ(m.header.get("Content-Length"), std::to_string(m.body.size()));
}

TEST(HttpServer, PathAndQueryDecoding) {
  test_server ts([](http::ResponseWriter& w, const http::Request& r) {
    w.write(r.url + "|" + r.path + "|" + r.raw_query + "|" + r.query_value("q"));
  });
  ts.start();
  client c(ts.addr);
  auto m = c.roundtrip(get("/a%20b/c+d?q=x+y%21&z=1"));
  EXPECT_EQ(m.body, "/a%20b/c+d?q=x+y%21&z=1|/a b/c+d|q=x+y%21&z=1|x y!");
  // A malformed escape in the path is a bad request.
  EXPECT_EQ(c.roundtrip(get("/bad%zz")).status, 400);
}

TEST(HttpServer, RoutesOverTheWire) {
  http::ServeMux mux;
  mux.handle("/hello", [](http::ResponseWriter& w, const http::Request&) { w.write("hello\n"); });
  mux.handle("GET /only-get", named("got"));
  mux.handle("/static/", named("static"));
  test_server ts(mux);
  ts.start();
  client c(ts.addr);
  auto m = c.roundtrip(get("/hello"));
  EXPECT_EQ(m.status, 200);
  EXPECT_EQ(m.body, "hello\n");
  EXPECT_EQ(c.roundtrip(get("/static/css/x.css")).body, "static");
  m = c.roundtrip(get("/nothing"));
  EXPECT_EQ(m.status, 404);
  EXPECT_EQ(m.body, "404 page not found\n");
  m = c.roundtrip("POST /only-get HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(m.status, 405);
  EXPECT_EQ(m.header.get("Allow"), "GET, HEAD");
  m = c.roundtrip(get("/static"));
  EXPECT_EQ(m.status, 301);
  EXPECT_EQ(m.header.get("Location"), "/static/");
}

TEST(HttpServer, KeepAlive) {
  test_server ts([](http::ResponseWriter& w, const http::Request& r) { w.write(r.remote_addr); });
  ts.start();
  client c(ts.addr);
  const int n = gocxx_test::scaled(20);
  std::string first;
  for (int i = 0; i < n; ++i) {
    auto m = c.roundtrip(get("/"));
    ASSERT_EQ(m.status, 200);
    EXPECT_FALSE(m.header.has("Connection"));
    if (i == 0) first = m.body;
    EXPECT_EQ(m.body, first);  // the same connection every time
  }
}

TEST(HttpServer, Pipelining) {
  test_server ts(echo);
  ts.start();
  client c(ts.addr);
  std::string batch;
  const int n = 10;
  for (int i = 0; i < n; ++i) {
    if (i % 3 == 1) {
      const std::string body = "body" + std::to_string(i);
      batch += "POST /p" + std::to_string(i) + " HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(body.size()) +
               "\r\n\r\n" + body;
    } else {
      batch += get("/p" + std::to_string(i) + "?i=" + std::to_string(i));
    }
  }
  c.send(batch);
  for (int i = 0; i < n; ++i) {
    auto m = c.read();
    ASSERT_EQ(m.status, 200) << i;
    if (i % 3 == 1) {
      EXPECT_EQ(m.body, "POST /p" + std::to_string(i) + "  body" + std::to_string(i));
    } else {
      EXPECT_EQ(m.body, "GET /p" + std::to_string(i) + " i=" + std::to_string(i) + " ");
    }
  }
  // Byte by byte: the parser resumes across reads.
  const std::string req = get("/slow?x=1");
  for (char ch : req) c.send(std::string_view(&ch, 1));
  EXPECT_EQ(c.read().body, "GET /slow x=1 ");
}

TEST(HttpServer, ConnectionClose) {
  test_server ts(echo);
  ts.start();
  {
    client c(ts.addr);
    auto m = c.roundtrip(get("/", "Connection: close\r\n"));
    EXPECT_EQ(m.status, 200);
    EXPECT_EQ(m.header.get("Connection"), "close");
    EXPECT_TRUE(c.closed_by_peer());
  }
  {  // HTTP/1.0 closes by default...
    client c(ts.addr);
    auto m = c.roundtrip("GET /old HTTP/1.0\r\n\r\n");
    EXPECT_EQ(m.status, 200);
    EXPECT_EQ(m.body, "GET /old  ");
    EXPECT_TRUE(c.closed_by_peer());
  }
  {  // ...and keeps the connection with "Connection: keep-alive".
    client c(ts.addr);
    auto m = c.roundtrip("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    EXPECT_EQ(m.status, 200);
    EXPECT_EQ(m.header.get("Connection"), "keep-alive");
    m = c.roundtrip("GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    EXPECT_EQ(m.body, "GET /b  ");
  }
  {  // A handler's "Connection: close" is honoured too.
    test_server ts2([](http::ResponseWriter& w, const http::Request&) {
      w.header().set("Connection", "close");
      w.write("bye");
    });
    ts2.start();
    client c(ts2.addr);
    auto m = c.roundtrip(get("/"));
    EXPECT_EQ(m.body, "bye");
    EXPECT_TRUE(c.closed_by_peer());
  }
}

TEST(HttpServer, ChunkedRequestBody) {
  test_server ts(echo);
  ts.start();
  client c(ts.addr);
  auto m = c.roundtrip(
      "POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n1;ext=1\r\n \r\n6\r\nworld!\r\n0\r\nTrailer: x\r\n\r\n");
  EXPECT_EQ(m.status, 200);
  EXPECT_EQ(m.body, "POST /up  hello world!");
  // And the connection is still in sync.
  EXPECT_EQ(c.roundtrip(get("/next")).body, "GET /next  ");
}

TEST(HttpServer, BodyTooLarge) {
  test_server ts(echo);
  ts.srv.max_body_bytes = 1000;
  ts.start();
  {  // Declared too large: refused from the headers.
    client c(ts.addr);
    auto m = c.roundtrip("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n");
    EXPECT_EQ(m.status, 413);
    EXPECT_EQ(m.header.get("Connection"), "close");
    EXPECT_TRUE(c.closed_by_peer());
  }
  {  // Chunked past the limit.
    client c(ts.addr);
    std::string req = "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 3; ++i) req += "190\r\n" + std::string(400, 'x') + "\r\n";
    req += "0\r\n\r\n";
    auto m = c.roundtrip(req);
    EXPECT_EQ(m.status, 413);
    EXPECT_TRUE(c.closed_by_peer());
  }
  {  // At the limit: fine.
    client c(ts.addr);
    auto m = c.roundtrip("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n" + std::string(1000, 'y'));
    EXPECT_EQ(m.status, 200);
    EXPECT_EQ(m.body.size(), std::string("POST /  ").size() + 1000);
  }
}

TEST(HttpServer, BadRequests) {
  test_server ts(echo);
  ts.start();
  for (std::string_view bad : {std::string_view("GARBAGE\r\n\r\n"), std::string_view("GET / HTTP/1.1\r\nno colon\r\n\r\n"),
                               std::string_view("GET / HTTP/1.1\r\n\r\n"),  // HTTP/1.1 needs Host
                               std::string_view("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
                               std::string_view("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: zz\r\n\r\n"),
                               std::string_view("\x01\x02\x03\r\n\r\n"),
                               // Request smuggling: both framings.
                               std::string_view("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
                                                "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
                               std::string_view("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
                                                "Content-Length: 4\r\n\r\nabcd")}) {
    client c(ts.addr);
    auto m = c.roundtrip(bad);
    EXPECT_EQ(m.status, 400) << bad;
    EXPECT_EQ(m.body, "400 Bad Request");
    EXPECT_EQ(m.header.get("Connection"), "close");
    EXPECT_TRUE(c.closed_by_peer());
  }
  {
    client c(ts.addr);
    EXPECT_EQ(c.roundtrip("GET / HTTP/2.0\r\nHost: a\r\n\r\n").status, 505);
  }
  {
    client c(ts.addr);
    EXPECT_EQ(c.roundtrip("GET / HTTP/1.1\r\nHost: a\r\nExpect: magic\r\n\r\n").status, 417);
  }
  {  // Headers over http_parser's 80 KiB.
    client c(ts.addr);
    EXPECT_EQ(c.roundtrip("GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(100 << 10, 'b') + "\r\n\r\n").status, 431);
  }
  // The server still works.
  client c(ts.addr);
  EXPECT_EQ(c.roundtrip(get("/ok")).status, 200);
}

TEST(HttpServer, Head) {
  test_server ts([](http::ResponseWriter& w, const http::Request&) { w.write("twelve bytes"); });
  ts.start();
  client c(ts.addr);
  auto m = c.roundtrip("HEAD /x HTTP/1.1\r\nHost: t\r\n\r\n", /*head=*/true);
  EXPECT_EQ(m.status, 200);
  EXPECT_EQ(m.header.get("Content-Length"), "12");
  EXPECT_EQ(m.body, "");
  // No body bytes were sent: the next response parses cleanly.
  m = c.roundtrip(get("/x"));
  EXPECT_EQ(m.body, "twelve bytes");
}

TEST(HttpServer, StreamingWithFlush) {
  test_server ts([](http::ResponseWriter& w, const http::Request&) {
    w.header().set("Content-Type", "text/event-stream");
    w.write("first,");
    EXPECT_FALSE(w.flush());
    w.write("second,");
    w.flush();
    w.write("");
    w.write(std::string(100 << 10, 'z'));  // a big write goes straight out
  });
  ts.start();
  client c(ts.addr);
  auto m = c.roundtrip(get("/s"));
  EXPECT_EQ(m.status, 200);
  EXPECT_TRUE(m.chunked);
  EXPECT_EQ(m.header.get("Transfer-Encoding"), "chunked");
  EXPECT_FALSE(m.header.has("Content-Length"));
  EXPECT_EQ(m.header.get("Content-Type"), "text/event-stream");
  EXPECT_EQ(m.body, "first,second," + std::string(100 << 10, 'z'));
  // Kept alive after the last chunk.
  EXPECT_EQ(c.roundtrip(get("/s")).status, 200);
  // HTTP/1.0 has no chunked encoding: the close delimits the body.
  client c10(ts.addr);
  m = c10.roundtrip("GET /s HTTP/1.0\r\n\r\n");
  EXPECT_EQ(m.status, 200);
  EXPECT_FALSE(m.chunked);
  EXPECT_EQ(m.body, "first,second," + std::string(100 << 10, 'z'));
}

TEST(HttpServer, LargeBufferedBodyStreams) {
  // A handler that never flushes but writes more than the server buffers.
  const std::string big(300 << 10, 'q');
  test_server ts([&](http::ResponseWriter& w, const http::Request&) {
    for (std::size_t i = 0; i < big.size(); i += 1000) w.write(std::string_view(big).substr(i, 1000));
  });
  ts.start();
  client c(ts.addr);
  auto m = c.roundtrip(get("/"));
  EXPECT_EQ(m.status, 200);
  EXPECT_EQ(m.body, big);
}

TEST(HttpServer, DeclaredContentLength) {
  test_server ts([](http::ResponseWriter& w, const http::Request& r) {
    w.header().set("Content-Length", "5");
    if (r.path == "/short") {
      w.write("abc");  // fewer than declared: the connection must close
      return;
    }
    auto [n, err] = w.write("hello");
    EXPECT_EQ(n, 5u);
    EXPECT_FALSE(err);
    auto [n2, err2] = w.write("!");
    EXPECT_EQ(n2, 0u);
    EXPECT_TRUE(err2);  // more than declared
    w.flush();  // a declared length streams without chunking
  });
  ts.start();
  client c(ts.addr);
  auto m = c.roundtrip(get("/"));
  EXPECT_EQ(m.body, "hello");
  EXPECT_FALSE(m.chunked);
  // Fewer bytes than declared: the body is cut short by the close.
  m = c.roundtrip(get("/short"));
  EXPECT_EQ(m.status, 0);
  EXPECT_TRUE(c.closed_by_peer());
}

TEST(HttpServer, Expect100Continue) {
  test_server ts(echo);
  ts.start();
  client c(ts.addr);
  c.send("PUT /e HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
  auto m = c.read();
  EXPECT_EQ(m.status, 100);
  c.send("data");
  m = c.read();
  EXPECT_EQ(m.status, 200);
  EXPECT_EQ(m.body, "PUT /e  data");
}

TEST(HttpServer, HandlerException) {
  test_server ts([](http::ResponseWriter& w, const http::Request& r) {
    if (r.path == "/late") {
      w.write("partial");
      w.flush();
    }
    if (r.path == "/badcode") w.write_header(42);  // Go panics; so do we
    if (r.path != "/fine") throw std::runtime_error("handler failed (expected by the test)");
    w.write("fine");
  });
  ts.start();
  for (const char* path : {"/boom", "/badcode"}) {
    client c(ts.addr);
    auto m = c.roundtrip(get(path));
    EXPECT_EQ(m.status, 500) << path;
    EXPECT_EQ(m.header.get("Connection"), "close");
    EXPECT_TRUE(c.closed_by_peer());
  }
  {  // After the header went out: the connection is just closed.
    client c(ts.addr);
    auto m = c.roundtrip(get("/late"));
    EXPECT_EQ(m.status, 0);  // the chunked body never ends
  }
  client c(ts.addr);
  EXPECT_EQ(c.roundtrip(get("/fine")).body, "fine");
}

TEST(HttpServer, ClientDisconnectCancelsContext) {
  event started, finished, fast_done;
  std::atomic<bool> canceled{false};
  test_server ts([&](http::ResponseWriter& w, const http::Request& r) {
    if (r.path == "/fast") {
      w.write("fast");
      return;
    }
    started.set();
    r.ctx.wait_for(generous);  // parks: other connections go on
    canceled = r.ctx.err() == go::context::canceled;
    finished.set();
  });
  ts.start();
  auto slow = std::make_unique<client>(ts.addr);
  slow->send(get("/slow"));
  ASSERT_TRUE(started.wait());
  {  // The slow handler does not hold up other connections.
    client c(ts.addr);
    EXPECT_EQ(c.roundtrip(get("/fast")).body, "fast");
  }
  EXPECT_FALSE(finished.is_set());
  slow.reset();  // the client goes away
  ASSERT_TRUE(finished.wait());
  EXPECT_TRUE(canceled.load());
}

TEST(HttpServer, ContextCanceledAfterHandlerReturns) {
  Context saved;
  go::sync::Mutex mu;
  test_server ts([&](http::ResponseWriter& w, const http::Request& r) {
    EXPECT_FALSE(r.ctx.err());
    std::lock_guard lk(mu);
    saved = r.ctx;
    w.write("x");
  });
  ts.start();
  client c(ts.addr);
  EXPECT_EQ(c.roundtrip(get("/")).status, 200);
  std::lock_guard lk(mu);
  EXPECT_EQ(saved.err(), go::context::canceled);
}

TEST(HttpServer, IdleTimeout) {
  test_server ts(echo);
  ts.srv.idle_timeout = 100ms;
  ts.start();
  client c(ts.addr);
  EXPECT_EQ(c.roundtrip(get("/")).status, 200);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.closed_by_peer());  // after idle_timeout without a request
  EXPECT_LT(std::chrono::steady_clock::now() - t0, generous);
}

TEST(HttpServer, ReadTimeout) {
  test_server ts(echo);
  ts.srv.read_timeout = 100ms;
  ts.start();
  {  // Headers that never end.
    client c(ts.addr);
    c.send("GET / HTTP/1.1\r\nHost: t\r\n");
    EXPECT_TRUE(c.closed_by_peer());
  }
  {  // A body that never comes.
    client c(ts.addr);
    c.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
    EXPECT_TRUE(c.closed_by_peer());
  }
  {  // A connection that never sends (idle_timeout is 0: read_timeout applies).
    client c(ts.addr);
    EXPECT_TRUE(c.closed_by_peer());
  }
}

TEST(HttpServer, WriteTimeoutDoesNotCutFastResponses) {
  test_server ts(echo);
  ts.srv.write_timeout = 5s;
  ts.srv.read_timeout = 5s;
  ts.start();
  client c(ts.addr);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(c.roundtrip(get("/w")).status, 200);
}

TEST(HttpServer, ShutdownWaitsForInFlightRequest) {
  event started, release;
  std::atomic<bool> shutdown_returned{false};
  go::error shutdown_err = go::errors::make("not set");
  test_server ts([&](http::ResponseWriter& w, const http::Request& r) {
    if (r.path == "/slow") {
      started.set();
      release.wait();
    }
    w.write("done " + r.path);
  });
  ts.start();
  client idle(ts.addr);
  EXPECT_EQ(idle.roundtrip(get("/quick")).status, 200);  // now idle
  client busy(ts.addr);
  busy.send(get("/slow"));
  ASSERT_TRUE(started.wait());

  std::thread t([&] {
    shutdown_err = ts.srv.shutdown(go::context::background());
    shutdown_returned = true;
  });
  ts.wait_served();  // the listener is closed: serve() returned
  EXPECT_EQ(ts.serve_err, http::err_server_closed);
  EXPECT_TRUE(idle.closed_by_peer());  // idle connections are closed at once
  auto [nc, derr] = net::dial("tcp", ts.addr);
  EXPECT_TRUE(derr);  // no more accepting
  EXPECT_FALSE(shutdown_returned.load());  // the handler is still running
  release.set();
  auto m = busy.read();
  EXPECT_EQ(m.status, 200);
  EXPECT_EQ(m.body, "done /slow");
  EXPECT_EQ(m.header.get("Connection"), "close");
  t.join();
  EXPECT_FALSE(shutdown_err) << shutdown_err.message();
  EXPECT_TRUE(busy.closed_by_peer());
  // Serving again after shutdown: err_server_closed at once.
  auto [ln, lerr] = net::listen("tcp", "127.0.0.1:0");
  ASSERT_FALSE(lerr);
  EXPECT_EQ(ts.srv.serve(ln), http::err_server_closed);
}

TEST(HttpServer, ShutdownContextExpires) {
  event started, finished;
  std::atomic<bool> canceled{false};
  test_server ts([&](http::ResponseWriter&, const http::Request& r) {
    started.set();
    r.ctx.wait_for(generous);
    canceled = r.ctx.err() != nullptr;
    finished.set();
  });
  ts.start();
  client c(ts.addr);
  c.send(get("/"));
  ASSERT_TRUE(started.wait());
  auto [ctx, cancel] = go::context::with_timeout(go::context::background(), 50ms);
  EXPECT_EQ(ts.srv.shutdown(ctx), go::context::deadline_exceeded);
  cancel();
  ASSERT_TRUE(finished.wait());  // the grace period ended: the handler was told to stop
  EXPECT_TRUE(canceled.load());
}

TEST(HttpServer, CloseCancelsHandlers) {
  event started, finished;
  std::atomic<int> canceled{0}, count{0};
  const int n = 3;
  test_server ts([&](http::ResponseWriter&, const http::Request& r) {
    if (++count == n) started.set();
    r.ctx.wait_for(generous);
    if (r.ctx.err() == go::context::canceled && ++canceled == n) finished.set();
  });
  ts.start();
  std::vector<std::unique_ptr<client>> clients;
  for (int i = 0; i < n; ++i) {
    clients.push_back(std::make_unique<client>(ts.addr));
    clients.back()->send(get("/"));
  }
  ASSERT_TRUE(started.wait());
  EXPECT_FALSE(ts.srv.close());
  ASSERT_TRUE(finished.wait());
  for (auto& c : clients) EXPECT_TRUE(c->closed_by_peer());
  ts.wait_served();
  EXPECT_EQ(ts.serve_err, http::err_server_closed);
}

TEST(HttpServer, DestructorWaitsForHandlers) {
  event started;
  std::atomic<bool> returned{false};
  auto c = std::unique_ptr<client>();
  {
    test_server ts([&](http::ResponseWriter&, const http::Request& r) {
      started.set();
      r.ctx.wait_for(generous);
      returned = true;
    });
    ts.start();
    c = std::make_unique<client>(ts.addr);
    c->send(get("/"));
    ASSERT_TRUE(started.wait());
  }  // ~Server: close, then join every connection task
  EXPECT_TRUE(returned.load());
}

TEST(HttpServer, ManyConcurrentClients) {
  test_server ts([](http::ResponseWriter& w, const http::Request& r) { w.write("id=" + r.query_value("id")); });
  ts.start();
  const int clients = gocxx_test::scaled(200);
  const int requests = 3;
  std::atomic<int> ok{0};
  go::sync::WaitGroup wg;
  for (int i = 0; i < clients; ++i) {
    wg.go([&, i] {
      client c(ts.addr);
      for (int j = 0; j < requests; ++j) {
        const std::string id = std::to_string(i) + "-" + std::to_string(j);
        auto m = c.roundtrip(get("/?id=" + id));
        if (m.status == 200 && m.body == "id=" + id) ++ok;
      }
    });
  }
  wg.wait();
  EXPECT_EQ(ok.load(), clients * requests);
}

TEST(HttpServer, ServeFromThreadAndListenErrors) {
  http::Server srv(echo);
  auto [listener, err] = net::listen("tcp", "127.0.0.1:0");
  ASSERT_FALSE(err);
  const std::string addr = listener.addr().address;
  go::error serve_err;
  std::thread t([&, ln = listener] { serve_err = srv.serve(ln); });
  {
    client c(addr);
    EXPECT_EQ(c.roundtrip(get("/t")).body, "GET /t  ");
  }
  EXPECT_FALSE(srv.close());
  t.join();
  EXPECT_EQ(serve_err, http::err_server_closed);
  // listen_and_serve reports a listen error.
  http::Server srv2(echo);
  EXPECT_TRUE(srv2.listen_and_serve("127.0.0.1:notaport"));
  EXPECT_THROW(http::Server(http::Handler{}), std::invalid_argument);
}

}  // namespace
