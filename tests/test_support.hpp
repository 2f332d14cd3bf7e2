// test_support.hpp — what the tests need to know about the build they run in.
//
// Sanitizer builds run the same tests with smaller loops: ThreadSanitizer and
// AddressSanitizer make every memory access several times slower, and TSan counts each
// fiber as a thread (at most 8128).
#pragma once

namespace gocxx_test {

#if defined(__SANITIZE_THREAD__)
inline constexpr bool tsan = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
inline constexpr bool tsan = true;
#else
inline constexpr bool tsan = false;
#endif
#else
inline constexpr bool tsan = false;
#endif

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool asan = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool asan = true;
#else
inline constexpr bool asan = false;
#endif
#else
inline constexpr bool asan = false;
#endif

inline constexpr bool sanitized = tsan || asan;

// How much smaller loops are under a sanitizer.
inline constexpr int scale = sanitized ? 10 : 1;

// n / scale, at least 1.
constexpr int scaled(int n) { return n / scale > 0 ? n / scale : 1; }

}  // namespace gocxx_test
