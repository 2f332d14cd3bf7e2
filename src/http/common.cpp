// common.cpp — the parts of go/http.hpp shared by the client and the server: status
// texts, Header (Go's http.Header with CanonicalMIMEHeaderKey), Request::query_value and
// http::error.
//
// Header keeps its (key, value) pairs in one vector in insertion order, every key in
// canonical form (canonicalized on the way in, so lookups compare canonical keys
// byte for byte). Headers are small: a linear scan beats a map and keeps the order
// that a response is written in.
#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "go/http.hpp"
#include "http/common.hpp"

namespace go::http {

std::string_view status_text(int code) noexcept {
  // Go's net/http statusText table (status.go), every code it names.
  switch (code) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 102: return "Processing";
    case 103: return "Early Hints";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 207: return "Multi-Status";
    case 208: return "Already Reported";
    case 226: return "IM Used";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 305: return "Use Proxy";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Request Entity Too Large";
    case 414: return "Request URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Requested Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 418: return "I'm a teapot";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Entity";
    case 423: return "Locked";
    case 424: return "Failed Dependency";
    case 425: return "Too Early";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 451: return "Unavailable For Legal Reasons";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 506: return "Variant Also Negotiates";
    case 507: return "Insufficient Storage";
    case 508: return "Loop Detected";
    case 510: return "Not Extended";
    case 511: return "Network Authentication Required";
    default: return "";
  }
}

// ---- Header ---------------------------------------------------------------------------

namespace internal {

bool is_token_char(char c) noexcept {
  // RFC 9110 tchar: "!#$%&'*+-.^_`|~", DIGIT, ALPHA (Go's validHeaderFieldByte).
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

bool equal_fold(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

bool has_token(std::string_view list, std::string_view token) noexcept {
  // A comma-separated list of tokens with optional whitespace ("keep-alive, Upgrade").
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (equal_fold(item, token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

namespace {

int unhex(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool percent_decode(std::string_view in, bool plus_is_space, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;  // fewer than two characters follow
      const int hi = unhex(in[i + 1]);
      const int lo = unhex(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return true;
}

}  // namespace internal

std::string Header::canonical_key(std::string_view key) {
  // Go's CanonicalMIMEHeaderKey: the first letter and every letter after a hyphen in
  // upper case, the others in lower case; a key holding a byte that is not a token
  // character (a space, a colon, a non-ASCII byte) is returned unchanged.
  for (char c : key) {
    if (!internal::is_token_char(c)) return std::string(key);
  }
  std::string out(key);
  bool upper = true;
  for (char& c : out) {
    if (upper && c >= 'a' && c <= 'z') {
      c = static_cast<char>(c - 'a' + 'A');
    } else if (!upper && c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
    upper = c == '-';
  }
  return out;
}

void Header::add(std::string_view key, std::string_view value) {
  entries_.emplace_back(canonical_key(key), std::string(value));
}

void Header::set(std::string_view key, std::string_view value) {
  // The first entry of key keeps its place and takes the value; the others go.
  std::string k = canonical_key(key);
  auto first = std::find_if(entries_.begin(), entries_.end(), [&](const auto& e) { return e.first == k; });
  if (first == entries_.end()) {
    entries_.emplace_back(std::move(k), std::string(value));
    return;
  }
  first->second.assign(value);
  entries_.erase(std::remove_if(first + 1, entries_.end(), [&](const auto& e) { return e.first == k; }),
                 entries_.end());
}

std::string Header::get(std::string_view key) const {
  const std::string k = canonical_key(key);
  for (const auto& e : entries_) {
    if (e.first == k) return e.second;
  }
  return {};
}

std::vector<std::string> Header::values(std::string_view key) const {
  const std::string k = canonical_key(key);
  std::vector<std::string> out;
  for (const auto& e : entries_) {
    if (e.first == k) out.push_back(e.second);
  }
  return out;
}

bool Header::has(std::string_view key) const {
  const std::string k = canonical_key(key);
  for (const auto& e : entries_) {
    if (e.first == k) return true;
  }
  return false;
}

void Header::del(std::string_view key) {
  const std::string k = canonical_key(key);
  std::erase_if(entries_, [&](const std::pair<std::string, std::string>& e) { return e.first == k; });
}

// ---- Request --------------------------------------------------------------------------

std::string Request::query_value(std::string_view key) const {
  // Go's url.ParseQuery(raw_query).Get(key): pairs separated by '&' (a ';' is not a
  // separator since Go 1.17), "k=v" or a bare "k" (value ""), '+' meaning a space and
  // %XX escapes in both halves. Pairs with a malformed escape are skipped, as Go's
  // Query() drops them.
  std::string_view q = raw_query;
  std::string k, v;
  while (!q.empty()) {
    const std::size_t amp = q.find('&');
    const std::string_view pair = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    const std::string_view raw_k = pair.substr(0, eq);
    const std::string_view raw_v = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    if (!internal::percent_decode(raw_k, true, k)) continue;
    if (k != key) continue;
    if (!internal::percent_decode(raw_v, true, v)) continue;
    return v;
  }
  return {};
}

// ---- error ----------------------------------------------------------------------------

void error(ResponseWriter& w, std::string_view message, int code) {
  // Go's http.Error: the body is message and a newline, as text/plain, and the
  // headers that would contradict it are dropped.
  Header& h = w.header();
  h.del("Content-Length");
  h.set("Content-Type", "text/plain; charset=utf-8");
  h.set("X-Content-Type-Options", "nosniff");
  w.write_header(code);
  std::string body(message);
  body.push_back('\n');
  w.write(body);
}

}  // namespace go::http
