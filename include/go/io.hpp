// go/io.hpp — the parts of Go's `io` package that gocxx's I/O needs.
//
// Go's readers return (n, err); gocxx returns an io::result, which destructures the
// same way:
//
//   auto [n, err] = conn.read(buf);
//   consume(buf.first(n));            // process n > 0 bytes before looking at err
//   if (err == go::io::eof) break;    // the peer finished sending
//   if (err) return err;
//
// As in Go, a read may return n > 0 together with an error (process the bytes first),
// and a reader signals the end of its stream with n == 0 and io::eof — never with
// eof and n > 0 from gocxx's own readers. A write returns an error whenever n is less
// than the requested size.
//
// Thread safety: the sentinels are immutable; the functions are as thread-safe as the
// reader and writer they are given.
#pragma once

#include <concepts>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "go/errors.hpp"

namespace go::io {

// Go's io.EOF: the error a reader returns when no more input is available (a TCP
// peer's orderly shutdown, the end of an HTTP body). Message "EOF". Compare with ==.
inline const go::error eof = go::errors::make("EOF");

// Go's io.ErrUnexpectedEOF: EOF in the middle of a fixed-size block or structure
// (read_full). Message "unexpected EOF".
inline const go::error err_unexpected_eof = go::errors::make("unexpected EOF");

// Go's io.ErrShortWrite: a write accepted fewer bytes than requested without
// reporting why. Message "short write".
inline const go::error err_short_write = go::errors::make("short write");

// The outcome of one read or write: the number of bytes transferred and the error
// that stopped it (nil if none). Destructure it: `auto [n, err] = r.read(buf);`.
struct result {
  std::size_t n = 0;
  go::error err;
};

// A type with Go's Read(p []byte) (n int, err error) shape: r.read(span) -> result.
template <class R>
concept reader = requires(R& r, std::span<char> p) {
  { r.read(p) } -> std::same_as<result>;
};

// A type with Go's Write(p []byte) (n int, err error) shape.
template <class W>
concept writer = requires(W& w, std::string_view p) {
  { w.write(p) } -> std::same_as<result>;
};

// Go's io.ReadFull: reads exactly buf.size() bytes. Returns n == buf.size() and nil
// on success; io::eof if nothing was read before the end; err_unexpected_eof if the
// stream ended part-way; any other error as the reader returned it. Blocks as the
// reader's read does.
template <reader R>
result read_full(R& r, std::span<char> buf) {
  std::size_t got = 0;
  while (got < buf.size()) {
    auto [n, err] = r.read(buf.subspan(got));
    got += n;
    if (err) {
      if (err == eof) return {got, got == 0 ? eof : err_unexpected_eof};
      if (got == buf.size()) return {got, nullptr};
      return {got, err};
    }
  }
  return {got, nullptr};
}

// Go's io.ReadAll: reads until EOF or an error and returns what was read (`auto
// [data, err] = io::read_all(r);`). EOF is not an error here (err is nil after a
// clean end). Blocks as the reader's read does.
// Throws std::bad_alloc if memory runs out.
template <reader R>
go::result<std::string> read_all(R& r) {
  std::string out;
  std::size_t len = 0;
  out.resize(4096);
  for (;;) {
    if (len == out.size()) out.resize(out.size() * 2);
    auto [n, err] = r.read(std::span<char>(out.data() + len, out.size() - len));
    len += n;
    if (err) {
      out.resize(len);
      return {std::move(out), err == eof ? go::error() : err};
    }
  }
}

// Writes all of data (Go's io.WriteString for a writer whose write may be partial):
// calls w.write until everything is written or an error occurs. Blocks as the
// writer's write does.
template <writer W>
result write_all(W& w, std::string_view data) {
  std::size_t done = 0;
  while (done < data.size()) {
    auto [n, err] = w.write(data.substr(done));
    done += n;
    if (err) return {done, err};
    if (n == 0) return {done, err_short_write};
  }
  return {done, nullptr};
}

}  // namespace go::io
