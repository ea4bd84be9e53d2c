// The BackupStore contract (tests/storage/backup_store_suite.h) run against every embedded
// implementation, followed by the tests that only make sense for RocksDbStore (reopening,
// locking, stats). The RADOS run of the same suite is in tests/rados/.

#include "storage/backup_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "storage/memory_store.h"
#include "storage/rocksdb_store.h"
#include "storage/sealed_store.h"
#include "tests/storage/store_test_util.h"

namespace safe::storage {
namespace {

using testing::BlobFor;
using testing::KeyFor;
using testing::TempDir;

// ---------------------------------------------------------------------------------------------
// Factories: one per implementation. Each test gets a fresh, empty store. ScannedKey(id) is the
// key Scan reports for a record put under id: the id itself, or its storage key when sealed.

struct MemoryStoreFactory {
  static constexpr const char* kName = "MemoryStore";
  std::unique_ptr<BackupStore> Make() { return std::make_unique<MemoryStore>(); }
  BackupId ScannedKey(const BackupId& id) const { return id; }
};

struct RocksDbStoreFactory {
  static constexpr const char* kName = "RocksDbStore";
  TempDir dir;
  std::unique_ptr<BackupStore> Make() {
    RocksDbOptions options;
    options.path = dir.path() + "/db";
    auto store = RocksDbStore::Open(options);
    if (!store.ok()) {
      ADD_FAILURE() << store.status().ToString();
      return nullptr;
    }
    return std::move(store).value();
  }
  BackupId ScannedKey(const BackupId& id) const { return id; }
};

// SealedStore over each engine: the same contract must hold with ids and blobs sealed away.
struct SealedMemoryStoreFactory : testing::SealedFactory<MemoryStoreFactory> {
  static constexpr const char* kName = "SealedOverMemoryStore";
};

struct SealedRocksDbStoreFactory : testing::SealedFactory<RocksDbStoreFactory> {
  static constexpr const char* kName = "SealedOverRocksDbStore";
};

using StoreImplementations = ::testing::Types<MemoryStoreFactory, RocksDbStoreFactory,
                                              SealedMemoryStoreFactory, SealedRocksDbStoreFactory>;

}  // namespace
}  // namespace safe::storage

// The shared suite, instantiated for the types above.
#include "tests/storage/backup_store_suite.h"

namespace safe::storage {
namespace {

// ---------------------------------------------------------------------------------------------
// RocksDbStore only.

class RocksDbStoreTest : public ::testing::Test {
 protected:
  RocksDbOptions Options() const {
    RocksDbOptions options;
    options.path = dir_.path() + "/db";
    return options;
  }

  std::unique_ptr<RocksDbStore> OpenOrFail() {
    auto store = RocksDbStore::Open(Options());
    if (!store.ok()) {
      ADD_FAILURE() << store.status().ToString();
      return nullptr;
    }
    return std::move(store).value();
  }

  TempDir dir_;
};

TEST_F(RocksDbStoreTest, RecordsPersistAcrossCloseAndReopenWithTheirInfo) {
  {
    auto store = OpenOrFail();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Put(KeyFor(1), BlobFor(1, 100), 300).ok());
    ASSERT_TRUE(store->Put(KeyFor(2), BlobFor(2, 200 * 1024), -5).ok());  // days may be negative
    ASSERT_TRUE(store->Put(KeyFor(3), "", 301).ok());
    ASSERT_TRUE(store->Delete(KeyFor(3)).ok());
    Status closed = store->Close();
    ASSERT_TRUE(closed.ok()) << closed.ToString();
  }
  auto store = OpenOrFail();
  ASSERT_NE(store, nullptr);
  auto one = store->Get(KeyFor(1));
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  EXPECT_TRUE(one->blob == BlobFor(1, 100));
  EXPECT_EQ(one->info.size, 100u);
  EXPECT_EQ(one->info.upload_day, 300);
  auto two = store->Get(KeyFor(2));
  ASSERT_TRUE(two.ok()) << two.status().ToString();
  EXPECT_TRUE(two->blob == BlobFor(2, 200 * 1024));
  EXPECT_EQ(two->info.upload_day, -5);
  EXPECT_TRUE(store->Get(KeyFor(3)).status().IsNotFound());
  // The replaced-vs-created decision survives too.
  auto put = store->Put(KeyFor(1), "again", 302);
  ASSERT_TRUE(put.ok());
  EXPECT_EQ(*put, PutOutcome::kReplaced);
}

TEST_F(RocksDbStoreTest, ReopenAfterDestructionWithoutCloseKeepsData) {
  {
    auto store = OpenOrFail();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Put(KeyFor(9), "kept", 1).ok());
  }  // the destructor closes
  auto store = OpenOrFail();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->Get(KeyFor(9))->blob, "kept");
}

TEST_F(RocksDbStoreTest, LargeBlobsLiveInBlobFilesAndReadBackAfterReopen) {
  {
    auto store = OpenOrFail();
    ASSERT_NE(store, nullptr);
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(store->Put(KeyFor(i), BlobFor(i, 8192 + i), 1).ok());
  }
  // Reopening replays the WAL and flushes it, which writes the large values to blob files.
  auto store = OpenOrFail();
  ASSERT_NE(store, nullptr);
  auto blob_files = store->IntProperty("rocksdb.num-blob-files");
  ASSERT_TRUE(blob_files.ok()) << blob_files.status().ToString();
  EXPECT_GT(*blob_files, 0u);
  for (int i = 0; i < 20; ++i) {
    auto got = store->Get(KeyFor(i));
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_TRUE(got->blob == BlobFor(i, 8192 + i));
  }
}

TEST_F(RocksDbStoreTest, SecondOpenOfAnOpenDirectoryFailsWithALockError) {
  auto store = OpenOrFail();
  ASSERT_NE(store, nullptr);
  auto second = RocksDbStore::Open(Options());
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(second.status().IsIOError()) << second.status().ToString();
  EXPECT_NE(second.status().message().find("locked"), std::string::npos)
      << second.status().ToString();
  // The first store is unaffected; once it is closed the directory opens again.
  EXPECT_TRUE(store->Put(KeyFor(1), "x", 1).ok());
  ASSERT_TRUE(store->Close().ok());
  EXPECT_TRUE(RocksDbStore::Open(Options()).ok());
}

TEST_F(RocksDbStoreTest, OpeningARegularFileFailsClearly) {
  const std::string file = dir_.path() + "/not-a-directory";
  std::ofstream(file) << "hello";
  RocksDbOptions options;
  options.path = file;
  auto store = RocksDbStore::Open(options);
  ASSERT_FALSE(store.ok());
  EXPECT_TRUE(store.status().IsIOError()) << store.status().ToString();
  EXPECT_NE(store.status().message().find("not a directory"), std::string::npos)
      << store.status().ToString();
}

TEST_F(RocksDbStoreTest, OpenCreatesMissingParentDirectories) {
  RocksDbOptions options;
  options.path = dir_.path() + "/a/b/c";
  auto store = RocksDbStore::Open(options);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_TRUE(std::filesystem::is_directory(options.path));
}

TEST_F(RocksDbStoreTest, EmptyPathIsInvalid) {
  auto store = RocksDbStore::Open(RocksDbOptions{});
  ASSERT_FALSE(store.ok());
  EXPECT_TRUE(store.status().IsInvalidArgument());
}

TEST_F(RocksDbStoreTest, CloseIsIdempotentAndLaterCallsAreUnavailable) {
  auto store = OpenOrFail();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Put(KeyFor(1), "x", 1).ok());
  EXPECT_TRUE(store->Close().ok());
  EXPECT_TRUE(store->Close().ok());
  EXPECT_TRUE(store->Get(KeyFor(1)).status().IsUnavailable());
  EXPECT_TRUE(store->Stat(KeyFor(1)).status().IsUnavailable());
  EXPECT_TRUE(store->Put(KeyFor(1), "x", 1).status().IsUnavailable());
  EXPECT_TRUE(store->Delete(KeyFor(1)).IsUnavailable());
  EXPECT_TRUE(store->Scan([](const BackupId&, const BackupInfo&) {}).IsUnavailable());
  EXPECT_TRUE(store->DeleteUploadedBefore(5).status().IsUnavailable());
  EXPECT_TRUE(store->Stats().status().IsUnavailable());
}

TEST_F(RocksDbStoreTest, StatsCountBackupsAndBytesExactlyAcrossReopen) {
  {
    auto store = OpenOrFail();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Put(KeyFor(1), std::string(100, 'a'), 1).ok());
    ASSERT_TRUE(store->Put(KeyFor(2), std::string(5000, 'b'), 1).ok());
    ASSERT_TRUE(store->Put(KeyFor(3), std::string(7, 'c'), 3).ok());
    ASSERT_TRUE(store->Put(KeyFor(2), std::string(50, 'b'), 2).ok());  // replaces 5000 bytes
    ASSERT_TRUE(store->Delete(KeyFor(1)).ok());
    auto stats = store->Stats();
    ASSERT_TRUE(stats.ok()) << stats.status().ToString();
    EXPECT_EQ(stats->backups, 2u);
    EXPECT_EQ(stats->bytes, 57u);
    EXPECT_GT(stats->wal_bytes, 0u);  // the writes are in the live WAL

    auto swept = store->DeleteUploadedBefore(3);
    ASSERT_TRUE(swept.ok());
    EXPECT_EQ(*swept, 1u);
    stats = store->Stats();
    ASSERT_TRUE(stats.ok());
    EXPECT_EQ(stats->backups, 1u);
    EXPECT_EQ(stats->bytes, 7u);
  }
  auto store = OpenOrFail();
  ASSERT_NE(store, nullptr);
  auto stats = store->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->backups, 1u);
  EXPECT_EQ(stats->bytes, 7u);
}

// Re-uploads leave the replaced blobs in their blob files. A blob file whose blobs were all
// replaced goes by itself; the store's collector relocates the live blobs once the garbage in the
// remaining files reaches blob_garbage_ratio of them, and nothing is lost.
TEST_F(RocksDbStoreTest, BlobGarbageIsCollectedOnceItReachesTheRatio) {
  RocksDbOptions options = Options();
  options.write_buffer_bytes = 256 << 10;  // flushes and compactions every few puts
  options.blob_garbage_ratio = 0.3;
  options.blob_garbage_min_bytes = 0;
  constexpr int kKeys = 32;
  constexpr int kRounds = 4;
  constexpr size_t kSize = 32 << 10;
  // Round 0 writes every key; later rounds all but every fourth, so round 0's blob files end
  // up three quarters garbage (about 0.75 MiB of 1.75 MiB: 43 %) and cannot go as a whole.
  auto replaced = [](int i) { return i % 4 != 0; };
  auto last_seed = [&](int i) { return replaced(i) ? (kRounds - 1) * 1000 + i : i; };
  {
    auto opened = RocksDbStore::Open(options);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    RocksDbStore& store = **opened;
    for (int round = 0; round < kRounds; ++round) {
      for (int i = 0; i < kKeys; ++i) {
        if (round > 0 && !replaced(i)) continue;
        ASSERT_TRUE(store.Put(KeyFor(i), BlobFor(round * 1000 + i, kSize), Day(round)).ok());
      }
    }
    // The collector must run, and keep the garbage under the ratio (it may run while the puts
    // go on, and a compaction may account new garbage before it runs again). Bounded wait.
    StoreStats stats;
    auto settled = [&] {
      return stats.blob_collections >= 1 &&
             stats.blob_garbage_bytes * 10 < stats.blob_file_bytes * 3;
    };
    for (int wait = 0; wait < 3000; ++wait) {
      auto now = store.Stats();
      ASSERT_TRUE(now.ok()) << now.status().ToString();
      stats = *now;
      if (settled()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_TRUE(settled()) << "within 60 s: " << stats.blob_collections << " collections, garbage "
                           << stats.blob_garbage_bytes << " of " << stats.blob_file_bytes;
    for (int i = 0; i < kKeys; ++i) {
      auto got = store.Get(KeyFor(i));
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      EXPECT_TRUE(got->blob == BlobFor(last_seed(i), kSize)) << i;
      EXPECT_EQ(got->info.upload_day, Day(replaced(i) ? kRounds - 1 : 0));
    }
    ASSERT_TRUE(store.Close().ok());
  }
  auto reopened = RocksDbStore::Open(options);
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  for (int i = 0; i < kKeys; ++i) {
    auto got = (*reopened)->Get(KeyFor(i));
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_TRUE(got->blob == BlobFor(last_seed(i), kSize)) << i;
  }
}

// Below blob_garbage_min_bytes (or with the ratio 0) nothing is collected, and reads are the same.
TEST_F(RocksDbStoreTest, BlobGarbageBelowTheMinimumIsLeftAlone) {
  RocksDbOptions options = Options();
  options.write_buffer_bytes = 256 << 10;
  options.blob_garbage_min_bytes = uint64_t{1} << 40;
  auto opened = RocksDbStore::Open(options);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 32; ++i) {
      if (round > 0 && i % 4 == 0) continue;
      ASSERT_TRUE((*opened)->Put(KeyFor(i), BlobFor(round * 1000 + i, 32 << 10), Day(round)).ok());
    }
  }
  for (int i = 0; i < 32; ++i) {
    auto got = (*opened)->Get(KeyFor(i));
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_TRUE(got->blob == BlobFor(i % 4 == 0 ? i : 3000 + i, 32 << 10)) << i;
  }
  {
    auto stats = (*opened)->Stats();
    ASSERT_TRUE(stats.ok());
    EXPECT_EQ(stats->blob_collections, 0u) << "collected below blob_garbage_min_bytes";
  }
  ASSERT_TRUE((*opened)->Close().ok());  // joins the collector: no collection can be running
  RocksDbOptions off = options;
  off.blob_garbage_ratio = 0;
  auto reopened = RocksDbStore::Open(off);
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  auto stats = (*reopened)->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->blob_collections, 0u);
  EXPECT_EQ(stats->backups, 32u);
}

TEST_F(RocksDbStoreTest, BlobGarbageRatioOutsideZeroToOneIsInvalid) {
  for (double ratio : {-0.1, 1.0, 2.0, std::nan("")}) {
    RocksDbOptions options = Options();
    options.blob_garbage_ratio = ratio;
    auto store = RocksDbStore::Open(options);
    ASSERT_FALSE(store.ok()) << ratio;
    EXPECT_TRUE(store.status().IsInvalidArgument()) << store.status().ToString();
    EXPECT_FALSE(std::filesystem::exists(options.path)) << "nothing is created for a bad option";
  }
}

TEST_F(RocksDbStoreTest, IntPropertyRefusesUnknownNames) {
  auto store = OpenOrFail();
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->IntProperty("rocksdb.estimate-num-keys").ok());
  EXPECT_TRUE(store->IntProperty("no.such.property").status().IsInvalidArgument());
}

}  // namespace
}  // namespace safe::storage
