// platform.hpp — the few OS and toolchain facilities the runtime stands on: futexes,
// a CPU pause, and the AddressSanitizer / ThreadSanitizer fiber annotations.
#pragma once

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <ctime>

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define GOCXX_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GOCXX_ASAN 1
#endif
#endif

#if defined(__SANITIZE_THREAD__)
#define GOCXX_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GOCXX_TSAN 1
#endif
#endif

#ifdef GOCXX_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/lsan_interface.h>
#endif
#ifdef GOCXX_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace go::detail {

// Sleeps while *addr == expected, until woken or (if abs_deadline) the steady-clock
// deadline passes. Spurious returns are possible; callers loop. errno is preserved
// (the call often "fails" with EAGAIN or ETIMEDOUT, which is nobody's business).
inline void futex_wait(std::atomic<std::uint32_t>* addr, std::uint32_t expected,
                       const std::chrono::steady_clock::time_point* abs_deadline = nullptr) noexcept {
  static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));
  const int saved_errno = errno;
  if (!abs_deadline) {
    ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(addr), FUTEX_WAIT_PRIVATE, expected,
              nullptr, nullptr, 0);
    errno = saved_errno;
    return;
  }
  // steady_clock is CLOCK_MONOTONIC on Linux; FUTEX_WAIT_BITSET takes an absolute time.
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(abs_deadline->time_since_epoch()).count();
  if (ns < 0) ns = 0;
  timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(addr), FUTEX_WAIT_BITSET_PRIVATE, expected,
            &ts, nullptr, FUTEX_BITSET_MATCH_ANY);
  errno = saved_errno;
}

// Wakes up to n threads sleeping in futex_wait on addr. Safe to call on an address
// whose object was destroyed meanwhile: the kernel does not dereference it. errno is
// preserved.
inline void futex_wake(std::atomic<std::uint32_t>* addr, int n = 1) noexcept {
  const int saved_errno = errno;
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(addr), FUTEX_WAKE_PRIVATE, n, nullptr,
            nullptr, 0);
  errno = saved_errno;
}

// A full (sequentially consistent) fence. ThreadSanitizer does not model fences, so
// under TSan it is an RMW on one shared atomic, which orders the same way (every pair
// of full_fence calls is then ordered by that atomic's modification order).
inline void full_fence() noexcept {
#ifdef GOCXX_TSAN
  static std::atomic<int> word{0};
  word.fetch_add(0, std::memory_order_seq_cst);
#else
  std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
}

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

}  // namespace go::detail
