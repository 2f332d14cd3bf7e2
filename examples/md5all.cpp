// md5all.cpp — Go's MD5All pipeline ("Go Concurrency Patterns: Pipelines and
// cancellation", and the errgroup package example), with gocxx channels and select.
//
//   one task walks the directory tree and sends the paths of regular files on `paths`;
//   20 digester tasks receive paths, compute each file's MD5 (OpenSSL's libcrypto)
//   and send the results on `results`;
//   every send selects on the group's ctx.done(), so the first failure (an
//   unreadable file, a walk error) stops the whole pipeline;
//   a helper task waits for the group and closes `results`, ending main's range-for.
//
// Usage: md5all [DIR]   (default: the repository's src/ directory)
// Prints "md5  path" lines sorted by path (the format of md5sum), then a summary.
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <system_error>

#include "go/chan.hpp"
#include "go/errgroup.hpp"
#include "go/errors.hpp"
#include "go/runtime.hpp"

namespace fs = std::filesystem;

namespace {

struct result {
  std::string path;
  std::string sum;  // hex
};

// The MD5 of a file, in hex, read in 64 KiB chunks. A go::error on failure.
go::error md5_file(const std::string& path, std::string& hex) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return go::errors::make("open " + path + ": cannot read");
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr || EVP_DigestInit_ex(ctx, EVP_md5(), nullptr) != 1) {
    EVP_MD_CTX_free(ctx);
    return go::errors::make("md5: EVP_DigestInit_ex failed");
  }
  std::array<char, 1 << 16> buf;
  while (in) {
    in.read(buf.data(), buf.size());
    if (in.gcount() > 0) EVP_DigestUpdate(ctx, buf.data(), static_cast<std::size_t>(in.gcount()));
  }
  const bool read_error = in.bad();
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, md, &len);
  EVP_MD_CTX_free(ctx);
  if (read_error) return go::errors::make("read " + path + ": I/O error");
  static const char digits[] = "0123456789abcdef";
  hex.clear();
  for (unsigned int i = 0; i < len; ++i) {
    hex += digits[md[i] >> 4];
    hex += digits[md[i] & 15];
  }
  return nullptr;
}

// Go's MD5All: the MD5 of every regular file under root, or the first error.
go::error md5_all(const go::context::Context& parent, const std::string& root, std::map<std::string, std::string>& out) {
  auto [g, gctx] = go::errgroup::with_context(parent);
  auto& group = g;  // named references: clang 14 cannot capture structured bindings
  const go::context::Context ctx = gctx;

  go::chan<std::string> paths;  // unbuffered, as in Go
  group.go([paths, root, ctx]() -> go::error {
    struct closer {
      go::chan<std::string> c;
      ~closer() { c.close(); }
    } close_paths{paths};
    std::error_code ec;
    fs::recursive_directory_iterator it(root, fs::directory_options::none, ec), end;
    if (ec) return go::errors::make("walk " + root + ": " + ec.message());
    for (; it != end; it.increment(ec)) {
      if (ec) return go::errors::make("walk " + root + ": " + ec.message());
      if (!it->is_regular_file(ec)) continue;
      bool cancelled = false;
      go::select(go::send(paths, it->path().string()), go::recv(ctx.done(), [&] { cancelled = true; }));
      if (cancelled) return ctx.err();
    }
    return nullptr;
  });

  go::chan<result> results;  // unbuffered
  constexpr int num_digesters = 20;
  for (int i = 0; i < num_digesters; ++i) {
    group.go([paths, results, ctx]() -> go::error {
      for (std::string path : go::recv_chan<std::string>(paths)) {
        std::string sum;
        // File reads block the OS thread: run them off the workers.
        if (go::error err = go::blocking([&] { return md5_file(path, sum); })) return err;
        bool cancelled = false;
        go::select(go::send(results, result{std::move(path), std::move(sum)}),
                   go::recv(ctx.done(), [&] { cancelled = true; }));
        if (cancelled) return ctx.err();
      }
      return nullptr;
    });
  }
  go::spawn([&group, results] {
    (void)group.wait();
    results.close();
  });

  for (result& r : results) out[r.path] = std::move(r.sum);
  return group.wait();
}

}  // namespace

int main(int argc, char** argv) {
  std::string root = argc > 1 ? argv[1] : (fs::path(__FILE__).parent_path().parent_path() / "src").string();
  std::map<std::string, std::string> sums;
  if (go::error err = md5_all(go::context::background(), root, sums)) {
    std::cerr << "md5all: " << err << std::endl;
    return 1;
  }
  for (const auto& [path, sum] : sums) std::cout << sum << "  " << path << "\n";
  std::cout << "files: " << sums.size() << std::endl;
  return 0;
}
