// result.h - the error channel across module boundaries: Result<T> holds a value
// or an Error{code, message}. No exception crosses a module boundary.
// Does not own logging or formatting of errors for users (callers do that).
#pragma once

#include <cerrno>
#include <string>
#include <utility>
#include <variant>

namespace xdpban {

struct Error {
  int code = EINVAL;  // errno-style, positive
  std::string message;

  // Prefixes context: Error{..., "x"}.wrap("loading y") -> "loading y: x".
  Error wrap(const std::string& context) const { return Error{code, context + ": " + message}; }
};

inline Error make_error(int code, std::string message) { return Error{code, std::move(message)}; }
inline Error invalid(std::string message) { return Error{EINVAL, std::move(message)}; }

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace xdpban
