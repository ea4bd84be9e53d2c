// RocksDbStore::Checkpoint and RocksDbStore::OpenReadOnly (issue 6, "Administer"): a checkpoint
// is a complete, consistent copy even while writes go on; a read-only store reads a database
// another store has open, writes nothing, and refuses writes and checkpoints.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "storage/rocksdb_store.h"
#include "tests/storage/store_test_util.h"

namespace safe::storage {
namespace {

using testing::BlobFor;
using testing::KeyFor;
using testing::TempDir;

namespace fs = std::filesystem;

constexpr Day kDay = 19000;

// Blob sizes from 1 byte to 12 KiB: small ones stay in SST files, large ones go to blob files.
size_t SizeFor(uint64_t index) { return 1 + (index * 2654435761u) % (12 * 1024); }

std::unique_ptr<RocksDbStore> OpenOrDie(const std::string& path, uint64_t write_buffer = 16 << 20) {
  RocksDbOptions options;
  options.path = path;
  options.write_buffer_bytes = write_buffer;
  auto store = RocksDbStore::Open(options);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(store).value() : nullptr;
}

void PutRange(RocksDbStore& store, uint64_t from, uint64_t to) {
  for (uint64_t i = from; i < to; ++i) {
    auto put = store.Put(KeyFor(i), BlobFor(i, SizeFor(i)), kDay);
    ASSERT_TRUE(put.ok()) << put.status().ToString();
  }
}

// The number of records 0, 1, ... present in store, each checked bit-exact; fails the test if a
// record after the first missing one is present (the copy must be a prefix).
uint64_t CheckPrefix(RocksDbStore& store, uint64_t limit) {
  uint64_t present = 0;
  while (present < limit) {
    auto record = store.Get(KeyFor(present));
    if (!record.ok()) {
      EXPECT_TRUE(record.status().IsNotFound()) << record.status().ToString();
      break;
    }
    EXPECT_EQ(record->blob, BlobFor(present, SizeFor(present))) << "record " << present;
    ++present;
  }
  for (uint64_t i = present + 1; i < limit; ++i) {
    EXPECT_TRUE(store.Stat(KeyFor(i)).status().IsNotFound()) << "record " << i << " after a gap";
  }
  return present;
}

TEST(RocksDbCheckpointTest, HoldsEveryRecordAndOpensAsADatabase) {
  TempDir dir;
  const std::string db = dir.path() + "/db";
  const std::string copy = dir.path() + "/backups/copy";  // the parent is created
  auto store = OpenOrDie(db);
  ASSERT_NE(store, nullptr);
  PutRange(*store, 0, 300);
  ASSERT_TRUE(store->Delete(KeyFor(7)).ok());

  ASSERT_TRUE(store->Checkpoint(copy).ok());
  // The original goes on working.
  PutRange(*store, 300, 310);
  ASSERT_TRUE(store->Close().ok());

  auto restored = OpenOrDie(copy);
  ASSERT_NE(restored, nullptr);
  auto stats = restored->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->backups, 299u);
  for (uint64_t i = 0; i < 310; ++i) {
    auto record = restored->Get(KeyFor(i));
    if (i == 7 || i >= 300) {
      EXPECT_TRUE(record.status().IsNotFound()) << i;
    } else {
      ASSERT_TRUE(record.ok()) << i << ": " << record.status().ToString();
      EXPECT_EQ(record->blob, BlobFor(i, SizeFor(i)));
      EXPECT_EQ(record->info.upload_day, kDay);
    }
  }
}

TEST(RocksDbCheckpointTest, IsAConsistentPrefixWhileAWriterGoesOn) {
  TempDir dir;
  const std::string copy = dir.path() + "/copy";
  // Small memtables: flushes (and new WAL files) happen while the checkpoint is made.
  auto store = OpenOrDie(dir.path() + "/db", 256 << 10);
  ASSERT_NE(store, nullptr);

  std::mutex mu;
  std::condition_variable cv;
  uint64_t acked = 0;  // GUARDED_BY(mu)
  std::atomic<bool> stop{false};
  std::atomic<bool> failed{false};
  std::thread writer([&] {
    for (uint64_t i = 0; !stop.load(); ++i) {
      if (!store->Put(KeyFor(i), BlobFor(i, SizeFor(i)), kDay).ok()) {
        failed.store(true);
        break;
      }
      {
        std::lock_guard<std::mutex> lock(mu);
        acked = i + 1;
      }
      cv.notify_all();
    }
    cv.notify_all();
  });
  uint64_t acked_before = 0;
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return acked >= 500 || failed.load(); });
    acked_before = acked;
  }
  Status made = store->Checkpoint(copy);
  uint64_t acked_after = 0;
  {
    std::lock_guard<std::mutex> lock(mu);
    acked_after = acked;
  }
  stop.store(true);
  writer.join();
  ASSERT_FALSE(failed.load());
  ASSERT_TRUE(made.ok()) << made.ToString();
  ASSERT_TRUE(store->Close().ok());

  auto restored = OpenOrDie(copy);
  ASSERT_NE(restored, nullptr);
  // Everything acknowledged before the checkpoint began is in it; at most the one Put in flight
  // when it ended is added; and nothing but a prefix.
  const uint64_t present = CheckPrefix(*restored, acked_after + 2);
  EXPECT_GE(present, acked_before);
  EXPECT_LE(present, acked_after + 1);
  auto stats = restored->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->backups, present);
}

TEST(RocksDbCheckpointTest, RefusesADirectoryThatExists) {
  TempDir dir;
  auto store = OpenOrDie(dir.path() + "/db");
  ASSERT_NE(store, nullptr);
  const std::string existing = dir.path() + "/existing";
  fs::create_directory(existing);
  Status status = store->Checkpoint(existing);
  EXPECT_TRUE(status.IsInvalidArgument()) << status.ToString();
  EXPECT_TRUE(fs::is_empty(existing));
  EXPECT_TRUE(store->Checkpoint("").IsInvalidArgument());
}

TEST(RocksDbCheckpointTest, IsUnavailableAfterClose) {
  TempDir dir;
  auto store = OpenOrDie(dir.path() + "/db");
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Close().ok());
  EXPECT_TRUE(store->Checkpoint(dir.path() + "/copy").IsUnavailable());
  EXPECT_FALSE(fs::exists(dir.path() + "/copy"));
}

using Mode = RocksDbStore::ReadOnlyMode;

TEST(RocksDbReadOnlyTest, FindsNoDatabaseAndCreatesNothing) {
  TempDir dir;
  for (Mode mode : {Mode::kWholeDatabase, Mode::kMetadataOnly}) {
    RocksDbOptions options;
    options.path = dir.path() + "/missing";
    auto missing = RocksDbStore::OpenReadOnly(options, mode);
    EXPECT_TRUE(missing.status().IsNotFound()) << missing.status().ToString();
    EXPECT_FALSE(fs::exists(options.path));

    options.path = dir.path();
    auto empty = RocksDbStore::OpenReadOnly(options, mode);
    EXPECT_TRUE(empty.status().IsNotFound()) << empty.status().ToString();
    EXPECT_TRUE(fs::is_empty(dir.path()));
  }
}

// The names of the files in dir.
std::set<std::string> FilesIn(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.insert(entry.path().filename());
  return names;
}

TEST(RocksDbReadOnlyTest, WholeDatabaseReadsBlobFilesAndWritesNothing) {
  TempDir dir;
  const std::string db = dir.path() + "/db";
  {
    auto writer = OpenOrDie(db);
    ASSERT_NE(writer, nullptr);
    PutRange(*writer, 0, 40);  // many of them large enough for blob files
    ASSERT_TRUE(writer->Close().ok());
  }
  {
    auto reopened = OpenOrDie(db);  // recovery flushes the WAL into SST and blob files
    ASSERT_NE(reopened, nullptr);
    ASSERT_TRUE(reopened->Close().ok());
  }
  const std::set<std::string> before = FilesIn(db);
  ASSERT_TRUE(std::any_of(before.begin(), before.end(), [](const std::string& name) {
    return name.size() > 5 && name.substr(name.size() - 5) == ".blob";
  })) << "no blob file was written";

  RocksDbOptions options;
  options.path = db;
  auto reader = RocksDbStore::OpenReadOnly(options, Mode::kWholeDatabase);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ(CheckPrefix(**reader, 41), 40u);
  EXPECT_EQ((*reader)->Stats()->backups, 40u);
  EXPECT_TRUE((*reader)->Put(KeyFor(100), "x", kDay).status().IsUnavailable());
  EXPECT_TRUE((*reader)->Delete(KeyFor(3)).IsUnavailable());
  EXPECT_TRUE((*reader)->DeleteUploadedBefore(kDay + 1).status().IsUnavailable());
  EXPECT_TRUE((*reader)->Checkpoint(dir.path() + "/copy").IsInvalidArgument());
  ASSERT_TRUE((*reader)->Close().ok());
  EXPECT_EQ(FilesIn(db), before);  // no LOG, no lock, nothing
  EXPECT_FALSE(fs::exists(dir.path() + "/copy"));
}

TEST(RocksDbReadOnlyTest, MetadataOnlyReadsBesideAWriterAndRefusesBlobs) {
  TempDir dir;
  const std::string db = dir.path() + "/db";
  auto writer = OpenOrDie(db);
  ASSERT_NE(writer, nullptr);
  PutRange(*writer, 0, 40);

  RocksDbOptions options;
  options.path = db;
  auto reader = RocksDbStore::OpenReadOnly(options, Mode::kMetadataOnly);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  auto stats = (*reader)->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->backups, 40u);
  uint64_t scanned = 0;
  ASSERT_TRUE((*reader)->Scan([&](const BackupId&, const BackupInfo&) { ++scanned; }).ok());
  EXPECT_EQ(scanned, 40u);
  auto info = (*reader)->Stat(KeyFor(3));
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->size, SizeFor(3));
  // Blobs are refused rather than read through a secondary instance (which crashes RocksDB).
  EXPECT_TRUE((*reader)->Get(KeyFor(3)).status().IsUnavailable());

  // Writes and checkpoints are refused, and nothing reached the database.
  EXPECT_TRUE((*reader)->Put(KeyFor(100), "x", kDay).status().IsUnavailable());
  EXPECT_TRUE((*reader)->Delete(KeyFor(3)).IsUnavailable());
  EXPECT_TRUE((*reader)->DeleteUploadedBefore(kDay + 1).status().IsUnavailable());
  EXPECT_TRUE((*reader)->Checkpoint(dir.path() + "/copy").IsInvalidArgument());
  EXPECT_FALSE(fs::exists(dir.path() + "/copy"));
  ASSERT_TRUE((*reader)->Close().ok());

  // The writer is unaffected.
  EXPECT_TRUE(writer->Stat(KeyFor(100)).status().IsNotFound());
  EXPECT_TRUE(writer->Get(KeyFor(3)).ok());
  PutRange(*writer, 40, 41);
  ASSERT_TRUE(writer->Close().ok());
}

}  // namespace
}  // namespace safe::storage
