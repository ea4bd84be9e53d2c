#include "tests/support/bytes.h"

#include <sodium.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "gtest/gtest.h"

namespace safe::testing {

std::mt19937_64 SeededRng() {
  std::random_device device;
  uint64_t seed = (static_cast<uint64_t>(device()) << 32) | device();
  std::printf("random seed: %llu\n", static_cast<unsigned long long>(seed));
  return std::mt19937_64(seed);
}

std::string RandomBytes(size_t n, std::mt19937_64& rng) {
  std::string out(n, '\0');
  for (size_t i = 0; i < n; i += 8) {
    uint64_t word = rng();
    std::memcpy(&out[i], &word, std::min<size_t>(8, n - i));
  }
  return out;
}

std::string RandomBackupId(std::mt19937_64& rng) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(64, '0');
  for (char& c : id) c = kHex[rng() & 0xf];
  return id;
}

BackupId IdFor(int seed) {
  BackupId::Bytes bytes;
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(seed * 31 + i);
  return BackupId::FromBytes(bytes);
}

std::string Hex(const void* data, size_t size) {
  std::string out(size * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), static_cast<const unsigned char*>(data), size);
  out.pop_back();  // the terminating NUL
  return out;
}

std::string FromHex(std::string_view hex) {
  std::string out(hex.size() / 2, '\0');
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_hex2bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), hex.data(),
                     hex.size(), nullptr, &len, &end) != 0 ||
      hex.size() % 2 != 0 || end != hex.data() + hex.size()) {
    ADD_FAILURE() << "not hex: " << hex;
  }
  out.resize(len);
  return out;
}

}  // namespace safe::testing
