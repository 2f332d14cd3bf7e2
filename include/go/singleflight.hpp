// go/singleflight.hpp — golang.org/x/sync/singleflight for gocxx: duplicate call
// suppression.
//
// Algorithm (x/sync's Group; the code is gocxx's own). A Group maps each key with a
// call in flight to a shared `call` record, under a go::sync::Mutex. The first caller
// for a key (the leader) inserts the record, runs fn without any lock held, stores the
// outcome (value and error, or the exception fn threw) in the record, removes the key
// (unless forget() already did, or a newer call replaced it), hands the outcome to
// the do_chan channels that joined, and finally marks the record's WaitGroup done.
// Later callers for the same key (duplicates) find the record, count themselves in
// `dups`, and wait on the WaitGroup (parking a task, blocking a thread), then read the
// outcome, which the WaitGroup makes visible to them. The record is reference-counted
// (std::shared_ptr), so it lives until the last caller is done with it.
//
// Invariants: a key is in the map only while its call runs; a record's outcome is
// written once, by the leader, before the WaitGroup is released; dups only grows, and
// only under the Mutex while the record is in the map.
#pragma once

#include <concepts>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "go/chan.hpp"
#include "go/errors.hpp"
#include "go/runtime.hpp"
#include "go/sync.hpp"

namespace go::singleflight {

namespace detail {
template <class T, class V>
struct is_value_error_pair : std::false_type {};
template <class V>
struct is_value_error_pair<std::pair<V, go::error>, V> : std::true_type {};
}  // namespace detail

// What a call returns: Go's (v interface{}, err error, shared bool), and the element
// of do_chan's channel (Go's Result).
template <class V>
struct Result {
  V value;          // fn's value (for do_chan after fn threw: V{})
  go::error err;    // fn's error (nil when fn returns a bare V); see do_chan for throws
  bool shared;      // the value was given to more than one caller
};

// A Group suppresses duplicate calls: Go's singleflight.Group, typed. K is the key
// (hashed with Hash, compared with Eq, copy-constructible); V the value
// (copy-constructible; it is copied to each caller).
//
// fn — the work to deduplicate — is any callable with no arguments returning either V
// (its error is then nil) or std::pair<V, go::error>.
//
// Exceptions: if fn throws, the leader and every duplicate caller of do_call rethrow
// the very same exception object (one std::exception_ptr); nobody hangs. do_chan
// receivers get it as an error instead (see do_chan).
//
// Thread safety: every member may be called concurrently from tasks and threads. The
// Group must outlive the calls in flight (including do_chan's tasks).
template <class K, class V, class Hash = std::hash<K>, class Eq = std::equal_to<K>>
class Group {
 public:
  using result = Result<V>;

  Group() = default;
  Group(const Group&) = delete;
  Group& operator=(const Group&) = delete;

  // Go's Do: runs fn for key, making sure only one execution is in flight for a given
  // key at a time. A duplicate caller blocks (a task parks, a thread blocks) until the
  // original completes and receives the same result; `shared` tells whether the value
  // went to more than one caller. fn runs on the leader's own task or thread. Throws
  // what fn threw (the same exception object to every caller), or std::bad_alloc.
  template <class F>
    requires std::invocable<F&>
  result do_call(const K& key, F&& fn) {
    std::shared_ptr<call> c;
    {
      std::unique_lock<go::sync::Mutex> lock(mu_);
      if (auto it = m_.find(key); it != m_.end()) {
        c = it->second;
        ++c->dups;
        lock.unlock();
        c->wg.wait();
        if (c->ex) std::rethrow_exception(c->ex);
        return result{*c->val, c->err, true};
      }
      c = std::make_shared<call>();
      c->wg.add(1);
      m_.emplace(key, c);
    }
    const bool shared = run(c, key, fn);
    if (c->ex) std::rethrow_exception(c->ex);
    return result{*c->val, c->err, shared};
  }

  // Go's DoChan: like do_call, but returns at once a channel (buffered, capacity 1)
  // that will receive the result; the leader's fn runs in a new task (go::spawn). The
  // channel is never closed. If fn throws, the receivers get Result{V{}, err, shared}
  // where err is go::errors::from_exception of the thrown exception (recover it with
  // go::errors::exception(err)); Go crashes the program instead. Throws std::bad_alloc,
  // or std::runtime_error if the runtime cannot start.
  template <class F>
    requires std::invocable<std::decay_t<F>&> && std::default_initializable<V>
  go::chan<result> do_chan(const K& key, F&& fn) {
    go::chan<result> ch(1);
    std::shared_ptr<call> c;
    {
      std::lock_guard<go::sync::Mutex> lock(mu_);
      if (auto it = m_.find(key); it != m_.end()) {
        ++it->second->dups;
        it->second->chans.push_back(ch);
        return ch;
      }
      c = std::make_shared<call>();
      c->wg.add(1);
      c->chans.push_back(ch);
      m_.emplace(key, c);
    }
    try {
      go::spawn([this, c, key, f = std::decay_t<F>(std::forward<F>(fn))]() mutable { run(c, key, f); });
    } catch (...) {
      // The call never ran: fail it for everybody who joined meanwhile.
      c->ex = std::current_exception();
      run_finish(c, key);
      throw;
    }
    return ch;
  }

  // Go's Forget: the next call for key runs fn instead of joining the call in flight
  // (which still completes and delivers to its own callers). Never blocks for long.
  void forget(const K& key) {
    std::lock_guard<go::sync::Mutex> lock(mu_);
    m_.erase(key);
  }

 private:
  struct call {
    go::sync::WaitGroup wg;        // done once the outcome is stored
    std::optional<V> val;          // set unless fn threw
    go::error err;
    std::exception_ptr ex;         // what fn threw, if it did
    int dups = 0;                  // under mu_
    std::vector<go::chan<result>> chans;  // do_chan receivers; under mu_
  };

  // Runs fn as the leader, publishes the outcome; returns `shared`.
  template <class F>
  bool run(const std::shared_ptr<call>& c, const K& key, F& fn) {
    try {
      using R = std::invoke_result_t<F&>;
      if constexpr (detail::is_value_error_pair<std::remove_cvref_t<R>, V>::value) {
        auto r = fn();
        c->val.emplace(std::move(r.first));
        c->err = std::move(r.second);
      } else {
        c->val.emplace(fn());
      }
    } catch (...) {
      c->ex = std::current_exception();
    }
    return run_finish(c, key);
  }

  bool run_finish(const std::shared_ptr<call>& c, const K& key) noexcept {
    std::vector<go::chan<result>> chans;
    bool shared;
    {
      std::lock_guard<go::sync::Mutex> lock(mu_);
      if (auto it = m_.find(key); it != m_.end() && it->second == c) m_.erase(it);
      chans.swap(c->chans);
      shared = c->dups > 0;
    }
    if (!chans.empty()) send_all(c, chans, shared);
    c->wg.done();
    return shared;
  }

  static void send_all(const std::shared_ptr<call>& c, std::vector<go::chan<result>>& chans, bool shared) noexcept {
    if constexpr (std::default_initializable<V>) {
      go::error err = c->err;
      if (c->ex) err = go::errors::from_exception(c->ex);
      for (auto& ch : chans) {
        // Buffered with capacity 1 and sent to once: never blocks.
        ch.try_send(result{c->val ? *c->val : V{}, err, shared});
      }
    }
  }

  go::sync::Mutex mu_;
  std::unordered_map<K, std::shared_ptr<call>, Hash, Eq> m_;
};

}  // namespace go::singleflight
