// go/http.hpp — Go's `net/http` for gocxx: an HTTP/1.1 and HTTPS client on libcurl,
// driven by the runtime's netpoller, and an HTTP/1.1 server on go/net.hpp.
//
// Client.
//
//   auto [resp, err] = go::http::get(ctx, "http://127.0.0.1:8080/items");
//   if (err) return err;                       // transport failure or ctx done
//   if (resp.status_code != go::http::status_ok) ...
//   use(resp.body);
//
// A request parks its task (a thread blocks) while libcurl's multi-socket engine,
// driven by the netpoller's readiness callbacks and the runtime's timers, moves the
// bytes; thousands of requests in flight cost no thread each. Connections are reused
// (keep-alive) across requests to the same host. Cancelling the request's context
// aborts the transfer promptly — mid-connect, mid-headers or mid-body — and the call
// returns a url_error wrapping ctx.err(). Non-2xx statuses are not errors (as in Go):
// err is nil and status_code says what the server said.
//
// Server.
//
//   go::http::ServeMux mux;
//   mux.handle("/hello", [](go::http::ResponseWriter& w, const go::http::Request& r) {
//     w.header().set("Content-Type", "text/plain");
//     w.write("hello\n");
//   });
//   go::http::Server srv(mux);
//   auto [ln, err] = go::net::listen("tcp", "127.0.0.1:0");
//   go::spawn([&] { srv.serve(ln); });
//   ...
//   srv.shutdown(ctx);
//
// One task per connection reads requests (parsed by the http_parser library),
// calls the handler, writes the response (Content-Length, or chunked when the
// handler streams with flush()), and keeps the connection alive for the next request
// unless either side said "Connection: close". A handler's request context is
// canceled when the client goes away, when the handler returns, or when the server
// is closed, so slow handlers can stop early.
//
// Thread safety: free functions, Client and Server members may be called from any
// tasks and threads concurrently (a Client's option fields must not be changed while
// requests use it). A ResponseWriter belongs to its handler call; a BodyReader to one
// reader at a time.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "go/context.hpp"
#include "go/errors.hpp"
#include "go/io.hpp"
#include "go/net.hpp"

namespace go::http {

using clock = std::chrono::steady_clock;

// ---- common ---------------------------------------------------------------------------

// Status codes (Go's http.StatusXxx), and their reason phrases.
inline constexpr int status_continue = 100;
inline constexpr int status_ok = 200;
inline constexpr int status_created = 201;
inline constexpr int status_accepted = 202;
inline constexpr int status_no_content = 204;
inline constexpr int status_moved_permanently = 301;
inline constexpr int status_found = 302;
inline constexpr int status_see_other = 303;
inline constexpr int status_not_modified = 304;
inline constexpr int status_temporary_redirect = 307;
inline constexpr int status_permanent_redirect = 308;
inline constexpr int status_bad_request = 400;
inline constexpr int status_unauthorized = 401;
inline constexpr int status_forbidden = 403;
inline constexpr int status_not_found = 404;
inline constexpr int status_method_not_allowed = 405;
inline constexpr int status_request_timeout = 408;
inline constexpr int status_request_entity_too_large = 413;
inline constexpr int status_too_many_requests = 429;
inline constexpr int status_internal_server_error = 500;
inline constexpr int status_not_implemented = 501;
inline constexpr int status_bad_gateway = 502;
inline constexpr int status_service_unavailable = 503;
inline constexpr int status_gateway_timeout = 504;

// Go's http.StatusText: "OK", "Not Found", ...; "" for an unknown code.
std::string_view status_text(int code) noexcept;

// Go's http.Header: a multimap from canonical header keys ("Content-Type") to values,
// in insertion order. Keys given in any case are canonicalized (Go's
// CanonicalMIMEHeaderKey), so lookups are case-insensitive. Not synchronized.
class Header {
 public:
  // Appends a value to key's values.
  void add(std::string_view key, std::string_view value);
  // Replaces key's values with value.
  void set(std::string_view key, std::string_view value);
  // The first value of key, or "".
  std::string get(std::string_view key) const;
  // All values of key, in order.
  std::vector<std::string> values(std::string_view key) const;
  bool has(std::string_view key) const;
  // Removes every value of key.
  void del(std::string_view key);
  // Every (canonical key, value) pair, in insertion order.
  const std::vector<std::pair<std::string, std::string>>& entries() const noexcept { return entries_; }
  bool empty() const noexcept { return entries_.empty(); }

  // Go's CanonicalMIMEHeaderKey: "content-type" -> "Content-Type". A key with a
  // character that is not a token character is returned unchanged.
  static std::string canonical_key(std::string_view key);

 private:
  std::vector<std::pair<std::string, std::string>> entries_;
};

// An HTTP request: what a client sends (method, url, header, body, timeout), and what
// a server handler receives (every field filled in from the wire).
struct Request {
  std::string method = "GET";
  // Client: the absolute URL ("http://host:port/path?q"). Server: the request target
  // as received ("/path?q").
  std::string url;
  Header header;
  std::string body;
  // Client only: a limit on the whole exchange, body included (0: none). On expiry
  // the call returns a url_error for which net::is_timeout is true.
  clock::duration timeout{};

  // Server only, filled in by the server:
  std::string proto;        // "HTTP/1.1"
  std::string host;         // the Host header (then removed from `header`, as Go), or
                            // the absolute-form target's host
  std::string path;         // url's path, percent-decoded ("/a b" for "/a%20b")
  std::string raw_query;    // url's query without '?' ("q=1&x=2")
  std::string remote_addr;  // the client's address, "ip:port"
  // Canceled when the client closes the connection, when the handler returns, or
  // when the server is closed or shut down (then with the handler's deadline).
  context::Context ctx;

  // The first value of the query parameter `key`, percent-decoded ("" if absent).
  std::string query_value(std::string_view key) const;
};

// ---- client ---------------------------------------------------------------------------

// Go's *url.Error: the operation ("Get", "Post", ...), the URL and the cause.
// Message: `Get "http://127.0.0.1:1/": dial tcp ...: connection refused` (Go's format).
// unwrap() is the cause: ctx.err() when the request's context was done,
// net::err_deadline_exceeded when Request::timeout or Client::timeout passed, a
// net::op_error holding a net::syscall_error when connecting failed (errors::is(err,
// std::errc::connection_refused) works) or a net::dns_error when the host name does
// not resolve (`dial tcp: lookup nosuch.invalid: no such host`, as Go), the redirect
// errors described at Client::max_redirects, a curl_error otherwise.
class url_error final : public go::error_impl {
 public:
  url_error(std::string op, std::string url, go::error err)
      : op_(std::move(op)), url_(std::move(url)), err_(std::move(err)) {}
  const std::string& op() const noexcept { return op_; }
  const std::string& url() const noexcept { return url_; }
  std::string message() const override { return op_ + " \"" + url_ + "\": " + err_.message(); }
  go::error unwrap() const override { return err_; }

 private:
  std::string op_, url_;
  go::error err_;
};

// A libcurl failure without a better Go equivalent: its CURLcode and message
// ("Unsupported protocol", "SSL certificate problem: ...").
class curl_error final : public go::error_impl {
 public:
  curl_error(int code, std::string msg) : code_(code), msg_(std::move(msg)) {}
  int code() const noexcept { return code_; }
  std::string message() const override { return msg_; }

 private:
  int code_;
  std::string msg_;
};

// A response whose body has been read completely (get, post, send).
struct Response {
  int status_code = 0;
  std::string status;  // "200 OK"
  std::string proto;   // "HTTP/1.1"
  Header header;
  std::string body;
  std::string url;     // the final URL, after redirects
  // The client asked for gzip on its own and decoded the body (Go's Uncompressed):
  // Content-Encoding and Content-Length were removed from header.
  bool uncompressed = false;
};

namespace detail {
struct transfer;  // one request in the curl engine (src/http/client.cpp)
}

// The body of a streaming response (Client::open), read as it arrives: an io::reader.
// read() blocks (parks a task) until bytes arrive, the body ends ({0, io::eof}), the
// transfer fails (the url_error), or the context is done. The transfer is paused
// while the reader does not keep up (at most about 1 MiB is buffered). close() — or
// destroying the reader — aborts a transfer that has not finished. Move-only; one
// reader at a time.
class BodyReader {
 public:
  BodyReader() noexcept = default;
  BodyReader(BodyReader&&) noexcept;
  BodyReader& operator=(BodyReader&&) noexcept;
  ~BodyReader();
  io::result read(std::span<char> buf);
  void close() noexcept;

 private:
  friend class Client;
  explicit BodyReader(std::shared_ptr<detail::transfer> t) noexcept;
  std::shared_ptr<detail::transfer> t_;
};

// A response whose headers have arrived and whose body is streamed (Client::open).
struct StreamResponse {
  int status_code = 0;
  std::string status;
  std::string proto;
  Header header;
  std::string url;
  bool uncompressed = false;  // as Response::uncompressed
  BodyReader body;
};

// Go's http.Client. Options are public fields, set before use.
class Client {
 public:
  // Limit on each whole exchange, body included (0: none); Request::timeout, when
  // set, overrides it.
  clock::duration timeout{};
  // Redirects followed before giving up with a url_error whose URL is the refused
  // Location ("stopped after 10 redirects", as Go's default CheckRedirect); 0 (or
  // less) returns the 3xx response itself, as Go's ErrUseLastResponse. Go's rules:
  // only 301, 302, 303, 307 and 308 responses with a Location are followed (any
  // other 3xx is returned); after 301, 302 and 303 any method but GET and HEAD
  // becomes GET without a body, after 307 and 308 the method and body are sent
  // again; the request's headers go along, except Authorization, WWW-Authenticate,
  // Cookie and Cookie2 when the new host is neither the previous one nor a subdomain
  // of it; a Referer header names the previous URL (unless the request set one, or
  // the hop goes from https to http). timeout covers every hop together.
  int max_redirects = 10;
  // TLS: verify the server's certificate against the system store or ca_file.
  bool insecure_skip_verify = false;
  std::string ca_file;
  // Sent when the request has no User-Agent header.
  std::string user_agent = "gocxx-http-client/1.1";
  // Go's Transport.DisableCompression. When false (the default) and a request has no
  // Accept-Encoding and no Range header and is not a HEAD, the client sends
  // "Accept-Encoding: gzip" and decodes a gzip body itself (the response then has
  // uncompressed set and no Content-Encoding or Content-Length header). A request
  // that sets Accept-Encoding gets the body as sent. One difference from Go: a server
  // that answers such a request in another encoding libcurl knows (deflate, br,
  // zstd) although only gzip was asked for gets decoded too, where Go would hand
  // over the encoded bytes.
  bool disable_compression = false;

  // Sends req and reads the whole response body. Blocks (parks a task) until the
  // response is complete, the transfer fails, or ctx / the timeout expires. Errors:
  // url_error (see its comment). Throws only std::bad_alloc.
  result<Response> send(const context::Context& ctx, const Request& req) const;
  // Sends req and returns as soon as the status line and headers have arrived; the
  // body is read through StreamResponse::body. Errors as send().
  result<StreamResponse> open(const context::Context& ctx, const Request& req) const;

  // Go's Client.Get / Head / Post.
  result<Response> get(const context::Context& ctx, std::string_view url) const;
  result<Response> head(const context::Context& ctx, std::string_view url) const;
  result<Response> post(const context::Context& ctx, std::string_view url, std::string_view content_type,
                        std::string body) const;
};

// The Client used by the free functions (Go's http.DefaultClient).
Client& default_client() noexcept;

// default_client().get / head / post / send / open.
result<Response> get(const context::Context& ctx, std::string_view url);
result<Response> head(const context::Context& ctx, std::string_view url);
result<Response> post(const context::Context& ctx, std::string_view url, std::string_view content_type,
                      std::string body);
result<Response> send(const context::Context& ctx, const Request& req);
result<StreamResponse> open(const context::Context& ctx, const Request& req);

// ---- server ---------------------------------------------------------------------------

// Go's http.ResponseWriter: how a handler builds its response. Set headers, then
// optionally write_header(code), then write the body. The first write (or flush)
// sends status 200 if write_header was not called; later header changes are ignored.
// The server buffers the body and sends it with Content-Length when the handler
// returns; after flush(), or past 64 KiB, the response streams (chunked unless the
// handler set Content-Length; to an HTTP/1.0 client, delimited by closing). A body
// sent without a Content-Type header gets "text/plain; charset=utf-8" (Go sniffs the
// content instead); a Date header is added. Codes outside 100..999 throw
// std::invalid_argument (Go panics).
// Not thread-safe: used by its handler call only.
class ResponseWriter {
 public:
  virtual ~ResponseWriter() = default;
  // The response headers, to be modified before the status is sent.
  virtual Header& header() = 0;
  // Sends the status line and headers with `code`. Later calls are ignored.
  virtual void write_header(int code) = 0;
  // Appends body bytes. Blocks while the connection's send buffer is full. Returns
  // the error of a broken connection (the client went away).
  virtual io::result write(std::string_view data) = 0;
  // Sends what has been written so far (Go's http.Flusher); the response then uses
  // chunked encoding unless Content-Length was set.
  virtual go::error flush() = 0;
};

// A request handler (Go's http.Handler / HandlerFunc). Called on the connection's task;
// may block (park). An exception escaping it is caught: the server answers 500 if
// nothing was sent yet, and closes the connection.
using Handler = std::function<void(ResponseWriter& w, const Request& r)>;

// Go's http.Error: replies with code and `message` as text/plain.
void error(ResponseWriter& w, std::string_view message, int code);

// Go's http.ServeMux (the subset that needs no wildcards). Patterns:
//   "/path"       exactly that path;
//   "/prefix/"    that path and everything below it (the longest pattern wins);
//   "GET /path"   a method prefix: only that method (GET also matches HEAD); other
//                 methods on a matching path get 405 with an Allow header.
// Unmatched paths get 404. Register handlers before serving; then thread-safe.
class ServeMux {
 public:
  // Throws std::invalid_argument for an empty or malformed pattern, and for a pattern
  // registered twice (Go panics).
  void handle(std::string pattern, Handler h);
  // Dispatches to the matching handler.
  void serve(ResponseWriter& w, const Request& r) const;
  // A Handler that dispatches through *this (which must outlive it).
  operator Handler() const;

 private:
  struct route {
    std::string method;  // "" for any
    std::string path;
    Handler h;
  };
  std::vector<route> routes_;
};

// Go's http.ErrServerClosed: returned by serve() after close() or shutdown().
inline const go::error err_server_closed = go::errors::make("http: Server closed");

// Go's http.Server: serves HTTP/1.1 on listeners, one task per connection.
class Server {
 public:
  explicit Server(Handler h);
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  // Closes the server (close()) and waits for its connection tasks to finish.
  ~Server();

  // Limits (0: none): reading one request's headers and body; writing one response;
  // waiting for the next request on a kept-alive connection; a request body's size
  // (larger bodies get 413). Read when serve() starts.
  clock::duration read_timeout{};
  clock::duration write_timeout{};
  clock::duration idle_timeout{};
  std::size_t max_body_bytes = 16 << 20;

  // Accepts connections on ln and serves each on its own task. Blocks until close()
  // or shutdown() (returns err_server_closed) or accept fails (returns its error).
  go::error serve(net::Listener ln);
  // net::listen("tcp", addr) and serve().
  go::error listen_and_serve(std::string_view addr);

  // Graceful stop: closes the listeners, closes idle connections, and waits until
  // every in-flight request has been answered — or ctx is done (returns ctx.err(),
  // cancels the remaining handlers' contexts and leaves their connections to close()
  // or the destructor).
  go::error shutdown(const context::Context& ctx);
  // Immediate stop: closes listeners and every connection; handlers' contexts are
  // canceled. Does not wait for handlers to return (the destructor does).
  go::error close();

 private:
  struct state;
  std::shared_ptr<state> s_;
};

}  // namespace go::http
