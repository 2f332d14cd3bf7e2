// go/chan.hpp — Go's channels and select for gocxx (semantics of the Go spec and of
// Go's runtime, chan.go / select.go).
//
//   go::chan<int> ch(16);                 // make(chan int, 16); chan<int>() is unbuffered
//   go::spawn([ch]() mutable { for (int i = 0; i < 3; ++i) ch.send(i); ch.close(); });
//   for (int v : ch) std::cout << v;      // for v := range ch
//
//   go::select(                           // select {
//       go::recv(ctx.done(), [&] { ... }),          //   case <-ctx.Done(): ...
//       go::recv(jobs, [&](int j) { ... }),         //   case j := <-jobs: ...
//       go::recv(results, [&](std::optional<R> r) { ... }),  // case r, ok := <-results
//       go::send(out, v, [&] { ... }),              //   case out <- v: ...
//       go::recv(go::time::after(2s), [&] { ... }), //   case <-time.After(2 * time.Second):
//       go::default_case([&] { ... }));             //   default: ... }
//
// A chan<T> is a cheap, copyable handle (one pointer, reference counted) to a channel
// shared by every copy; send_chan<T> (Go's chan<- T) and recv_chan<T> (Go's <-chan T)
// are handles to the same channel that allow only one direction, and convert
// implicitly from chan<T>.
//
// Making and nil: go::chan<T>() is Go's make(chan T) (unbuffered), go::chan<T>(n) is
// make(chan T, n); go::chan<T>(go::nil) is the nil channel (Go's zero value), and so
// are default-constructed send_chan/recv_chan handles and moved-from handles.
//
// Element type. T must be move-constructible without throwing
// (std::is_nothrow_move_constructible_v<T>): values are moved while the channel's lock
// is held, as Go copies them under its lock. Move-only types (std::unique_ptr) work.
//
// Blocking. Blocking operations (send, recv, range-for, select without a default case)
// park the calling task (its worker runs other tasks) or block the calling OS thread;
// tasks and threads may sit on either side of the same channel.
//
// Misuse throws go::channel_error (what() is Go's panic message), leaving the channel
// and the caller's value intact:
//   send on a closed channel          "send on closed channel"
//   close of a closed channel         "close of closed channel"
//   close of the nil channel          "close of nil channel"
// A sender blocked in send (or in select's send case) when the channel is closed wakes
// up and throws; its value is not consumed.
//
// Ordering (as Go): values sent by one sender are received in the order sent; blocked
// receivers are served in arrival order, and so are blocked senders. An unbuffered
// send completes only when a receiver has taken the value (hand to hand); the
// receiver's receive happens-after the send, and the sender's return happens-after
// the receiver took the value. On a buffered channel the k-th receive happens-before
// the (k+cap)-th send completes. close happens-before a receive that observes it.
//
// Thread safety: every operation may be called concurrently from any tasks and threads
// on the same or different handles, except that — as with std::shared_ptr — one
// handle *variable* must not be assigned while another thread uses it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <new>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "go/context.hpp"
#include "go/detail/waiter.hpp"

namespace go {

// The nil channel's tag: go::chan<T>(go::nil) is Go's `var c chan T` (nil).
struct nil_t {
  explicit constexpr nil_t() = default;
};
inline constexpr nil_t nil{};

// The exception thrown for channel misuse, where Go panics. what() is Go's message:
// "send on closed channel", "close of closed channel" or "close of nil channel".
class channel_error : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

namespace detail {

// Operations on the element type, so the channel algorithm itself is not a template.
struct chan_type_ops {
  // *(std::optional<T>*)dst = std::move(*(T*)src)
  void (*emplace)(void* dst, void* src) noexcept;
  // ::new (slot) T(std::move(*(T*)src))
  void (*construct)(void* slot, void* src) noexcept;
  // ((T*)slot)->~T()
  void (*destroy)(void* slot) noexcept;
};

template <class T>
inline constexpr chan_type_ops chan_ops_for{
    [](void* dst, void* src) noexcept { static_cast<std::optional<T>*>(dst)->emplace(std::move(*static_cast<T*>(src))); },
    [](void* slot, void* src) noexcept { ::new (slot) T(std::move(*static_cast<T*>(src))); },
    [](void* slot) noexcept { static_cast<T*>(slot)->~T(); },
};

class chan_base;

// The hooks of a one-shot timer's channel (go::time's after() and Timer; src/time.cpp),
// after Go 1.23's timer channels: the timer's value is delivered lazily. Its runtime
// timer is armed only while some receiver is parked on the channel; otherwise every
// receive (and size()) first delivers a value that is due. Each hook is called with
// no channel lock held and never blocks.
struct timer_chan_hooks {
  void (*deliver_due)(chan_base*) noexcept;  // before a receive looks at the buffer
  void (*block)(chan_base*) noexcept;        // a receiver is enqueued and about to park
  void (*unblock)(chan_base*) noexcept;      // that receiver has woken (after block)
};

// The shared state of a channel (Go's hchan), type-erased; see src/chan.cpp for the
// algorithm and its invariants. Reference counted by the handles.
class chan_base {
 public:
  chan_base(const chan_type_ops* ops, std::size_t cap, std::size_t elem_size, unsigned char* buf,
            void (*destroy)(chan_base*) noexcept) noexcept
      : ops_(ops), buf_(buf), elem_size_(elem_size), cap_(cap), destroy_(destroy) {}
  chan_base(const chan_base&) = delete;
  chan_base& operator=(const chan_base&) = delete;

  void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) destroy_(this);
  }

  // val: a T* moved from only on success. block: park until the send can proceed.
  // Returns whether the value was sent (always true when block). Throws
  // channel_error if the channel is (or becomes, while blocked) closed.
  bool send(void* val, bool block);
  // dst: a std::optional<T>*, emplaced with the value received. Returns whether the
  // receive proceeded (a value, or closed and drained: dst stays empty).
  bool recv(void* dst, bool block);
  // Throws channel_error if already closed.
  void close();
  std::size_t size() noexcept;
  std::size_t capacity() const noexcept { return cap_; }
  // Drops every buffered value (timers' no-stale-value guarantee); returns whether any.
  bool drain() noexcept;

 protected:
  ~chan_base();  // destroys buffered values; destroy_ calls the most derived destructor
  // Makes this a timer channel (before any handle to it exists).
  void set_timer_hooks(const timer_chan_hooks* h) noexcept { timer_ = h; }

 private:
  friend struct chan_access;
  friend struct chan_select;
  unsigned char* slot(std::size_t i) const noexcept { return buf_ + i * elem_size_; }
  void put_locked(void* val) noexcept;   // count_ < cap_
  void take_locked(void* dst) noexcept;  // count_ > 0

  spin_mutex mu_;
  std::atomic<long> refs_{1};
  const chan_type_ops* ops_;
  unsigned char* buf_;      // cap_ slots of elem_size_ bytes
  std::size_t elem_size_;
  std::size_t cap_;
  std::size_t count_ = 0;   // values buffered
  std::size_t recvx_ = 0;   // index of the oldest buffered value
  bool closed_ = false;
  wait_queue recvq_;        // blocked receivers; node->data: std::optional<T>*
  wait_queue sendq_;        // blocked senders; node->data: T* (set to null by close)
  void (*destroy_)(chan_base*) noexcept;
  const timer_chan_hooks* timer_ = nullptr;  // null unless a one-shot timer's channel
};

// A channel of T with its buffer allocated in the same block.
template <class T>
class chan_state final : public chan_base {
 public:
  static chan_state* make(std::size_t cap) {
    const std::size_t head = (sizeof(chan_state) + alignof(T) - 1) / alignof(T) * alignof(T);
    const std::size_t align = alignof(T) > alignof(chan_state) ? alignof(T) : alignof(chan_state);
    if (cap > (static_cast<std::size_t>(-1) - head) / sizeof(T)) throw std::length_error("go::chan: capacity too large");
    void* mem = ::operator new(head + cap * sizeof(T), std::align_val_t(align));
    return ::new (mem) chan_state(cap, static_cast<unsigned char*>(mem) + head);
  }

 private:
  chan_state(std::size_t cap, unsigned char* buf) noexcept
      : chan_base(&chan_ops_for<T>, cap, sizeof(T), buf, &destroy) {}
  static void destroy(chan_base* b) noexcept {
    auto* self = static_cast<chan_state*>(b);
    self->~chan_state();
    constexpr std::size_t align = alignof(T) > alignof(chan_state) ? alignof(T) : alignof(chan_state);
    ::operator delete(static_cast<void*>(self), std::align_val_t(align));
  }
};

// One case of a select, type-erased (Go's scase).
struct select_case {
  enum kind_t : std::uint8_t { recv, send, done_signal, skip };
  kind_t kind = skip;
  chan_base* ch = nullptr;                      // recv/send; null: the nil channel
  const go::context::done_channel* done = nullptr;  // kind done_signal
  void* data = nullptr;                         // recv: std::optional<T>*; send: T*
};

// Go's selectgo. Returns the index of the case that proceeded, or default_index when
// none was ready and default_index >= 0 (then it never blocks). n <= 64.
// Throws channel_error if a chosen send case finds its channel closed.
std::size_t select_impl(select_case* cases, std::size_t n, std::ptrdiff_t default_index);

// Blocks the caller forever (an operation on the nil channel).
[[noreturn]] void block_forever() noexcept;

// The channel pointer of a handle, for the other handle types and select.
struct chan_access {
  template <class H>
  static const auto& ref(const H& h) noexcept { return h.ref_; }
};

// A reference-counted pointer to a chan_base (or a derived state).
template <class S>
class chan_ref {
 public:
  chan_ref() noexcept = default;
  explicit chan_ref(S* s) noexcept : s_(s) {}  // adopts one reference
  chan_ref(const chan_ref& o) noexcept : s_(o.s_) { if (s_) s_->add_ref(); }
  chan_ref(chan_ref&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  chan_ref& operator=(chan_ref o) noexcept { std::swap(s_, o.s_); return *this; }
  ~chan_ref() { if (s_) s_->release(); }
  S* get() const noexcept { return s_; }
  explicit operator bool() const noexcept { return s_ != nullptr; }

 private:
  S* s_ = nullptr;
};

template <class T>
concept chan_element = std::is_nothrow_move_constructible_v<T> && std::is_nothrow_destructible_v<T> &&
                       std::is_object_v<T> && !std::is_const_v<T> && !std::is_array_v<T>;

}  // namespace detail

template <detail::chan_element T> class chan;
template <detail::chan_element T> class send_chan;
template <detail::chan_element T> class recv_chan;

namespace detail {

// Receive operations shared by chan<T> and recv_chan<T>.
template <class T, class Self>
class recv_ops {
 public:
  // Go's `v, ok := <-ch`: blocks until a value is available (returns it) or the
  // channel is closed and drained (returns nullopt). On the nil channel blocks forever.
  // Never throws (except what T's move constructor may not).
  std::optional<T> recv() const {
    std::optional<T> out;
    chan_base* s = base();
    if (!s) block_forever();
    s->recv(&out, true);
    return out;
  }

  // Receives without blocking (Go's select with one receive case and a default):
  // a value if one was available at once; nullopt if none was, or if the channel is
  // closed and drained (use go::select to tell them apart), or on the nil channel.
  std::optional<T> try_recv() const {
    std::optional<T> out;
    if (chan_base* s = base()) s->recv(&out, false);
    return out;
  }

  // Go's len(ch): values buffered now (0 for the nil channel). A snapshot.
  std::size_t size() const noexcept { return base() ? base()->size() : 0; }
  // Go's cap(ch): the buffer capacity (0 for unbuffered and nil channels).
  std::size_t capacity() const noexcept { return base() ? base()->capacity() : 0; }

  // Go's `for v := range ch`: an input range that receives until the channel is
  // closed and drained (forever on the nil channel). Each ++ (and begin()) blocks.
  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using pointer = T*;
    using reference = T&;
    iterator() = default;
    T& operator*() const noexcept { return const_cast<T&>(*cur_); }
    T* operator->() const noexcept { return &**this; }
    iterator& operator++() { next(); return *this; }
    void operator++(int) { next(); }
    friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept { return !it.cur_; }

   private:
    friend class recv_ops;
    explicit iterator(const recv_ops* r) : r_(r) { next(); }
    void next() { cur_ = r_->recv(); }
    const recv_ops* r_ = nullptr;
    std::optional<T> cur_;
  };
  iterator begin() const { return iterator(this); }
  std::default_sentinel_t end() const noexcept { return {}; }

 private:
  chan_base* base() const noexcept { return static_cast<const Self*>(this)->ref_.get(); }
};

// Send operations shared by chan<T> and send_chan<T>.
template <class T, class Self>
class send_ops {
 public:
  // Go's `ch <- v`: blocks until a receiver takes v (unbuffered) or buffer space is
  // free. v is moved from only once it is sent. On the nil channel blocks forever.
  // Throws channel_error("send on closed channel") if the channel is closed, or is
  // closed while this call is blocked (v is then left intact).
  void send(T&& v) const {
    chan_base* s = base();
    if (!s) block_forever();
    s->send(&v, true);
  }
  // Sends a copy of v.
  void send(const T& v) const requires std::is_copy_constructible_v<T> {
    T copy(v);
    send(std::move(copy));
  }

  // Sends without blocking: returns true if a receiver was waiting or buffer space was
  // free (v moved from), false otherwise (v intact; always false on the nil channel).
  // Throws channel_error if the channel is closed.
  bool try_send(T&& v) const {
    chan_base* s = base();
    return s ? s->send(&v, false) : false;
  }
  bool try_send(const T& v) const requires std::is_copy_constructible_v<T> {
    T copy(v);
    return try_send(std::move(copy));
  }

  // Go's close(ch): no more values will be sent. Receivers get the buffered values,
  // then nullopt; blocked receivers wake with nullopt, blocked senders wake and throw.
  // Throws channel_error("close of closed channel") or ("close of nil channel").
  // Never blocks.
  void close() const {
    // A reference of our own: close() wakes receivers a batch at a time and relocks
    // the channel between batches, and a woken receiver may drop every other handle.
    const auto keep = static_cast<const Self*>(this)->ref_;
    if (!keep) throw channel_error("close of nil channel");
    keep.get()->close();
  }

 private:
  chan_base* base() const noexcept { return static_cast<const Self*>(this)->ref_.get(); }
};

}  // namespace detail

// Go's `chan T`: a bidirectional channel handle. See the file comment.
template <detail::chan_element T>
class chan : public detail::send_ops<T, chan<T>>, public detail::recv_ops<T, chan<T>> {
 public:
  using value_type = T;

  // Go's make(chan T): a new unbuffered channel (a send completes only when a receiver
  // takes the value, hand to hand). Throws std::bad_alloc.
  chan() : chan(std::size_t{0}) {}
  // Go's make(chan T, capacity): a new channel; capacity 0 is unbuffered. Throws
  // std::bad_alloc, std::length_error for an absurd capacity.
  explicit chan(std::size_t capacity) : ref_(detail::chan_state<T>::make(capacity)) {}
  // Go's nil channel (`var c chan T`): send and recv block forever, select never picks
  // it, close throws. A moved-from chan is nil too. Never throws.
  chan(nil_t) noexcept {}

  // Go's len/cap: see recv_ops. (Named here too for overload resolution.)
  using detail::recv_ops<T, chan<T>>::size;
  using detail::recv_ops<T, chan<T>>::capacity;

  // True for the nil channel.
  bool is_nil() const noexcept { return !ref_; }

  // Identity: the same channel (all nil handles are equal).
  friend bool operator==(const chan& a, const chan& b) noexcept { return a.ref_.get() == b.ref_.get(); }

 private:
  friend class detail::send_ops<T, chan>;
  friend class detail::recv_ops<T, chan>;
  friend struct detail::chan_access;
  friend class send_chan<T>;
  friend class recv_chan<T>;
  detail::chan_ref<detail::chan_base> ref_;
};

// Go's `chan<- T`: a handle that can only send (and close) — see chan<T>. Converts
// implicitly from chan<T>; a default-constructed one is nil.
template <detail::chan_element T>
class send_chan : public detail::send_ops<T, send_chan<T>> {
 public:
  using value_type = T;
  send_chan() noexcept = default;  // nil
  send_chan(nil_t) noexcept {}
  send_chan(const chan<T>& c) noexcept : ref_(c.ref_) {}  // NOLINT: implicit, like Go
  bool is_nil() const noexcept { return !ref_; }
  std::size_t size() const noexcept { return ref_ ? ref_.get()->size() : 0; }
  std::size_t capacity() const noexcept { return ref_ ? ref_.get()->capacity() : 0; }
  friend bool operator==(const send_chan& a, const send_chan& b) noexcept { return a.ref_.get() == b.ref_.get(); }

 private:
  friend class detail::send_ops<T, send_chan>;
  friend struct detail::chan_access;
  detail::chan_ref<detail::chan_base> ref_;
};

// Go's `<-chan T`: a handle that can only receive — see chan<T>. Converts implicitly
// from chan<T>; a default-constructed one is nil. go::time's channels are recv_chans.
template <detail::chan_element T>
class recv_chan : public detail::recv_ops<T, recv_chan<T>> {
 public:
  using value_type = T;
  recv_chan() noexcept = default;  // nil
  recv_chan(nil_t) noexcept {}
  recv_chan(const chan<T>& c) noexcept : ref_(c.ref_) {}  // NOLINT: implicit, like Go
  // Adopts one reference to a channel state (used by go::time).
  explicit recv_chan(detail::chan_base* adopt) noexcept : ref_(adopt) {}
  bool is_nil() const noexcept { return !ref_; }
  friend bool operator==(const recv_chan& a, const recv_chan& b) noexcept { return a.ref_.get() == b.ref_.get(); }

 private:
  friend class detail::recv_ops<T, recv_chan>;
  friend struct detail::chan_access;
  detail::chan_ref<detail::chan_base> ref_;
};

// ---- select --------------------------------------------------------------------

namespace detail {

struct no_handler {
  void operator()() const noexcept {}
};

// A receive case: go::recv(ch, handler).
template <class T, class F>
struct recv_case {
  chan_base* ch;             // the channel (null: nil)
  chan_ref<chan_base> owned;  // holds it when the case was built from an rvalue handle
  F f;
  std::optional<T> slot;
  void describe(select_case& c) {
    slot.reset();  // a case object may be reused across selects
    c.kind = select_case::recv;
    c.ch = ch;
    c.data = &slot;
  }
  void run() {
    if constexpr (std::is_invocable_v<F&>) {
      f();
    } else if constexpr (std::is_invocable_v<F&, std::optional<T>&&>) {
      f(std::move(slot));
    } else if constexpr (std::is_invocable_v<F&, T&&, bool>) {
      static_assert(std::is_default_constructible_v<T>,
                    "go::recv: a handler taking (T, bool ok) needs a default-constructible T (the zero "
                    "value on a closed channel); take std::optional<T> instead");
      if (slot) f(std::move(*slot), true); else f(T{}, false);
    } else {
      static_assert(std::is_default_constructible_v<T>,
                    "go::recv: a handler taking T needs a default-constructible T (the zero value on a "
                    "closed channel); take std::optional<T> instead");
      if (slot) f(std::move(*slot)); else f(T{});
    }
  }
};

// A receive case on a context's done channel: go::recv(ctx.done(), handler).
template <class F>
struct done_case {
  go::context::done_channel ch;
  F f;
  void describe(select_case& c) {
    c.kind = ch.is_nil() ? select_case::skip : select_case::done_signal;
    c.done = &ch;
  }
  void run() { f(); }
};

// A send case: go::send(ch, value, handler).
template <class T, class F>
struct send_case {
  chan_base* ch;             // the channel (null: nil)
  chan_ref<chan_base> owned;  // holds it when the case was built from an rvalue handle
  T value;
  F f;
  void describe(select_case& c) {
    c.kind = select_case::send;
    c.ch = ch;
    c.data = &value;
  }
  void run() { f(); }
};

// go::default_case(handler).
template <class F>
struct default_case_t {
  F f;
  void describe(select_case& c) { c.kind = select_case::skip; }
  void run() { f(); }
};

template <class C> struct is_default_case : std::false_type {};
template <class F> struct is_default_case<default_case_t<F>> : std::true_type {};

template <class C> struct is_select_case : std::false_type {};
template <class T, class F> struct is_select_case<recv_case<T, F>> : std::true_type {};
template <class F> struct is_select_case<done_case<F>> : std::true_type {};
template <class T, class F> struct is_select_case<send_case<T, F>> : std::true_type {};
template <class F> struct is_select_case<default_case_t<F>> : std::true_type {};

template <class T, class F>
concept recv_handler = std::is_invocable_v<F&> || std::is_invocable_v<F&, std::optional<T>&&> ||
                       std::is_invocable_v<F&, T&&, bool> || std::is_invocable_v<F&, T&&>;

}  // namespace detail

// A receive case for go::select: Go's `case v, ok := <-ch:`. The handler runs when
// this case is chosen, with the value received; its accepted signatures, tried in
// this order:
//   f()                      the value is dropped
//   f(std::optional<T>)      nullopt when the channel is closed (also generic lambdas)
//   f(T, bool ok)            T{} and false when closed (T default-constructible)
//   f(T)                     T{} when closed (T default-constructible), as Go's `v := <-ch`
// A nil ch is never chosen. ch may be a chan<T> or a recv_chan<T>. Built from an
// rvalue handle (go::recv(go::time::after(1s), ...)) the case owns the handle; built
// from an lvalue it refers to it, which must then outlive the case — automatic when
// the case is written inside the go::select call, as intended.
template <class T, class F = detail::no_handler>
  requires detail::recv_handler<T, std::decay_t<F>>
auto recv(const recv_chan<T>& ch, F&& f = {}) {
  return detail::recv_case<T, std::decay_t<F>>{detail::chan_access::ref(ch).get(), {}, std::forward<F>(f),
                                               std::nullopt};
}
template <class T, class F = detail::no_handler>
  requires detail::recv_handler<T, std::decay_t<F>>
auto recv(recv_chan<T>&& ch, F&& f = {}) {
  detail::chan_ref<detail::chan_base> own = detail::chan_access::ref(ch);
  detail::chan_base* p = own.get();
  return detail::recv_case<T, std::decay_t<F>>{p, std::move(own), std::forward<F>(f), std::nullopt};
}
template <class T, class F = detail::no_handler>
  requires detail::recv_handler<T, std::decay_t<F>>
auto recv(const chan<T>& ch, F&& f = {}) {
  return detail::recv_case<T, std::decay_t<F>>{detail::chan_access::ref(ch).get(), {}, std::forward<F>(f),
                                               std::nullopt};
}
template <class T, class F = detail::no_handler>
  requires detail::recv_handler<T, std::decay_t<F>>
auto recv(chan<T>&& ch, F&& f = {}) {
  return go::recv(recv_chan<T>(ch), std::forward<F>(f));
}

// A receive case on a context's done channel: Go's `case <-ctx.Done():`. Chosen once
// the context is done; the handler takes no arguments. The nil done channel (of a
// context that can never be done) is never chosen.
template <class F = detail::no_handler>
  requires std::is_invocable_v<std::decay_t<F>&>
auto recv(const go::context::done_channel& ch, F&& f = {}) {
  return detail::done_case<std::decay_t<F>>{ch, std::forward<F>(f)};
}

// A send case for go::select: Go's `case ch <- v:`. The value is moved into the case
// when the case is built; it is sent only if this case is chosen (then f() runs).
// Choosing it on a closed channel throws channel_error from select, as Go panics.
// A nil ch is never chosen. ch may be a chan<T> or a send_chan<T>; lifetime as for
// go::recv.
template <class T, class V, class F = detail::no_handler>
  requires std::is_constructible_v<T, V&&> && std::is_invocable_v<std::decay_t<F>&>
auto send(const send_chan<T>& ch, V&& value, F&& f = {}) {
  return detail::send_case<T, std::decay_t<F>>{detail::chan_access::ref(ch).get(), {}, T(std::forward<V>(value)),
                                               std::forward<F>(f)};
}
template <class T, class V, class F = detail::no_handler>
  requires std::is_constructible_v<T, V&&> && std::is_invocable_v<std::decay_t<F>&>
auto send(send_chan<T>&& ch, V&& value, F&& f = {}) {
  detail::chan_ref<detail::chan_base> own = detail::chan_access::ref(ch);
  detail::chan_base* p = own.get();
  return detail::send_case<T, std::decay_t<F>>{p, std::move(own), T(std::forward<V>(value)), std::forward<F>(f)};
}
template <class T, class V, class F = detail::no_handler>
  requires std::is_constructible_v<T, V&&> && std::is_invocable_v<std::decay_t<F>&>
auto send(const chan<T>& ch, V&& value, F&& f = {}) {
  return detail::send_case<T, std::decay_t<F>>{detail::chan_access::ref(ch).get(), {}, T(std::forward<V>(value)),
                                               std::forward<F>(f)};
}
template <class T, class V, class F = detail::no_handler>
  requires std::is_constructible_v<T, V&&> && std::is_invocable_v<std::decay_t<F>&>
auto send(chan<T>&& ch, V&& value, F&& f = {}) {
  return go::send(send_chan<T>(ch), std::forward<V>(value), std::forward<F>(f));
}

// The default case for go::select: Go's `default:`. With it, select never blocks.
template <class F = detail::no_handler>
  requires std::is_invocable_v<std::decay_t<F>&>
auto default_case(F&& f = {}) {
  return detail::default_case_t<std::decay_t<F>>{std::forward<F>(f)};
}

// Go's select statement. Takes cases built with go::recv, go::send and at most one
// go::default_case (at most 64 cases), and
//   1. if one or more cases can proceed now, picks one uniformly at random, performs
//      its communication, runs its handler and returns its index (0-based, in
//      argument order);
//   2. otherwise, with a default case, runs it and returns its index, never blocking;
//   3. otherwise blocks (a task parks, a thread blocks) until a case can proceed,
//      then as 1. With no case (or only nil channels) and no default it blocks forever.
// Cases may name the same channel more than once, and send and receive on one channel
// in one select. Handlers run after every channel lock is released; an exception from
// a handler propagates out of select (the communication has happened). Throws
// channel_error if the chosen case sends on a closed channel (Go's panic).
// Thread-safe; values of the cases that were not chosen are destroyed with the cases.
template <class... Cases>
  requires(detail::is_select_case<std::remove_cvref_t<Cases>>::value && ...)
std::size_t select(Cases&&... cases) {
  constexpr std::size_t n = sizeof...(Cases);
  static_assert(n <= 64, "go::select: at most 64 cases");
  constexpr std::size_t defaults = (std::size_t{detail::is_default_case<std::remove_cvref_t<Cases>>::value} + ... + 0);
  static_assert(defaults <= 1, "go::select: at most one default case");
  std::ptrdiff_t default_index = -1;
  if constexpr (defaults == 1) {
    std::ptrdiff_t i = 0;
    ((detail::is_default_case<std::remove_cvref_t<Cases>>::value ? (default_index = i, ++i) : ++i), ...);
  }
  detail::select_case descs[n == 0 ? 1 : n];
  {
    std::size_t i = 0;
    (cases.describe(descs[i++]), ...);
  }
  const std::size_t chosen = detail::select_impl(descs, n, default_index);
  {
    std::size_t i = 0;
    ((i++ == chosen ? cases.run() : void()), ...);
  }
  return chosen;
}

}  // namespace go
