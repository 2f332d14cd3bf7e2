// stack.cpp — see stack.hpp for the policy (slabs, guard budget, overflow checks).
#include "runtime/stack.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <mutex>
#include <new>
#include <vector>

#include "go/detail/waiter.hpp"
#include "runtime/platform.hpp"

namespace go::detail {

namespace {

constexpr int stacks_per_slab = 64;
constexpr std::size_t keep_committed = 256;  // free stacks kept with their pages
constexpr std::size_t trim_batch = 4096;     // stacks given back per trim() call

struct pool {
  spin_mutex mu;
  std::size_t stack_size = 256 * 1024;
  std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  bool sized = false;          // first acquire happened; size is fixed
  long guard_budget = -1;      // guarded stacks we may still create
  // Free stacks whose pages may still be committed ("hot", reused first, most recent
  // last) and stacks whose pages were given back ("cold").
  std::vector<stack> hot_guarded, hot_plain, cold_guarded, cold_plain;
  std::atomic<long> allocated{0};
  std::atomic<long> guarded{0};
  std::atomic<long> free_guarded{0};  // hot_guarded + cold_guarded; written under mu
  void note_free() noexcept {
    free_guarded.store(static_cast<long>(hot_guarded.size() + cold_guarded.size()), std::memory_order_relaxed);
  }
};

pool& the_pool() {
  static pool* p = new pool;  // never destroyed: stacks outlive static destructors
  return *p;
}

long read_guard_budget() {
  long max_maps = 65530;
  std::ifstream f("/proc/sys/vm/max_map_count");
  if (f) f >> max_maps;
  // A quarter of the mappings for guards; each guarded stack costs two mappings.
  return max_maps / 4 / 2;
}

// Creates a slab and puts its stacks in the cold lists. Called with the lock held.
void grow(pool& p) {
  if (p.guard_budget < 0) p.guard_budget = read_guard_budget();
  const bool guard = p.guard_budget >= stacks_per_slab;
  const std::size_t slab_bytes = p.stack_size * stacks_per_slab;
  void* mem = ::mmap(nullptr, slab_bytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) throw std::bad_alloc();
  char* slab = static_cast<char*>(mem);
#ifdef GOCXX_ASAN
  // Parked tasks keep pointers to heap objects on their stacks: scan them for leaks.
  __lsan_register_root_region(slab, slab_bytes);
#endif
  for (int i = stacks_per_slab - 1; i >= 0; --i) {
    stack s{slab + static_cast<std::size_t>(i) * p.stack_size, p.stack_size, guard};
    if (guard && ::mprotect(s.base, p.page, PROT_NONE) != 0) s.guarded = false;
    (s.guarded ? p.cold_guarded : p.cold_plain).push_back(s);
    if (s.guarded) p.guarded.fetch_add(1, std::memory_order_relaxed);
  }
  if (guard) p.guard_budget -= stacks_per_slab;
  p.allocated.fetch_add(stacks_per_slab, std::memory_order_relaxed);
}

stack acquire_after_grow(pool& p) {
  auto& list = p.cold_guarded.empty() ? p.cold_plain : p.cold_guarded;
  stack s = list.back();
  list.pop_back();
  return s;
}

}  // namespace

char* stack::lo() const noexcept { return base + (guarded ? the_pool().page : 0); }

bool stack::in_guard(const void* addr) const noexcept {
  auto a = reinterpret_cast<std::uintptr_t>(addr);
  auto b = reinterpret_cast<std::uintptr_t>(base);
  return guarded && a >= b && a < b + the_pool().page;
}

namespace stacks {

void set_size(std::size_t bytes) {
  pool& p = the_pool();
  std::lock_guard lock(p.mu);
  std::size_t min = 64 * 1024;
  if (bytes < min) bytes = min;
  p.stack_size = (bytes + p.page - 1) / p.page * p.page;
}

std::size_t size() noexcept { return the_pool().stack_size; }
std::size_t page_size() noexcept { return the_pool().page; }

std::size_t acquire(stack* out, std::size_t n) {
  pool& p = the_pool();
  std::lock_guard lock(p.mu);
  p.sized = true;
  std::size_t got = 0;
  for (std::vector<stack>* list : {&p.hot_guarded, &p.cold_guarded, &p.hot_plain, &p.cold_plain}) {
    while (got < n && !list->empty()) {
      out[got++] = list->back();
      list->pop_back();
    }
  }
  if (got == 0) {
    grow(p);
    out[got++] = acquire_after_grow(p);
  }
  std::reverse(out, out + got);
  p.note_free();
  return got;
}

void release(const stack* s, std::size_t n) noexcept {
  pool& p = the_pool();
  std::lock_guard lock(p.mu);
  for (std::size_t i = 0; i < n; ++i) {
    try {
      (s[i].guarded ? p.hot_guarded : p.hot_plain).push_back(s[i]);
    } catch (...) {
      // Out of memory for the free list: this stack's address space is lost.
    }
  }
  p.note_free();
}

long free_guarded() noexcept { return the_pool().free_guarded.load(std::memory_order_relaxed); }

void trim() noexcept {
  pool& p = the_pool();
  for (bool guarded : {true, false}) {
    std::vector<stack> batch;
    {
      std::lock_guard lock(p.mu);
      auto& hot = guarded ? p.hot_guarded : p.hot_plain;
      if (hot.size() <= keep_committed) continue;
      // The least recently released stacks are at the front. A bounded batch per
      // call keeps the monitor's timer duties prompt.
      std::size_t excess = std::min(hot.size() - keep_committed, trim_batch);
      auto cut = hot.begin() + static_cast<std::ptrdiff_t>(excess);
      try {
        batch.assign(hot.begin(), cut);
      } catch (...) {
        continue;
      }
      hot.erase(hot.begin(), cut);
    }
    for (const stack& s : batch) ::madvise(s.lo(), static_cast<std::size_t>(s.hi() - s.lo()), MADV_DONTNEED);
    std::lock_guard lock(p.mu);
    auto& cold = guarded ? p.cold_guarded : p.cold_plain;
    try {
      cold.insert(cold.end(), batch.begin(), batch.end());
    } catch (...) {
    }
    p.note_free();
  }
}

long allocated() noexcept { return the_pool().allocated.load(std::memory_order_relaxed); }
long guarded() noexcept { return the_pool().guarded.load(std::memory_order_relaxed); }

}  // namespace stacks
}  // namespace go::detail
