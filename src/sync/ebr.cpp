// ebr.cpp — epoch-based reclamation for go::sync::Map (see go/sync.hpp, "Memory
// reclamation for Map", for the scheme and its guarantees).
//
// Correctness sketch. An object is retired after it was unlinked, stamped with the
// global epoch e read (seq_cst) after the unlink; it is freed once the global epoch is
// e + 2 or more. The epoch moves from g to g + 1 only after a scan in which every
// record in a guard announced g. A guard announces with a seq_cst exchange and then
// re-reads the epoch, retrying until both agree, so a guard announcing g was entered
// while the epoch was g. Take a guard that saw the object: it entered before the unlink
// became visible to it, hence while the epoch was at most e. For the epoch to reach
// e + 2, the advance from e + 1 needed every active record at e + 1; the guard's record
// (announcing at most e) must have been seen inactive or re-announced, i.e. the guard
// had ended. The announcing exchange is a read-modify-write, so a scanner that reads
// it also synchronizes with the release store that ended the record's previous guard:
// everything that guard read happens-before the free.
#include <cstdlib>
#include <new>
#include <vector>

#include "go/sync.hpp"

namespace go::detail {

std::atomic<std::uint64_t> ebr_global_epoch{0};
constinit thread_local ebr_record* ebr_tls = nullptr;

namespace {

std::atomic<ebr_record*> records{nullptr};  // never shrinks; records are recycled

// Retired objects of exited threads, freed by later scans. Leaked on purpose at exit
// (a static pointer keeps them reachable; no destruction-order hazard).
spin_mutex orphans_mu;
std::vector<ebr_retired>* orphans = nullptr;

void try_advance() noexcept {
  const std::uint64_t g = ebr_global_epoch.load(std::memory_order_seq_cst);
  for (ebr_record* r = records.load(std::memory_order_acquire); r != nullptr; r = r->next) {
    const std::uint64_t a = r->announced.load(std::memory_order_seq_cst);
    if ((a & 1) != 0 && (a >> 1) != g) return;
  }
  std::uint64_t expected = g;
  ebr_global_epoch.compare_exchange_strong(expected, g + 1, std::memory_order_seq_cst);
}

// Moves the items of v that are safe to free into out, compacting v.
void take_expired(ebr_retired* v, std::size_t& size, std::vector<ebr_retired>& out) {
  const std::uint64_t g = ebr_global_epoch.load(std::memory_order_seq_cst);
  std::size_t keep = 0;
  for (std::size_t i = 0; i < size; ++i) {
    if (v[i].epoch + 2 <= g) out.push_back(v[i]);
    else v[keep++] = v[i];
  }
  size = keep;
}

void free_all(std::vector<ebr_retired>& items) noexcept {
  for (const ebr_retired& it : items) it.del(it.p);
  items.clear();
}

// Frees what it can of the orphan list (if nobody else is at it).
void collect_orphans(std::vector<ebr_retired>& out) noexcept {
  if (!orphans_mu.try_lock()) return;
  if (orphans != nullptr && !orphans->empty()) {
    try {
      std::size_t size = orphans->size();
      take_expired(orphans->data(), size, out);
      orphans->resize(size);
    } catch (...) {
    }
  }
  orphans_mu.unlock();
}

// Releases the thread's record at thread exit: frees what it can, orphans the rest.
struct record_owner {
  ebr_record* r = nullptr;
  ~record_owner() {
    if (r == nullptr) return;
    try_advance();
    std::vector<ebr_retired> out;
    try {
      take_expired(r->limbo, r->limbo_size, out);
    } catch (...) {
    }
    free_all(out);
    if (r->limbo_size != 0) {
      std::lock_guard<spin_mutex> lock(orphans_mu);
      try {
        if (orphans == nullptr) orphans = new std::vector<ebr_retired>();
        orphans->insert(orphans->end(), r->limbo, r->limbo + r->limbo_size);
      } catch (...) {
        // Out of memory at thread exit: leak the remaining objects rather than risk a
        // use-after-free.
      }
      r->limbo_size = 0;
    }
    r->since_scan = 0;
    ebr_tls = nullptr;
    r->announced.store(0, std::memory_order_release);
    r->in_use.store(false, std::memory_order_release);
  }
};
thread_local record_owner owner;

}  // namespace

ebr_record* ebr_register() {
  ebr_record* r = nullptr;
  for (ebr_record* c = records.load(std::memory_order_acquire); c != nullptr; c = c->next) {
    bool expected = false;
    if (!c->in_use.load(std::memory_order_relaxed) &&
        c->in_use.compare_exchange_strong(expected, true, std::memory_order_acquire)) {
      r = c;
      break;
    }
  }
  if (r == nullptr) {
    r = new ebr_record();
    r->in_use.store(true, std::memory_order_relaxed);
    ebr_record* head = records.load(std::memory_order_relaxed);
    do {
      r->next = head;
    } while (!records.compare_exchange_weak(head, r, std::memory_order_release, std::memory_order_relaxed));
  }
  if (r->limbo == nullptr) {
    r->limbo_cap = 64;
    r->limbo = static_cast<ebr_retired*>(std::malloc(r->limbo_cap * sizeof(ebr_retired)));
    if (r->limbo == nullptr) {
      r->limbo_cap = 0;
      r->in_use.store(false, std::memory_order_release);
      throw std::bad_alloc();
    }
  }
  owner.r = r;
  ebr_tls = r;
  return r;
}

void ebr_retire_slow(ebr_record* r, ebr_retired item) noexcept {
  if (r == nullptr) {
    try {
      r = ebr_register();
    } catch (...) {
      std::abort();  // cannot defer the free safely without memory: documented
    }
  }
  if (r->limbo_size == r->limbo_cap) {
    // Try to make room first (a scan is worth it only if the epoch moved since the
    // last one); grow if nothing can be freed. Scans thus cost O(limbo) per epoch
    // advance, never per retire, even while a parked guard holds the epoch back.
    try_advance();
    if (ebr_global_epoch.load(std::memory_order_seq_cst) != r->scanned_epoch) {
      std::vector<ebr_retired> out;
      try {
        r->scanned_epoch = ebr_global_epoch.load(std::memory_order_seq_cst);
        take_expired(r->limbo, r->limbo_size, out);
      } catch (...) {
      }
      free_all(out);
    }
    if (r->limbo_size == r->limbo_cap) {
      const std::size_t cap = r->limbo_cap * 2;
      auto* grown = static_cast<ebr_retired*>(std::realloc(r->limbo, cap * sizeof(ebr_retired)));
      if (grown == nullptr) std::abort();
      r->limbo = grown;
      r->limbo_cap = cap;
    }
  }
  r->limbo[r->limbo_size++] = item;
  if (r->since_scan >= 64) {
    r->since_scan = 0;
    try_advance();
    const std::uint64_t g = ebr_global_epoch.load(std::memory_order_seq_cst);
    if (g != r->scanned_epoch) {
      r->scanned_epoch = g;
      std::vector<ebr_retired> out;
      try {
        out.reserve(r->limbo_size);
        take_expired(r->limbo, r->limbo_size, out);
        collect_orphans(out);
      } catch (...) {
      }
      free_all(out);
    }
  }
}

}  // namespace go::detail
