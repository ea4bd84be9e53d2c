// Status and Result<T>: errors as values, shared by every layer.
//
// A Status is either OK or carries a Code and a human-readable message. The message must never
// contain a secret, a backup id, a client address or plaintext: it may end up in a log line or an
// HTTP body. Foreign errors (rocksdb::Status, errno, libsodium's -1, OpenSSL's queue) are
// translated into a Status once, at the edge of the layer that calls them.
//
// Thread-safety: value types; const methods are safe to call concurrently.

#pragma once

#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace safe {

class [[nodiscard]] Status {
 public:
  enum class Code {
    kOk = 0,
    kNotFound,          // the thing asked for does not exist
    kInvalidArgument,   // the caller's input is malformed
    kTooLarge,          // the input exceeds a configured limit
    kNoSpace,           // the disk (or quota) is full
    kCorruption,        // stored data failed a check
    kIOError,           // the OS or storage engine failed
    kUnavailable,       // try again later (overload, shutting down)
    kPermissionDenied,  // authentication or authorisation failed
    kFailedPrecondition,  // a condition the caller set does not hold (e.g. If-Match)
    kAlreadyExists,     // a create-once thing exists already (e.g. a spent access token)
  };

  Status() = default;  // OK

  static Status OK() { return Status(); }
  static Status NotFound(std::string msg) { return Status(Code::kNotFound, std::move(msg)); }
  static Status InvalidArgument(std::string msg) {
    return Status(Code::kInvalidArgument, std::move(msg));
  }
  static Status TooLarge(std::string msg) { return Status(Code::kTooLarge, std::move(msg)); }
  static Status NoSpace(std::string msg) { return Status(Code::kNoSpace, std::move(msg)); }
  static Status Corruption(std::string msg) { return Status(Code::kCorruption, std::move(msg)); }
  static Status IOError(std::string msg) { return Status(Code::kIOError, std::move(msg)); }
  static Status Unavailable(std::string msg) { return Status(Code::kUnavailable, std::move(msg)); }
  static Status PermissionDenied(std::string msg) {
    return Status(Code::kPermissionDenied, std::move(msg));
  }
  static Status FailedPrecondition(std::string msg) {
    return Status(Code::kFailedPrecondition, std::move(msg));
  }
  static Status AlreadyExists(std::string msg) {
    return Status(Code::kAlreadyExists, std::move(msg));
  }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  bool IsInvalidArgument() const { return code_ == Code::kInvalidArgument; }
  bool IsTooLarge() const { return code_ == Code::kTooLarge; }
  bool IsNoSpace() const { return code_ == Code::kNoSpace; }
  bool IsCorruption() const { return code_ == Code::kCorruption; }
  bool IsIOError() const { return code_ == Code::kIOError; }
  bool IsUnavailable() const { return code_ == Code::kUnavailable; }
  bool IsPermissionDenied() const { return code_ == Code::kPermissionDenied; }
  bool IsFailedPrecondition() const { return code_ == Code::kFailedPrecondition; }
  bool IsAlreadyExists() const { return code_ == Code::kAlreadyExists; }

  const std::string& message() const { return message_; }

  // "OK", or the code's name followed by ": " and the message.
  std::string ToString() const;

  // Marks a deliberately ignored status, so that a grep finds every one.
  void IgnoreError() const {}

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}

  Code code_ = Code::kOk;
  std::string message_;
};

inline std::string Status::ToString() const {
  const char* name = "OK";
  switch (code_) {
    case Code::kOk:
      return "OK";
    case Code::kNotFound:
      name = "Not found";
      break;
    case Code::kInvalidArgument:
      name = "Invalid argument";
      break;
    case Code::kTooLarge:
      name = "Too large";
      break;
    case Code::kNoSpace:
      name = "No space";
      break;
    case Code::kCorruption:
      name = "Corruption";
      break;
    case Code::kIOError:
      name = "IO error";
      break;
    case Code::kUnavailable:
      name = "Unavailable";
      break;
    case Code::kPermissionDenied:
      name = "Permission denied";
      break;
    case Code::kFailedPrecondition:
      name = "Failed precondition";
      break;
    case Code::kAlreadyExists:
      name = "Already exists";
      break;
  }
  return message_.empty() ? std::string(name) : std::string(name) + ": " + message_;
}

// Result<T>: a T, or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    if (status_.ok()) std::abort();  // a Result built from OK has no value: a bug
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  // REQUIRES: ok()
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace safe
