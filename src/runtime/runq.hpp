// runq.hpp — the queues of tasks that have not started yet.
//
// run_queue is a worker's local queue, after Go's runq (proc.go): a fixed ring of 256
// task pointers that only its owner pushes to, and that its owner and thieves consume
// from with a CAS on head. A thief takes half of the ring in one CAS. Next to the ring
// sits the `next` slot (Go's runnext): the task most recently spawned by the running
// task, run next for locality (a spawned task that the spawner then waits for runs on
// the same worker, in cache); thieves take it only when they find nothing else.
// When the ring is full, the owner moves half of it to the global queue in one batch.
//
// global_queue holds tasks spawned from plain threads and ring overflow, as arrays of
// task pointers; workers take from it in batches.
//
// Ring slots are atomics (relaxed) because a thief may read a slot the owner is about
// to overwrite; the thief's CAS on head then fails and the stale value is discarded.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <new>

#include "go/detail/waiter.hpp"
#include "go/runtime.hpp"

namespace go::detail {

class global_queue {
 public:
  global_queue() = default;
  global_queue(const global_queue&) = delete;
  global_queue& operator=(const global_queue&) = delete;

  void push(task* t) noexcept { push_array(&t, 1); }

  // Appends n tasks. Tasks are kept as pointers in arrays (chunks), so that neither
  // pushing nor taking a batch touches the tasks themselves: a long queue is not a
  // pointer chase through cold closures.
  void push_array(task* const* ts, std::uint32_t n) noexcept {
    std::lock_guard lock(mu_);
    for (std::uint32_t i = 0; i < n; ++i) {
      if (!last_ || last_->tail == chunk::capacity) append_chunk();
      last_->items[last_->tail++] = ts[i];
    }
    size_.fetch_add(n, std::memory_order_release);
  }

  bool empty() const noexcept { return size_.load(std::memory_order_acquire) == 0; }

  // Moves up to max tasks (in FIFO order) into out; returns how many.
  std::uint32_t pop_array(task** out, std::uint32_t max) noexcept {
    std::lock_guard lock(mu_);
    std::uint32_t n = 0;
    while (n < max && first_) {
      chunk* c = first_;
      while (n < max && c->head < c->tail) out[n++] = c->items[c->head++];
      if (c->head == c->tail && (c->tail == chunk::capacity || c != last_)) {
        first_ = c->next;
        if (!first_) last_ = nullptr;
        release_chunk(c);
      } else {
        break;
      }
    }
    size_.fetch_sub(n, std::memory_order_relaxed);
    return n;
  }

 private:
  struct chunk {
    static constexpr std::uint32_t capacity = 254;
    chunk* next = nullptr;
    std::uint32_t head = 0;
    std::uint32_t tail = 0;
    task* items[capacity];
  };

  void append_chunk() noexcept {
    chunk* c = spare_;
    if (c) {
      spare_ = nullptr;
      *c = chunk{};
    } else {
      c = new (std::nothrow) chunk;
      if (!c) std::abort();  // out of memory for the run queue itself
    }
    if (last_) last_->next = c; else first_ = c;
    last_ = c;
  }

  void release_chunk(chunk* c) noexcept {
    if (!spare_) spare_ = c; else delete c;
  }

  spin_mutex mu_;
  chunk* first_ = nullptr;
  chunk* last_ = nullptr;
  chunk* spare_ = nullptr;  // one empty chunk kept to avoid churn at a chunk boundary
  std::atomic<long> size_{0};
};

class run_queue {
 public:
  static constexpr std::uint32_t capacity = 256;

  // Owner only. Puts t in the next slot; the task it displaces goes to the ring.
  void push_next(task* t, global_queue& overflow) noexcept {
    task* old = next_.exchange(t, std::memory_order_acq_rel);
    if (old) push(old, overflow);
  }

  // Owner only. Appends t to the ring, spilling half the ring to `overflow` if full.
  void push(task* t, global_queue& overflow) noexcept {
    for (;;) {
      std::uint32_t h = head_.load(std::memory_order_acquire);
      std::uint32_t tl = tail_.load(std::memory_order_relaxed);
      if (tl - h < capacity) {
        ring_[tl % capacity].store(t, std::memory_order_relaxed);
        tail_.store(tl + 1, std::memory_order_release);
        return;
      }
      if (spill(t, h, tl, overflow)) return;
    }
  }

  // Owner only. The next task to run, or nullptr.
  task* pop() noexcept {
    task* n = next_.load(std::memory_order_relaxed);
    if (n && next_.compare_exchange_strong(n, nullptr, std::memory_order_acq_rel)) return n;
    for (;;) {
      std::uint32_t h = head_.load(std::memory_order_acquire);
      std::uint32_t tl = tail_.load(std::memory_order_relaxed);
      if (h == tl) return nullptr;
      task* t = ring_[h % capacity].load(std::memory_order_relaxed);
      if (head_.compare_exchange_strong(h, h + 1, std::memory_order_release, std::memory_order_relaxed)) {
        return t;
      }
    }
  }

  // Any thread. Moves half of victim's tasks into this (the caller's own, owner-only)
  // queue and returns one of them to run; nullptr if the victim had none.
  task* steal_from(run_queue& victim, bool take_next) noexcept {
    std::uint32_t tl = tail_.load(std::memory_order_relaxed);
    std::uint32_t n = victim.grab(ring_, tl, take_next);
    if (n == 0) return nullptr;
    --n;
    task* t = ring_[(tl + n) % capacity].load(std::memory_order_relaxed);
    if (n > 0) tail_.store(tl + n, std::memory_order_release);
    return t;
  }

  bool empty() const noexcept {
    return head_.load(std::memory_order_acquire) == tail_.load(std::memory_order_acquire) &&
           next_.load(std::memory_order_acquire) == nullptr;
  }

 private:
  // Copies up to half of this queue into `into` starting at index `at`; returns count.
  std::uint32_t grab(std::atomic<task*>* into, std::uint32_t at, bool take_next) noexcept {
    for (;;) {
      std::uint32_t h = head_.load(std::memory_order_acquire);
      std::uint32_t tl = tail_.load(std::memory_order_acquire);
      std::uint32_t n = tl - h;
      n = n - n / 2;
      if (n == 0) {
        if (!take_next) return 0;
        task* nx = next_.load(std::memory_order_acquire);
        if (!nx) return 0;
        if (!next_.compare_exchange_strong(nx, nullptr, std::memory_order_acq_rel)) continue;
        into[at % capacity].store(nx, std::memory_order_relaxed);
        return 1;
      }
      if (n > capacity / 2) continue;  // inconsistent h and tl; retry
      for (std::uint32_t i = 0; i < n; ++i) {
        into[(at + i) % capacity].store(ring_[(h + i) % capacity].load(std::memory_order_relaxed),
                                        std::memory_order_relaxed);
      }
      if (head_.compare_exchange_strong(h, h + n, std::memory_order_acq_rel, std::memory_order_relaxed)) {
        return n;
      }
    }
  }

  // Moves half the full ring plus t to the global queue. False if consumers raced us.
  bool spill(task* t, std::uint32_t h, std::uint32_t tl, global_queue& overflow) noexcept {
    std::uint32_t n = (tl - h) / 2;
    task* batch[capacity / 2 + 1];
    for (std::uint32_t i = 0; i < n; ++i) batch[i] = ring_[(h + i) % capacity].load(std::memory_order_relaxed);
    if (!head_.compare_exchange_strong(h, h + n, std::memory_order_acq_rel, std::memory_order_relaxed)) {
      return false;
    }
    batch[n] = t;
    overflow.push_array(batch, n + 1);
    return true;
  }

  alignas(64) std::atomic<std::uint32_t> head_{0};
  alignas(64) std::atomic<std::uint32_t> tail_{0};
  std::atomic<task*> next_{nullptr};
  std::atomic<task*> ring_[capacity]{};
};

}  // namespace go::detail
