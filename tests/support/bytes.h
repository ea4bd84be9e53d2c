// Test support: test data. Random bytes and backup ids from a seeded generator (the seed is
// printed, so a failure can be replayed), fixed ids, and hex.
//
// Thread-safety: the functions may be called from any thread; a generator is used by one.

#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>

#include "common/backup_id.h"

namespace safe::testing {

// A generator seeded from std::random_device; prints "random seed: N" to stdout.
std::mt19937_64 SeededRng();

// n random bytes from rng.
std::string RandomBytes(size_t n, std::mt19937_64& rng);
// A random backup id: 64 lowercase hex characters.
std::string RandomBackupId(std::mt19937_64& rng);

// A fixed id for seed: byte i is seed * 31 + i (mod 256).
BackupId IdFor(int seed);

// Lowercase hex of size bytes at data.
std::string Hex(const void* data, size_t size);
// Lowercase hex of any contiguous bytes with data() and size() (std::string, std::vector<uint8_t>,
// std::array, SecretBytes, ServerKey).
template <typename Bytes>
std::string Hex(const Bytes& bytes) {
  return Hex(bytes.data(), bytes.size());
}
// The bytes that hex spells (either case). A test failure (ADD_FAILURE) when it is not an even
// number of hex digits; what was decoded up to there is returned.
std::string FromHex(std::string_view hex);

}  // namespace safe::testing
