// Secret holders: byte buffers for keys, passwords and plaintext that wipe themselves.
//
// SecretBytes is a growable buffer; SecretArray<N> a fixed-size one (keys). Both overwrite their
// memory with sodium_memzero when destroyed, moved from, resized into a new allocation or cleared,
// so a secret leaves no copy behind in memory this code freed. They are move-only: a copy must be
// asked for by name (Clone), so secrets are not duplicated by accident.
//
// Not a defence against a process that is swapped out or dumps core; it keeps secrets from
// lingering in freed heap blocks. Code that must hand a secret to a library that copies it (a JSON
// parser, libcurl) says so where it does.
//
// Thread-safety: value types; like std::vector, const methods may be called concurrently.

#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

namespace safe {

// Wipes n bytes at p (sodium_memzero: not optimised away).
void Wipe(void* p, size_t n);

// Compares two equal-length buffers in constant time (sodium_memcmp).
bool ConstantTimeEquals(const void* a, const void* b, size_t n);

// Calls sodium_init() once; every function of this library that needs libsodium calls it, so
// callers need not. Aborts if libsodium cannot initialise (no usable random source): nothing here
// can work. The project's only call of sodium_init: every other user of libsodium calls this.
void EnsureSodiumInitialised();

// Fills n bytes at p from the operating system's random source (randombytes_buf).
void RandomBytes(void* p, size_t n);

class SecretBytes {
 public:
  SecretBytes() = default;
  // n zero bytes.
  explicit SecretBytes(size_t n);
  // A copy of n bytes at data.
  SecretBytes(const void* data, size_t n);
  static SecretBytes FromString(std::string_view s) { return SecretBytes(s.data(), s.size()); }

  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  ~SecretBytes();

  SecretBytes Clone() const { return SecretBytes(data(), size()); }

  uint8_t* data() { return data_.get(); }
  const uint8_t* data() const { return data_.get(); }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::string_view view() const {
    return std::string_view(reinterpret_cast<const char*>(data_.get()), size_);
  }
  uint8_t& operator[](size_t i) { return data_[i]; }
  uint8_t operator[](size_t i) const { return data_[i]; }

  // Appends n bytes; a growth copies into a new block and wipes the old one.
  void Append(const void* data, size_t n);
  // Grows (new bytes are zero) or shrinks (the dropped tail is wiped).
  void Resize(size_t n);
  // Wipes the contents and frees the memory.
  void Clear();

  // Constant-time when the sizes are equal.
  bool Equals(const SecretBytes& other) const;

 private:
  void Reserve(size_t capacity);

  std::unique_ptr<uint8_t[]> data_;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

template <size_t N>
class SecretArray {
 public:
  static constexpr size_t kSize = N;

  SecretArray() { bytes_.fill(0); }
  explicit SecretArray(const uint8_t (&bytes)[N]) {
    for (size_t i = 0; i < N; ++i) bytes_[i] = bytes[i];
  }
  // N fresh random bytes.
  static SecretArray Random() {
    SecretArray fresh;
    RandomBytes(fresh.bytes_.data(), N);
    return fresh;
  }
  SecretArray(SecretArray&& other) noexcept : bytes_(other.bytes_) { other.Clear(); }
  SecretArray& operator=(SecretArray&& other) noexcept {
    if (this != &other) {
      bytes_ = other.bytes_;
      other.Clear();
    }
    return *this;
  }
  SecretArray(const SecretArray&) = delete;
  SecretArray& operator=(const SecretArray&) = delete;
  ~SecretArray() { Clear(); }

  SecretArray Clone() const {
    SecretArray copy;
    copy.bytes_ = bytes_;
    return copy;
  }

  uint8_t* data() { return bytes_.data(); }
  const uint8_t* data() const { return bytes_.data(); }
  static constexpr size_t size() { return N; }
  uint8_t& operator[](size_t i) { return bytes_[i]; }
  uint8_t operator[](size_t i) const { return bytes_[i]; }

  void Clear() { Wipe(bytes_.data(), N); }
  bool Equals(const SecretArray& other) const {
    return ConstantTimeEquals(bytes_.data(), other.bytes_.data(), N);
  }

 private:
  std::array<uint8_t, N> bytes_;
};

// The 32-byte symmetric key of a backup (XSalsa20-Poly1305) and the identity's X25519 private key.
using SecretKey = SecretArray<32>;

}  // namespace safe
