// stack.hpp — task stacks: pooled, lazily committed, guarded while the guard budget lasts.
//
// A stack is a region of address space reserved with MAP_NORESERVE: pages are committed
// only when touched, so a parked task that used 3 KiB of stack costs one 4 KiB page,
// however large its reservation (256 KiB by default).
//
// Stacks are carved from slabs of 64 to keep the number of mappings low: Linux limits a
// process to vm.max_map_count mappings (65530 by default), and a guard page splits a
// mapping in two, so 1,000,000 guarded stacks would need 2,000,000 mappings. gocxx
// therefore guards stacks only while a budget lasts — a quarter of max_map_count's
// mappings, 8,191 stacks by default — and prefers guarded stacks when reusing.
// Beyond the budget, the one check left is the scheduler's: each time a task parks
// or yields, its stack pointer is compared with its stack's end, and a task found
// past it aborts the program with a message. An overflow that happens and unwinds
// between two parks goes undetected and may corrupt the neighbouring stack. (A
// canary word at the stack's end would catch that, but would touch a second page
// per stack and double the memory of a parked task.) See docs/design.md.
#pragma once

#include <cstddef>
#include <cstdint>

namespace go::detail {

struct stack {
  char* base = nullptr;     // lowest address of the region (the guard page, if any)
  std::size_t size = 0;     // bytes reserved, guard page included
  bool guarded = false;

  char* lo() const noexcept;  // lowest usable address
  char* hi() const noexcept { return base + size; }
  bool in_guard(const void* addr) const noexcept;
};

// Global stack pool. Thread-safe.
namespace stacks {
// Sets the reservation per stack; before the first acquire only.
void set_size(std::size_t bytes);
std::size_t size() noexcept;
std::size_t page_size() noexcept;
// Up to n (>= 1) stacks from the pool into out, under one lock; returns how many (at
// least 1: it creates a slab when the pool is empty). Guarded ones first, placed last
// in out (a caller taking from the end gets them first). Throws std::bad_alloc when
// address space runs out.
std::size_t acquire(stack* out, std::size_t n);
// Returns n stacks to the pool under one lock. Never makes a system call.
void release(const stack* s, std::size_t n) noexcept;
// Guarded stacks free in the pool (a relaxed snapshot; no lock).
long free_guarded() noexcept;
// Gives the memory of pooled stacks beyond the most recently used 256 back to the OS
// (madvise), at most 4096 stacks per call. Called periodically by the runtime's
// monitor, off the tasks' path.
void trim() noexcept;
long allocated() noexcept;
long guarded() noexcept;
}  // namespace stacks

}  // namespace go::detail
