// go/errors.hpp — Go's `error` type and `errors` package for gocxx.
//
// go::error is Go's `error`: a cheap, copyable, nullable handle to an immutable error
// object (a go::error_impl). A default-constructed error is nil; functions that may
// fail return a go::error and nil means success:
//
//   inline const go::error not_found = go::errors::make("not found");  // a sentinel
//
//   go::error lookup(std::string_view key) {
//     if (!present(key)) return go::errors::wrap(not_found, "lookup " + std::string(key));
//     return nullptr;
//   }
//
//   if (go::error err = lookup("k"); go::errors::is(err, not_found)) { ... }
//
// Errors form trees, as in Go: an error may wrap one error (error_impl::unwrap, Go's
// `Unwrap() error`) and/or several (error_impl::unwrap_multi, Go's `Unwrap() []error`,
// used by errors::join). errors::is, errors::as and errors::exception search that tree
// in pre-order, depth first: an error, then the tree of its unwrap(), then the trees
// of its unwrap_multi() elements in order. The search is iterative, so deep chains do
// not consume the (possibly small) stack of a task.
//
// Errors compare by identity: two go::error values are == when they refer to the same
// error object. errors::make("x") == errors::make("x") is false, exactly as Go's
// errors.New("x") == errors.New("x").
//
// Thread safety: error objects are immutable once constructed; a go::error may be
// copied, compared, inspected and destroyed from any number of threads and tasks at
// once (copying is an atomic reference-count increment). As with std::shared_ptr, a
// single go::error *variable* must not be assigned in one thread while another reads
// it. User error types must keep their const member functions safe to call
// concurrently.
//
// Exceptions: functions that allocate (errors::make, wrap, join, ...) throw
// std::bad_alloc when memory runs out, and so may the tree searches (is, as,
// exception), which allocate when the tree holds joined errors. Nothing else here
// throws, except by propagating what a user error_impl override throws.
#pragma once

#include <concepts>
#include <cstddef>
#include <exception>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace go {

class error_impl;

// Go's `error`: a nullable, shared, immutable error value. See the file comment.
//
// Copy and move never throw. Thread-safe as described in the file comment.
class error {
 public:
  // Constructs a nil error.
  error() noexcept = default;
  // Constructs a nil error; lets functions `return nullptr;` for "no error".
  error(std::nullptr_t) noexcept {}  // NOLINT(google-explicit-constructor): Go's nil.
  // Takes shared ownership of `impl`; a null `impl` gives a nil error. Prefer
  // errors::make_error<T>(...), which allocates the object for you.
  explicit error(std::shared_ptr<const error_impl> impl) noexcept : impl_(std::move(impl)) {}

  // True when this error is non-nil (Go's `err != nil`).
  explicit operator bool() const noexcept { return impl_ != nullptr; }

  // Go's Error(): the error's message, or "<nil>" for a nil error. May throw
  // std::bad_alloc, or whatever the error_impl's message() throws.
  std::string message() const;

  // The error object, or nullptr for nil. The object lives at least as long as
  // this go::error (or any copy of it) does.
  const error_impl* get() const noexcept { return impl_.get(); }

  // Identity: true when both refer to the same error object (both nil counts).
  friend bool operator==(const error& a, const error& b) noexcept { return a.impl_ == b.impl_; }
  // True when `e` is nil. (`nullptr == e` and `!=` follow from C++20 rewriting.)
  friend bool operator==(const error& e, std::nullptr_t) noexcept { return e.impl_ == nullptr; }

  // Writes e.message() ("<nil>" for nil).
  friend std::ostream& operator<<(std::ostream& os, const error& e);

 private:
  std::shared_ptr<const error_impl> impl_;
};

// Base class of every error object. Derive from it to define an error type (Go's
// "implement the error interface"), override message(), and optionally unwrap(),
// unwrap_multi() and is(); then create values with errors::make_error<T>(...), and
// recover them with errors::as<T>(err).
//
// Error objects are immutable: all members are const and must be safe to call from
// several threads at once. unwrap() and unwrap_multi() should return errors the object
// stores (as every gocxx error type does), not freshly created ones: errors::as
// returns a raw pointer into the tree, which is valid only while the tree holds it.
// The tree must be acyclic (immutability makes that the natural case).
class error_impl {
 public:
  virtual ~error_impl();

  // Go's Error(): a human-readable description, without trailing newline.
  virtual std::string message() const = 0;

  // Go's `Unwrap() error`: the single error this one wraps, or nil (the default).
  virtual error unwrap() const;

  // Go's `Unwrap() []error`: the errors this one wraps, in order (errors::join's
  // result returns its elements). Default: empty. Nil elements are skipped by the
  // tree search.
  virtual std::vector<error> unwrap_multi() const;

  // Go's `Is(error) bool` hook: lets this error report that it is equivalent to
  // `target` (e.g. an error with a status code matching a sentinel). Called by
  // errors::is with a non-nil target that is not this object itself; it need not
  // look at the errors this one wraps (the search visits them). Default: false.
  virtual bool is(const error& target) const;

 protected:
  error_impl() = default;
  error_impl(const error_impl&) = default;
  error_impl& operator=(const error_impl&) = default;
};

// A value and an error: Go's `(T, error)` results. Destructure it as in Go:
//
//   auto [conn, err] = go::net::dial(ctx, "tcp", "127.0.0.1:80");
//   if (err) return err;
//
// When err is non-nil, value is whatever the function documents (usually T's empty
// state). Copyable and movable as T is.
template <class T>
struct result {
  T value{};
  error err;
};

namespace errors {

namespace detail {
// Searches err's tree in pre-order (see the file comment) and returns the first
// error whose object satisfies pred(object, ctx) (object is never null), or nil.
// Iterative. Implements as/is/exception; not part of the public API.
error find(const error& err, bool (*pred)(const error_impl* node, const void* ctx), const void* ctx);
}  // namespace detail

// Go's errors.New: a new error whose message is `message`. Every call gives a
// distinct error (== only to copies of itself), so storing one in a global makes a
// sentinel:
//   inline const go::error eof = go::errors::make("EOF");
error make(std::string message);

// Constructs an error of user type T (derived from error_impl) from `args`, as
// std::make_shared does. Throws what T's constructor throws, or std::bad_alloc.
template <class T, class... Args>
  requires std::derived_from<T, error_impl> && std::constructible_from<T, Args...>
error make_error(Args&&... args) {
  return error(std::shared_ptr<const error_impl>(std::make_shared<T>(std::forward<Args>(args)...)));
}

// fmt.Errorf("message: %w", inner): a new error whose message is
// `message + ": " + inner.message()` and whose unwrap() is `inner`.
// Returns nil when `inner` is nil (as pkg/errors.Wrap does), so
// `return errors::wrap(f(), "f");` passes success through unchanged.
error wrap(error inner, std::string message);

// Go's errors.Unwrap: err's unwrap(), or nil when err is nil or wraps no single
// error. Like Go, it does not look into unwrap_multi(): unwrap(join(a, b)) is nil.
error unwrap(const error& err);

// Go's errors.Is: true when some error in err's tree (err included) is `target`
// (identity), or reports via its is() hook that it matches `target`. When either is
// nil, returns err == target (so is(nil, nil) is true and is(err, nil) is false).
bool is(const error& err, const error& target);

// Go's errors.As: the first error in err's tree (err included, pre-order) whose
// dynamic type is T or derives from T, or nullptr if none (or err is nil). T is
// normally a type derived from error_impl, but may be any class type the error
// objects may also derive from (like Go's As with an interface target).
//
// The pointer stays valid while err (or any error whose tree holds that object) is
// alive; see error_impl for the requirement this puts on custom unwrap().
template <class T>
  requires std::is_class_v<T>
const T* as(const error& err) {
  if constexpr (std::is_base_of_v<T, error_impl>) {
    return err.get();  // Every error is a T: the first match is err itself.
  } else {
    const error found = detail::find(
        err, [](const error_impl* node, const void*) { return dynamic_cast<const T*>(node) != nullptr; }, nullptr);
    return found ? dynamic_cast<const T*>(found.get()) : nullptr;
  }
}

// Go's errors.Join: an error wrapping the non-nil errors of `errs`, in order; nil if
// there are none. Its message is their messages joined by "\n"; its unwrap_multi()
// returns them, and its unwrap() is nil. Even a single non-nil error is wrapped in a
// new object, as in Go (join(e) != e, but is(join(e), e)).
error join(std::vector<error> errs);

// join(e1, e2, ...): the same for errors given as arguments (anything convertible to
// go::error, nullptr included). join() with no arguments is nil.
template <class... Errs>
  requires(std::convertible_to<Errs, error> && ...)
error join(Errs&&... errs) {
  std::vector<error> v;
  v.reserve(sizeof...(Errs));
  (v.emplace_back(std::forward<Errs>(errs)), ...);
  return join(std::move(v));
}

// The error type returned by from_error_code: carries a std::error_code.
// Its is() hook matches any other code_error with an equal code(), so errors made
// from the same code at different places compare as equivalent under errors::is.
class code_error final : public error_impl {
 public:
  explicit code_error(std::error_code code) noexcept : code_(code) {}
  // The carried code.
  std::error_code code() const noexcept { return code_; }
  // code().message().
  std::string message() const override;
  // True when target's object is a code_error with an equal code().
  bool is(const error& target) const override;

 private:
  std::error_code code_;
};

// An error carrying `ec`, or nil when `ec` is zero (no error). Its message is
// ec.message(); errors::as<code_error>(err)->code() recovers `ec`.
error from_error_code(std::error_code ec);

// True when some error in err's tree is a code_error whose code() is equivalent to
// `cond` — Go's errors.Is(err, syscall.ECONNREFUSED), spelled
// errors::is(err, std::errc::connection_refused). Never throws except bad_alloc
// (see the file comment).
bool is(const error& err, std::errc cond);

// The error type returned by from_exception: carries a std::exception_ptr.
class exception_error final : public error_impl {
 public:
  // Captures `ep` and computes the message once: the exception's what() if it is a
  // std::exception, "unknown exception" otherwise (or if `ep` is null). Rethrows `ep`
  // internally to inspect it; throws only std::bad_alloc.
  explicit exception_error(std::exception_ptr ep);
  // The carried exception.
  const std::exception_ptr& exception() const noexcept { return ep_; }
  // The message computed at construction.
  std::string message() const override { return message_; }

 private:
  std::exception_ptr ep_;
  std::string message_;
};

// An error carrying the exception `ep` (an exception_error), or nil when `ep` is
// null. Message: what() for a std::exception, "unknown exception" otherwise.
// Typical use: `catch (...) { return errors::from_exception(std::current_exception()); }`
error from_exception(std::exception_ptr ep);

// The exception carried by err or by an error in its tree (the first exception_error
// found in pre-order), or nullptr if none.
std::exception_ptr exception(const error& err);

// If exception(err) is non-null, rethrows it; otherwise returns normally (also for
// a non-nil error that carries no exception).
void rethrow_if_exception(const error& err);

}  // namespace errors
}  // namespace go

// Identity hash, consistent with go::error's ==: lets errors key unordered containers.
template <>
struct std::hash<go::error> {
  std::size_t operator()(const go::error& e) const noexcept { return std::hash<const go::error_impl*>{}(e.get()); }
};
