#include "common/secret.h"

#include <sodium.h>

#include <cstdlib>
#include <cstring>
#include <mutex>

namespace safe {

void Wipe(void* p, size_t n) {
  if (p != nullptr && n > 0) sodium_memzero(p, n);
}

bool ConstantTimeEquals(const void* a, const void* b, size_t n) {
  return sodium_memcmp(a, b, n) == 0;
}

void EnsureSodiumInitialised() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (sodium_init() < 0) std::abort();
  });
}

void RandomBytes(void* p, size_t n) {
  EnsureSodiumInitialised();
  randombytes_buf(p, n);
}

SecretBytes::SecretBytes(size_t n) { Resize(n); }

SecretBytes::SecretBytes(const void* data, size_t n) { Append(data, n); }

SecretBytes::SecretBytes(SecretBytes&& other) noexcept
    : data_(std::move(other.data_)), size_(other.size_), capacity_(other.capacity_) {
  other.size_ = 0;
  other.capacity_ = 0;
}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    Clear();
    data_ = std::move(other.data_);
    size_ = other.size_;
    capacity_ = other.capacity_;
    other.size_ = 0;
    other.capacity_ = 0;
  }
  return *this;
}

SecretBytes::~SecretBytes() { Clear(); }

void SecretBytes::Reserve(size_t capacity) {
  if (capacity <= capacity_) return;
  size_t new_capacity = capacity_ < 64 ? 64 : capacity_;
  while (new_capacity < capacity) new_capacity *= 2;
  std::unique_ptr<uint8_t[]> block(new uint8_t[new_capacity]);
  if (size_ > 0) std::memcpy(block.get(), data_.get(), size_);
  Wipe(data_.get(), capacity_);
  data_ = std::move(block);
  capacity_ = new_capacity;
}

void SecretBytes::Append(const void* data, size_t n) {
  if (n == 0) return;
  Reserve(size_ + n);
  std::memcpy(data_.get() + size_, data, n);
  size_ += n;
}

void SecretBytes::Resize(size_t n) {
  if (n > size_) {
    Reserve(n);
    std::memset(data_.get() + size_, 0, n - size_);
  } else {
    Wipe(data_.get() + n, size_ - n);
  }
  size_ = n;
}

void SecretBytes::Clear() {
  Wipe(data_.get(), capacity_);
  data_.reset();
  size_ = 0;
  capacity_ = 0;
}

bool SecretBytes::Equals(const SecretBytes& other) const {
  if (size_ != other.size_) return false;
  if (size_ == 0) return true;
  return ConstantTimeEquals(data_.get(), other.data_.get(), size_);
}

}  // namespace safe
