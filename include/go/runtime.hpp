// go/runtime.hpp — tasks (goroutines for C++) and the runtime that runs them.
//
// gocxx runs tasks M:N on a fixed set of worker threads, one per core by default
// (Go's GOMAXPROCS). A task is cheap: spawning one allocates its closure and queues
// it; it gets a stack of its own only if it ever blocks. A task that blocks on a
// gocxx primitive (WaitGroup, Mutex, channel, context, sleep, I/O) parks: its worker
// runs other tasks meanwhile. The same primitives called from a plain OS thread
// (main(), a std::thread) block that thread instead; tasks and threads mix freely.
//
// Guarantees that differ from Go, because C++ code relies on them:
//  - A task that has started never changes OS thread: thread_local variables and
//    thread identity are stable across parks, and errno is saved and restored with
//    the task, so a park never clobbers the errno a task is about to read. Tasks not yet started may be run by
//    any worker (idle workers steal them).
//  - The C++ exception state is per task: a task may park inside a catch block while
//    other tasks throw and catch on the same worker.
//  - An exception escaping a go::spawn task terminates the program with a message
//    naming it (errgroup propagates exceptions instead; see go/errgroup.hpp).
//
// Program exit: when main() returns (or exit() is called) while tasks are parked or
// running, the runtime stops scheduling: no task is started or resumed again, parked
// tasks are abandoned (their destructors do not run, as goroutines are simply gone
// when a Go program exits), and exit waits at most 100 ms for tasks that are running
// user code to reach a park point before static destructors run. The runtime's own
// state is never destroyed, so a straggling worker never touches freed runtime memory.
//
// The runtime starts lazily on first use. Configuration (read once, at start):
//   GOCXX_MAXPROCS  number of workers, a positive integer (default: cores available).
//                   Anything else makes the first use throw std::runtime_error naming it.
#pragma once

#include <chrono>
#include <concepts>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace go {

namespace detail {

// A unit of work not yet started: a type-erased closure. Owned by the run queues
// until run; run() executes and destroys it.
struct task {
  void (*run)(task*);      // runs the closure, then destroys the task
  task* next = nullptr;
  void (*discard)(task*) noexcept = nullptr;  // destroys it without running it
};

// Memory for task closures (size-class caches per thread; see task_alloc.cpp).
void* alloc_task(std::size_t size);
void free_task(void* p, std::size_t size) noexcept;

template <class F>
struct task_impl final : task {
  template <class G>
  explicit task_impl(G&& g) : task{&invoke, nullptr, &discard}, fn(std::forward<G>(g)) {}

  static task_impl* make(F&& f) { return make_from(std::move(f)); }
  static task_impl* make(const F& f) { return make_from(f); }

  static void invoke(task* t) {
    struct destroy {
      task_impl* self;
      ~destroy() {
        self->~task_impl();
        free_task(self, sizeof(task_impl));
      }
    } guard{static_cast<task_impl*>(t)};
    guard.self->fn();
  }

  // Destroys a task that will never run.
  static void discard(task* t) noexcept {
    auto* self = static_cast<task_impl*>(t);
    self->~task_impl();
    free_task(self, sizeof(task_impl));
  }

  F fn;

 private:
  template <class G>
  static task_impl* make_from(G&& g) {
    void* mem = alloc_task(sizeof(task_impl));
    try {
      return new (mem) task_impl(std::forward<G>(g));
    } catch (...) {
      free_task(mem, sizeof(task_impl));
      throw;
    }
  }
};

// Queues t on the runtime (starting it if needed). Takes ownership.
void submit(task* t);

template <class T> struct is_std_function : std::false_type {};
template <class R, class... A> struct is_std_function<std::function<R(A...)>> : std::true_type {};

template <class F>
void check_callable(const F& f) {
  if constexpr (std::is_pointer_v<F> || std::is_member_pointer_v<F> || is_std_function<F>::value) {
    if (f == nullptr) throw std::invalid_argument("go::spawn: empty function");
  }
}

// A call run off the workers by go::blocking.
struct blocking_job {
  void (*run)(blocking_job*);
  blocking_job* next = nullptr;
};
// Runs job on the blocking pool and parks the calling task until it is done.
void run_blocking(blocking_job* job);

}  // namespace detail

namespace this_task {
// True when called from a task (code started by go::spawn), false on a plain thread.
// Never blocks, never throws. Thread-safe.
bool in_task() noexcept;
}  // namespace this_task

// Starts f() as a new task and returns at once (Go's `go f()`).
//
// f is moved (or copied) into the task. The task may start on any worker; once it has
// started it stays on that worker. Throws std::invalid_argument if f is an empty
// std::function or a null function pointer, and std::bad_alloc if memory runs out;
// on the first use it may throw std::runtime_error for a bad GOCXX_MAXPROCS.
// An exception escaping f terminates the program ("gocxx: exception escaped a task").
// Thread-safe; callable from tasks and threads.
template <class F>
  requires std::invocable<std::decay_t<F>&>
void spawn(F&& f) {
  using D = std::decay_t<F>;
  detail::check_callable<D>(f);
  detail::submit(detail::task_impl<D>::make(std::forward<F>(f)));
}

// Runs f() off the runtime's workers — on a thread of the blocking pool — while the
// calling task parks, and returns its result or rethrows its exception. Use it for
// calls that block an OS thread outside gocxx's knowledge (a libc read, a foreign
// library). From a plain thread f simply runs on the caller. Blocks the caller until
// f returns. Thread-safe. Pool threads are created on demand and retire when idle.
template <class F>
  requires std::invocable<F&>
std::invoke_result_t<F&> blocking(F&& f) {
  using R = std::invoke_result_t<F&>;
  if (!this_task::in_task()) return std::invoke(f);
  struct job : detail::blocking_job {
    F& fn;
    std::exception_ptr error;
    std::conditional_t<std::is_void_v<R>, bool,
                       std::optional<std::conditional_t<std::is_reference_v<R>,
                                                        std::reference_wrapper<std::remove_reference_t<R>>, R>>>
        result{};
    explicit job(F& f) : detail::blocking_job{&call}, fn(f) {}
    static void call(detail::blocking_job* b) {
      auto* self = static_cast<job*>(b);
      try {
        if constexpr (std::is_void_v<R>) {
          std::invoke(self->fn);
        } else {
          self->result.emplace(std::invoke(self->fn));
        }
      } catch (...) {
        self->error = std::current_exception();
      }
    }
  } j(f);
  detail::run_blocking(&j);
  if (j.error) std::rethrow_exception(j.error);
  if constexpr (!std::is_void_v<R>) {
    if constexpr (std::is_reference_v<R>) return j.result->get();
    else return std::move(*j.result);
  }
}

namespace this_task {

// Lets other tasks run: the calling task goes to the back of its worker's queue of
// runnable work and resumes later on the same worker. From a plain thread it calls
// std::this_thread::yield(). Never throws. Thread-safe.
void yield() noexcept;

}  // namespace this_task

namespace runtime {

// The number of tasks that exist: started or queued, and not yet finished (parked
// tasks count). A snapshot; it may be stale by the time it returns. Thread-safe.
long num_goroutine() noexcept;

// Sets the number of workers. Must be called before the runtime starts (before the
// first spawn or blocking operation); overrides GOCXX_MAXPROCS. Throws
// std::invalid_argument if n < 1, std::logic_error if the runtime already started.
void set_max_procs(int n);

// The number of workers the runtime runs (or will run) tasks on, not counting
// workers added while every worker was stuck in user code. Starts the runtime.
int max_procs();

// Sets the address space reserved per task stack (rounded up to whole pages; at
// least 64 KiB; default 256 KiB). Before the runtime starts only; throws like
// set_max_procs.
void set_stack_size(std::size_t bytes);

// Statistics of the runtime, for tests, benchmarks and monitoring. A snapshot.
struct stats {
  int workers;             // worker threads running, including added ones
  long stacks;             // task stacks allocated (in use, pooled, or cached by a worker)
  long guarded_stacks;     // of those, with a guard page below them
  std::size_t stack_size;  // bytes reserved per stack
};
stats get_stats();

}  // namespace runtime

}  // namespace go
