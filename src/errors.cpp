// Go's error type and errors package for gocxx; see go/errors.hpp.
#include "go/errors.hpp"

#include <ostream>

namespace go {

std::string error::message() const { return impl_ ? impl_->message() : std::string("<nil>"); }

std::ostream& operator<<(std::ostream& os, const error& e) { return os << e.message(); }

error_impl::~error_impl() = default;
error error_impl::unwrap() const { return nullptr; }
std::vector<error> error_impl::unwrap_multi() const { return {}; }
bool error_impl::is(const error&) const { return false; }

namespace errors {
namespace {

// errors::make's type: a fixed message, wraps nothing.
class basic_error final : public error_impl {
 public:
  explicit basic_error(std::string message) : message_(std::move(message)) {}
  std::string message() const override { return message_; }

 private:
  std::string message_;
};

// errors::wrap's type. The message is built once, at construction, as fmt.Errorf does:
// computing it on demand would recurse down the chain on every call.
class wrap_error final : public error_impl {
 public:
  wrap_error(error inner, std::string message) : inner_(std::move(inner)), message_(std::move(message)) {}
  std::string message() const override { return message_; }
  error unwrap() const override { return inner_; }

 private:
  error inner_;
  std::string message_;
};

// errors::join's type. Holds only non-nil errors (at least one).
class join_error final : public error_impl {
 public:
  explicit join_error(std::vector<error> errs) : errs_(std::move(errs)) {}
  std::string message() const override {
    std::string out;
    for (std::size_t i = 0; i < errs_.size(); ++i) {
      if (i != 0) out += '\n';
      out += errs_[i].message();
    }
    return out;
  }
  std::vector<error> unwrap_multi() const override { return errs_; }

 private:
  std::vector<error> errs_;
};

}  // namespace

namespace detail {

error find(const error& err, bool (*pred)(const error_impl* node, const void* ctx), const void* ctx) {
  // Pre-order, depth first, without recursion: `cur` walks down unwrap() chains; the
  // unwrap_multi() elements of each visited node wait in `pending`, pushed in reverse
  // so the first one is resumed first, after the unwrap() subtree is done.
  std::vector<error> pending;
  error cur = err;
  for (;;) {
    if (cur) {
      const error_impl& node = *cur.get();
      if (pred(&node, ctx)) return cur;
      std::vector<error> multi = node.unwrap_multi();
      for (auto it = multi.rbegin(); it != multi.rend(); ++it) {
        if (*it) pending.push_back(std::move(*it));
      }
      cur = node.unwrap();  // `node` stays alive: pending or the caller's tree holds it.
      continue;
    }
    if (pending.empty()) return nullptr;
    cur = std::move(pending.back());
    pending.pop_back();
  }
}

}  // namespace detail

error make(std::string message) { return make_error<basic_error>(std::move(message)); }

error wrap(error inner, std::string message) {
  if (!inner) return nullptr;
  message += ": ";
  message += inner.message();
  return make_error<wrap_error>(std::move(inner), std::move(message));
}

error unwrap(const error& err) { return err ? err.get()->unwrap() : error(); }

bool is(const error& err, const error& target) {
  if (!err || !target) return err == target;
  return static_cast<bool>(detail::find(
      err,
      [](const error_impl* node, const void* ctx) {
        const error& t = *static_cast<const error*>(ctx);
        return node == t.get() || node->is(t);
      },
      &target));
}

error join(std::vector<error> errs) {
  std::erase(errs, nullptr);
  if (errs.empty()) return nullptr;
  errs.shrink_to_fit();
  return make_error<join_error>(std::move(errs));
}

std::string code_error::message() const { return code_.message(); }

bool code_error::is(const error& target) const {
  const auto* other = dynamic_cast<const code_error*>(target.get());
  return other != nullptr && other->code_ == code_;
}

error from_error_code(std::error_code ec) { return ec ? make_error<code_error>(ec) : error(); }

bool is(const error& err, std::errc cond) {
  if (!err) return false;
  return static_cast<bool>(detail::find(
      err,
      [](const error_impl* node, const void* ctx) {
        const auto* ce = dynamic_cast<const code_error*>(node);
        return ce != nullptr && ce->code() == *static_cast<const std::errc*>(ctx);
      },
      &cond));
}

exception_error::exception_error(std::exception_ptr ep) : ep_(std::move(ep)) {
  if (!ep_) {
    message_ = "unknown exception";
    return;
  }
  try {
    std::rethrow_exception(ep_);
  } catch (const std::exception& e) {
    message_ = e.what();
  } catch (...) {
    message_ = "unknown exception";
  }
}

error from_exception(std::exception_ptr ep) { return ep ? make_error<exception_error>(std::move(ep)) : error(); }

std::exception_ptr exception(const error& err) {
  const error found = detail::find(
      err,
      [](const error_impl* node, const void*) {
        const auto* e = dynamic_cast<const exception_error*>(node);
        return e != nullptr && e->exception() != nullptr;
      },
      nullptr);
  return found ? static_cast<const exception_error*>(found.get())->exception() : nullptr;
}

void rethrow_if_exception(const error& err) {
  if (std::exception_ptr ep = exception(err)) std::rethrow_exception(std::move(ep));
}

}  // namespace errors
}  // namespace go
