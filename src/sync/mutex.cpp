// mutex.cpp — go::sync::Mutex's slow paths and the internal semaphore (detail::sema)
// the sync primitives sleep on. See go/sync.hpp for the state word and the modes.
//
// Invariants of Mutex::state_ (bits: locked 1, woken 2, starving 4, waiters << 3):
//  - waiters counts lockers that have committed to sleeping on sema_ (or are about
//    to): incremented by the CAS that decides to sleep, decremented by the unlocker
//    that releases sema_ for one of them (normal mode) or by the waiter that receives
//    the mutex by hand-off (starvation mode).
//  - woken is set by at most one party at a time: a spinner announcing it will take
//    the lock, or an unlocker that released sema_; it is cleared by that waiter's next
//    successful CAS. While it is set, unlock wakes no one.
//  - In starvation mode the locked bit is clear between an unlock and the hand-off's
//    receiver's state update; no one else takes the mutex then (lockers see starving
//    and queue).
#include <chrono>
#include <stdexcept>
#include <thread>

#include "go/sync.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace go::detail {

void sema::acquire(bool lifo) noexcept {
  mu_.lock();
  if (const std::uint32_t c = count_.load(std::memory_order_relaxed); c > 0) {
    count_.store(c - 1, std::memory_order_relaxed);
    mu_.unlock();
    return;
  }
  waiter w;
  wait_node node;
  node.w = &w;
  if (lifo) queue_.push_front(&node); else queue_.push_back(&node);
  mu_.unlock();
  w.park();
}

void sema::release() noexcept {
  wake_list wakes;  // woken after unlocking: the woken party may destroy the owner
  std::lock_guard lock(mu_);
  if (wait_node* n = queue_.claim_front()) {
    wakes.push(n);
  } else {
    count_.store(count_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
}

}  // namespace go::detail

namespace go::sync {

namespace {

// Whether spinning can pay off: only with another hardware thread to run the holder.
bool multicore() noexcept {
  static const bool mc = std::thread::hardware_concurrency() > 1;
  return mc;
}

// Pauses up to 30 times (Go's procyield(30)), but stops as soon as the mutex looks
// unlocked: the critical sections worth spinning for are short, and a pause costs
// up to ~140 cycles on recent x86 cores.
void spin_pause(const std::atomic<std::uint32_t>& state, std::uint32_t locked) noexcept {
  for (int i = 0; i < 30; ++i) {
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#elif defined(__aarch64__)
    asm volatile("yield" ::: "memory");
#endif
    if ((state.load(std::memory_order_relaxed) & locked) == 0) return;
  }
}

constexpr auto starvation_threshold = std::chrono::milliseconds(1);
constexpr int max_spins = 4;

}  // namespace

void Mutex::lock_slow() noexcept {
  using clk = std::chrono::steady_clock;
  clk::time_point wait_start{};
  bool waited = false;    // queued at least once: requeue at the front
  bool starving = false;  // this locker has waited more than the threshold
  bool awoke = false;     // this locker holds the woken bit
  int iter = 0;
  std::uint32_t old = state_.load(std::memory_order_relaxed);
  for (;;) {
    // Spin while the mutex is locked in normal mode; set woken so that the unlock does
    // not wake a sleeper that would only compete with us.
    if ((old & (locked_bit | starving_bit)) == locked_bit && iter < max_spins && multicore()) {
      if (!awoke && (old & woken_bit) == 0 && (old >> waiter_shift) != 0 &&
          state_.compare_exchange_weak(old, old | woken_bit, std::memory_order_relaxed,
                                       std::memory_order_relaxed)) {
        awoke = true;
      }
      spin_pause(state_, locked_bit);
      ++iter;
      old = state_.load(std::memory_order_relaxed);
      continue;
    }
    std::uint32_t next = old;
    if ((old & starving_bit) == 0) next |= locked_bit;  // never take a starving mutex
    if (old & (locked_bit | starving_bit)) next += 1u << waiter_shift;
    // Switch to starvation mode, but only if the mutex is still locked: an unlocked
    // starving mutex would have no unlock to hand it off.
    if (starving && (old & locked_bit)) next |= starving_bit;
    if (awoke) next &= ~woken_bit;  // we hold woken: clear it, whatever we do next
    if (state_.compare_exchange_weak(old, next, std::memory_order_acquire, std::memory_order_relaxed)) {
      if ((old & (locked_bit | starving_bit)) == 0) return;  // took it
      if (!waited) wait_start = clk::now();
      sema_.acquire(/*lifo=*/waited);
      waited = true;
      starving = starving || clk::now() - wait_start > starvation_threshold;
      old = state_.load(std::memory_order_relaxed);
      if (old & starving_bit) {
        // Handed off to us: the mutex is ours, with locked clear and our waiter count
        // still in the word. Take it; leave starvation mode if we are the last waiter
        // or did not wait long.
        std::uint32_t delta = locked_bit - (1u << waiter_shift);
        if (!starving || (old >> waiter_shift) == 1) delta -= starving_bit;
        state_.fetch_add(delta, std::memory_order_acquire);
        return;
      }
      awoke = true;  // the unlocker set woken for us
      iter = 0;
    }
  }
}

void Mutex::unlock_slow() {
  std::uint32_t old = state_.load(std::memory_order_relaxed);
  for (;;) {
    if ((old & locked_bit) == 0) throw std::logic_error("sync: unlock of unlocked mutex");
    if (state_.compare_exchange_weak(old, old & ~locked_bit, std::memory_order_release,
                                     std::memory_order_relaxed)) {
      break;
    }
  }
  std::uint32_t cur = old & ~locked_bit;
  if (cur & starving_bit) {
    // Hand the mutex to the head waiter (it updates the state itself).
    sema_.release();
    return;
  }
  for (;;) {
    // Nobody to wake, or someone already woken/spinning, or the mutex was taken (its
    // holder will wake a waiter), or it turned starving: nothing to do.
    if ((cur >> waiter_shift) == 0 || (cur & (locked_bit | woken_bit | starving_bit)) != 0) return;
    const std::uint32_t next = (cur - (1u << waiter_shift)) | woken_bit;
    if (state_.compare_exchange_weak(cur, next, std::memory_order_relaxed, std::memory_order_relaxed)) {
      sema_.release();
      return;
    }
  }
}

}  // namespace go::sync
