// client.cpp — go/http.hpp's client: libcurl's multi-socket interface driven by the
// runtime's netpoller and timer heap.
//
// The engine. A few process-wide objects — shards (engine::shard(i), leaked statics:
// never destroyed, so a netpoller or timer callback can never see one die); a new
// transfer goes to its caller's shard (by worker, or by thread) and stays there, and
// each shard runs its transfers on its own, so libcurl's work for requests from
// different workers proceeds in parallel. Each shard owns
//
//   * one CURLM multi handle (after curl_global_init, once). Every transfer of every
//     Client started on its worker runs in it, so its connection cache gives
//     keep-alive reuse across requests, clients and tasks (CURLMOPT_MAXCONNECTS = 100 idle
//     connections, as Go's Transport.MaxIdleConns; no per-host limit on connections
//     in use, as Go's MaxConnsPerHost = 0);
//   * one std::mutex, `mu`, the shard's lock. Every libcurl call on the multi handle
//     and on any easy handle while it is in the multi handle is made under it, and so
//     every libcurl callback (socket, timer, header, write) runs under it. It is held
//     only for the duration of non-blocking libcurl calls — never across a park — so
//     the poller thread and workers polling between tasks may take it too
//     (CURLOPT_QUICK_EXIT keeps curl_multi_remove_handle from waiting for a name
//     lookup in progress);
//   * a pool of reset easy handles (up to 128), reused by new transfers;
//   * the socket watches: CURLMOPT_SOCKETFUNCTION turns libcurl's interest in a
//     socket into a detail::poll_watch (level-triggered, EPOLLIN / EPOLLOUT), kept in
//     a map from socket to watch. Connection sockets are opened and closed through
//     CURLOPT_OPENSOCKETFUNCTION / CURLOPT_CLOSESOCKETFUNCTION, so their watch lives
//     exactly as long as the socket and CURL_POLL_REMOVE (a connection going idle in
//     the cache) only drops the interest (no system call; taking it up again costs
//     one, see poll_watch::modify, where it used to cost two); a socket of
//     any other origin loses its watch at CURL_POLL_REMOVE;
//   * one runtime timer (detail::timer): CURLMOPT_TIMERFUNCTION arms it for libcurl's
//     next timeout (`timer_due`; -1 only clears `timer_due`, so a later fire is a
//     no-op). Stopping the timer under the engine lock could deadlock with its
//     callback (timer::stop waits for a running callback), so it is only re-armed.
//
// Who calls libcurl, and on which thread. Under the engine lock, always:
//
//   * the netpoller thread, or a worker polling between tasks, when a watched socket
//     is ready: the watch's callback calls curl_multi_socket_action(fd,
//     CURL_CSELECT_*) — or, if another thread holds the lock, queues the event for
//     the holder, which runs it before it unlocks (engine::defer, unlock_draining);
//   * a task spawned by the engine timer's callback (the timer thread itself must
//     never wait for the engine lock: every sleep and deadline of the process depends
//     on it), when the timer fires at or after `timer_due`:
//     curl_multi_socket_action(CURL_SOCKET_TIMEOUT);
//   * the drive loop itself, when libcurl asks for a timeout of 0 ms (at once);
//   * the requesting task or thread: curl_multi_add_handle followed by a kick
//     (curl_multi_socket_action(CURL_SOCKET_TIMEOUT), which starts the transfer at once
//     instead of a timer-thread round trip later), curl_multi_remove_handle to abort,
//     and curl_easy_pause(CURLPAUSE_CONT) plus a kick when a stream reader drains
//     the buffer.
//
// Each of them, after its socket_action, drains curl_multi_info_read and completes
// every finished transfer (engine::drive). So libcurl's header and write callbacks run
// on whichever of those threads drives the bytes; they only parse and buffer, never
// park, and report progress by claiming the transfer's waiters into the lock holder's
// wake_list (engine::wakes), which wakes them after the engine lock is released (the
// waiter protocol's "claim under the lock, wake after releasing it").
//
// The transfer (detail::transfer, one per request, shared by the requesting call and,
// for Client::open, its BodyReader). Its libcurl easy handle, request headers and
// body, error buffer and context are set before it starts and not changed after;
// everything else is under the engine lock. States:
//
//   new ──start──▶ active ──libcurl reports CURLMSG_DONE──▶ done (result, os errno)
//                     │
//                     └────abort (ctx done, BodyReader::close)──▶ aborted
//
// `active` means "in the multi handle": only then can libcurl call back into it.
// Leaving active always removes the easy handle (curl_multi_remove_handle) under the
// lock — at completion inside drive(), or by abort(), which makes libcurl drop the
// connection at once. Along the way, `headers_done` becomes true at the blank line
// that ends the final response's header block (not a 1xx, and not a 3xx with a
// Location that libcurl will follow), or with the first body byte, whichever is first.
//
// Waiting. A request (send: until done; open: until headers_done or done) and a
// BodyReader::read (until bytes are buffered, or done / aborted) wait with the
// runtime's parking primitive: one waiter, with one wait_node in the transfer's
// wait_queue (token 1, under the engine lock) and one on ctx.done() (token 2, as
// select does). Whoever claims first wakes it; the waiter then dequeues both nodes
// and re-checks its condition under the engine lock. Token 2 (the context is done)
// aborts the transfer and returns a url_error wrapping ctx.err().
//
// Back-pressure (open). The write callback buffers body bytes in the transfer; when
// more than max_buffered (1 MiB) is waiting it returns CURL_WRITEFUNC_PAUSE (libcurl
// keeps that chunk and stops reading the socket); read() resumes the transfer with
// curl_easy_pause(CURLPAUSE_CONT) once the buffer is below half of that. send()
// buffers without limit: it returns the whole body anyway.
//
// Invariants.
//   * libcurl is called only under the engine lock (easy handles not in the multi
//     handle included: curl_easy_cleanup in ~transfer takes it too).
//   * A transfer is active only while its owner (the send/open call, then the
//     BodyReader) holds it: every owner path leaves active (completion or abort)
//     before dropping its reference, so libcurl's CURLOPT_PRIVATE / callback pointers
//     never dangle. The engine itself holds no reference.
//   * Nothing parks or blocks on anything but the engine lock while holding it; the
//     engine lock is never taken inside another gocxx lock, and only the poll_watch
//     (epoll_ctl) and timer (heap lock) calls are made under it.
//   * Waiters are woken only after the engine lock is released.
//
// HTTP specifics. HTTP/1.1 only (CURLOPT_HTTP_VERSION), http and https only, no
// transparent decompression (unlike Go's gzip), signals off (CURLOPT_NOSIGNAL), proxies
// from the environment as libcurl reads them (http_proxy, https_proxy, no_proxy),
// except that loopback addresses are never proxied (as Go's ProxyFromEnvironment).
// libcurl's default "Accept: */*", "Expect: 100-continue" and form Content-Type are
// suppressed, as Go sends none of them. Redirects are followed here, not by libcurl
// (whose rules differ: it follows any 3xx, and keeps a custom method across a 303):
// each hop is a transfer of its own, by Go's rules (do_request, redirect_behavior,
// redirected_request): 301, 302, 303, 307 and 308 with a Location; GET for any method
// but HEAD after 301/302/303, the same method and body after 307/308; the initial
// request's headers, less credentials and cookies when the host changes; a Referer.
#include <curl/curl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "go/detail/netpoll.hpp"
#include "go/detail/timer.hpp"
#include "go/detail/waiter.hpp"
#include "go/http.hpp"
#include "http/common.hpp"
#include "go/runtime.hpp"
#include "runtime/platform.hpp"
#include "runtime/scheduler.hpp"

namespace go::http {
namespace detail {
namespace {

using go::detail::wait_node;
using go::detail::waiter;
using go::detail::wake_list;

// A stream reader's buffer limit: above it the transfer is paused; it resumes when
// the reader has brought the buffer below resume_below.
constexpr std::size_t max_buffered = std::size_t{1} << 20;
constexpr std::size_t resume_below = max_buffered / 2;

// Go's Transport.MaxIdleConns: idle connections kept for reuse.
constexpr long max_idle_connections = 100;

// Finished transfers' easy handles kept for reuse.
constexpr std::size_t max_pooled_handles = 128;

struct easy_deleter {
  void operator()(CURL* h) const noexcept { curl_easy_cleanup(h); }
};
struct slist_deleter {
  void operator()(curl_slist* l) const noexcept { curl_slist_free_all(l); }
};
struct multi_deleter {
  void operator()(CURLM* m) const noexcept { curl_multi_cleanup(m); }
};
using easy_ptr = std::unique_ptr<CURL, easy_deleter>;
using slist_ptr = std::unique_ptr<curl_slist, slist_deleter>;
using multi_ptr = std::unique_ptr<CURLM, multi_deleter>;

class engine;

}  // namespace

// One request in the engine. See the file comment for its states and locking.
struct transfer {
  transfer() = default;
  transfer(const transfer&) = delete;
  transfer& operator=(const transfer&) = delete;
  ~transfer();

  // ---- set before start, immutable afterwards ----
  engine* eng = nullptr;       // the engine shard that runs it
  slist_ptr headers;           // CURLOPT_HTTPHEADER (must outlive the easy handle's use)
  easy_ptr easy;
  std::string req_body;        // CURLOPT_POSTFIELDS points here
  std::string op;              // "Get", "Post", ... (url_error)
  std::string url;             // the request URL (url_error)
  context::Context ctx;        // the request's context (BodyReader::read waits on it)
  bool streaming = false;      // Client::open: pause above max_buffered
  bool requested_gzip = false;  // asked for gzip on the caller's behalf (Go's DisableCompression off)
  char errbuf[CURL_ERROR_SIZE] = {};

  // ---- under the engine lock ----
  bool active = false;         // in the multi handle
  bool aborted = false;        // removed before completion (abort_err says why)
  go::error abort_err;
  bool done = false;           // libcurl finished it (result, os_errno, ...)
  CURLcode result = CURLE_OK;
  long os_errno = 0;
  std::string primary_ip;
  long primary_port = 0;
  bool headers_done = false;   // the final header block is complete
  int status_code = 0;
  std::string status, proto;
  Header header;
  bool uncompressed = false;   // the body was decoded (Content-Encoding, Content-Length removed)
  std::string field_key, field_value;  // the header field being read (folded lines join it)
  std::string buf;             // body bytes received and not yet read
  std::size_t off = 0;         // buf's read position
  bool paused = false;         // the write callback returned CURL_WRITEFUNC_PAUSE
  go::detail::wait_queue waiters;

  std::size_t pending() const noexcept { return buf.size() - off; }
};

namespace {

// The process-wide curl engine. See the file comment.
class engine {
 public:
  // The shards: several independent engines, so that libcurl's work for different
  // requests runs in parallel on several threads (each shard is serialized by its
  // own lock). Immortal: callbacks may run until the process ends.
  static constexpr std::size_t shards = 4;
  static engine& shard(std::size_t i) {
    static engine* all = [] {
      curl_global_init(CURL_GLOBAL_DEFAULT);
      return new engine[shards];
    }();
    return all[i % shards];
  }
  // The shard for a new transfer: the calling worker's (a task keeps its worker, so
  // its requests share one shard and its connections are reused), or on a plain
  // thread the thread's own (by its id).
  static engine& pick() {
    if (go::detail::worker* w = go::detail::current_worker()) return shard(static_cast<std::size_t>(w->id));
    return shard(std::hash<std::thread::id>{}(std::this_thread::get_id()));
  }

  // Held only around non-blocking libcurl calls, on tasks, the poller thread and
  // workers polling between tasks (where nothing may park): a std::mutex.
  std::mutex mu;
  // The wake_list of the current holder of mu (set by `locked`): callbacks running
  // under the lock claim waiters into it.
  wake_list* wakes = nullptr;

  // Socket readiness that arrived on a worker while mu was held. A worker polling
  // between tasks does not wait for the lock (it would stall its tasks behind another
  // thread's libcurl work): it queues the event here and the holder runs it before it
  // lets the lock go (unlock_draining). The poller thread, which has nothing else to
  // do, waits for the lock instead (queueing there would spin it: the fd stays
  // ready, so epoll_wait reports it again at once). The queue has its own short lock;
  // has_deferred_ is set whenever it is non-empty. (Should try_lock ever fail
  // spuriously after the holder's last look, the event waits for the fd's next
  // report, which level-triggering guarantees.)
  // Queues an event; returns false (nothing queued) when out of memory.
  bool defer(curl_socket_t s, int mask) noexcept {
    std::lock_guard g(deferred_mu_);
    // Level-triggered, an fd is reported again until libcurl acts on it: one entry
    // per fd, with the masks merged.
    auto it = std::find_if(deferred_.begin(), deferred_.end(), [s](const auto& e) { return e.first == s; });
    if (it != deferred_.end()) {
      it->second |= mask;
    } else {
      try {
        deferred_.emplace_back(s, mask);
      } catch (...) {
        return false;
      }
    }
    has_deferred_.store(true, std::memory_order_seq_cst);
    go::detail::full_fence();  // pairs with the one in unlock_draining
    return true;
  }

  // Releases mu, first running every deferred event (with `wl` as the holder's
  // wake_list). An event deferred after the holder's last look is run by whoever
  // wins mu after it: the deferring side sets has_deferred_ and then tries the lock,
  // the releasing side unlocks and then looks at has_deferred_ (fences on both sides),
  // so at least one of them sees the other.
  void unlock_draining(wake_list& wl) noexcept {
    for (;;) {
      run_deferred();
      wakes = nullptr;
      mu.unlock();
      go::detail::full_fence();
      if (!has_deferred_.load(std::memory_order_seq_cst) || !mu.try_lock()) return;
      wakes = &wl;
    }
  }

  // An easy handle for a new transfer: a reset one from the pool, or a new one (null
  // if libcurl is out of memory). Reusing handles spares libcurl's per-handle setup
  // and buffers on every request. Takes the lock.
  easy_ptr take_easy();

  // Takes back the handle of a finished transfer (not in the multi handle): reset to
  // its defaults and kept, up to max_pooled_handles. Under the lock.
  void give_back_easy(easy_ptr h) noexcept {
    if (easy_pool_.size() >= max_pooled_handles) return;  // h is cleaned up
    curl_easy_reset(h.get());
    try {
      easy_pool_.push_back(std::move(h));
    } catch (...) {  // no memory for the pool's slot: just clean the handle up
    }
  }

  // Adds t to the multi handle and starts it. Under the lock.
  CURLMcode start(transfer& t) noexcept {
    CURLMcode rc = curl_multi_add_handle(multi_.get(), t.easy.get());
    if (rc != CURLM_OK) return rc;
    t.active = true;
    drive(CURL_SOCKET_TIMEOUT, 0);
    return CURLM_OK;
  }

  // Removes an active transfer before it completes (libcurl closes its connection)
  // and wakes its waiters. Under the lock.
  void abort(transfer& t, go::error why) noexcept {
    if (!t.active) return;
    curl_multi_remove_handle(multi_.get(), t.easy.get());
    t.active = false;
    t.aborted = true;
    t.abort_err = std::move(why);
    t.waiters.claim_all(*wakes);
  }

  // Resumes a transfer paused by its write callback. Under the lock.
  void resume(transfer& t) noexcept {
    if (!t.active || !t.paused) return;
    t.paused = false;
    curl_easy_pause(t.easy.get(), CURLPAUSE_CONT);  // may call the write callback again
    drive(CURL_SOCKET_TIMEOUT, 0);
  }

  // Runs libcurl for socket s (or its timeouts) and completes finished transfers.
  // Under the lock. libcurl often asks for a timeout of 0 ms ("call me again at once"): that is done
  // here, right after the action that asked (a few rounds at most), instead of a
  // round trip through the timer thread and a task.
  void drive(curl_socket_t s, int ev_bitmask) noexcept {
    for (int round = 0;; ++round) {
      kick_now_ = false;
      act(s, ev_bitmask);
      if (!kick_now_) return;
      s = CURL_SOCKET_TIMEOUT;
      ev_bitmask = 0;
      if (round == 7) {  // keep going through the timer rather than spin here
        arm_timer(clock::now());
        return;
      }
    }
  }

  // One curl_multi_socket_action, then completes every finished transfer. Under the lock.
  void act(curl_socket_t s, int ev_bitmask) noexcept {
    int running = 0;
    curl_multi_socket_action(multi_.get(), s, ev_bitmask, &running);
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(multi_.get(), &left)) {
      if (m->msg != CURLMSG_DONE) continue;
      CURL* h = m->easy_handle;
      const CURLcode result = m->data.result;  // m dies with the removal below
      char* priv = nullptr;
      curl_easy_getinfo(h, CURLINFO_PRIVATE, &priv);
      auto* t = reinterpret_cast<transfer*>(priv);
      if (t == nullptr || !t->active) continue;
      complete(*t, result);
    }
  }

 private:
  // The timer's callback runs on the runtime's timer thread, which must never block
  // (every sleep and deadline of the process waits on it), while the engine lock may
  // be held for a while (a TLS handshake): the timeout action runs in a task.
  engine() : timer_([this] {
    try {
      go::spawn([this] { on_timer_fire(); });
    } catch (...) {  // no memory for a task: run it here rather than lose the timeout
      on_timer_fire();
    }
  }) {
    multi_.reset(curl_multi_init());
    if (!multi_) throw std::bad_alloc();
    CURLM* m = multi_.get();
    curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, &engine::on_socket);
    curl_multi_setopt(m, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, &engine::on_timeout_change);
    curl_multi_setopt(m, CURLMOPT_TIMERDATA, this);
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, max_idle_connections);
  }

  void complete(transfer& t, CURLcode result) noexcept {
    CURL* h = t.easy.get();
    t.result = result;
    curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &t.os_errno);
    curl_easy_getinfo(h, CURLINFO_PRIMARY_PORT, &t.primary_port);
    try {
      char* s = nullptr;
      if (curl_easy_getinfo(h, CURLINFO_PRIMARY_IP, &s) == CURLE_OK && s) t.primary_ip = s;
    } catch (...) {  // std::bad_alloc: the strings stay as they were
    }
    if (t.status_code == 0) {
      long code = 0;
      curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
      t.status_code = static_cast<int>(code);
    }
    curl_multi_remove_handle(multi_.get(), h);
    t.active = false;
    t.done = true;
    t.headers_done = true;
    t.waiters.claim_all(*wakes);
  }

  // CURLMOPT_SOCKETFUNCTION: mirror libcurl's interest in s with a poll_watch.
  // libcurl drops its interest in a connection's socket when the connection goes back
  // to its cache and takes it up again when a request reuses it: for a socket opened
  // through on_open_socket that is only poll_watch::modify(0) and back, one system
  // call. A socket of unknown origin is unwatched at once (it may be closed next, and
  // its number reused). libcurl 7.88 closes a socket whose connect failed without
  // on_close_socket (fixed in 8.2): its watch stays until the number is reused, which
  // is harmless because taking up interest always updates the kernel.
  static int on_socket(CURL*, curl_socket_t s, int what, void* userp, void*) {
    auto& e = *static_cast<engine*>(userp);
    try {
      auto it = e.watches_.find(s);
      if (what == CURL_POLL_REMOVE) {
        if (it == e.watches_.end()) return 0;
        if (it->second.ours) {
          it->second.w.modify(0);
        } else {
          e.watches_.erase(it);  // ~poll_watch unregisters the fd
        }
        return 0;
      }
      std::uint32_t events = 0;
      if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) events |= EPOLLIN;
      if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) events |= EPOLLOUT;
      if (it != e.watches_.end()) {
        if (!it->second.w.modify(events)) return -1;  // epoll refused: libcurl fails the transfer
      } else {
        e.watches_.emplace(s, watch{go::detail::poll_watch(s, events, &engine::on_ready, &e), false});
      }
      return 0;
    } catch (...) {  // epoll refused the fd, or std::bad_alloc: libcurl fails the transfer
      return -1;
    }
  }

 public:
  // CURLOPT_OPENSOCKETFUNCTION (for connections): opens the socket and gives it a
  // watch with no interest yet, kept until on_close_socket. A watch left over from
  // an earlier socket with the same number (closed without on_close_socket) is
  // dropped first. Under the lock (libcurl connects inside multi calls).
  static curl_socket_t on_open_socket(void* clientp, curlsocktype purpose, curl_sockaddr* a) {
    const curl_socket_t s = ::socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
    if (s < 0 || purpose != CURLSOCKTYPE_IPCXN) return s < 0 ? CURL_SOCKET_BAD : s;
    auto& e = *static_cast<engine*>(clientp);
    try {
      e.watches_.erase(s);
      e.watches_.emplace(s, watch{go::detail::poll_watch(s, 0, &engine::on_ready, &e), true});
    } catch (...) {  // std::bad_alloc: no socket rather than an unwatched one
      ::close(s);
      return CURL_SOCKET_BAD;
    }
    return s;
  }

  // CURLOPT_CLOSESOCKETFUNCTION: drops the socket's watch, then closes it. Under the
  // lock (libcurl closes connections inside multi calls).
  static int on_close_socket(void* clientp, curl_socket_t s) {
    static_cast<engine*>(clientp)->watches_.erase(s);
    return ::close(s);
  }

 private:

  // poll_watch callback, on the netpoller thread.
  static void on_ready(void* arg, int fd, std::uint32_t events);

  // CURLMOPT_TIMERFUNCTION: libcurl's next timeout, in ms (-1: none).
  static int on_timeout_change(CURLM*, long timeout_ms, void* userp) {
    auto& e = *static_cast<engine*>(userp);
    if (timeout_ms < 0) {
      e.timer_due_ = clock::time_point::max();
      return 0;
    }
    if (timeout_ms == 0) {  // at once: drive() does it after the current action
      e.timer_due_ = clock::time_point::max();
      e.kick_now_ = true;
      return 0;
    }
    return e.arm_timer(clock::now() + std::chrono::milliseconds(timeout_ms)) ? 0 : -1;
  }

  // Arms the engine timer for `due`. Under the lock.
  bool arm_timer(clock::time_point due) noexcept {
    timer_due_ = due;
    try {
      timer_.reset(due);
    } catch (...) {  // the timer thread could not start
      return false;
    }
    return true;
  }

  // The engine timer's action, in a task the timer's callback spawns.
  void on_timer_fire() noexcept;

  // Runs the deferred events. Under the lock.
  void run_deferred() noexcept {
    if (!has_deferred_.load(std::memory_order_seq_cst)) return;
    std::vector<std::pair<curl_socket_t, int>> batch;
    {
      std::lock_guard g(deferred_mu_);
      batch.swap(deferred_);
      has_deferred_.store(false, std::memory_order_relaxed);
    }
    for (auto [fd, mask] : batch) drive(fd, mask);
    std::lock_guard g(deferred_mu_);  // keep the capacity for next time
    if (deferred_.empty()) {
      batch.clear();
      deferred_.swap(batch);
    }
  }

  go::detail::spin_mutex deferred_mu_;
  std::vector<std::pair<curl_socket_t, int>> deferred_;  // under deferred_mu_
  std::atomic<bool> has_deferred_{false};

  multi_ptr multi_;  // never destroyed (the engine is immortal)
  std::vector<easy_ptr> easy_pool_;  // reset handles for new transfers (under the lock)
  struct watch {
    go::detail::poll_watch w;
    bool ours;  // opened by on_open_socket: kept, with no interest, while libcurl idles it
  };
  std::unordered_map<curl_socket_t, watch> watches_;
  go::detail::timer timer_;
  clock::time_point timer_due_ = clock::time_point::max();
  bool kick_now_ = false;  // libcurl asked for a timeout action at once (under the lock)
};

// The engine lock, with the wake_list its callbacks claim into: waiters are woken
// after the mutex is released (members are destroyed in reverse order).
class locked {
 public:
  explicit locked(engine& e) : e_(e) {
    e_.mu.lock();
    e_.wakes = &wakes_;
  }
  // For a caller that already holds e.mu.
  locked(engine& e, std::adopt_lock_t) noexcept : e_(e) { e_.wakes = &wakes_; }
  locked(const locked&) = delete;
  locked& operator=(const locked&) = delete;
  ~locked() { e_.unlock_draining(wakes_); }

 private:
  engine& e_;
  wake_list wakes_;  // destroyed after the destructor's body: wakes after the unlock
};

easy_ptr engine::take_easy() {
  {
    locked l(*this);
    if (!easy_pool_.empty()) {
      easy_ptr h = std::move(easy_pool_.back());
      easy_pool_.pop_back();
      return h;
    }
  }
  return easy_ptr(curl_easy_init());
}

void engine::on_ready(void* arg, int fd, std::uint32_t events) {
  auto& e = *static_cast<engine*>(arg);
  int mask = 0;
  if (events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP)) mask |= CURL_CSELECT_IN;
  if (events & EPOLLOUT) mask |= CURL_CSELECT_OUT;
  if (events & EPOLLERR) mask |= CURL_CSELECT_ERR;
  // A worker does not wait for a busy lock (see defer): the holder runs the event
  // before it unlocks — unless it has just looked, so try once more; whoever gets the
  // lock runs it. The poller thread waits, and so does a worker out of memory.
  const bool on_worker = go::detail::current_worker() != nullptr;
  if (!on_worker || !e.mu.try_lock()) {
    if (on_worker && e.defer(fd, mask)) {
      if (e.mu.try_lock()) {
        locked l(e, std::adopt_lock);  // runs the deferred event as it unlocks
      }
      return;
    }
    e.mu.lock();
  }
  locked l(e, std::adopt_lock);
  e.drive(fd, mask);
}

void engine::on_timer_fire() noexcept {
  locked l(*this);
  if (clock::now() < timer_due_) return;  // cleared or moved later since it was armed
  timer_due_ = clock::time_point::max();
  drive(CURL_SOCKET_TIMEOUT, 0);
}

// ---- libcurl's easy callbacks (under the engine lock) --------------------------------

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

// Whether a just-completed header block is the final response's: not an interim 1xx.
// (libcurl follows no redirects: each is a transfer of its own, see do_request.)
bool is_final_block(const transfer& t) {
  return !(t.status_code >= 100 && t.status_code < 200 && t.status_code != 101);
}

// CURLOPT_HEADERFUNCTION: one line at a time, status lines included, for every
// response (interim, redirects, the final one), then trailers.
std::size_t on_header(char* data, std::size_t size, std::size_t n, void* userp) {
  auto& t = *static_cast<transfer*>(userp);
  const std::size_t len = size * n;
  if (t.headers_done) return len;  // trailers
  try {
    const bool continuation = len > 0 && (data[0] == ' ' || data[0] == '\t');
    std::string_view line = trim(std::string_view(data, len));
    if (continuation && !line.empty()) {
      // An obsolete folded line continues the field before it (Go's textproto joins
      // them with one space).
      if (!t.field_key.empty()) (t.field_value += ' ') += line;
      return len;
    }
    // Any other line ends the field before it.
    if (!t.field_key.empty()) {
      t.header.add(t.field_key, t.field_value);
      t.field_key.clear();
      t.field_value.clear();
    }
    if (line.starts_with("HTTP/")) {
      // A new response: "HTTP/1.1 200 OK". Go: Status is what follows the protocol,
      // left-trimmed; the code is its first word.
      t.header = Header();
      const std::size_t sp = line.find(' ');
      t.proto = std::string(line.substr(0, sp));
      std::string_view rest = sp == std::string_view::npos ? std::string_view() : trim(line.substr(sp + 1));
      t.status = std::string(rest);
      int code = 0;
      for (char c : rest.substr(0, rest.find(' '))) {
        if (c < '0' || c > '9' || code > 999) { code = 0; break; }
        code = code * 10 + (c - '0');
      }
      t.status_code = code;
      if (t.proto == "HTTP/2") t.proto = "HTTP/2.0";  // Go's spelling
      return len;
    }
    if (line.empty()) {
      if (t.status_code != 0 && is_final_block(t)) {
        t.headers_done = true;
        if (t.requested_gzip && t.header.has("Content-Encoding")) {
          // libcurl decodes the body (CURLOPT_ACCEPT_ENCODING): Go's Transport then drops
          // the headers that describe the encoded form.
          t.header.del("Content-Encoding");
          t.header.del("Content-Length");
          t.uncompressed = true;
        }
        t.waiters.claim_all(*t.eng->wakes);
      }
      return len;
    }
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return len;  // not a field; ignore
    t.field_key = trim(line.substr(0, colon));
    t.field_value = trim(line.substr(colon + 1));
    return len;
  } catch (...) {  // std::bad_alloc: fail the transfer (CURLE_WRITE_ERROR)
    return 0;
  }
}

// CURLOPT_WRITEFUNCTION: body bytes of the final response.
std::size_t on_write(char* data, std::size_t size, std::size_t n, void* userp) {
  auto& t = *static_cast<transfer*>(userp);
  const std::size_t len = size * n;
  if (t.streaming && t.pending() >= max_buffered) {
    t.paused = true;  // libcurl keeps this chunk and delivers it again on resume
    return CURL_WRITEFUNC_PAUSE;
  }
  try {
    if (t.off > 0 && t.off == t.buf.size()) {
      t.buf.clear();
      t.off = 0;
    }
    t.buf.append(data, len);
  } catch (...) {  // std::bad_alloc: fail the transfer (CURLE_WRITE_ERROR)
    return 0;
  }
  t.headers_done = true;
  if (t.streaming) t.waiters.claim_all(*t.eng->wakes);
  return len;
}

// libcurl's URL parser (CURLU), for error addresses and the redirect rules.
struct curlu_deleter {
  void operator()(CURLU* u) const noexcept { curl_url_cleanup(u); }
};
using curlu_ptr = std::unique_ptr<CURLU, curlu_deleter>;

// url parsed, or null if libcurl cannot parse it (or is out of memory).
curlu_ptr parse_url(const std::string& url) {
  curlu_ptr u(curl_url());
  if (u && curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) u.reset();
  return u;
}

std::string curlu_part(CURLU* u, CURLUPart part, unsigned flags = 0) {
  char* v = nullptr;
  std::string out;
  if (curl_url_get(u, part, &v, flags) == CURLUE_OK && v) out = v;
  curl_free(v);
  return out;
}

// The URL's host, without the brackets of an IPv6 literal.
std::string host_of(CURLU* u) {
  std::string host = curlu_part(u, CURLUPART_HOST);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return host;
}

// "host:port" of a URL in Go's notation ("[::1]:80"; the scheme's port when none is
// given); "" if libcurl cannot parse it.
std::string url_host_port(const std::string& url) {
  curlu_ptr u = parse_url(url);
  if (!u) return {};
  return net::join_host_port(host_of(u.get()), curlu_part(u.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT));
}

// The URL `loc` (a Location header: absolute, or relative to `base`) resolved against
// base, as Go's URL.Parse does; or the parser's complaint.
result<std::string> resolve_location(const std::string& base, const std::string& loc) {
  curlu_ptr u(curl_url());
  if (!u) throw std::bad_alloc();
  CURLUcode rc = curl_url_set(u.get(), CURLUPART_URL, base.c_str(), 0);
  // As libcurl's own redirects: spaces allowed (Go's URL.Parse takes them), and
  // escaped when the URL is sent.
  if (rc == CURLUE_OK) rc = curl_url_set(u.get(), CURLUPART_URL, loc.c_str(), CURLU_URLENCODE | CURLU_ALLOW_SPACE);
  if (rc != CURLUE_OK) return {{}, go::errors::make(curl_url_strerror(rc))};
  std::string out = curlu_part(u.get(), CURLUPART_URL);
  if (out.empty()) return {{}, go::errors::make("malformed URL")};
  return {std::move(out), nullptr};
}

// A URL's scheme and host name (lower case, no port, no IPv6 brackets).
std::pair<std::string, std::string> scheme_and_host(const std::string& url) {
  curlu_ptr u = parse_url(url);
  if (!u) return {};
  std::string scheme = curlu_part(u.get(), CURLUPART_SCHEME);
  std::string host = host_of(u.get());
  for (char& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return {std::move(scheme), std::move(host)};
}

// Go's isDomainOrSubdomain: sub is parent, or a subdomain of it ("a.b.com" of
// "b.com"); never for IP addresses.
bool is_domain_or_subdomain(const std::string& sub, const std::string& parent) {
  if (sub == parent) return true;
  if (sub.find(':') != std::string::npos) return false;  // IPv6 literal
  if (sub.size() <= parent.size() || !sub.ends_with(parent)) return false;
  return sub[sub.size() - parent.size() - 1] == '.';
}

// Go's redirect rules (Client.Do, redirectBehavior). A response to a request made
// with `method` and status `code` is followed when the code is 301, 302, 303, 307 or
// 308 and it has a Location (a client with max_redirects == 0 follows nothing).
// 301, 302 and 303 turn any method but GET and HEAD into GET and drop the body; 307
// and 308 repeat the method and the body.
struct redirect_step {
  bool follow = false;
  std::string method;
  bool keep_body = false;
};
redirect_step redirect_behavior(int code, const std::string& method) {
  switch (code) {
    case 301: case 302: case 303:
      return {true, method == "GET" || method == "HEAD" ? method : std::string("GET"), false};
    case 307: case 308:
      return {true, method, true};
    default:
      return {};
  }
}

// Whether a redirect chain that started at `initial` and now goes to `next` must stop
// sending credentials and cookies: once a hop leaves the initial host for one that is
// neither it nor a subdomain of it, for the rest of the chain (Go's
// shouldCopyHeaderOnRedirect with the sticky stripSensitiveHeaders of Go 1.22.11 and
// 1.23.5, CVE-2024-45336: a later hop back to "the same domain" as an intermediate
// host must not get them back).
bool leaves_initial_domain(const std::string& initial, const std::string& next) {
  return !is_domain_or_subdomain(scheme_and_host(next).second, scheme_and_host(initial).second);
}

// The request that follows `prev` to `next_url` (Go's makeHeadersCopier and
// refererForURL): the initial request's headers, less Authorization, WWW-Authenticate,
// Cookie and Cookie2 when strip_sensitive; a Referer naming prev's URL, unless the
// initial request set one or this goes from https to http.
Request redirected_request(const Request& initial, const Request& prev, std::string next_url, const redirect_step& step,
                           bool strip_sensitive) {
  Request next;
  next.method = step.method;
  next.url = std::move(next_url);
  next.timeout = initial.timeout;
  if (step.keep_body) next.body = initial.body;
  for (const auto& [k, v] : initial.header.entries()) {
    if (strip_sensitive && (internal::equal_fold(k, "Authorization") || internal::equal_fold(k, "Www-Authenticate") ||
                            internal::equal_fold(k, "Cookie") || internal::equal_fold(k, "Cookie2"))) {
      continue;
    }
    next.header.add(k, v);
  }
  const std::string prev_scheme = scheme_and_host(prev.url).first;
  const std::string next_scheme = scheme_and_host(next.url).first;
  if (prev_scheme == "https" && next_scheme == "http") {
    // no Referer added (one the request set is kept, as Go's copied headers)
  } else if (!next.header.has("Referer")) {
    std::string ref = prev.url;
    if (const auto at = ref.find('@'), scheme_end = ref.find("://");  // no user information
        at != std::string::npos && scheme_end != std::string::npos && at > scheme_end &&
        ref.find('/', scheme_end + 3) > at) {
      ref.erase(scheme_end + 3, at - scheme_end - 2);
    }
    next.header.set("Referer", ref);
  }
  return next;
}

// ---- waiting -------------------------------------------------------------------------

// Waits until ready() holds (evaluated under the engine lock) or `done` closes.
// Returns whether ready() held; false means the context is done. A task parks, a
// thread blocks.
template <class Pred>
bool wait_until_ready(engine& e, transfer& t, const context::done_channel& done, Pred ready) {
  for (;;) {
    waiter w;
    wait_node tn;
    tn.w = &w;
    tn.token = 1;
    {
      locked l(e);
      if (ready()) return true;
      t.waiters.push_back(&tn);
    }
    done.park(w, 2);  // progress on the transfer (token 1), or the context is done
    const bool ctx_done = w.token() == 2;
    bool ok = false;
    {
      locked l(e);
      t.waiters.remove(&tn);
      ok = ready();
    }
    if (ok) return true;
    if (ctx_done) return false;
  }
}

// ---- errors --------------------------------------------------------------------------

// Go's urlErrorOp: "GET" -> "Get".
std::string url_error_op(std::string_view method) {
  if (method.empty()) return "Get";
  std::string op(method);
  for (std::size_t i = 1; i < op.size(); ++i) {
    if (op[i] >= 'A' && op[i] <= 'Z') op[i] = static_cast<char>(op[i] - 'A' + 'a');
  }
  return op;
}

go::error make_url_error(const transfer& t, go::error cause) {
  return go::errors::make_error<url_error>(t.op, t.url, std::move(cause));
}

// The url_error for a finished transfer whose result is not CURLE_OK, or for an
// aborted one. Called by the transfer's owner once it is no longer active.
go::error transfer_error(const transfer& t) {
  if (t.aborted) return make_url_error(t, t.abort_err);
  if (go::error ce = t.ctx.err()) return make_url_error(t, ce);
  switch (t.result) {
    case CURLE_OPERATION_TIMEDOUT:
      return make_url_error(t, net::err_deadline_exceeded);
    case CURLE_COULDNT_CONNECT:
      if (t.os_errno != 0) {
        // The address libcurl tried, or if it recorded none, the URL's.
        const std::string addr = t.primary_ip.empty() ? url_host_port(t.url)
                                                      : net::join_host_port(t.primary_ip, std::to_string(t.primary_port));
        auto sys = go::errors::make_error<net::syscall_error>(
            "connect", std::error_code(static_cast<int>(t.os_errno), std::system_category()));
        return make_url_error(t, go::errors::make_error<net::op_error>("dial", "tcp", "", addr, sys));
      }
      break;
    default:
      break;
  }
  std::string msg = t.errbuf[0] != '\0' ? std::string(t.errbuf) : std::string(curl_easy_strerror(t.result));
  return make_url_error(t, go::errors::make_error<curl_error>(static_cast<int>(t.result), std::move(msg)));
}

// ---- building a transfer --------------------------------------------------------------

// Loopback is never proxied: no_proxy from the environment plus the loopback names.
const std::string& no_proxy_list() {
  static const std::string list = [] {
    std::string l = "localhost,127.0.0.1,::1";
    for (const char* var : {"no_proxy", "NO_PROXY"}) {
      if (const char* v = std::getenv(var); v != nullptr && *v != '\0') {
        // libcurl honours "*" (no proxy at all) only as the whole list.
        l = std::string_view(v) == "*" ? std::string("*") : std::string(v) + "," + l;
        break;
      }
    }
    return l;
  }();
  return list;
}

std::string upper(std::string_view s) {
  std::string r(s);
  for (char& c : r) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return r;
}

// RFC 7230 token characters (method names, header field names).
bool is_token(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (c <= ' ' || c >= 0x7f || std::strchr("\"(),/:;<=>?@[\\]{}", c) != nullptr) return false;
  }
  return true;
}

// Go's checks before a request goes out: a valid method and header fields (no CR or
// LF smuggled into the request head). Nil when req is well-formed.
go::error validate(const Request& req) {
  if (!req.method.empty() && !is_token(req.method)) {
    return go::errors::make("net/http: invalid method \"" + req.method + "\"");
  }
  for (const auto& [k, v] : req.header.entries()) {
    if (!is_token(k)) return go::errors::make("net/http: invalid header field name \"" + k + "\"");
    if (v.find_first_of("\r\n") != std::string::npos || v.find('\0') != std::string::npos) {
      return go::errors::make("net/http: invalid header field value for \"" + k + "\"");
    }
  }
  return nullptr;
}

// A new transfer for req, not started, to finish by `deadline` (max: none); or the
// error that prevents it (a url_error with `op`, the first request's).
result<std::shared_ptr<transfer>> make_transfer(const Client& c, const context::Context& ctx, const Request& req,
                                                bool streaming, std::string op, clock::time_point deadline) {
  auto t = std::make_shared<transfer>();
  t->op = std::move(op);
  t->url = req.url;
  t->ctx = ctx;
  t->streaming = streaming;
  if (go::error e = validate(req)) return {nullptr, make_url_error(*t, std::move(e))};
  t->eng = &engine::pick();  // also runs curl_global_init before the first curl_easy_init
  t->easy = t->eng->take_easy();
  if (!t->easy) {
    return {nullptr, make_url_error(*t, go::errors::make_error<curl_error>(CURLE_OUT_OF_MEMORY,
                                                                           "curl_easy_init failed"))};
  }
  CURL* h = t->easy.get();
  transfer* tp = t.get();

  // Request headers: the caller's, then suppress libcurl's defaults that Go does not send.
  const Header& hd = req.header;
  auto append = [&](const std::string& line) {
    // Returns the list's head: a new one only for the first line.
    curl_slist* head = curl_slist_append(t->headers.get(), line.c_str());
    if (head == nullptr) throw std::bad_alloc();
    if (!t->headers) t->headers.reset(head);
  };
  for (const auto& [k, v] : hd.entries()) append(v.empty() ? k + ";" : k + ": " + v);
  if (!hd.has("Accept")) append("Accept:");
  if (!hd.has("Expect")) append("Expect:");

  const std::string method = req.method.empty() ? std::string("GET") : upper(req.method);
  const bool with_body = !req.body.empty() || method == "POST" || method == "PUT" || method == "PATCH";
  if (with_body && !hd.has("Content-Type")) append("Content-Type:");

  curl_easy_setopt(h, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(h, CURLOPT_PRIVATE, tp);
  curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, &engine::on_open_socket);
  curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, t->eng);
  curl_easy_setopt(h, CURLOPT_CLOSESOCKETFUNCTION, &engine::on_close_socket);
  curl_easy_setopt(h, CURLOPT_CLOSESOCKETDATA, t->eng);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, tp->errbuf);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075700
  // Removing a handle whose name lookup is still running would otherwise wait for the
  // threaded resolver, under the engine lock: cancellation must not wait for DNS.
  curl_easy_setopt(h, CURLOPT_QUICK_EXIT, 1L);
#endif
  curl_easy_setopt(h, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_NOPROXY, no_proxy_list().c_str());
  curl_easy_setopt(h, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, tp);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &on_write);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, tp);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);  // do_request follows, by Go's rules
  if (deadline != clock::time_point::max()) {
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock::now()).count();
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(std::clamp<decltype(ms)>(ms, 1, 0x7fffffff)));
  }
  if (c.insecure_skip_verify) {
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (!c.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, c.ca_file.c_str());
  if (!hd.has("User-Agent") && !c.user_agent.empty()) curl_easy_setopt(h, CURLOPT_USERAGENT, c.user_agent.c_str());
  if (t->headers) curl_easy_setopt(h, CURLOPT_HTTPHEADER, t->headers.get());

  // Go's Transport: ask for gzip and decode it, unless the caller deals with encodings
  // itself (Accept-Encoding or Range set), or it is a HEAD.
  if (!c.disable_compression && !hd.has("Accept-Encoding") && !hd.has("Range") && method != "HEAD") {
    t->requested_gzip = true;
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "gzip");
  }
  if (method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (with_body) {
    t->req_body = req.body;
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t->req_body.size()));
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, t->req_body.data());
    if (method != "POST") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
  } else if (method != "GET") {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  return {std::move(t), nullptr};
}

// Waits until ready() holds or ctx is done (then aborts t). Returns nil when ready()
// held, else the url_error to return.
template <class Pred>
go::error wait_or_abort(const context::Context& ctx, transfer& t, Pred ready) {
  engine& e = *t.eng;
  if (wait_until_ready(e, t, ctx.done(), ready)) return nullptr;
  locked l(e);
  e.abort(t, ctx.err());
  return make_url_error(t, ctx.err());
}

// Starts t, then wait_or_abort.
template <class Pred>
go::error run_until(const context::Context& ctx, transfer& t, Pred ready) {
  if (go::error ce = ctx.err()) return make_url_error(t, ce);
  {
    locked l(*t.eng);
    if (CURLMcode rc = t.eng->start(t); rc != CURLM_OK) {
      return make_url_error(t, go::errors::make_error<curl_error>(static_cast<int>(rc), curl_multi_strerror(rc)));
    }
  }
  return wait_or_abort(ctx, t, ready);
}

// The error, if any, of a transfer that is no longer active. Under the engine lock.
go::error finished_error(const transfer& t) {
  if (t.aborted || t.result != CURLE_OK) return transfer_error(t);
  return nullptr;
}

// After run_until: waits until t is done, or ctx is done (then aborts t). Returns nil
// when t is done without error, else the url_error to return.
go::error wait_done(const context::Context& ctx, transfer& t) {
  if (go::error err = wait_or_abort(ctx, t, [&] { return t.done; })) return err;
  locked l(*t.eng);
  return finished_error(t);
}

// Go reports a failed name lookup as `dial tcp: lookup HOST: no such host` (an
// op_error around a dns_error); libcurl only says "Could not resolve host". For a
// finished transfer that failed so, the lookup is repeated with net::lookup_host to
// get Go's error (a blocking lookup: never under the engine lock). If that lookup
// succeeds (a transient failure), e is kept.
go::error with_dns_error(const transfer& t, go::error e) {
  if (t.aborted || t.result != CURLE_COULDNT_RESOLVE_HOST) return e;
  const std::string host = scheme_and_host(t.url).second;
  if (host.empty()) return e;
  auto [addrs, lerr] = net::lookup_host(t.ctx, host);
  if (!go::errors::as<net::dns_error>(lerr)) return e;
  return make_url_error(t, go::errors::make_error<net::op_error>("dial", "tcp", "", "", std::move(lerr)));
}

// Go's Client.Do: sends req and follows redirects (redirect_behavior), each hop a
// transfer of its own, all within one deadline (Client::timeout or Request::timeout).
// Returns the transfer of the final response once it is `done` (send) or has its
// headers (open: streaming), or the url_error. As Go's default CheckRedirect, a
// chain holds at most c.max_redirects requests: the redirect that would make one more
// fails with "stopped after N redirects" and the refused Location as the error's URL.
// Every hop is waited for only until its headers; a hop that is followed is aborted
// (its connection closed) unless its body has already arrived, so a 3xx with an
// endless body is not read (Go reads at most 2 KiB of it).
result<std::shared_ptr<transfer>> do_request(const Client& c, const context::Context& ctx, const Request& req,
                                             bool streaming) {
  const std::string op = url_error_op(req.method);
  const clock::duration timeout = req.timeout > clock::duration::zero() ? req.timeout : c.timeout;
  const clock::time_point deadline = timeout > clock::duration::zero() ? clock::now() + timeout : clock::time_point::max();
  const Request* cur = &req;
  Request hop;  // the current request once a redirect has been followed
  bool strip_sensitive = false;
  for (int followed = 0;; ++followed) {
    auto made = make_transfer(c, ctx, *cur, streaming, op, deadline);
    if (made.err) return made;
    std::shared_ptr<transfer> t = std::move(made.value);
    if (followed > 0 && clock::now() >= deadline) return {nullptr, make_url_error(*t, net::err_deadline_exceeded)};
    if (go::error e = run_until(ctx, *t, [&] { return t->done || t->headers_done; })) return {nullptr, std::move(e)};
    std::string loc;
    redirect_step step;
    go::error failed;
    {
      locked l(*t->eng);
      failed = t->done ? finished_error(*t) : nullptr;
      // The header callback ignores everything after the final block, so these no
      // longer change.
      if (!failed && c.max_redirects > 0) {
        step = redirect_behavior(t->status_code, upper(cur->method.empty() ? "GET" : cur->method));
      }
      if (step.follow) loc = t->header.get("Location");
      if (!failed && !loc.empty() && !t->done) t->eng->abort(*t, context::canceled);
    }
    if (failed) return {nullptr, with_dns_error(*t, std::move(failed))};  // unlocked: it may look up a name
    if (loc.empty()) {  // the final response
      if (!streaming) {
        if (go::error e = wait_done(ctx, *t)) return {nullptr, std::move(e)};
      }
      return {std::move(t), nullptr};
    }
    auto next = resolve_location(cur->url, loc);
    if (next.err) {
      return {nullptr, make_url_error(*t, go::errors::make("failed to parse Location header \"" + loc + "\": " +
                                                           next.err.message()))};
    }
    if (followed + 1 >= c.max_redirects) {  // Go: len(via) >= 10
      return {nullptr, go::errors::make_error<url_error>(
                           op, loc, go::errors::make("stopped after " + std::to_string(c.max_redirects) + " redirects"))};
    }
    strip_sensitive = strip_sensitive || leaves_initial_domain(req.url, next.value);
    hop = redirected_request(req, *cur, std::move(next.value), step, strip_sensitive);
    cur = &hop;
  }
}

// Returned by read() after close().
const go::error err_body_closed = go::errors::make("http: read on closed response body");

}  // namespace

transfer::~transfer() {
  if (!easy) return;
  locked l(*eng);  // libcurl is only called under the engine lock
  eng->give_back_easy(std::move(easy));
}

}  // namespace detail

// ---- Client -----------------------------------------------------------------------------

result<Response> Client::send(const context::Context& ctx, const Request& req) const {
  using namespace detail;
  auto done = do_request(*this, ctx, req, false);
  if (done.err) return {{}, std::move(done.err)};
  // Done without error: no longer active, so nothing else touches t (the last writes
  // happened under the lock that do_request's check took).
  std::shared_ptr<transfer> t = std::move(done.value);
  Response r;
  r.status_code = t->status_code;
  r.status = std::move(t->status);
  r.proto = std::move(t->proto);
  r.header = std::move(t->header);
  r.body = std::move(t->buf);
  r.url = std::move(t->url);  // the last hop's: each transfer makes one request
  r.uncompressed = t->uncompressed;
  return {std::move(r), nullptr};
}

result<StreamResponse> Client::open(const context::Context& ctx, const Request& req) const {
  using namespace detail;
  auto opened = do_request(*this, ctx, req, true);
  if (opened.err) return {{}, std::move(opened.err)};
  std::shared_ptr<transfer> t = std::move(opened.value);
  StreamResponse r;
  try {
    locked l(*t->eng);
    // The header callback ignores everything after the final block (trailers), so
    // these fields no longer change; copy them under the lock all the same.
    r.status_code = t->status_code;
    r.status = t->status;
    r.proto = t->proto;
    r.header = t->header;
    r.url = t->url;
    r.uncompressed = t->uncompressed;
  } catch (...) {  // std::bad_alloc: take the transfer out of the engine before it dies
    locked l(*t->eng);
    t->eng->abort(*t, context::canceled);
    throw;
  }
  r.body = BodyReader(std::move(t));
  return {std::move(r), nullptr};
}

result<Response> Client::get(const context::Context& ctx, std::string_view url) const {
  Request r;
  r.method = "GET";
  r.url = std::string(url);
  return send(ctx, r);
}

result<Response> Client::head(const context::Context& ctx, std::string_view url) const {
  Request r;
  r.method = "HEAD";
  r.url = std::string(url);
  return send(ctx, r);
}

result<Response> Client::post(const context::Context& ctx, std::string_view url, std::string_view content_type,
                              std::string body) const {
  Request r;
  r.method = "POST";
  r.url = std::string(url);
  r.header.set("Content-Type", content_type);
  r.body = std::move(body);
  return send(ctx, r);
}

Client& default_client() noexcept {
  static Client& c = *new Client;  // never destroyed: tasks may still use it at exit
  return c;
}

result<Response> get(const context::Context& ctx, std::string_view url) { return default_client().get(ctx, url); }
result<Response> head(const context::Context& ctx, std::string_view url) { return default_client().head(ctx, url); }
result<Response> post(const context::Context& ctx, std::string_view url, std::string_view content_type,
                      std::string body) {
  return default_client().post(ctx, url, content_type, std::move(body));
}
result<Response> send(const context::Context& ctx, const Request& req) { return default_client().send(ctx, req); }
result<StreamResponse> open(const context::Context& ctx, const Request& req) {
  return default_client().open(ctx, req);
}

// ---- BodyReader ------------------------------------------------------------------------

BodyReader::BodyReader(std::shared_ptr<detail::transfer> t) noexcept : t_(std::move(t)) {}

BodyReader::BodyReader(BodyReader&& o) noexcept = default;

BodyReader& BodyReader::operator=(BodyReader&& o) noexcept {
  if (this != &o) {
    close();
    t_ = std::move(o.t_);
  }
  return *this;
}

BodyReader::~BodyReader() { close(); }

void BodyReader::close() noexcept {
  if (!t_) return;
  {
    detail::locked l(*t_->eng);
    t_->eng->abort(*t_, detail::err_body_closed);
  }
  t_.reset();  // ~transfer takes the engine lock: not under it
}

io::result BodyReader::read(std::span<char> buf) {
  using namespace detail;
  if (!t_) return {0, detail::err_body_closed};
  if (buf.empty()) return {0, nullptr};
  transfer& t = *t_;
  engine& e = *t.eng;
  const context::done_channel done = t.ctx.done();
  const bool ready = wait_until_ready(e, t, done, [&] { return t.pending() > 0 || !t.active; });
  locked l(e);
  if (!ready) e.abort(t, t.ctx.err());
  if (t.pending() > 0) {
    const std::size_t n = std::min(buf.size(), t.pending());
    std::memcpy(buf.data(), t.buf.data() + t.off, n);
    t.off += n;
    if (t.off == t.buf.size()) {
      t.buf.clear();
      t.off = 0;
    } else if (t.off >= resume_below) {
      t.buf.erase(0, t.off);  // keep the buffer bounded
      t.off = 0;
    }
    if (t.paused && t.pending() < resume_below) e.resume(t);
    return {n, nullptr};
  }
  if (go::error err = finished_error(t)) return {0, std::move(err)};
  return {0, io::eof};
}

}  // namespace go::http
