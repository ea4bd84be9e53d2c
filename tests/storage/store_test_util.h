// Helpers shared by the storage tests (and the tests of stores elsewhere: RADOS, access):
// deterministic keys, blobs and access hashes, the race of MarkSpent, and the sealed variant of a
// store factory of the shared BackupStore suite (backup_store_suite.h). TempDir is tests/support's.
//
// Thread-safety: the functions are pure; a factory is used by one test.

#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/backup_id.h"
#include "common/clock.h"
#include "gtest/gtest.h"
#include "storage/access_store.h"
#include "storage/backup_store.h"
#include "storage/sealed_store.h"
#include "tests/support/files.h"

namespace safe::storage::testing {

using safe::testing::TempDir;

// A key that depends only on seed.
inline BackupId KeyFor(uint64_t seed) {
  std::mt19937_64 rng(seed ^ 0x5afe5afe5afe5afeULL);
  BackupId::Bytes bytes;
  for (auto& b : bytes) b = static_cast<uint8_t>(rng());
  return BackupId::FromBytes(bytes);
}

// size bytes of pseudo-random binary data (NULs included) that depend only on seed.
inline std::string BlobFor(uint64_t seed, size_t size) {
  std::mt19937_64 rng(seed);
  std::string blob(size, '\0');
  for (auto& c : blob) c = static_cast<char>(rng());
  return blob;
}

// An access hash (issue 18) with every byte fill.
inline AccessHash HashOf(uint8_t fill) {
  AccessHash h;
  h.fill(fill);
  return h;
}

// Spends the tokens HashOf(0) .. HashOf(tokens - 1), each with expiry_day, from one thread per
// entry of stores (one store may stand there several times: threads racing in one instance) and
// checks that every token has exactly one winner: MarkSpent succeeds once and answers
// AlreadyExists to every other thread, and nothing else.
inline void ExpectOneWinnerPerToken(const std::vector<AccessStore*>& stores, int tokens,
                                    Day expiry_day) {
  std::atomic<int> wins{0};
  std::atomic<int> spent{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (AccessStore* store : stores) {
    threads.emplace_back([&, store] {
      for (int t = 0; t < tokens; ++t) {
        Status s = store->MarkSpent(HashOf(static_cast<uint8_t>(t)), expiry_day);
        if (s.ok()) {
          ++wins;
        } else if (s.IsAlreadyExists()) {
          ++spent;
        } else {
          ++errors;
          ADD_FAILURE() << s.ToString();
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wins.load(), tokens);  // exactly one winner per token
  EXPECT_EQ(spent.load(), tokens * (static_cast<int>(stores.size()) - 1));
  EXPECT_EQ(errors.load(), 0);
}

// The key the sealed factories seal with: byte i is 7 * i + 1.
inline ServerKey TestServerKey() {
  uint8_t bytes[ServerKey::kSize];
  for (size_t i = 0; i < sizeof(bytes); ++i) bytes[i] = static_cast<uint8_t>(7 * i + 1);
  return ServerKey(bytes);
}

// A factory of the shared suite for SealedStore over the store Engine's factory makes, sealed
// with TestServerKey(): the same contract must hold with ids and blobs sealed away.
// ScannedKey(id) is the storage key Scan reports. A test file derives a named struct from it (the
// type's name is part of the suite's test names) and gives it kName.
template <typename Engine>
struct SealedFactory {
  Engine engine;
  SealedStore* sealed = nullptr;
  std::unique_ptr<BackupStore> Make() {
    std::unique_ptr<BackupStore> inner = engine.Make();
    if (inner == nullptr) return nullptr;
    auto store = std::make_unique<SealedStore>(TestServerKey(), std::move(inner));
    sealed = store.get();
    return store;
  }
  BackupId ScannedKey(const BackupId& id) const { return sealed->StorageKeyFor(id); }
};

}  // namespace safe::storage::testing
