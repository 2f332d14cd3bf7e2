// rwmutex.cpp — go::sync::RWMutex (see go/sync.hpp for the algorithm).
//
// Invariants: reader_count_ = (active or queued readers) - (max_readers if a writer is
// pending or active). When a writer announces itself with r active readers, it adds r
// to reader_wait_; each of those r readers decrements reader_wait_ on unlock_shared,
// and the one that reaches zero releases writer_sem_ (the semaphore counts, so a
// release that precedes the writer's acquire is not lost). Readers that arrive after
// the announcement park on reader_sem_; the writer's unlock releases exactly that many.
#include <stdexcept>

#include "go/sync.hpp"

namespace go::sync {

void RWMutex::lock() noexcept {
  w_.lock();  // excludes other writers
  const std::int32_t r = reader_count_.fetch_sub(max_readers, std::memory_order_acq_rel);
  // Wait for the r readers active at the announcement.
  if (r != 0 && reader_wait_.fetch_add(r, std::memory_order_acq_rel) + r != 0) writer_sem_.acquire();
}

bool RWMutex::try_lock() noexcept {
  if (!w_.try_lock()) return false;
  std::int32_t expected = 0;
  if (!reader_count_.compare_exchange_strong(expected, -max_readers, std::memory_order_acquire,
                                             std::memory_order_relaxed)) {
    w_.unlock();
    return false;
  }
  return true;
}

void RWMutex::unlock() {
  const std::int32_t r = reader_count_.fetch_add(max_readers, std::memory_order_release) + max_readers;
  if (r >= max_readers) {
    reader_count_.fetch_sub(max_readers, std::memory_order_relaxed);  // undo
    throw std::logic_error("sync: Unlock of unlocked RWMutex");
  }
  for (std::int32_t i = 0; i < r; ++i) reader_sem_.release();  // the readers that queued
  w_.unlock();
}

bool RWMutex::try_lock_shared() noexcept {
  std::int32_t c = reader_count_.load(std::memory_order_relaxed);
  for (;;) {
    if (c < 0) return false;
    if (reader_count_.compare_exchange_weak(c, c + 1, std::memory_order_acquire, std::memory_order_relaxed)) {
      return true;
    }
  }
}

void RWMutex::unlock_shared_slow(std::int32_t r) {
  if (r + 1 == 0 || r + 1 == -max_readers) {
    reader_count_.fetch_add(1, std::memory_order_relaxed);  // undo
    throw std::logic_error("sync: RUnlock of unlocked RWMutex");
  }
  // A writer is pending: the last departing reader it waits for wakes it.
  if (reader_wait_.fetch_sub(1, std::memory_order_acq_rel) - 1 == 0) writer_sem_.release();
}

}  // namespace go::sync
