// Tests for go/errors.hpp. Cases marked "Go:" are ports of Go's errors package tests
// (errors_test.go, wrap_test.go, join_test.go) to gocxx's types.
#include "go/errors.hpp"

#include <gtest/gtest.h>

#include <cerrno>

#include <atomic>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

namespace {

using go::error;
using go::error_impl;
namespace errors = go::errors;

// ---- Error types used by the tests (the counterparts of wrap_test.go's) ----

// Go: type wrapped struct { msg string; err error } with Unwrap() error.
class wrapped final : public error_impl {
 public:
  wrapped(std::string msg, error err) : msg_(std::move(msg)), err_(std::move(err)) {}
  std::string message() const override { return msg_; }
  error unwrap() const override { return err_; }

 private:
  std::string msg_;
  error err_;
};

// Go: type poser struct { msg string; f func(error) bool } with an Is hook.
class poser final : public error_impl {
 public:
  poser(std::string msg, std::function<bool(const error&)> f) : msg_(std::move(msg)), f_(std::move(f)) {}
  std::string message() const override { return msg_; }
  bool is(const error& target) const override { return f_ && f_(target); }

 private:
  std::string msg_;
  std::function<bool(const error&)> f_;
};

// Go: type multiErr []error with Unwrap() []error.
class multi_err final : public error_impl {
 public:
  explicit multi_err(std::vector<error> errs) : errs_(std::move(errs)) {}
  std::string message() const override { return "multiError"; }
  std::vector<error> unwrap_multi() const override { return errs_; }

 private:
  std::vector<error> errs_;
};

// Go: type errorT struct { s string }.
class error_t final : public error_impl {
 public:
  explicit error_t(std::string s) : s_(std::move(s)) {}
  std::string message() const override { return "errorT(" + s_ + ")"; }
  const std::string& s() const { return s_; }

 private:
  std::string s_;
};

// An "interface" that is not an error_impl: Go's `interface{ Timeout() bool }`.
class timeouter {
 public:
  virtual ~timeouter() = default;
  virtual bool timeout() const = 0;
};

// Stands in for Go's *fs.PathError: an error type that also implements timeouter.
class path_error final : public error_impl, public timeouter {
 public:
  path_error(std::string op, std::string path) : op_(std::move(op)), path_(std::move(path)) {}
  std::string message() const override { return op_ + " " + path_ + ": no such file or directory"; }
  bool timeout() const override { return false; }

 private:
  std::string op_;
  std::string path_;
};

// An error with both a single and a multiple unwrap, to pin down the search order.
class both_err final : public error_impl {
 public:
  both_err(error single, std::vector<error> multi) : single_(std::move(single)), multi_(std::move(multi)) {}
  std::string message() const override { return "both"; }
  error unwrap() const override { return single_; }
  std::vector<error> unwrap_multi() const override { return multi_; }

 private:
  error single_;
  std::vector<error> multi_;
};

error make_wrapped(std::string msg, error err) { return errors::make_error<wrapped>(std::move(msg), std::move(err)); }
error make_multi(std::vector<error> errs) { return errors::make_error<multi_err>(std::move(errs)); }
error make_t(std::string s) { return errors::make_error<error_t>(std::move(s)); }

// A sentinel, declared as the header recommends.
inline const error sentinel = errors::make("sentinel");

// ---- go::error, the value type ----

static_assert(std::is_nothrow_default_constructible_v<error>);
static_assert(std::is_nothrow_copy_constructible_v<error>);
static_assert(std::is_nothrow_move_constructible_v<error>);
static_assert(std::is_nothrow_copy_assignable_v<error>);
static_assert(std::is_nothrow_move_assignable_v<error>);
static_assert(std::is_convertible_v<std::nullptr_t, error>);
static_assert(!std::is_convertible_v<error, bool>, "operator bool must be explicit");
static_assert(std::is_constructible_v<bool, error>);
static_assert(!std::is_convertible_v<std::shared_ptr<const error_impl>, error>, "shared_ptr ctor must be explicit");

TEST(ErrorValue, NilByDefaultAndFromNullptr) {
  const error a;
  const error b = nullptr;
  const error c{std::shared_ptr<const error_impl>()};
  for (const error* e : {&a, &b, &c}) {
    EXPECT_FALSE(*e);
    EXPECT_TRUE(*e == nullptr);
    EXPECT_TRUE(nullptr == *e);
    EXPECT_FALSE(*e != nullptr);
    EXPECT_EQ(e->get(), nullptr);
    EXPECT_EQ(e->message(), "<nil>");
  }
  EXPECT_TRUE(a == b);
  EXPECT_TRUE(b == c);
}

TEST(ErrorValue, NonNil) {
  const error e = errors::make("abc");
  EXPECT_TRUE(e);
  EXPECT_FALSE(!e);
  EXPECT_TRUE(e != nullptr);
  EXPECT_TRUE(nullptr != e);
  EXPECT_NE(e.get(), nullptr);
  EXPECT_EQ(e.get()->message(), "abc");
  EXPECT_NE(e, error());
}

// Go: TestNewEqual.
TEST(ErrorValue, MakeGivesDistinctErrorsComparedByIdentity) {
  EXPECT_NE(errors::make("abc"), errors::make("abc"));
  EXPECT_NE(errors::make("abc"), errors::make("xyz"));
  const error err = errors::make("jkl");
  const error copy = err;  // NOLINT(performance-unnecessary-copy-initialization)
  EXPECT_EQ(err, err);
  EXPECT_EQ(copy, err);
  EXPECT_EQ(copy.get(), err.get());
  error moved = copy;
  const error moved_to = std::move(moved);
  EXPECT_EQ(moved_to, err);
}

// Go: TestErrorMethod.
TEST(ErrorValue, Message) {
  const error err = errors::make("abc");
  EXPECT_EQ(err.message(), "abc");
  EXPECT_EQ(errors::make("").message(), "");
}

TEST(ErrorValue, StreamsMessage) {
  std::ostringstream os;
  os << errors::make("abc") << '|' << error() << '|' << errors::wrap(errors::make("b"), "a");
  EXPECT_EQ(os.str(), "abc|<nil>|a: b");
}

TEST(ErrorValue, HashIsIdentity) {
  const error a = errors::make("x");
  const error b = errors::make("x");
  std::unordered_set<error> set{a, b, a, error(), nullptr};
  EXPECT_EQ(set.size(), 3U);
  EXPECT_EQ(set.count(a), 1U);
  EXPECT_EQ(set.count(errors::make("x")), 0U);
  EXPECT_EQ(std::hash<error>{}(a), std::hash<error>{}(error(a)));
}

TEST(ErrorValue, UserTypeViaMakeError) {
  const error err = errors::make_error<error_t>("T");
  EXPECT_EQ(err.message(), "errorT(T)");
  const error_t* t = errors::as<error_t>(err);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->s(), "T");
  EXPECT_EQ(static_cast<const error_impl*>(t), err.get());
}

TEST(ErrorValue, SharedPtrConstructorSharesOwnership) {
  auto impl = std::make_shared<const error_t>("shared");
  const error err{impl};
  EXPECT_EQ(err.get(), impl.get());
  EXPECT_EQ(impl.use_count(), 2);
  EXPECT_EQ(errors::as<error_t>(err), impl.get());
}

// ---- make / wrap / unwrap ----

TEST(Sentinel, IsThroughWrapping) {
  const error err = errors::wrap(errors::wrap(sentinel, "read config"), "start");
  EXPECT_TRUE(errors::is(err, sentinel));
  EXPECT_TRUE(errors::is(sentinel, sentinel));
  EXPECT_FALSE(errors::is(err, errors::make("sentinel"))) << "same message, different error";
  EXPECT_NE(err, sentinel);
}

TEST(Wrap, MessageAndUnwrap) {
  const error inner = errors::make("inner");
  const error err = errors::wrap(inner, "outer");
  ASSERT_TRUE(err);
  EXPECT_EQ(err.message(), "outer: inner");
  EXPECT_EQ(errors::unwrap(err), inner);
  EXPECT_EQ(err.get()->unwrap(), inner);
  EXPECT_TRUE(err.get()->unwrap_multi().empty());
  EXPECT_NE(err, inner);
}

TEST(Wrap, Nested) {
  const error c = errors::make("c");
  const error b = errors::wrap(c, "b");
  const error a = errors::wrap(b, "a");
  EXPECT_EQ(a.message(), "a: b: c");
  EXPECT_EQ(errors::unwrap(a), b);
  EXPECT_EQ(errors::unwrap(errors::unwrap(a)), c);
  EXPECT_EQ(errors::unwrap(c), nullptr);
  EXPECT_TRUE(errors::is(a, b));
  EXPECT_TRUE(errors::is(a, c));
  EXPECT_FALSE(errors::is(c, a)) << "is looks down the tree, never up";
}

TEST(Wrap, NilStaysNil) {
  EXPECT_EQ(errors::wrap(nullptr, "context"), nullptr);
  EXPECT_EQ(errors::wrap(error(), ""), nullptr);
}

TEST(Wrap, MessageIsASnapshotOfTheUserMessage) {
  // wrap() of a user type keeps that type findable and includes its message.
  const error err = errors::wrap(make_t("T"), "ctx");
  EXPECT_EQ(err.message(), "ctx: errorT(T)");
  ASSERT_NE(errors::as<error_t>(err), nullptr);
  EXPECT_EQ(errors::as<error_t>(err)->s(), "T");
}

// Go: TestUnwrap.
TEST(Unwrap, GoCases) {
  const error err1 = errors::make("1");
  const error erra = make_wrapped("wrap 2", err1);
  struct test_case {
    error err;
    error want;
  };
  const std::vector<test_case> cases = {
      {nullptr, nullptr},
      {make_wrapped("wrapped", nullptr), nullptr},
      {err1, nullptr},
      {erra, err1},
      {make_wrapped("wrap 3", erra), erra},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(errors::unwrap(cases[i].err), cases[i].want) << "case " << i;
  }
}

// ---- is ----

// Go: TestIs (all cases but errorUncomparable, which has no C++ counterpart).
TEST(Is, GoCases) {
  const error err1 = errors::make("1");
  const error erra = make_wrapped("wrap 2", err1);
  const error errb = make_wrapped("wrap 3", erra);
  const error err3 = errors::make("3");
  const error poser_err = errors::make_error<poser>(
      "either 1 or 3", [err1, err3](const error& err) { return err == err1 || err == err3; });

  struct test_case {
    error err;
    error target;
    bool match;
  };
  const std::vector<test_case> cases = {
      {nullptr, nullptr, true},
      {nullptr, err1, false},
      {err1, nullptr, false},
      {err1, err1, true},
      {erra, err1, true},
      {errb, err1, true},
      {err1, err3, false},
      {erra, err3, false},
      {errb, err3, false},
      {poser_err, err1, true},
      {poser_err, err3, true},
      {poser_err, erra, false},
      {poser_err, errb, false},
      {make_multi({}), err1, false},
      {make_multi({err1, err3}), err1, true},
      {make_multi({err3, err1}), err1, true},
      {make_multi({err1, err3}), errors::make("x"), false},
      {make_multi({err3, errb}), errb, true},
      {make_multi({err3, errb}), erra, true},
      {make_multi({err3, errb}), err1, true},
      {make_multi({errb, err3}), err1, true},
      {make_multi({poser_err}), err1, true},
      {make_multi({poser_err}), err3, true},
      {make_multi({nullptr}), nullptr, false},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(errors::is(cases[i].err, cases[i].target), cases[i].match)
        << "case " << i << ": is(" << cases[i].err << ", " << cases[i].target << ")";
  }
}

TEST(Is, HookSeesTheTargetAndIsNotAskedAboutNil) {
  std::vector<error> asked;
  const error yes = errors::make_error<poser>("always", [&asked](const error& target) {
    asked.push_back(target);
    return true;
  });
  const error target = errors::make("t");
  EXPECT_TRUE(errors::is(errors::wrap(yes, "ctx"), target));
  ASSERT_EQ(asked.size(), 1U);
  EXPECT_EQ(asked[0], target);

  asked.clear();
  EXPECT_FALSE(errors::is(yes, nullptr)) << "a non-nil error is never nil";
  EXPECT_TRUE(asked.empty());
  EXPECT_TRUE(errors::is(yes, yes)) << "identity is checked before the hook";
  EXPECT_TRUE(asked.empty());
}

TEST(Is, HookBelowAWrap) {
  const error target = errors::make("target");
  const error p = errors::make_error<poser>("p", [target](const error& t) { return t == target; });
  const error chain = errors::wrap(make_wrapped("w", errors::wrap(p, "inner")), "outer");
  EXPECT_TRUE(errors::is(chain, target));
  EXPECT_FALSE(errors::is(chain, errors::make("target")));
}

// ---- as ----

// Go: TestAs (all cases but those exercising Go's As(any) bool hook, which gocxx
// does not have). errF stands in for the *fs.PathError of os.Open("non-existing").
TEST(As, GoCasesForErrorT) {
  struct test_case {
    error err;
    bool match;
    std::string want_s;
  };
  const std::vector<test_case> cases = {
      {nullptr, false, ""},
      {make_wrapped("pitied the fool", make_t("T")), true, "T"},
      {make_wrapped("wrapped", nullptr), false, ""},
      {make_multi({}), false, ""},
      {make_multi({errors::make("a"), make_t("T")}), true, "T"},
      {make_multi({make_t("T"), errors::make("a")}), true, "T"},
      {make_multi({make_t("a"), make_t("b")}), true, "a"},
      {make_multi({make_multi({errors::make("a"), make_t("a")}), make_t("b")}), true, "a"},
      {make_multi({nullptr}), false, ""},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const error_t* got = errors::as<error_t>(cases[i].err);
    ASSERT_EQ(got != nullptr, cases[i].match) << "case " << i << ": " << cases[i].err;
    if (got != nullptr) {
      EXPECT_EQ(got->s(), cases[i].want_s) << "case " << i;
    }
  }
}

TEST(As, GoCasesForPathErrorAndInterface) {
  const error err_f = errors::make_error<path_error>("open", "non-existing");
  const auto* want = dynamic_cast<const path_error*>(err_f.get());
  ASSERT_NE(want, nullptr);

  EXPECT_EQ(errors::as<path_error>(nullptr), nullptr);
  EXPECT_EQ(errors::as<path_error>(err_f), want);
  EXPECT_EQ(errors::as<path_error>(make_t("")), nullptr);

  // Go's `var timeout interface{ Timeout() bool }` target: a class that is not an
  // error_impl, reached by cross-cast.
  EXPECT_EQ(errors::as<timeouter>(errors::make("err")), nullptr);
  EXPECT_EQ(errors::as<timeouter>(err_f), static_cast<const timeouter*>(want));
  EXPECT_EQ(errors::as<timeouter>(make_wrapped("path error", err_f)), static_cast<const timeouter*>(want));
  EXPECT_EQ(errors::as<timeouter>(make_multi({make_wrapped("path error", err_f)})),
            static_cast<const timeouter*>(want));
  EXPECT_FALSE(errors::as<timeouter>(err_f)->timeout());
}

TEST(As, GoCasePoser) {
  const error poser_err = errors::make_error<poser>("oh no", nullptr);
  EXPECT_EQ(errors::as<poser>(poser_err), poser_err.get());
  EXPECT_EQ(errors::as<poser>(errors::wrap(poser_err, "ctx")), poser_err.get());
}

TEST(As, BaseClassMatchesAnyDerivedError) {
  const error err = errors::wrap(make_t("T"), "ctx");
  EXPECT_EQ(errors::as<error_impl>(err), err.get()) << "the outermost error is the first match";
  EXPECT_EQ(errors::as<error_impl>(nullptr), nullptr);
}

// A user error hierarchy: as<base> finds any derived error, as<derived> only those.
class io_error : public error_impl {
 public:
  std::string message() const override { return "io"; }
};
class disk_error final : public io_error {
 public:
  std::string message() const override { return "disk"; }
};

TEST(As, UserHierarchy) {
  const error disk = errors::make_error<disk_error>();
  const error io = errors::make_error<io_error>();
  const error tree = errors::join(errors::wrap(io, "first"), disk);
  EXPECT_EQ(errors::as<io_error>(tree), io.get());
  EXPECT_EQ(errors::as<disk_error>(tree), disk.get());
  EXPECT_EQ(errors::as<io_error>(errors::wrap(disk, "x")), disk.get());
  EXPECT_EQ(errors::as<disk_error>(io), nullptr);
}

TEST(As, FindsTheFirstInPreOrderAcrossSingleAndMultiUnwrap) {
  // both_err's unwrap() subtree is searched before its unwrap_multi() elements.
  const error err = errors::make_error<both_err>(make_wrapped("w", make_t("single")),
                                                 std::vector<error>{make_t("multi0"), make_t("multi1")});
  ASSERT_NE(errors::as<error_t>(err), nullptr);
  EXPECT_EQ(errors::as<error_t>(err)->s(), "single");

  const error no_single = errors::make_error<both_err>(nullptr, std::vector<error>{nullptr, make_t("multi1")});
  ASSERT_NE(errors::as<error_t>(no_single), nullptr);
  EXPECT_EQ(errors::as<error_t>(no_single)->s(), "multi1");

  const error target = errors::make("t");
  EXPECT_TRUE(errors::is(errors::make_error<both_err>(nullptr, std::vector<error>{target}), target));
  EXPECT_TRUE(errors::is(errors::make_error<both_err>(target, std::vector<error>{}), target));
  EXPECT_EQ(errors::unwrap(errors::make_error<both_err>(target, std::vector<error>{})), target);
}

TEST(As, WithJoin) {
  const error t = make_t("T");
  const error joined = errors::join(errors::make("a"), errors::wrap(t, "ctx"), make_t("later"));
  EXPECT_EQ(errors::as<error_t>(joined), t.get());
  EXPECT_EQ(errors::as<path_error>(joined), nullptr);
  EXPECT_EQ(errors::as<error_t>(errors::wrap(joined, "outer")), t.get());
}

// A chain far deeper than a recursive search could walk on a task's stack. The chain
// is torn down from the outside in, so its destruction does not recurse either.
TEST(As, DeepChainIsSearchedIteratively) {
  constexpr int depth = 200'000;
  const error bottom_target = errors::make("bottom");
  std::vector<error> levels;
  levels.reserve(depth + 1);
  levels.push_back(make_multi({make_t("deep"), bottom_target}));
  for (int i = 0; i < depth; ++i) levels.push_back(make_wrapped("level", levels.back()));
  const error& top = levels.back();

  ASSERT_NE(errors::as<error_t>(top), nullptr);
  EXPECT_EQ(errors::as<error_t>(top)->s(), "deep");
  EXPECT_TRUE(errors::is(top, bottom_target));
  EXPECT_FALSE(errors::is(top, sentinel));
  EXPECT_EQ(errors::exception(top), nullptr);

  while (!levels.empty()) levels.pop_back();
}

// ---- join ----

// Go: TestJoinReturnsNil.
TEST(Join, ReturnsNil) {
  EXPECT_EQ(errors::join(), nullptr);
  EXPECT_EQ(errors::join(nullptr), nullptr);
  EXPECT_EQ(errors::join(nullptr, nullptr), nullptr);
  EXPECT_EQ(errors::join(error(), nullptr, error()), nullptr);
  EXPECT_EQ(errors::join(std::vector<error>{}), nullptr);
  EXPECT_EQ(errors::join(std::vector<error>{nullptr, nullptr}), nullptr);
}

// Go: TestJoin.
TEST(Join, UnwrapMultiReturnsTheNonNilErrors) {
  const error err1 = errors::make("err1");
  const error err2 = errors::make("err2");
  struct test_case {
    std::vector<error> errs;
    std::vector<error> want;
  };
  const std::vector<test_case> cases = {
      {{err1}, {err1}},
      {{err1, err2}, {err1, err2}},
      {{err1, nullptr, err2}, {err1, err2}},
      {{nullptr, err2, nullptr}, {err2}},
      {{err2, err1, err2}, {err2, err1, err2}},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const error joined = errors::join(cases[i].errs);
    ASSERT_TRUE(joined) << "case " << i;
    EXPECT_EQ(joined.get()->unwrap_multi(), cases[i].want) << "case " << i;
    for (const error& e : cases[i].want) EXPECT_TRUE(errors::is(joined, e)) << "case " << i;
  }
}

// Go: TestJoinErrorMethod.
TEST(Join, Message) {
  const error err1 = errors::make("err1");
  const error err2 = errors::make("err2");
  EXPECT_EQ(errors::join(err1).message(), "err1");
  EXPECT_EQ(errors::join(err1, err2).message(), "err1\nerr2");
  EXPECT_EQ(errors::join(err1, nullptr, err2).message(), "err1\nerr2");
  EXPECT_EQ(errors::join(nullptr, err1).message(), "err1");
  EXPECT_EQ(errors::join(errors::make("a\nb"), errors::make("")).message(), "a\nb\n");
  EXPECT_EQ(errors::join(errors::join(err1, err2), errors::wrap(err1, "ctx")).message(), "err1\nerr2\nctx: err1");
}

TEST(Join, UnwrapIsNil) {
  const error err1 = errors::make("err1");
  const error joined = errors::join(err1, errors::make("err2"));
  EXPECT_EQ(errors::unwrap(joined), nullptr);
  EXPECT_EQ(joined.get()->unwrap(), nullptr);
  EXPECT_EQ(errors::unwrap(errors::join(err1)), nullptr);
}

TEST(Join, SingleErrorIsWrappedNotReturned) {
  const error err1 = errors::make("err1");
  const error joined = errors::join(err1);
  EXPECT_NE(joined, err1);
  EXPECT_TRUE(errors::is(joined, err1));
  EXPECT_FALSE(errors::is(err1, joined));
}

TEST(Join, VectorAndVariadicFormsAgree) {
  const error a = errors::make("a");
  const error b = errors::make("b");
  std::vector<error> v{a, nullptr, b};
  const error from_vector = errors::join(v);  // lvalue vector: copied, not consumed
  EXPECT_EQ(v.size(), 3U);
  const error from_list = errors::join({a, b});
  const error from_args = errors::join(a, nullptr, b);
  for (const error& e : {from_vector, from_list, from_args}) {
    EXPECT_EQ(e.message(), "a\nb");
    EXPECT_EQ(e.get()->unwrap_multi(), (std::vector<error>{a, b}));
  }
}

TEST(Join, IsFindsEveryMemberThroughNestingAndWrapping) {
  const error a = errors::make("a");
  const error b = errors::make("b");
  const error c = errors::make("c");
  const error tree = errors::wrap(errors::join(errors::join(a, errors::wrap(b, "wb")), c), "top");
  EXPECT_EQ(tree.message(), "top: a\nwb: b\nc");
  EXPECT_TRUE(errors::is(tree, a));
  EXPECT_TRUE(errors::is(tree, b));
  EXPECT_TRUE(errors::is(tree, c));
  EXPECT_FALSE(errors::is(tree, sentinel));
}

// ---- std::error_code ----

TEST(ErrorCode, ZeroIsNil) {
  EXPECT_EQ(errors::from_error_code(std::error_code()), nullptr);
  EXPECT_EQ(errors::from_error_code(std::error_code(0, std::generic_category())), nullptr);
}

TEST(ErrorCode, MessageAndRecovery) {
  const std::error_code ec = std::make_error_code(std::errc::no_such_file_or_directory);
  const error err = errors::from_error_code(ec);
  ASSERT_TRUE(err);
  EXPECT_EQ(err.message(), ec.message());
  const auto* ce = errors::as<errors::code_error>(errors::wrap(err, "open /x"));
  ASSERT_NE(ce, nullptr);
  EXPECT_EQ(ce->code(), ec);
  EXPECT_TRUE(ce->code() == std::errc::no_such_file_or_directory);
  EXPECT_EQ(errors::wrap(err, "open /x").message(), "open /x: " + ec.message());
}

TEST(ErrorCode, IsMatchesEqualCodes) {
  const std::error_code enoent = std::make_error_code(std::errc::no_such_file_or_directory);
  const std::error_code eacces = std::make_error_code(std::errc::permission_denied);
  const error a = errors::from_error_code(enoent);
  const error b = errors::from_error_code(enoent);
  EXPECT_NE(a, b) << "distinct objects";
  EXPECT_TRUE(errors::is(a, b)) << "equal codes match through code_error::is";
  EXPECT_TRUE(errors::is(errors::wrap(a, "ctx"), b));
  EXPECT_TRUE(errors::is(errors::join(errors::make("x"), a), b));
  EXPECT_FALSE(errors::is(a, errors::from_error_code(eacces)));
  EXPECT_FALSE(errors::is(a, errors::make(enoent.message())));
  // Same value, different category: not equal codes.
  const std::error_code system_enoent(enoent.value(), std::system_category());
  EXPECT_FALSE(errors::is(a, errors::from_error_code(system_enoent)));
}

TEST(ErrorCode, IsErrcMatchesEquivalentConditions) {
  // Go's errors.Is(err, syscall.ECONNREFUSED), spelled with std::errc; system_category
  // codes (what syscalls give) match their generic condition.
  const error refused = errors::from_error_code(std::error_code(ECONNREFUSED, std::system_category()));
  EXPECT_TRUE(errors::is(refused, std::errc::connection_refused));
  EXPECT_TRUE(errors::is(errors::wrap(errors::wrap(refused, "connect"), "dial"), std::errc::connection_refused));
  EXPECT_TRUE(errors::is(errors::join(errors::make("x"), refused), std::errc::connection_refused));
  EXPECT_FALSE(errors::is(refused, std::errc::connection_reset));
  EXPECT_FALSE(errors::is(errors::make("connection refused"), std::errc::connection_refused));
  EXPECT_FALSE(errors::is(error(), std::errc::connection_refused));
}

TEST(ErrorCode, CodeErrorDirectly) {
  const errors::code_error ce(std::make_error_code(std::errc::timed_out));
  EXPECT_EQ(ce.code(), std::errc::timed_out);
  EXPECT_EQ(ce.message(), std::make_error_code(std::errc::timed_out).message());
  EXPECT_FALSE(ce.is(nullptr));
}

// ---- exceptions ----

class custom_exception : public std::runtime_error {
 public:
  custom_exception(std::string what, int value) : std::runtime_error(std::move(what)), value(value) {}
  int value;
};

std::exception_ptr capture(const std::function<void()>& thrower) {
  try {
    thrower();
  } catch (...) {
    return std::current_exception();
  }
  return nullptr;
}

TEST(Exception, NullIsNil) {
  EXPECT_EQ(errors::from_exception(nullptr), nullptr);
  EXPECT_EQ(errors::from_exception(std::exception_ptr()), nullptr);
}

TEST(Exception, MessageFromWhat) {
  EXPECT_EQ(errors::from_exception(std::make_exception_ptr(std::runtime_error("boom"))).message(), "boom");
  EXPECT_EQ(errors::from_exception(capture([] { throw std::out_of_range("range"); })).message(), "range");
  EXPECT_EQ(errors::from_exception(capture([] { throw custom_exception("custom", 7); })).message(), "custom");
}

TEST(Exception, UnknownExceptionMessage) {
  EXPECT_EQ(errors::from_exception(std::make_exception_ptr(42)).message(), "unknown exception");
  EXPECT_EQ(errors::from_exception(capture([] { throw std::string("str"); })).message(), "unknown exception");
  EXPECT_EQ(errors::exception_error(nullptr).message(), "unknown exception");
}

TEST(Exception, CarriedExceptionIsFoundInTheTree) {
  const std::exception_ptr ep = std::make_exception_ptr(custom_exception("custom", 7));
  const error err = errors::from_exception(ep);
  EXPECT_EQ(errors::exception(err), ep);
  EXPECT_EQ(errors::exception(errors::wrap(err, "task 3")), ep);
  EXPECT_EQ(errors::exception(errors::join(errors::make("first"), errors::wrap(err, "second"))), ep);
  const auto* ee = errors::as<errors::exception_error>(errors::wrap(err, "ctx"));
  ASSERT_NE(ee, nullptr);
  EXPECT_EQ(ee->exception(), ep);
}

TEST(Exception, FirstExceptionInPreOrder) {
  const std::exception_ptr first = std::make_exception_ptr(std::runtime_error("first"));
  const std::exception_ptr second = std::make_exception_ptr(std::runtime_error("second"));
  const error err = errors::join(errors::make("plain"), errors::wrap(errors::from_exception(first), "a"),
                                 errors::from_exception(second));
  EXPECT_EQ(errors::exception(err), first);
  // An exception_error without an exception is skipped.
  const error skip = errors::join(errors::make_error<errors::exception_error>(nullptr), errors::from_exception(second));
  EXPECT_EQ(errors::exception(skip), second);
}

TEST(Exception, NoneCarried) {
  EXPECT_EQ(errors::exception(nullptr), nullptr);
  EXPECT_EQ(errors::exception(errors::make("x")), nullptr);
  EXPECT_EQ(errors::exception(errors::from_error_code(std::make_error_code(std::errc::io_error))), nullptr);
  EXPECT_NO_THROW(errors::rethrow_if_exception(nullptr));
  EXPECT_NO_THROW(errors::rethrow_if_exception(errors::wrap(errors::make("x"), "y")));
}

TEST(Exception, RethrowPreservesTheDynamicType) {
  const error err = errors::wrap(errors::from_exception(capture([] { throw custom_exception("custom", 7); })), "ctx");
  try {
    errors::rethrow_if_exception(err);
    FAIL() << "expected a throw";
  } catch (const custom_exception& e) {
    EXPECT_STREQ(e.what(), "custom");
    EXPECT_EQ(e.value, 7);
  }
  EXPECT_THROW(errors::rethrow_if_exception(errors::from_exception(std::make_exception_ptr(42))), int);
}

// ---- threads ----

// Error values are shared and inspected by many threads at once; run under TSan to
// check the claim. The assertions are deterministic: every thread sees the same tree.
TEST(Threads, ConcurrentCopiesAndSearches) {
  const error base = errors::from_error_code(std::make_error_code(std::errc::timed_out));
  const error shared = errors::join(errors::wrap(sentinel, "a"), errors::wrap(base, "b"));
  constexpr int threads = 8;
  constexpr int iterations = 2000;
  std::atomic<int> failures{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (int i = 0; i < iterations; ++i) {
        const error copy = shared;
        const error wrapped_copy = errors::wrap(copy, "thread");
        if (!errors::is(wrapped_copy, sentinel)) ++failures;
        if (!errors::is(wrapped_copy, base)) ++failures;
        if (errors::as<errors::code_error>(wrapped_copy) != base.get()) ++failures;
        if (copy.message() != "a: sentinel\nb: " + base.message()) ++failures;
      }
    });
  }
  for (std::thread& th : pool) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(errors::unwrap(errors::wrap(shared, "x")), shared);
}

}  // namespace
