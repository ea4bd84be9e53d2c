// BackupId: the 32-byte address of a backup, written as 64 lowercase hex characters in URLs.
//
// The apps derive it from the password and Threema ID; the server treats it as an opaque key.
// Parse() is strict: exactly 64 characters of [0-9a-f]; upper case, whitespace, prefixes and
// any other length are refused, so that one backup has exactly one spelling.
//
// Thread-safety: value type.

#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace safe {

class BackupId {
 public:
  static constexpr size_t kBytes = 32;
  static constexpr size_t kHexLength = 2 * kBytes;
  using Bytes = std::array<uint8_t, kBytes>;

  // Returns the id for exactly 64 lowercase hex characters, else InvalidArgument (the message
  // does not repeat the input).
  static Result<BackupId> Parse(std::string_view hex);

  static BackupId FromBytes(const Bytes& bytes) { return BackupId(bytes); }

  const Bytes& bytes() const { return bytes_; }
  std::string ToHex() const;
  // The raw 32 bytes as a string (the form storage engines key by).
  std::string_view AsStringView() const {
    return std::string_view(reinterpret_cast<const char*>(bytes_.data()), bytes_.size());
  }

  bool operator==(const BackupId& o) const { return bytes_ == o.bytes_; }
  bool operator!=(const BackupId& o) const { return bytes_ != o.bytes_; }
  bool operator<(const BackupId& o) const { return bytes_ < o.bytes_; }

 private:
  explicit BackupId(const Bytes& bytes) : bytes_(bytes) {}
  Bytes bytes_{};
};

}  // namespace safe
