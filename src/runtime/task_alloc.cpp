// task_alloc.cpp — memory for task closures.
//
// A task is allocated by the thread that spawns it and freed by the worker that runs
// it, usually another thread, which defeats malloc's per-thread caches (glibc then
// spends about half of a task's cost in malloc and free). gocxx keeps its own caches
// for the three size classes closures come in (64, 128 and 256 bytes; larger ones go
// to operator new): each thread keeps a free list per class, and moves blocks to and
// from a central pool in batches of 64, so a producer thread refills with one lock
// per 64 spawns from the blocks that the workers freed.
//
// The central pool takes every batch a thread gives back (so a burst of a million
// queued tasks does not turn into a million malloc/free pairs); the runtime's monitor
// then trims it back to 1,024 batches per class (4 to 16 MiB), at most 256 batches
// per tick (trim_task_memory). Under AddressSanitizer every block goes straight to
// operator new/delete, so that ASan sees each task's lifetime.
#include <cstddef>
#include <mutex>
#include <new>
#include <vector>

#include "go/detail/waiter.hpp"
#include "go/runtime.hpp"
#include "runtime/platform.hpp"

namespace go::detail {

#ifndef GOCXX_ASAN
namespace {

constexpr std::size_t class_size[] = {64, 128, 256};
constexpr int num_classes = 3;
constexpr int batch = 64;
constexpr std::size_t keep_central_batches = 1024;  // what trim_task_memory leaves
constexpr std::size_t trim_batches_per_call = 256;

struct block {
  block* next;
};

int class_of(std::size_t size) noexcept {
  for (int c = 0; c < num_classes; ++c) {
    if (size <= class_size[c]) return c;
  }
  return -1;
}

struct central_pool {
  spin_mutex mu;
  std::vector<block*> batches[num_classes];  // each a chain of `batch` blocks

  static central_pool& get() {
    static central_pool* p = new central_pool;  // never destroyed (runtime exit rules)
    return *p;
  }
};

void free_chain(block* b) noexcept;

struct thread_cache {
  block* head[num_classes] = {};
  int count[num_classes] = {};

  ~thread_cache() {
    for (int c = 0; c < num_classes; ++c) {
      while (block* b = head[c]) {
        head[c] = b->next;
        ::operator delete(b);
      }
    }
  }

  void* alloc(int c) {
    if (!head[c]) refill(c);
    if (block* b = head[c]) {
      head[c] = b->next;
      --count[c];
      return b;
    }
    return ::operator new(class_size[c]);
  }

  void refill(int c) noexcept {
    central_pool& p = central_pool::get();
    std::lock_guard lock(p.mu);
    if (p.batches[c].empty()) return;
    head[c] = p.batches[c].back();
    p.batches[c].pop_back();
    count[c] = batch;
  }

  void free(void* ptr, int c) noexcept {
    auto* b = static_cast<block*>(ptr);
    b->next = head[c];
    head[c] = b;
    if (++count[c] >= 2 * batch) flush(c);
  }

  // Moves one batch to the central pool (or back to operator delete if it is full).
  void flush(int c) noexcept {
    block* first = head[c];
    block* last = first;
    for (int i = 1; i < batch; ++i) last = last->next;
    head[c] = last->next;
    last->next = nullptr;
    count[c] -= batch;
    central_pool& p = central_pool::get();
    {
      std::lock_guard lock(p.mu);
      try {
        p.batches[c].push_back(first);
        return;
      } catch (...) {
      }
    }
    free_chain(first);
  }
};

void free_chain(block* b) noexcept {
  while (b) {
    block* n = b->next;
    ::operator delete(b);
    b = n;
  }
}

thread_local thread_cache tls_cache __attribute__((tls_model("initial-exec")));

}  // namespace
#endif  // GOCXX_ASAN

void* alloc_task(std::size_t size) {
#ifndef GOCXX_ASAN
  int c = class_of(size);
  if (c >= 0) return tls_cache.alloc(c);
#endif
  return ::operator new(size);
}

void trim_task_memory() noexcept {
#ifndef GOCXX_ASAN
  central_pool& p = central_pool::get();
  for (int c = 0; c < num_classes; ++c) {
    block* chains[trim_batches_per_call];
    std::size_t n = 0;
    {
      std::lock_guard lock(p.mu);
      auto& v = p.batches[c];
      while (v.size() > keep_central_batches && n < trim_batches_per_call) {
        chains[n++] = v.back();
        v.pop_back();
      }
    }
    for (std::size_t i = 0; i < n; ++i) free_chain(chains[i]);
  }
#endif
}

void free_task(void* p, std::size_t size) noexcept {
#ifndef GOCXX_ASAN
  int c = class_of(size);
  if (c >= 0) return tls_cache.free(p, c);
#else
  (void)size;
#endif
  ::operator delete(p);
}

}  // namespace go::detail
