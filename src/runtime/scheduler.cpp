// scheduler.cpp — gocxx's M:N scheduler.
//
// Workers. The runtime runs max_procs worker threads (Go's Ps and Ms in one). Each has
// a run queue of tasks not yet started (runq.hpp; stealable), a private FIFO of fibers
// ready to resume (ready_ring, a ring of pointers), and an inbox through which other
// threads hand it fibers to resume.
//
// Tasks and fibers. A task starts as a closure in a run queue. A worker runs it inline,
// on whatever fiber is running the worker's loop — no stack switch, no stack of its
// own (google/marl's idea). Only when the task parks does it need one: the fiber it
// runs on becomes the task's, and the worker continues on another fiber: a ready one
// it resumes, or an idle loop fiber (taken from the worker's pool, or created on a
// pooled stack) that goes on running the loop. So a task that never blocks costs no
// context switch and no stack, and a task that has started never leaves its worker:
// its fiber is switched to only by its owner.
//
// Parking (waiter.cpp) publishes the fiber in a waiter and calls worker::suspend(),
// which picks the next thing to run and switches directly to it (fiber to fiber, no
// trip through a scheduler context). Waking pushes the fiber on its owner's ready list
// (same thread) or inbox (any other thread) and wakes the owner if it sleeps.
//
// Finding work (find_work), in order: the ready fibers (every 61st time the global
// queue and the local run queue first, for fairness), the local run queue, the global queue, stealing half of
// another worker's run queue (its `next` slot only after two failed rounds, so a task
// that a running task just spawned usually stays with it), spinning for a short while,
// and finally sleeping on the worker's futex.
//
// Sleeping and waking (the lost-wakeup argument). A worker that goes to sleep first
// sets its `sleeping` word and raises idle_count, issues a full fence, and then checks
// every queue once more. A producer first publishes work, issues a full fence, then
// looks at idle_count (for unstarted tasks: wake_idle) or at the owner's `sleeping`
// word (for a ready fiber). With fences on both sides, at least one of them sees the
// other: the sleeper finds the work or the producer finds the sleeper. spinning_count
// keeps producers from waking a sleeper while a spinning worker will find the work.
//
// Invariants:
//  - Only a fiber's owner switches to it; a fiber is in at most one of: running, the
//    ready list, the inbox, the idle list, parked (referenced by a waiter).
//  - worker::handoff is set only right before switching to a loop fiber, which runs
//    it before anything else.
//  - A fiber that retires from an overfull idle pool is freed by the fiber switched to
//    next (worker::dying), never while its own stack is in use.
//
// The monitor (monitor_tick, called from the timer thread) counts each worker's
// scheduling events. A worker whose count has not moved for two ticks while running is
// stuck in user code; when every worker is stuck and unstarted tasks wait, the monitor
// starts another worker, up to max_workers.
//
// A worker's thread starts on its native stack and switches at once to a loop fiber:
// every task runs on a pooled stack of the configured size, with its guard page.
//
// Exit: see go/runtime.hpp. An atexit handler sets `exiting`; workers freeze at their
// next scheduling point; the handler waits up to 100 ms for running workers to freeze.
#include "runtime/scheduler.hpp"

#include <cxxabi.h>
#include <cerrno>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <typeinfo>

#include "runtime/platform.hpp"

namespace go::detail {

namespace {

constexpr int max_workers = 256;
constexpr int max_idle_fibers = 64;
constexpr auto spin_duration = std::chrono::microseconds(50);

struct runtime_state {
  int procs = 0;
  std::atomic<int> nworkers{0};
  std::atomic<worker*> workers[max_workers]{};
  global_queue global;
  std::atomic<int> idle_count{0};
  std::atomic<int> spinning_count{0};
  std::atomic<bool> exiting{false};
  std::atomic<long> external_spawned{0};
  struct sigaction old_segv {};
};

std::atomic<runtime_state*> g_rt{nullptr};
std::once_flag g_start_once;
std::mutex g_config_mu;
int g_config_procs = 0;  // from set_max_procs; 0: environment or cores

// initial-exec: a plain load from the thread pointer, even in a PIC build (the
// default model would call __tls_get_addr on every access).
thread_local worker* tls_worker __attribute__((tls_model("initial-exec"))) = nullptr;

runtime_state& rt() noexcept { return *g_rt.load(std::memory_order_acquire); }

}  // namespace

int idle_workers() noexcept {
  runtime_state* r = g_rt.load(std::memory_order_acquire);
  return r ? r->idle_count.load(std::memory_order_seq_cst) : -1;
}

namespace {

// ---- exception state --------------------------------------------------------------

eh_state* thread_eh_globals() noexcept { return reinterpret_cast<eh_state*>(abi::__cxa_get_globals()); }

// ---- diagnostics ------------------------------------------------------------------

[[noreturn]] void die(const char* msg) noexcept {
  ssize_t r = ::write(2, msg, std::strlen(msg));
  (void)r;
  std::abort();
}

[[noreturn]] void die_escaped(std::exception_ptr ep) noexcept {
  std::string what = "unknown exception";
  try {
    std::rethrow_exception(ep);
  } catch (const std::exception& e) {
    what = std::string(e.what()) + " (" + typeid(e).name() + ")";
  } catch (...) {
  }
  std::string msg = "gocxx: exception escaped a task started by go::spawn: " + what + "\n";
  die(msg.c_str());
}

// The overflow check that remains for stacks beyond the guard-page budget: the
// parking task's stack pointer must still be inside its stack.
void check_stack(const fiber* f) noexcept {
  // The frame address, not a local's: under ASan locals may live on a fake stack.
  const char* sp = static_cast<const char*>(__builtin_frame_address(0));
  if (!f->native && (sp < f->stack_lo || sp >= f->stk.hi())) {
    die("gocxx: task stack overflow: a parking task is outside its stack (use "
        "go::runtime::set_stack_size for a larger stack)\n");
  }
}

// SIGSEGV on a guard page: say so, then let the fault kill the process as usual.
void segv_handler(int sig, siginfo_t* info, void* uctx) {
  worker* w = tls_worker;
  if (w && w->current && !w->current->native) {
    const stack& s = w->current->stk;
    auto a = reinterpret_cast<std::uintptr_t>(info->si_addr);
    auto lo = reinterpret_cast<std::uintptr_t>(s.base);
    if (s.in_guard(info->si_addr) || (a < lo && lo - a < s.size)) {
      static const char msg[] =
          "gocxx: task stack overflow: a task ran past the end of its stack and hit the guard "
          "page (use go::runtime::set_stack_size for a larger stack)\n";
      ssize_t r = ::write(2, msg, sizeof msg - 1);
      (void)r;
      ::signal(SIGSEGV, SIG_DFL);
      return;  // the faulting instruction runs again and the default action ends us
    }
  }
  const struct sigaction& old = rt().old_segv;
  if (old.sa_flags & SA_SIGINFO) {
    old.sa_sigaction(sig, info, uctx);
  } else if (old.sa_handler == SIG_DFL || old.sa_handler == SIG_IGN) {
    ::signal(SIGSEGV, SIG_DFL);
  } else {
    old.sa_handler(sig);
  }
}

void install_segv_handler(runtime_state& r) {
  struct sigaction sa {};
  sa.sa_sigaction = &segv_handler;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGSEGV, &sa, &r.old_segv);
}

// Each worker handles signals on an alternate stack: an overflowing task's own stack
// has no room left for the handler.
void install_altstack() {
  constexpr std::size_t size = 64 * 1024;
  void* mem = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return;
  stack_t ss{};
  ss.ss_sp = mem;
  ss.ss_size = size;
  ::sigaltstack(&ss, nullptr);
}

// ---- configuration ----------------------------------------------------------------

int default_procs() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  unsigned n = std::thread::hardware_concurrency();
  return n ? static_cast<int>(n) : 1;
}

int configured_procs() {
  if (g_config_procs > 0) return g_config_procs;
  const char* env = std::getenv("GOCXX_MAXPROCS");
  if (!env) return default_procs();
  std::string s(env);
  bool ok = !s.empty() && s.size() <= 4 &&
            std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  int n = ok ? std::stoi(s) : 0;
  if (n < 1 || n > max_workers) {
    throw std::runtime_error("gocxx: GOCXX_MAXPROCS=\"" + s + "\" is not a positive integer (1 to " +
                             std::to_string(max_workers) + ")");
  }
  return n;
}

// ---- fibers -----------------------------------------------------------------------

void after_switch(bctx::transfer_t t) noexcept;
[[noreturn]] void fiber_entry(bctx::transfer_t t) noexcept;

// A stack for a new fiber, from the worker's cache, guarded ones first (stack.hpp):
// from the pool when the cache is empty, or when it holds only unguarded stacks while
// the pool has guarded ones free (the cache's go back to the pool then). Throws
// std::bad_alloc when address space runs out.
stack take_stack(worker* w) {
  stack* cache = w->stack_cache;
  std::size_t n = w->stack_cached;
  if (n > 0 && !cache[n - 1].guarded) {
    for (std::size_t i = n - 1; i-- > 0;) {
      if (cache[i].guarded) {
        std::swap(cache[i], cache[n - 1]);
        break;
      }
    }
  }
  if (n == 0 || (!cache[n - 1].guarded && stacks::free_guarded() > 0)) {
    w->stack_cached = 0;
    if (n > 0) stacks::release(cache, n);
    w->stack_cached = stacks::acquire(cache, worker::stack_cache_size / 2);
  }
  return cache[--w->stack_cached];
}

fiber* new_loop_fiber(worker* w) {
  stack s = take_stack(w);
  // The fiber object sits at the top of its own stack.
  char* top = s.hi() - sizeof(fiber);
  top -= reinterpret_cast<std::uintptr_t>(top) % alignof(fiber);
  fiber* f = new (top) fiber;
  f->owner = w;
  f->stk = s;
  f->stack_lo = s.lo();
  char* sp = top - (reinterpret_cast<std::uintptr_t>(top) % 64);
  std::size_t usable = static_cast<std::size_t>(sp - s.lo());
  f->ctx = bctx::make_fcontext(sp, usable, &fiber_entry);
  f->asan_bottom = s.lo();
  f->asan_size = static_cast<std::size_t>(s.hi() - s.lo());
#ifdef GOCXX_TSAN
  f->tsan_fiber = __tsan_create_fiber(0);
#endif
  return f;
}

void free_fiber(worker* w, fiber* f) noexcept {
#ifdef GOCXX_TSAN
  __tsan_destroy_fiber(f->tsan_fiber);
#endif
  stack s = f->stk;
  f->~fiber();
  constexpr std::size_t half = worker::stack_cache_size / 2;
  if (w->stack_cached == worker::stack_cache_size) {
    w->stack_cached -= half;
    stacks::release(w->stack_cache + w->stack_cached, half);
  }
  w->stack_cache[w->stack_cached++] = s;
}

// Switches the worker from `from` (the running fiber) to `to`. If from_dies, `from`
// never runs again and is freed by `to`.
void switch_fiber(worker* w, fiber* from, fiber* to, bool from_dies) noexcept {
  eh_state* g = w->eh_globals;
  from->eh = *g;
  *g = to->eh;
  from->saved_errno = *w->errno_ptr;
  w->current = to;
  w->ticks.store(w->ticks.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  if (from_dies) w->dying = from;
#ifdef GOCXX_ASAN
  __sanitizer_start_switch_fiber(from_dies ? nullptr : &from->asan_fake_stack, to->asan_bottom, to->asan_size);
#endif
#ifdef GOCXX_TSAN
  __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
  bctx::transfer_t t = bctx::jump_fcontext(to->ctx, from);
  after_switch(t);
}

// Runs first thing on the fiber switched to.
void after_switch(bctx::transfer_t t) noexcept {
  auto* prev = static_cast<fiber*>(t.data);
  prev->ctx = t.fctx;
  worker* w = tls_worker;
  *w->errno_ptr = w->current->saved_errno;
#ifdef GOCXX_ASAN
  const void* old_bottom = nullptr;
  std::size_t old_size = 0;
  __sanitizer_finish_switch_fiber(w->current->asan_fake_stack, &old_bottom, &old_size);
  if (prev->native && !prev->asan_bottom) {
    prev->asan_bottom = old_bottom;
    prev->asan_size = old_size;
  }
#endif
  if (fiber* d = w->dying) {
    w->dying = nullptr;
    free_fiber(w, d);
  }
}

void fiber_entry(bctx::transfer_t t) noexcept {
  after_switch(t);
  tls_worker->loop();
}

// ---- waking -----------------------------------------------------------------------

// A sleeping worker, if any, is woken to look for unstarted tasks. `strict`: the work
// is where only another worker can find it (the global queue), so the fence of the
// sleep protocol is needed. Work queued on the calling worker's own run queue needs
// no fence: if the wake is missed, the caller runs the task itself (only parallelism
// is lost, and the monitor wakes an idle worker within a tick), as in Go's wakep.
void wake_idle(runtime_state& r, bool strict = true) noexcept {
  if (strict) full_fence();
  if (r.idle_count.load(std::memory_order_relaxed) == 0) return;
  if (r.spinning_count.load(std::memory_order_relaxed) != 0) return;
  int n = r.nworkers.load(std::memory_order_acquire);
  for (int i = 0; i < n; ++i) {
    worker* v = r.workers[i].load(std::memory_order_acquire);
    std::uint32_t one = 1;
    if (v->sleeping.load(std::memory_order_relaxed) == 1 &&
        v->sleeping.compare_exchange_strong(one, 0, std::memory_order_acq_rel)) {
      futex_wake(&v->sleeping);
      return;
    }
  }
}

void wake_worker(worker* w) noexcept {
  full_fence();
  std::uint32_t one = 1;
  if (w->sleeping.load(std::memory_order_relaxed) == 1 &&
      w->sleeping.compare_exchange_strong(one, 0, std::memory_order_acq_rel)) {
    futex_wake(&w->sleeping);
  }
}

bool any_runq_work(runtime_state& r, const worker* self) noexcept {
  if (!r.global.empty()) return true;
  int n = r.nworkers.load(std::memory_order_acquire);
  for (int i = 0; i < n; ++i) {
    worker* v = r.workers[i].load(std::memory_order_acquire);
    if (v != self && !v->runq.empty()) return true;
  }
  return false;
}

void start_worker(runtime_state& r);

[[noreturn]] void freeze(worker* w) noexcept {
  w->state.store(worker_state::frozen, std::memory_order_release);
  std::atomic<std::uint32_t> never{0};
  for (;;) futex_wait(&never, 0);
}

// What find_work found: a fiber to resume or a task to start.
struct work {
  fiber* f = nullptr;
  task* t = nullptr;
};

}  // namespace

// ---- worker -----------------------------------------------------------------------

worker* current_worker() noexcept { return tls_worker; }

bool runtime_exiting() noexcept {
  runtime_state* r = g_rt.load(std::memory_order_acquire);
  return r && r->exiting.load(std::memory_order_acquire);
}
fiber* current_fiber() noexcept { return tls_worker ? tls_worker->current : nullptr; }

namespace {
thread_local constinit task_slots tls_thread_local_slot{};  // task_local() on a plain thread
}  // namespace

task_slots& task_local() noexcept {
  fiber* f = current_fiber();
  return f ? f->task_local : tls_thread_local_slot;
}

void ready_ring::trim() noexcept {
  if (empty() && cap_ > keep_capacity) {
    buf_.reset();
    cap_ = head_ = tail_ = 0;
  }
}

void ready_ring::grow() noexcept {
  const std::size_t cap = cap_ ? 2 * cap_ : 256;
  std::unique_ptr<fiber*[]> buf(new (std::nothrow) fiber*[cap]);
  if (!buf) die("gocxx: out of memory growing a worker's ready list\n");
  for (std::size_t i = head_; i != tail_; ++i) buf[i - head_] = buf_[i & (cap_ - 1)];
  tail_ -= head_;
  head_ = 0;
  cap_ = cap;
  buf_ = std::move(buf);
}

void ready_ring::reverse_last(std::size_t n) noexcept {
  if (n < 2) return;
  for (std::size_t i = tail_ - n, j = tail_ - 1; i < j; ++i, --j) {
    std::swap(buf_[i & (cap_ - 1)], buf_[j & (cap_ - 1)]);
  }
}

namespace {

// The inbox holds fibers and batches of waiters to wake (wake_block, tagged with the
// low bit), linked through fiber::next and wake_block::next.
inbox_item inbox_tag(wake_block* b) noexcept {
  return reinterpret_cast<inbox_item>(reinterpret_cast<std::uintptr_t>(b) | 1);
}
wake_block* inbox_block(inbox_item i) noexcept {
  const auto bits = reinterpret_cast<std::uintptr_t>(i);
  return bits & 1 ? reinterpret_cast<wake_block*>(bits & ~std::uintptr_t{1}) : nullptr;
}

// Pushes one item, whose link the caller sets through `link`, onto owner's inbox and
// wakes the owner if it sleeps.
template <class SetLink>
void push_inbox(worker* owner, inbox_item item, SetLink link) noexcept {
  inbox_item head = owner->inbox.load(std::memory_order_relaxed);
  do {
    link(head);
  } while (!owner->inbox.compare_exchange_weak(head, item, std::memory_order_release, std::memory_order_relaxed));
  wake_worker(owner);
}

// Tasks of a batch woken at a time (wake_some).
constexpr std::size_t wake_chunk = 64;

// Claims and wakes the next wake_chunk waiters of the worker's batches (wait_set's
// exclusive waiters, all tasks of this worker): each wake puts the task on this
// worker's ready ring. The nodes sit on the tasks' stacks, a page each: the walk
// prefetches ahead. A chunk at a time, not a whole batch, so that a task runs soon
// after its wake touched its stack page, while that page is still in the TLB.
void wake_some(worker* w) noexcept {
  constexpr std::size_t ahead = 16;
  wake_block* b = w->batches;
  wait_node** nodes = b->nodes();
  std::size_t i = w->batch_next;
  const std::size_t end = std::min(b->count, i + wake_chunk);
  if (i == 0) {
    for (std::size_t k = 0; k < ahead && k < b->count; ++k) __builtin_prefetch(nodes[k], 1);
  }
  for (; i < end; ++i) {
    if (i + ahead < b->count) __builtin_prefetch(nodes[i + ahead], 1);
    wait_node* n = nodes[i];
    n->w->notify(n->token);
  }
  if (i < b->count) {
    w->batch_next = i;
    return;
  }
  w->batch_next = 0;
  w->batches = b->next;
  if (!w->batches) w->batches_tail = nullptr;
  std::free(b);
}

}  // namespace

void make_ready(fiber* f) noexcept {
  worker* owner = f->owner;
  if (tls_worker == owner) {
    owner->make_ready_local(f);
    return;
  }
  push_inbox(owner, f, [f](inbox_item head) { f->next = head; });
}

void hand_over(wake_block* list) noexcept {
  while (wake_block* b = list) {
    list = b->next;
    push_inbox(b->owner, inbox_tag(b), [b](inbox_item head) { b->next = reinterpret_cast<wake_block*>(head); });
  }
}

namespace {

// Moves the inbox (LIFO) to the ready ring: appends its fibers in one pass over its
// links, then reverses what was appended, in the ring; its batches join the worker's.
[[gnu::noinline]] void drain_inbox(worker* w) noexcept {
  inbox_item list = w->inbox.exchange(nullptr, std::memory_order_acquire);
  std::size_t n = 0;
  while (list) {
    if (wake_block* b = inbox_block(list)) {
      list = reinterpret_cast<inbox_item>(b->next);
      b->next = nullptr;
      if (w->batches_tail) w->batches_tail->next = b; else w->batches = b;
      w->batches_tail = b;
      continue;
    }
    inbox_item next = list->next;
    w->ready.push(list);
    list = next;
    ++n;
  }
  w->ready.reverse_last(n);
}

inline fiber* pop_ready(worker* w) noexcept {
  // Drain the inbox whenever it has fibers, not only when the ready list is empty:
  // tasks that keep yielding (re-queued on the ready list) must not starve fibers
  // woken by other threads. They join the FIFO behind what is already ready. Batches
  // of waiters are woken a chunk at a time whenever fewer than a chunk are ready, so
  // they cannot starve either.
  if (w->inbox.load(std::memory_order_relaxed)) drain_inbox(w);
  if (w->batches && w->ready.size() < wake_chunk) [[unlikely]] wake_some(w);
  return w->ready.pop();
}

// Takes a batch from the global queue: runs the first, queues the rest locally.
task* pop_global(runtime_state& r, worker* w) noexcept {
  if (r.global.empty()) return nullptr;
  task* batch[run_queue::capacity / 2];
  auto max = static_cast<std::uint32_t>(1 + 127 / std::max(1, r.nworkers.load(std::memory_order_relaxed)));
  std::uint32_t n = r.global.pop_array(batch, max);
  if (n == 0) return nullptr;
  for (std::uint32_t i = 1; i < n; ++i) w->runq.push(batch[i], r.global);
  return batch[0];
}

std::uint64_t next_rand(worker* w) noexcept {
  w->rng ^= w->rng << 13;
  w->rng ^= w->rng >> 7;
  w->rng ^= w->rng << 17;
  return w->rng;
}

task* steal(runtime_state& r, worker* w) noexcept {
  int n = r.nworkers.load(std::memory_order_acquire);
  if (n < 2) return nullptr;
  for (int round = 0; round < 4; ++round) {
    int start = static_cast<int>(next_rand(w) % static_cast<std::uint64_t>(n));
    for (int i = 0; i < n; ++i) {
      worker* v = r.workers[(start + i) % n].load(std::memory_order_acquire);
      if (v == w) continue;
      if (task* t = w->runq.steal_from(v->runq, round >= 2)) return t;
    }
  }
  return nullptr;
}

bool has_local_work(worker* w) noexcept {
  return !w->ready.empty() || w->batches || w->inbox.load(std::memory_order_acquire) || !w->runq.empty();
}

// Spins briefly waiting for work to appear; true if some did.
bool spin(runtime_state& r, worker* w) noexcept {
  // At most half the workers spin, as in Go, but two may always: a started task
  // never changes worker, so two tasks handing work back and forth across two
  // workers would otherwise put one worker to sleep on every hand-off while the
  // other spins (a futex wake per hop: 7-15 µs per channel ping-pong round trip
  // instead of ~130 ns, in 3 of 8 runs on the 2-core test machine).
  const int n = r.nworkers.load(std::memory_order_relaxed);
  if (r.spinning_count.load(std::memory_order_relaxed) >= std::max(2, n / 2)) return false;
  r.spinning_count.fetch_add(1, std::memory_order_seq_cst);
  w->state.store(worker_state::spinning, std::memory_order_relaxed);
  bool found = false;
  auto until = std::chrono::steady_clock::now() + spin_duration;
  for (int i = 0; !found; ++i) {
    // Busy for the first ~12 µs; then give the CPU to any other runnable thread
    // between looks: where threads outnumber cores (a plain thread spawning tasks,
    // the poller), a spinner that never yields starves the thread that would feed it.
    // While busy, the worker's own queues are looked at every 4 pauses (~0.1 µs; a
    // fiber handed back by a task on another worker waits no longer than that, where
    // a look every 32 pauses made a cross-worker channel round trip ~1.4 µs), the
    // other workers' run queues every 32: reading those as often slowed a spawning
    // worker's pushes (spawn/join 50-70 -> 180-350 ns per task).
    if (i < 16) {
      for (int k = 0; k < 8 && !found; ++k) {
        for (int p = 0; p < 4; ++p) cpu_relax();
        found = has_local_work(w);
      }
    } else {
      sched_yield();
      found = has_local_work(w);
    }
    found = found || any_runq_work(r, w) || r.exiting.load(std::memory_order_relaxed);
    if ((i & 7) == 7) {  // every ~6 µs busy, every 8 yields after
      if (!found) found = netpoll_harvest();  // woken I/O waiters of this worker are local now
      if (!found && std::chrono::steady_clock::now() > until) break;
    }
  }
  w->state.store(worker_state::running, std::memory_order_relaxed);
  // The last spinner to find work wakes another worker, in case there is more.
  if (r.spinning_count.fetch_sub(1, std::memory_order_seq_cst) == 1 && found) wake_idle(r);
  return found;
}

void sleep(runtime_state& r, worker* w) noexcept {
  w->state.store(worker_state::sleeping, std::memory_order_relaxed);
  w->sleeping.store(1, std::memory_order_seq_cst);
  r.idle_count.fetch_add(1, std::memory_order_seq_cst);
  full_fence();
  netpoll_worker_sleeping();
  if (has_local_work(w) || any_runq_work(r, w) || r.exiting.load(std::memory_order_relaxed)) {
    w->sleeping.store(0, std::memory_order_relaxed);
  } else {
    while (w->sleeping.load(std::memory_order_acquire) == 1) futex_wait(&w->sleeping, 1);
  }
  r.idle_count.fetch_sub(1, std::memory_order_seq_cst);
  w->state.store(worker_state::running, std::memory_order_relaxed);
}

// Everything but the common case: fairness, the global queue, stealing, spinning,
// sleeping, exit.
[[gnu::noinline]] work find_work_slow(worker* w) noexcept {
  runtime_state& r = rt();
  for (;;) {
    if (r.exiting.load(std::memory_order_acquire)) freeze(w);
    if (w->fair_countdown <= 0) {
      // Every 61st time, unstarted tasks before ready fibers: tasks that keep waking
      // each other must not starve the run queues.
      w->fair_countdown = 61;
      if (task* g = pop_global(r, w)) return {nullptr, g};
      if (task* lt = w->runq.pop()) return {nullptr, lt};
    }
    if (fiber* f = pop_ready(w)) return {f, nullptr};
    if (task* lt = w->runq.pop()) return {nullptr, lt};
    if (task* g = pop_global(r, w)) return {nullptr, g};
    if (task* st = steal(r, w)) return {nullptr, st};
    if (netpoll_harvest()) continue;
    w->ready.trim();
    if (spin(r, w)) continue;
    sleep(r, w);
  }
}

// The next thing to run: a ready fiber, else a local task, else find_work_slow.
inline work find_work(worker* w) noexcept {
  w->ticks.store(w->ticks.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  if (--w->fair_countdown > 0 && !w->exiting.load(std::memory_order_relaxed)) {
    if (fiber* f = pop_ready(w)) return {f, nullptr};
    if (task* t = w->runq.pop()) return {nullptr, t};
  }
  return find_work_slow(w);
}

void run_task(worker* w, task* t) noexcept {
  try {
    t->run(t);
  } catch (...) {
    die_escaped(std::current_exception());
  }
  w->finished.store(w->finished.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

// A loop fiber to run `t` on, from the idle pool or new.
fiber* loop_fiber(worker* w) noexcept {
  if (fiber* f = w->idle) {
    w->idle = f->next;
    --w->idle_count;
    f->next = nullptr;
    return f;
  }
  try {
    return new_loop_fiber(w);
  } catch (...) {
    die("gocxx: out of memory allocating a task stack\n");
  }
}

}  // namespace

void worker::loop() {
  for (;;) {
    if (task* t = handoff) {
      handoff = nullptr;
      run_task(this, t);
      continue;
    }
    work next = find_work(this);
    if (next.t) {
      run_task(this, next.t);
      continue;
    }
    // Resume a parked fiber; this one becomes idle (or is freed if enough are idle).
    fiber* self = current;
    bool dies = !self->native && idle_count >= max_idle_fibers;
    if (!dies) {
      self->next = idle;
      idle = self;
      ++idle_count;
    }
    switch_fiber(this, self, next.f, dies);
  }
}

void worker::suspend() noexcept {
  fiber* self = current;
  check_stack(self);
  // The task's errno survives the park even when the worker slept on this fiber's
  // stack (a futex call) and then found the task itself ready: no switch happened.
  const int saved_errno = *errno_ptr;
  work next = find_work(this);
  if (next.f == self) {
    // woken meanwhile
  } else if (next.f) {
    switch_fiber(this, self, next.f, false);
  } else {
    handoff = next.t;
    switch_fiber(this, self, loop_fiber(this), false);
  }
  *errno_ptr = saved_errno;
}

void worker::yield() noexcept {
  runtime_state& r = rt();
  fiber* self = current;
  const int saved_errno = *errno_ptr;
  struct restore {
    int* p;
    int v;
    ~restore() { *p = v; }
  } keep_errno{errno_ptr, saved_errno};
  task* t = runq.pop();
  if (!t) t = pop_global(r, this);
  if (t) {
    make_ready_local(self);
    handoff = t;
    switch_fiber(this, self, loop_fiber(this), false);
    return;
  }
  if (fiber* f = pop_ready(this)) {
    make_ready_local(self);
    switch_fiber(this, self, f, false);
  }
}

void worker::main() {
  tls_worker = this;
  eh_globals = thread_eh_globals();
  errno_ptr = &errno;
  install_altstack();
  native = new fiber;
  native->owner = this;
  native->native = true;
#ifdef GOCXX_TSAN
  native->tsan_fiber = __tsan_get_current_fiber();
#endif
  current = native;
  // Tasks run only on pooled fibers, so each has the same stack size and guard; the
  // native stack stays parked here for good.
  switch_fiber(this, native, loop_fiber(this), false);
  die("gocxx: a worker's native context was resumed\n");
}

namespace {

void start_worker(runtime_state& r) {
  int id = r.nworkers.load(std::memory_order_relaxed);
  if (id >= max_workers) return;
  auto* w = new worker(id);
  w->rng = 0x9e3779b97f4a7c15ull * static_cast<std::uint64_t>(id + 1);
  r.workers[id].store(w, std::memory_order_release);
  r.nworkers.store(id + 1, std::memory_order_release);
  std::thread([w] { w->main(); }).detach();
}

void on_exit() noexcept {
  runtime_state& r = rt();
  r.exiting.store(true, std::memory_order_seq_cst);
  int n = r.nworkers.load(std::memory_order_acquire);
  for (int i = 0; i < n; ++i) r.workers[i].load(std::memory_order_acquire)->exiting.store(true, std::memory_order_relaxed);
  // Sleeping workers stay asleep; running ones freeze at their next scheduling point.
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
  for (int i = 0; i < n; ++i) {
    worker* w = r.workers[i].load(std::memory_order_acquire);
    if (w == tls_worker) continue;  // exit() called from a task on this worker
    for (;;) {
      worker_state s = w->state.load(std::memory_order_acquire);
      if (s == worker_state::frozen || s == worker_state::sleeping) break;
      if (std::chrono::steady_clock::now() > until) break;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }
}

void start_runtime() {
  std::lock_guard lock(g_config_mu);
  int procs = configured_procs();
  auto* r = new runtime_state;  // never destroyed: see "Exit" above
  r->procs = procs;
  install_segv_handler(*r);
  g_rt.store(r, std::memory_order_release);
  for (int i = 0; i < procs; ++i) start_worker(*r);
  std::atexit(on_exit);
}

}  // namespace

void ensure_runtime() {
  if (g_rt.load(std::memory_order_acquire)) return;
  std::call_once(g_start_once, start_runtime);
}

void submit(task* t) {
  if (worker* w = tls_worker) {
    runtime_state& r = rt();
    w->spawned.store(w->spawned.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    w->runq.push_next(t, r.global);
    wake_idle(r, false);
    return;
  }
  try {
    ensure_runtime();
  } catch (...) {
    t->discard(t);  // the closure is destroyed without running (we own it)
    throw;
  }
  runtime_state& r = rt();
  r.external_spawned.fetch_add(1, std::memory_order_relaxed);
  r.global.push(t);
  wake_idle(r);
}


// ---- monitor ------------------------------------------------------------------------

bool monitor_tick() noexcept {
  runtime_state* rp = g_rt.load(std::memory_order_acquire);
  if (!rp || rp->exiting.load(std::memory_order_relaxed)) return false;
  runtime_state& r = *rp;
  int n = r.nworkers.load(std::memory_order_acquire);
  int busy = 0, stuck = 0;
  for (int i = 0; i < n; ++i) {
    worker* w = r.workers[i].load(std::memory_order_acquire);
    std::uint64_t t = w->ticks.load(std::memory_order_relaxed);
    bool running = w->state.load(std::memory_order_relaxed) == worker_state::running;
    if (running) ++busy;
    if (running && t == w->monitor_ticks) {
      if (++w->stuck_checks >= 2) ++stuck;
    } else {
      w->stuck_checks = 0;
    }
    w->monitor_ticks = t;
  }
  if (any_runq_work(r, nullptr)) {
    if (stuck == n) start_worker(r);
    wake_idle(r);  // in case a relaxed wake (see wake_idle) was missed
  }
  stacks::trim();
  trim_task_memory();
  return busy > 0;
}

}  // namespace go::detail

// ---- public API ---------------------------------------------------------------------

namespace go {

namespace this_task {

void yield() noexcept {
  if (detail::worker* w = detail::tls_worker) {
    w->yield();
  } else {
    std::this_thread::yield();
  }
}

bool in_task() noexcept { return detail::tls_worker != nullptr; }

}  // namespace this_task

namespace runtime {

long num_goroutine() noexcept {
  detail::runtime_state* r = detail::g_rt.load(std::memory_order_acquire);
  if (!r) return 0;
  long spawned = r->external_spawned.load(std::memory_order_relaxed);
  long finished = 0;
  int n = r->nworkers.load(std::memory_order_acquire);
  for (int i = 0; i < n; ++i) {
    detail::worker* w = r->workers[i].load(std::memory_order_acquire);
    spawned += w->spawned.load(std::memory_order_relaxed);
    finished += w->finished.load(std::memory_order_relaxed);
  }
  return spawned - finished;
}

void set_max_procs(int n) {
  if (n < 1) throw std::invalid_argument("go::runtime::set_max_procs: n must be at least 1");
  std::lock_guard lock(detail::g_config_mu);
  if (detail::g_rt.load(std::memory_order_acquire)) {
    throw std::logic_error("go::runtime::set_max_procs: the runtime has already started");
  }
  detail::g_config_procs = std::min(n, detail::max_workers);
}

int max_procs() {
  detail::ensure_runtime();
  return detail::rt().procs;
}

void set_stack_size(std::size_t bytes) {
  std::lock_guard lock(detail::g_config_mu);
  if (detail::g_rt.load(std::memory_order_acquire)) {
    throw std::logic_error("go::runtime::set_stack_size: the runtime has already started");
  }
  detail::stacks::set_size(bytes);
}

stats get_stats() {
  detail::runtime_state* r = detail::g_rt.load(std::memory_order_acquire);
  return stats{r ? r->nworkers.load(std::memory_order_acquire) : 0, detail::stacks::allocated(),
               detail::stacks::guarded(), detail::stacks::size()};
}

}  // namespace runtime
}  // namespace go
