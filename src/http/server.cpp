// server.cpp — the HTTP/1.1 server of go/http.hpp: ServeMux, Server and the
// ResponseWriter handed to handlers. Requests are parsed by the http_parser library
// (Debian libhttp-parser-dev); connections are go/net.hpp Conns.
//
// Tasks. serve(ln) runs an accept loop on the caller (a task or a thread). Each
// accepted connection gets one task (spawned through state::wg, so the destructor can
// join them) that runs conn_loop: read a request, call the handler, write the
// response, repeat while the connection is kept alive. While a handler runs, a second,
// short-lived task performs the background read (below). Nothing else runs on the
// server's behalf; a slow handler parks only its own connection task.
//
// The connection loop, one iteration per request:
//   1. Idle. Under state::mu: stop if the server is shutting down or closed this
//      connection, else mark the connection idle (shutdown() may now close it). If no
//      bytes of the next request are buffered, wait for them with the read deadline at
//      now + idle_timeout (read_timeout if idle_timeout is 0; none if both are 0). A
//      connection's first request is timed from the accept instead.
//   2. Active. Under state::mu: stop if the server closed the connection meanwhile,
//      else mark it active. The read deadline becomes now + read_timeout: it covers
//      the rest of the headers and the whole body.
//   3. Parse. Bytes go through http_parser until its on_message_complete pauses it;
//      bytes after that request (pipelining) stay in conn::buf for the next iteration.
//      The body is decoded (Content-Length or chunked) into Request::body; a body over
//      max_body_bytes answers 413, a parse error 400, headers over 80 KiB 431, an
//      HTTP major version other than 1 505 — each with "Connection: close", after
//      which the connection is closed (gracefully: FIN, then a short drain, so that a
//      client still sending does not get a reset before it reads the answer). EOF, an
//      I/O error or a timeout while reading closes the connection without an answer,
//      as Go does. "Expect: 100-continue" gets an interim 100 once the headers are in.
//   4. Handle. The write deadline becomes now + write_timeout (it covers the handler
//      and the response); the read deadline is cleared. The request gets a context
//      derived from the server's base context (canceled by close()), and the handler
//      runs on this task with a background read in flight (below). An exception
//      escaping the handler is caught: 500 if nothing was sent yet; the connection is
//      closed either way.
//   5. Respond. A response not yet sent (the handler neither flushed nor wrote more
//      than 64 KiB) goes out as one write with Content-Length; a streamed one ends
//      with the last chunk. The connection is kept for the next request unless the
//      request or the handler said "Connection: close", the request was HTTP/1.0
//      without keep-alive, the response had to be delimited by closing, a write
//      failed, the handler wrote less than its Content-Length, or the server is
//      shutting down.
//
// The background read (Go's connReader.backgroundRead). A request's context must be
// canceled when the client goes away while the handler runs, but the connection's
// task is busy in the handler. So before the handler starts, a helper task reads one
// byte from the connection. If that read fails (EOF: the client closed; a reset; the
// server closed the conn) the helper cancels the request's context. If it returns a
// byte, that byte is the start of a pipelined request: it is kept, and nothing more is
// read until the handler returns. When the handler returns, the connection task
// aborts the read by moving the read deadline into the past (the helper tells that
// expected timeout apart by the `aborting` flag, set first), joins the helper (a
// WaitGroup), appends the byte it read, if any, to conn::buf (after the bytes already
// buffered: they came first on the wire), and only then touches the read deadline
// again. Invariants: at most one read is in flight on a connection at any time (the
// helper's, or the connection task's, never both); the helper never outlives the
// request (joined on every path, exceptions included, by background_read's
// destructor); a byte is never lost or reordered.
//
// Shutdown protocol. state::mu guards the listener list, the connection set and each
// connection's idle/closed flags; it is held only for short sections that never park
// (no I/O under it: sockets are closed after it is released, through copied handles).
//   * serve() registers its listener, and registers each accepted connection (and
//     spawns its task) under mu, after checking that the server is not shutting down
//     (otherwise the connection is closed at once and serve returns
//     err_server_closed). So once shutdown()/close() has set shutting_down under mu,
//     no connection is added: the set only shrinks.
//   * shutdown(ctx) sets shutting_down, closes the listeners and every idle
//     connection (a new connection counts as idle: it has not sent a request byte),
//     marking them closed under mu, then waits until the set is empty or ctx is done.
//     Active connections finish their current request ("Connection: close" is added
//     to responses whose header is written after shutdown began) and leave at step 1.
//     A connection between steps 1 and 2 re-checks its closed flag under mu, so it
//     never starts a request on a connection shutdown() closed. A connection task
//     erases itself from the set when it ends, and the one that empties it during a
//     shutdown cancels the waiters' contexts (each shutdown() call waits on a context
//     derived from its ctx, registered in state::drain_waiters). If ctx is done first,
//     shutdown() cancels the base context — the grace period is over, handlers should
//     stop — and returns ctx.err(); connections are left to finish (close() or the
//     destructor ends them), as in Go.
//   * close() sets shutting_down, closes the listeners and every connection, and
//     cancels the base context (every request context): blocked reads and writes fail
//     at once and handlers are told to stop. It does not wait.
//   * ~Server() calls close() and waits on state::wg for every connection task, so no
//     task touches the state after the Server is gone. A connection task refers to the
//     state by a plain pointer for that reason: the state outlives every task. serve()
//     holds its own shared_ptr, since it may still be returning after ~Server().
//
// Options (the public fields) are read when serve() starts: changing them affects
// the connections that later serve() calls accept.
//
// Content-Type: when a handler writes a body without setting Content-Type, the server
// sends "text/plain; charset=utf-8" (Go sniffs the content instead). A Date header is
// always added unless the handler set one.
#include <http_parser.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <climits>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_set>
#include <utility>
#include <vector>

#include "go/context.hpp"
#include "go/errors.hpp"
#include "go/http.hpp"
#include "go/io.hpp"
#include "go/net.hpp"
#include "go/runtime.hpp"
#include "go/sync.hpp"
#include "go/time.hpp"
#include "http/common.hpp"

namespace go::http {

namespace {

using namespace std::chrono_literals;
using internal::equal_fold;
using internal::has_token;

// A response body buffered beyond this many bytes is sent streaming (as after flush()).
constexpr std::size_t max_buffered_body = 64 << 10;
// How many bytes one read asks for.
constexpr std::size_t read_chunk = 16 << 10;
// After an error answer (400, 413, ...), how long and how much the server drains
// from a client that is still sending before it closes (Go's rstAvoidanceDelay).
constexpr auto linger_time = 500ms;
constexpr std::size_t linger_bytes = 256 << 10;

// Go's ErrBodyNotAllowed and ErrContentLength.
const go::error err_body_not_allowed =
    go::errors::make("http: request method or response status code does not allow body");
const go::error err_content_length = go::errors::make("http: wrote more than the declared Content-Length");

// The server's limits, copied from the Server when serve() starts.
struct limits {
  clock::duration read_timeout{};
  clock::duration write_timeout{};
  clock::duration idle_timeout{};
  std::size_t max_body_bytes = 0;
};

net::time_point deadline_after(clock::duration d) { return d > clock::duration::zero() ? clock::now() + d : net::no_deadline; }

// A deadline that has passed: aborts a blocked read at once.
net::time_point past_deadline() { return clock::now() - 1s; }

// RFC 9110's IMF-fixdate of now: "Sun, 06 Nov 1994 08:49:37 GMT" (locale-independent).
std::string http_date() {
  static constexpr std::array<const char*, 7> days = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr std::array<const char*, 12> months = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[static_cast<std::size_t>(tm.tm_wday % 7)],
                tm.tm_mday, months[static_cast<std::size_t>(tm.tm_mon % 12)], tm.tm_year + 1900, tm.tm_hour,
                tm.tm_min, tm.tm_sec);
  return buf;
}

// "HTTP/1.1 404 Not Found\r\n" (Go's "status code 599" for a code without a text).
void append_status_line(std::string& out, int code) {
  out += "HTTP/1.1 ";
  out += std::to_string(code);
  out += ' ';
  const std::string_view text = status_text(code);
  if (text.empty()) {
    out += "status code ";
    out += std::to_string(code);
  } else {
    out += text;
  }
  out += "\r\n";
}

// Appends "Key: value\r\n" for every valid entry of h. Keys that are not tokens are
// skipped and CR/LF in values become spaces (Go's headerNewlineToSpace), so a handler
// can never split the response.
void append_header(std::string& out, const Header& h) {
  for (const auto& [k, v] : h.entries()) {
    if (k.empty() || !std::all_of(k.begin(), k.end(), internal::is_token_char)) continue;
    out += k;
    out += ": ";
    for (char c : v) out.push_back(c == '\r' || c == '\n' ? ' ' : c);
    out += "\r\n";
  }
}

bool body_allowed_for_status(int code) {
  return !((code >= 100 && code < 200) || code == 204 || code == 304);
}

// Parses a Content-Length value: a non-negative decimal integer, or -1.
std::int64_t parse_content_length(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  std::int64_t v = -1;
  if (s.empty() || s.front() == '-' || s.front() == '+') return -1;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return -1;
  return v;
}

// ---- request parsing ------------------------------------------------------------------

// What reading one request came to.
enum class parse_outcome {
  ok,                     // a complete request
  closed,                 // EOF, I/O error or timeout: close without answering
  bad_request,            // 400
  too_large,              // 413: the body exceeds max_body_bytes
  header_too_large,       // 431
  expectation_failed,     // 417: an Expect other than 100-continue
  version_not_supported,  // 505
};

// The http_parser callbacks' state for one request (http_parser::data points here).
struct request_parser {
  http_parser p{};
  Request* req = nullptr;
  std::size_t max_body = 0;
  std::string field, value;  // the header being assembled (callbacks may split them)
  bool in_value = false;
  bool headers_done = false;
  bool complete = false;
  bool too_large = false;
  bool bad = false;  // a semantic error found in the callbacks (bad URL, Host, ...)
  bool expect_continue = false;
  bool expect_failed = false;
  bool version_bad = false;
  bool keep_alive = false;
  bool upgrade = false;
  bool failed = false;  // a callback threw (std::bad_alloc): close without answering

  void commit_header() {
    if (field.empty() && value.empty()) return;
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
    req->header.add(field, value);
    field.clear();
    value.clear();
  }

  static request_parser& of(http_parser* p) { return *static_cast<request_parser*>(p->data); }

  static int on_url(http_parser* p, const char* at, std::size_t len) {
    of(p).req->url.append(at, len);
    return 0;
  }
  static int on_header_field(http_parser* p, const char* at, std::size_t len) {
    request_parser& rp = of(p);
    if (rp.in_value) {
      rp.commit_header();
      rp.in_value = false;
    }
    rp.field.append(at, len);
    return 0;
  }
  static int on_header_value(http_parser* p, const char* at, std::size_t len) {
    request_parser& rp = of(p);
    rp.in_value = true;
    rp.value.append(at, len);
    return 0;
  }
  static int on_headers_complete(http_parser* p) {
    request_parser& rp = of(p);
    rp.commit_header();
    rp.headers_done = true;
    return rp.finish_headers() ? 0 : -1;
  }
  static int on_body(http_parser* p, const char* at, std::size_t len) {
    request_parser& rp = of(p);
    if (len > rp.max_body - std::min(rp.max_body, rp.req->body.size())) {
      rp.too_large = true;
      return -1;
    }
    rp.req->body.append(at, len);
    return 0;
  }
  static int on_message_complete(http_parser* p) {
    request_parser& rp = of(p);
    rp.complete = true;
    rp.keep_alive = http_should_keep_alive(p) != 0;
    rp.upgrade = p->upgrade != 0;
    http_parser_pause(p, 1);  // one request per execute: the rest is the next request's
    return 0;
  }

  // Fills in the request from the request line and headers; false to abort the
  // parse (with a flag saying why).
  bool finish_headers() {
    Request& r = *req;
    r.method = http_method_str(static_cast<http_method>(p.method));
    if (p.http_major != 1) {
      version_bad = true;
      return false;
    }
    r.proto = "HTTP/1." + std::to_string(p.http_minor);
    // The request target: path and query through http_parser_parse_url.
    http_parser_url u;
    http_parser_url_init(&u);
    const bool connect = p.method == HTTP_CONNECT;
    if (http_parser_parse_url(r.url.data(), r.url.size(), connect ? 1 : 0, &u) != 0) {
      bad = true;
      return false;
    }
    auto field_of = [&](int f) -> std::string_view {
      if (!(u.field_set & (1u << f))) return {};
      return std::string_view(r.url).substr(u.field_data[f].off, u.field_data[f].len);
    };
    if (!internal::percent_decode(field_of(UF_PATH), false, r.path)) {
      bad = true;
      return false;
    }
    r.raw_query = std::string(field_of(UF_QUERY));
    // Host: the absolute-form target's, else the Host header (required in HTTP/1.1,
    // at most one: Go's rules).
    const std::vector<std::string> hosts = r.header.values("Host");
    if (hosts.size() > 1 || (hosts.empty() && p.http_minor >= 1)) {
      bad = true;
      return false;
    }
    if (connect) {
      r.host = r.url;
    } else if (u.field_set & (1u << UF_HOST)) {
      r.host = std::string(field_of(UF_HOST));
      if (u.field_set & (1u << UF_PORT)) r.host += ":" + std::string(field_of(UF_PORT));
    } else if (!hosts.empty()) {
      r.host = hosts.front();
    }
    r.header.del("Host");  // Go: promoted to Request.Host, removed from the header map
    // Expect: only 100-continue is understood, and only from HTTP/1.1 clients.
    if (r.header.has("Expect")) {
      const std::string e = r.header.get("Expect");
      if (!equal_fold(e, "100-continue")) {
        expect_failed = true;
        return false;
      }
      expect_continue = p.http_minor >= 1;
    }
    // A declared body over the limit is refused before it is read.
    if ((p.flags & F_CHUNKED) == 0 && p.content_length != ULLONG_MAX && p.content_length > max_body) {
      too_large = true;
      return false;
    }
    return true;
  }

  // The callbacks as http_parser sees them: no exception may unwind through its C
  // frames, so one that escapes (std::bad_alloc from a string append) aborts the
  // parse instead.
  template <int (*F)(http_parser*, const char*, std::size_t)>
  static int guarded_data(http_parser* p, const char* at, std::size_t len) noexcept {
    try {
      return F(p, at, len);
    } catch (...) {
      of(p).failed = true;
      return -1;
    }
  }
  template <int (*F)(http_parser*)>
  static int guarded(http_parser* p) noexcept {
    try {
      return F(p);
    } catch (...) {
      of(p).failed = true;
      return -1;
    }
  }

  static const http_parser_settings& settings() {
    static const http_parser_settings s = [] {
      http_parser_settings st{};
      http_parser_settings_init(&st);
      st.on_url = &guarded_data<&on_url>;
      st.on_header_field = &guarded_data<&on_header_field>;
      st.on_header_value = &guarded_data<&on_header_value>;
      st.on_headers_complete = &guarded<&on_headers_complete>;
      st.on_body = &guarded_data<&on_body>;
      st.on_message_complete = &guarded<&on_message_complete>;
      return st;
    }();
    return s;
  }
};

// One accepted connection. nc, remote and lim are set before the task starts and not
// changed; idle and closed are guarded by state::mu; buf and rbuf belong to the
// connection's task.
struct conn_state {
  net::Conn nc;
  std::string remote;
  limits lim;
  clock::time_point accepted;
  bool idle = true;     // waiting for a request's first byte (shutdown() may close it)
  bool closed = false;  // the server closed nc (shutdown or close)
  std::string buf;      // bytes read and not yet parsed (the next request's start)
  // Not zero-filled: a read commits only the pages it writes (most requests use one).
  std::unique_ptr<char[]> rbuf = std::make_unique_for_overwrite<char[]>(read_chunk);
};

}  // namespace

// ---- Server state ---------------------------------------------------------------------

struct Server::state {
  explicit state(Handler h) : handler(std::move(h)) {
    auto [ctx, cancel] = context::with_cancel(context::background());
    base = std::move(ctx);
    cancel_base = std::move(cancel);
  }

  const Handler handler;
  context::Context base;             // every request context derives from it
  context::cancel_func cancel_base;  // close(), or shutdown() past its ctx

  std::mutex mu;  // short sections only, never held across I/O or a park
  std::atomic<bool> shutting_down{false};  // written under mu; read anywhere
  std::map<std::uint64_t, net::Listener> listeners;  // under mu: those serve() accepts on
  std::uint64_t next_listener = 0;                    // under mu
  std::unordered_set<conn_state*> conns;   // under mu: live connections (not owned)
  std::map<std::uint64_t, context::cancel_func> drain_waiters;  // under mu
  std::uint64_t next_waiter = 0;                                // under mu

  go::sync::WaitGroup wg;  // one count per connection task

  go::error serve(net::Listener ln, limits lim);
  go::error shutdown(const context::Context& ctx);
  go::error close();

  void serve_conn(const std::shared_ptr<conn_state>& c) noexcept;
  void conn_loop(conn_state& c);
  parse_outcome read_request(conn_state& c, Request& req, bool& keep_alive);
  bool serve_request(conn_state& c, Request& req, bool keep_alive);
  void answer_error(conn_state& c, int code);
};

namespace {

// The background read of one request (see the file comment). Starts in the
// constructor; stop() — or the destructor — aborts and joins it.
class background_read {
 public:
  background_read(net::Conn nc, context::cancel_func cancel) : nc_(std::move(nc)), cancel_(std::move(cancel)) {
    wg_.go([this] { run(); });
  }
  background_read(const background_read&) = delete;
  background_read& operator=(const background_read&) = delete;
  ~background_read() {
    std::string ignored;
    stop(ignored);
  }

  // Aborts the read and waits for the helper task; appends the byte it read, if any,
  // to buf. Idempotent.
  void stop(std::string& buf) noexcept {
    if (stopped_) return;
    stopped_ = true;
    aborting_.store(true, std::memory_order_release);
    nc_.set_read_deadline(past_deadline());
    wg_.wait();
    if (got_) buf.push_back(byte_);
  }

 private:
  void run() noexcept {
    char b = 0;
    auto [n, err] = nc_.read(std::span<char>(&b, 1));
    if (n == 1) {
      byte_ = b;
      got_ = true;
      return;
    }
    if (err && !(aborting_.load(std::memory_order_acquire) && net::is_timeout(err))) cancel_();  // the client left
  }

  net::Conn nc_;
  context::cancel_func cancel_;
  go::sync::WaitGroup wg_;
  std::atomic<bool> aborting_{false};
  bool stopped_ = false;  // the connection task's
  bool got_ = false;      // the helper's until joined
  char byte_ = 0;
};

// The ResponseWriter of one request.
class response final : public ResponseWriter {
 public:
  response(conn_state& c, const Request& req, bool keep_alive, const std::atomic<bool>& shutting_down)
      : c_(c),
        head_method_(req.method == "HEAD"),
        http10_(req.proto == "HTTP/1.0"),
        keep_alive_(keep_alive),
        shutting_down_(shutting_down) {
    close_ = !keep_alive;
  }

  Header& header() override { return header_; }

  void write_header(int code) override {
    if (status_ != 0) return;  // Go logs "superfluous WriteHeader"; later calls are ignored
    if (code < 100 || code > 999) throw std::invalid_argument("http: invalid WriteHeader code " + std::to_string(code));
    if (code >= 100 && code < 200 && code != 101) {
      // An informational response (103 Early Hints, ...): sent at once, with the
      // current headers; the final status comes later.
      std::string head;
      append_status_line(head, code);
      append_header(head, header_);
      head += "\r\n";
      send(head);
      return;
    }
    status_ = code;
    sent_header_ = header_;  // later changes to header() are ignored
    if (sent_header_.has("Content-Length")) {
      declared_ = parse_content_length(sent_header_.get("Content-Length"));
      if (declared_ < 0) sent_header_.del("Content-Length");  // malformed: dropped, as Go
    }
    if (has_token(sent_header_.get("Connection"), "close")) close_ = true;
  }

  io::result write(std::string_view data) override {
    if (err_) return {0, err_};
    if (status_ == 0) write_header(status_ok);
    if (!body_allowed_for_status(status_)) return {0, err_body_not_allowed};
    if (declared_ >= 0 && written_ + data.size() > static_cast<std::uint64_t>(declared_)) {
      return {0, err_content_length};
    }
    written_ += data.size();
    if (!head_sent_) {
      if (!head_method_) buf_.append(data);  // HEAD: only counted, for Content-Length
      if (written_ > max_buffered_body) start_streaming();
      return {err_ ? 0 : data.size(), err_};
    }
    if (head_method_ || data.empty()) return {data.size(), nullptr};
    if (chunked_) {
      std::string chunk = chunk_header(data.size());
      chunk.append(data);
      chunk += "\r\n";
      if (send(chunk)) return {0, err_};
      return {data.size(), nullptr};
    }
    return send_body(data);
  }

  go::error flush() override {
    if (err_) return err_;
    if (status_ == 0) write_header(status_ok);
    if (!head_sent_) start_streaming();
    return err_;
  }

  // Completes the response after the handler returned normally.
  void finish() {
    if (err_) return;
    if (status_ == 0) write_header(status_ok);
    const bool short_body = declared_ >= 0 && !head_method_ && body_allowed_for_status(status_) &&
                            written_ != static_cast<std::uint64_t>(declared_);
    if (short_body) close_ = true;  // fewer bytes than declared: the client would wait for the rest
    if (!head_sent_) {
      const bool allowed = body_allowed_for_status(status_);
      std::string out = head(/*final=*/true, allowed);
      if (allowed && !head_method_) out += buf_;
      buf_.clear();
      head_sent_ = true;
      send(out);
      return;
    }
    if (chunked_) send("0\r\n\r\n");
  }

  // After a handler exception: answers 500 if nothing was sent.
  void fail() {
    close_ = true;
    if (head_sent_ || err_) return;
    std::string out;
    append_status_line(out, status_internal_server_error);
    out += "Content-Type: text/plain; charset=utf-8\r\nDate: " + http_date() +
           "\r\nConnection: close\r\nContent-Length: 22\r\n\r\nInternal Server Error\n";
    head_sent_ = true;
    send(out);
  }

  // Whether the connection must be closed after this response.
  bool must_close() const noexcept { return close_ || err_; }

 private:
  // The status line and headers. final: the handler has returned and the whole body
  // is in buf_ (so Content-Length is known).
  std::string head(bool final, bool allowed) {
    if (shutting_down_.load(std::memory_order_acquire)) close_ = true;
    std::string out;
    append_status_line(out, status_);
    append_header(out, sent_header_);
    if (!sent_header_.has("Date")) out += "Date: " + http_date() + "\r\n";
    if (allowed) {
      if (!sent_header_.has("Content-Type") && written_ > 0) out += "Content-Type: text/plain; charset=utf-8\r\n";
      if (declared_ < 0) {
        if (final) {
          // Go omits a zero length for HEAD: the handler may not have written the body.
          if (!head_method_ || written_ > 0) out += "Content-Length: " + std::to_string(written_) + "\r\n";
        } else if (!head_method_) {
          if (http10_) {
            close_ = true;  // HTTP/1.0 has no chunked encoding: the close delimits the body
          } else {
            chunked_ = true;
            out += "Transfer-Encoding: chunked\r\n";
          }
        }
      }
    }
    if (close_) {
      if (!has_token(sent_header_.get("Connection"), "close")) out += "Connection: close\r\n";
    } else if (http10_ && keep_alive_) {
      out += "Connection: keep-alive\r\n";
    }
    out += "\r\n";
    return out;
  }

  // Sends the header and the buffered body, switching to streaming.
  void start_streaming() {
    const bool allowed = body_allowed_for_status(status_);
    std::string out = head(/*final=*/false, allowed);
    head_sent_ = true;
    if (allowed && !head_method_ && !buf_.empty()) {
      if (chunked_) {
        out += chunk_header(buf_.size());
        out += buf_;
        out += "\r\n";
      } else {
        out += buf_;
      }
    }
    buf_.clear();
    buf_.shrink_to_fit();
    send(out);
  }

  static std::string chunk_header(std::size_t n) {
    char hex[24];
    auto [p, ec] = std::to_chars(hex, hex + sizeof hex, n, 16);
    std::string out(hex, p);
    out += "\r\n";
    return out;
  }

  io::result send_body(std::string_view data) {
    auto [n, err] = c_.nc.write(data);
    if (err) {
      err_ = err;
      close_ = true;
    }
    return {n, err};
  }

  // Writes bytes; returns true (and records the error) on failure.
  bool send(std::string_view bytes) {
    if (err_) return true;
    auto [n, err] = c_.nc.write(bytes);
    if (err) {
      err_ = err;
      close_ = true;
      return true;
    }
    return false;
  }

  conn_state& c_;
  const bool head_method_;
  const bool http10_;
  const bool keep_alive_;
  const std::atomic<bool>& shutting_down_;
  Header header_;
  Header sent_header_;  // header_ as it was at write_header
  int status_ = 0;      // 0: not yet decided
  std::int64_t declared_ = -1;  // the handler's Content-Length, or -1
  std::uint64_t written_ = 0;   // body bytes accepted from the handler
  std::string buf_;             // body bytes not yet sent (before the head is sent)
  bool head_sent_ = false;
  bool chunked_ = false;
  bool close_ = false;
  go::error err_;
};

bool temporary_accept_error(const go::error& err) {
  return errors::is(err, std::errc::too_many_files_open) || errors::is(err, std::errc::too_many_files_open_in_system) ||
         errors::is(err, std::errc::no_buffer_space) || errors::is(err, std::errc::not_enough_memory);
}

}  // namespace

// ---- the connection loop --------------------------------------------------------------

void Server::state::serve_conn(const std::shared_ptr<conn_state>& c) noexcept {
  try {
    conn_loop(*c);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "http: error serving %s: %s\n", c->remote.c_str(), e.what());
  } catch (...) {
    std::fprintf(stderr, "http: error serving %s\n", c->remote.c_str());
  }
  c->nc.close();
  std::vector<context::cancel_func> wake;
  {
    std::lock_guard lk(mu);
    conns.erase(c.get());
    if (conns.empty() && shutting_down.load(std::memory_order_relaxed)) {
      for (auto& [id, f] : drain_waiters) wake.push_back(f);
    }
  }
  for (auto& f : wake) f();
}

void Server::state::conn_loop(conn_state& c) {
  const limits& lim = c.lim;
  bool first = true;
  for (;;) {
    // 1. Idle: wait for the first byte of a request.
    {
      std::lock_guard lk(mu);
      if (c.closed || shutting_down.load(std::memory_order_relaxed)) return;
      c.idle = true;
    }
    if (c.buf.empty()) {
      if (first) {
        c.nc.set_read_deadline(lim.read_timeout > clock::duration::zero() ? c.accepted + lim.read_timeout
                                                                            : net::no_deadline);
      } else {
        c.nc.set_read_deadline(
            deadline_after(lim.idle_timeout > clock::duration::zero() ? lim.idle_timeout : lim.read_timeout));
      }
      while (c.buf.empty()) {
        auto [n, err] = c.nc.read(std::span<char>(c.rbuf.get(), read_chunk));
        c.buf.append(c.rbuf.get(), n);
        if (err && n == 0) return;  // EOF, idle timeout, closed: no request to answer
      }
    }
    // 2. Active.
    {
      std::lock_guard lk(mu);
      if (c.closed) return;
      c.idle = false;
    }
    if (!first) c.nc.set_read_deadline(deadline_after(lim.read_timeout));
    first = false;

    // 3. Parse.
    Request req;
    req.remote_addr = c.remote;
    bool keep_alive = false;
    switch (read_request(c, req, keep_alive)) {
      case parse_outcome::ok: break;
      case parse_outcome::closed: return;
      case parse_outcome::bad_request: answer_error(c, status_bad_request); return;
      case parse_outcome::too_large: answer_error(c, status_request_entity_too_large); return;
      case parse_outcome::header_too_large: answer_error(c, 431); return;
      case parse_outcome::expectation_failed: answer_error(c, 417); return;
      case parse_outcome::version_not_supported: answer_error(c, 505); return;
    }

    // 4-5. Handle and respond.
    if (!serve_request(c, req, keep_alive)) return;
  }
}

parse_outcome Server::state::read_request(conn_state& c, Request& req, bool& keep_alive) {
  request_parser rp;
  http_parser_init(&rp.p, HTTP_REQUEST);
  rp.p.data = &rp;
  rp.req = &req;
  rp.max_body = c.lim.max_body_bytes;
  bool sent_continue = false;
  for (;;) {
    if (!c.buf.empty()) {
      const std::size_t n = http_parser_execute(&rp.p, &request_parser::settings(), c.buf.data(), c.buf.size());
      const auto e = HTTP_PARSER_ERRNO(&rp.p);
      if (e == HPE_PAUSED && rp.complete) {
        c.buf.erase(0, n);
        keep_alive = rp.keep_alive && !rp.upgrade;  // no protocol switch: close after an Upgrade request
        return parse_outcome::ok;
      }
      if (e != HPE_OK) {
        if (rp.failed) return parse_outcome::closed;
        if (rp.too_large) return parse_outcome::too_large;
        if (rp.version_bad) return parse_outcome::version_not_supported;
        if (rp.expect_failed) return parse_outcome::expectation_failed;
        if (e == HPE_HEADER_OVERFLOW) return parse_outcome::header_too_large;
        return parse_outcome::bad_request;
      }
      if (n != c.buf.size()) return parse_outcome::bad_request;  // not expected without an error
      c.buf.clear();
    }
    if (rp.headers_done && rp.expect_continue && !sent_continue) {
      sent_continue = true;
      c.nc.set_write_deadline(deadline_after(c.lim.write_timeout));
      auto [n, err] = c.nc.write("HTTP/1.1 100 Continue\r\n\r\n");
      if (err) return parse_outcome::closed;
    }
    auto [n, err] = c.nc.read(std::span<char>(c.rbuf.get(), read_chunk));
    c.buf.append(c.rbuf.get(), n);
    if (err && n == 0) return parse_outcome::closed;  // the request was cut short
  }
}

bool Server::state::serve_request(conn_state& c, Request& req, bool keep_alive) {
  c.nc.set_write_deadline(deadline_after(c.lim.write_timeout));
  c.nc.set_read_deadline(net::no_deadline);  // the background read waits as long as the handler runs

  auto [ctx, cancel] = context::with_cancel(base);
  req.ctx = ctx;
  response w(c, req, keep_alive, shutting_down);
  bool threw = false;
  {
    background_read bg(c.nc, cancel);
    try {
      handler(w, req);
    } catch (const std::exception& e) {
      threw = true;
      std::fprintf(stderr, "http: exception serving %s: %s\n", c.remote.c_str(), e.what());
    } catch (...) {
      threw = true;
      std::fprintf(stderr, "http: exception serving %s\n", c.remote.c_str());
    }
    bg.stop(c.buf);
  }
  cancel();
  if (threw) {
    w.fail();
    return false;
  }
  w.finish();
  return !w.must_close();
}

void Server::state::answer_error(conn_state& c, int code) {
  std::string text = std::to_string(code);
  text += ' ';
  text += status_text(code);
  std::string out;
  append_status_line(out, code);
  out += "Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: ";
  out += std::to_string(text.size());
  out += "\r\n\r\n";
  out += text;
  c.nc.set_write_deadline(deadline_after(c.lim.write_timeout > clock::duration::zero() ? c.lim.write_timeout : 5s));
  if (auto [n, err] = c.nc.write(out); err) return;
  // Close gracefully: the client may still be sending (a body over the limit), and
  // closing with unread bytes would reset the connection before it reads the answer.
  c.nc.close_write();
  c.nc.set_read_deadline(clock::now() + linger_time);
  std::size_t drained = 0;
  while (drained < linger_bytes) {
    auto [n, err] = c.nc.read(std::span<char>(c.rbuf.get(), read_chunk));
    drained += n;
    if (err) break;
  }
}

// ---- accept loop, shutdown, close -----------------------------------------------------

go::error Server::state::serve(net::Listener ln, limits lim) {
  std::uint64_t id = 0;
  bool registered = false;
  {
    std::lock_guard lk(mu);
    if (!shutting_down.load(std::memory_order_relaxed)) {
      id = next_listener++;
      listeners.emplace(id, ln);
      registered = true;
    }
  }
  // Go's Serve closes its listener whenever it returns.
  auto forget = [&] {
    if (registered) {
      std::lock_guard lk(mu);
      listeners.erase(id);
    }
    ln.close();
  };
  if (!registered) {
    forget();
    return err_server_closed;
  }
  clock::duration backoff{};
  for (;;) {
    auto [nc, err] = ln.accept();
    if (err) {
      if (shutting_down.load(std::memory_order_acquire)) {
        forget();
        return err_server_closed;
      }
      if (temporary_accept_error(err)) {  // Go's retry with backoff on EMFILE and friends
        backoff = backoff == clock::duration::zero() ? clock::duration(5ms) : std::min<clock::duration>(backoff * 2, 1s);
        go::time::sleep_for(backoff);
        continue;
      }
      forget();
      return err;
    }
    backoff = clock::duration::zero();
    auto c = std::make_shared<conn_state>();
    c->nc = nc;
    c->remote = nc.remote_addr().address;
    c->lim = lim;
    c->accepted = clock::now();
    bool admitted = false;
    {
      std::lock_guard lk(mu);
      if (!shutting_down.load(std::memory_order_relaxed)) {
        conns.insert(c.get());
        try {
          wg.go([this, c] { serve_conn(c); });
          admitted = true;
        } catch (...) {
          conns.erase(c.get());
        }
      }
    }
    if (!admitted) {
      nc.close();
      if (shutting_down.load(std::memory_order_acquire)) {
        forget();
        return err_server_closed;
      }
    }
  }
}

go::error Server::state::shutdown(const context::Context& ctx) {
  std::vector<net::Listener> lns;
  std::vector<net::Conn> idle;
  context::Context drained;
  std::uint64_t id = 0;
  bool empty = false;
  {
    std::lock_guard lk(mu);
    shutting_down.store(true, std::memory_order_release);
    for (auto& [lid, l] : listeners) lns.push_back(l);
    for (conn_state* c : conns) {
      if (c->idle && !c->closed) {
        c->closed = true;
        idle.push_back(c->nc);
      }
    }
    empty = conns.empty();
    if (!empty) {
      auto [d, cancel] = context::with_cancel(ctx);
      drained = std::move(d);
      id = next_waiter++;
      drain_waiters.emplace(id, std::move(cancel));
    }
  }
  for (auto& l : lns) l.close();
  for (auto& c : idle) c.close();
  if (empty) return nullptr;
  drained.wait();
  {
    std::lock_guard lk(mu);
    drain_waiters.erase(id);
    empty = conns.empty();
  }
  if (empty) return nullptr;
  cancel_base();  // the grace period is over: tell the remaining handlers to stop
  return ctx.err();
}

go::error Server::state::close() {
  std::vector<net::Listener> lns;
  std::vector<net::Conn> all;
  {
    std::lock_guard lk(mu);
    shutting_down.store(true, std::memory_order_release);
    for (auto& [lid, l] : listeners) lns.push_back(l);
    for (conn_state* c : conns) {
      c->closed = true;
      all.push_back(c->nc);
    }
  }
  go::error result;
  for (auto& l : lns) {
    if (auto err = l.close(); err && !errors::is(err, net::err_closed) && !result) result = err;
  }
  for (auto& c : all) c.close();
  cancel_base();
  return result;
}

// ---- Server ---------------------------------------------------------------------------

Server::Server(Handler h) {
  if (!h) throw std::invalid_argument("http: Server needs a handler");
  s_ = std::make_shared<state>(std::move(h));
}

Server::~Server() {
  s_->close();
  s_->wg.wait();
}

go::error Server::serve(net::Listener ln) {
  std::shared_ptr<state> s = s_;  // serve may still be returning after ~Server()
  return s->serve(std::move(ln), limits{read_timeout, write_timeout, idle_timeout, max_body_bytes});
}

go::error Server::listen_and_serve(std::string_view addr) {
  auto [ln, err] = net::listen("tcp", addr.empty() ? std::string_view(":80") : addr);
  if (err) return err;
  return serve(std::move(ln));
}

go::error Server::shutdown(const context::Context& ctx) { return s_->shutdown(ctx); }

go::error Server::close() { return s_->close(); }

// ---- ServeMux -------------------------------------------------------------------------

void ServeMux::handle(std::string pattern, Handler h) {
  if (!h) throw std::invalid_argument("http: nil handler for pattern \"" + pattern + "\"");
  std::string_view p = pattern;
  std::string method;
  const std::size_t sp = p.find_first_of(" \t");
  if (sp != std::string_view::npos) {
    method = std::string(p.substr(0, sp));
    p.remove_prefix(sp);
    while (!p.empty() && (p.front() == ' ' || p.front() == '\t')) p.remove_prefix(1);
    if (method.empty() || !std::all_of(method.begin(), method.end(), internal::is_token_char)) {
      throw std::invalid_argument("http: bad method in pattern \"" + pattern + "\"");
    }
  }
  if (p.empty()) throw std::invalid_argument("http: invalid pattern \"" + pattern + "\"");
  if (p.front() != '/') throw std::invalid_argument("http: pattern \"" + pattern + "\" must start with '/' (host patterns are not supported)");
  if (p.find_first_of("{} \t") != std::string_view::npos) {
    throw std::invalid_argument("http: wildcards are not supported in pattern \"" + pattern + "\"");
  }
  for (const route& r : routes_) {
    if (r.method == method && r.path == p) {
      throw std::invalid_argument("http: multiple registrations for \"" + pattern + "\"");
    }
  }
  routes_.push_back(route{std::move(method), std::string(p), std::move(h)});
}

void ServeMux::serve(ResponseWriter& w, const Request& r) const {
  const std::string& path = r.path;
  auto path_matches = [&](const route& rt) {
    return rt.path.back() == '/' ? path.starts_with(rt.path) : path == rt.path;
  };
  auto method_matches = [&](const route& rt) {
    return rt.method.empty() || rt.method == r.method || (rt.method == "GET" && r.method == "HEAD");
  };
  // The most specific match: the longest path, then a method pattern over none.
  const route* best = nullptr;
  std::vector<std::string> allowed;
  for (const route& rt : routes_) {
    if (!path_matches(rt)) continue;
    if (!method_matches(rt)) {
      allowed.push_back(rt.method);
      if (rt.method == "GET") allowed.emplace_back("HEAD");
      continue;
    }
    if (best == nullptr || rt.path.size() > best->path.size() ||
        (rt.path.size() == best->path.size() && best->method.empty() && !rt.method.empty())) {
      best = &rt;
    }
  }
  // Go's trailing-slash redirect: "/dir" goes to "/dir/" when that subtree is
  // registered and nothing matches "/dir" exactly.
  const bool exact = best != nullptr && best->path == path;
  if (!exact && !path.empty() && path.back() != '/') {
    const std::string with_slash = path + "/";
    for (const route& rt : routes_) {
      if (rt.path == with_slash && method_matches(rt)) {
        std::string location = with_slash;
        if (!r.raw_query.empty()) location += "?" + r.raw_query;
        w.header().set("Location", location);
        if (r.method == "GET" || r.method == "HEAD") {
          w.header().set("Content-Type", "text/html; charset=utf-8");
          w.write_header(status_moved_permanently);
          std::string esc;
          for (char ch : location) {
            switch (ch) {
              case '&': esc += "&amp;"; break;
              case '<': esc += "&lt;"; break;
              case '>': esc += "&gt;"; break;
              case '"': esc += "&#34;"; break;
              case '\'': esc += "&#39;"; break;
              default: esc.push_back(ch);
            }
          }
          w.write("<a href=\"" + esc + "\">Moved Permanently</a>.\n\n");
        } else {
          w.write_header(status_moved_permanently);
        }
        return;
      }
    }
  }
  if (best != nullptr) {
    best->h(w, r);
    return;
  }
  if (!allowed.empty()) {
    std::sort(allowed.begin(), allowed.end());
    allowed.erase(std::unique(allowed.begin(), allowed.end()), allowed.end());
    std::string allow;
    for (const auto& m : allowed) {
      if (!allow.empty()) allow += ", ";
      allow += m;
    }
    w.header().set("Allow", allow);
    error(w, "Method Not Allowed", status_method_not_allowed);
    return;
  }
  error(w, "404 page not found", status_not_found);
}

ServeMux::operator Handler() const {
  return [this](ResponseWriter& w, const Request& r) { serve(w, r); };
}

}  // namespace go::http
