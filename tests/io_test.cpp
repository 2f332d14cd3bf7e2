// io_test.cpp — go/io.hpp's helpers against scripted readers and writers: read_full's
// EOF rules, read_all, write_all over partial writes, as Go's io tests check them.
#include "go/io.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace {

// Returns the chunks it was given, one per read (each cut to the buffer), then `end`.
struct chunk_reader {
  std::vector<std::string> chunks;
  go::error end = go::io::eof;
  std::size_t i = 0, off = 0;
  go::io::result read(std::span<char> buf) {
    if (i == chunks.size()) return {0, end};
    const std::string& c = chunks[i];
    const std::size_t n = std::min(buf.size(), c.size() - off);
    std::copy_n(c.data() + off, n, buf.data());
    off += n;
    if (off == c.size()) {
      ++i;
      off = 0;
    }
    return {n, nullptr};
  }
};

// Accepts at most `step` bytes per write; fails with `fail` once `limit` bytes are in.
struct slow_writer {
  std::size_t step = 3;
  std::size_t limit = SIZE_MAX;
  go::error fail;
  std::string got;
  go::io::result write(std::string_view p) {
    if (got.size() >= limit) return {0, fail};
    const std::size_t n = std::min({p.size(), step, limit - got.size()});
    got.append(p.substr(0, n));
    return {n, nullptr};
  }
};

TEST(Io, ReadFull) {
  chunk_reader r;
  r.chunks = {"ab", "cde", "f"};
  char buf[4];
  auto [n, err] = go::io::read_full(r, buf);
  EXPECT_EQ(n, 4u);
  EXPECT_FALSE(err);
  EXPECT_EQ(std::string(buf, 4), "abcd");
  // Two bytes left, four wanted: unexpected EOF with what was read.
  auto [n2, err2] = go::io::read_full(r, buf);
  EXPECT_EQ(n2, 2u);
  EXPECT_EQ(err2, go::io::err_unexpected_eof);
  // Nothing left: plain EOF.
  auto [n3, err3] = go::io::read_full(r, buf);
  EXPECT_EQ(n3, 0u);
  EXPECT_EQ(err3, go::io::eof);
}

TEST(Io, ReadFullPassesOtherErrors) {
  const go::error boom = go::errors::make("boom");
  chunk_reader r;
  r.chunks = {"ab"};
  r.end = boom;
  char buf[4];
  auto [n, err] = go::io::read_full(r, buf);
  EXPECT_EQ(n, 2u);
  EXPECT_EQ(err, boom);
}

TEST(Io, ReadAll) {
  chunk_reader r;
  r.chunks = {"hello, ", std::string(10000, 'x'), "!"};
  auto [data, err] = go::io::read_all(r);
  EXPECT_FALSE(err) << "EOF is not an error for read_all";
  EXPECT_EQ(data, "hello, " + std::string(10000, 'x') + "!");
  const go::error boom = go::errors::make("boom");
  chunk_reader bad;
  bad.chunks = {"ab"};
  bad.end = boom;
  auto [part, err2] = go::io::read_all(bad);
  EXPECT_EQ(part, "ab");
  EXPECT_EQ(err2, boom);
}

TEST(Io, WriteAllOverPartialWrites) {
  slow_writer w;
  auto [n, err] = go::io::write_all(w, "partial writes add up");
  EXPECT_FALSE(err);
  EXPECT_EQ(n, 21u);
  EXPECT_EQ(w.got, "partial writes add up");
  const go::error full = go::errors::make("disk full");
  slow_writer f;
  f.step = 4;
  f.limit = 6;
  f.fail = full;
  auto [n2, err2] = go::io::write_all(f, "0123456789");
  EXPECT_EQ(n2, 6u);
  EXPECT_EQ(err2, full);
  slow_writer zero;
  zero.step = 0;
  auto [n3, err3] = go::io::write_all(zero, "x");
  EXPECT_EQ(n3, 0u);
  EXPECT_EQ(err3, go::io::err_short_write);
}

}  // namespace
