// RadosBackupStore on a real single-host Ceph cluster (issue 7): the shared BackupStore suite,
// plain and sealed, then what only RADOS has: opening, several clients over one pool, the
// layout in the pool, the day index (stale entries, paging, negative days), errors.

#include "storage/rados_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "storage/sealed_store.h"
#include "tests/rados/rados_test_util.h"
#include "tests/storage/store_test_util.h"

namespace safe::storage {
namespace {

using testing::BlobFor;
using testing::FreshNamespace;
using testing::KeyFor;
using testing::OpenOrFail;
using testing::RawPool;

// ---------------------------------------------------------------------------------------------
// The shared suite. Each store gets a namespace of its own, removed when the test ends.

struct RadosStoreFactory {
  static constexpr const char* kName = "RadosStore";
  std::string name_space = FreshNamespace();
  std::unique_ptr<BackupStore> Make() { return OpenOrFail(name_space); }
  BackupId ScannedKey(const BackupId& id) const { return id; }
  ~RadosStoreFactory() {
    RawPool raw(name_space);
    if (raw.ok()) raw.Purge();
  }
};

struct SealedRadosStoreFactory : testing::SealedFactory<RadosStoreFactory> {
  static constexpr const char* kName = "SealedOverRadosStore";
};

using StoreImplementations = ::testing::Types<RadosStoreFactory, SealedRadosStoreFactory>;

}  // namespace
}  // namespace safe::storage

#include "tests/storage/backup_store_suite.h"

namespace safe::storage {
namespace {

// ---------------------------------------------------------------------------------------------
// RADOS only.

class RadosBackupStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = OpenOrFail(name_space_);
    ASSERT_NE(store_, nullptr);
    ASSERT_TRUE(raw_.ok()) << "no raw librados handle on the test pool";
  }
  void TearDown() override {
    store_.reset();
    raw_.Purge();
  }

  // The name of the day index shard that holds key's entry for day.
  static std::string ShardFor(const BackupId& key, Day day) {
    return "day-" + std::to_string(day) + "-" + key.ToHex().substr(0, 1);
  }

  // A key whose hex starts with `shard`: its index entries go to that shard of their day.
  static BackupId KeyInShard(char shard, int n) {
    std::string hex = KeyFor(n).ToHex();
    hex[0] = shard;
    return *BackupId::Parse(hex);
  }

  // Every record Scan visits.
  std::map<BackupId, BackupInfo> ScanAll(BackupStore& store) {
    std::map<BackupId, BackupInfo> seen;
    Status s = store.Scan([&](const BackupId& key, const BackupInfo& info) {
      EXPECT_TRUE(seen.emplace(key, info).second) << "key visited twice";
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return seen;
  }

  // Names of the index objects ("days" and "day-*") in the namespace.
  std::set<std::string> IndexObjects() {
    std::set<std::string> index;
    for (const std::string& name : raw_.Objects()) {
      if (name == "days" || name.rfind("day-", 0) == 0) index.insert(name);
    }
    return index;
  }

  const std::string name_space_ = FreshNamespace();
  RawPool raw_{name_space_};
  std::unique_ptr<RadosBackupStore> store_;
};

TEST(RadosBackupStoreOpenTest, RefusesEmptyConfPathPoolOrUser) {
  RadosOptions options = testing::OptionsFor("x");
  options.conf_path.clear();
  EXPECT_TRUE(RadosBackupStore::Open(options).status().IsInvalidArgument());
  options = testing::OptionsFor("x");
  options.pool.clear();
  EXPECT_TRUE(RadosBackupStore::Open(options).status().IsInvalidArgument());
  options = testing::OptionsFor("x");
  options.user.clear();
  EXPECT_TRUE(RadosBackupStore::Open(options).status().IsInvalidArgument());
}

TEST(RadosBackupStoreOpenTest, AMissingPoolIsNotFoundAndNamed) {
  RadosOptions options = testing::OptionsFor("x");
  options.pool = "no-such-pool";
  auto store = RadosBackupStore::Open(options);
  ASSERT_FALSE(store.ok());
  EXPECT_TRUE(store.status().IsNotFound()) << store.status().ToString();
  EXPECT_NE(store.status().message().find("no-such-pool"), std::string::npos);
}

TEST(RadosBackupStoreOpenTest, AMissingConfFileFailsAndIsNamed) {
  RadosOptions options = testing::OptionsFor("x");
  options.conf_path = testing::CephDir() + "/no-such.conf";
  auto store = RadosBackupStore::Open(options);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("no-such.conf"), std::string::npos)
      << store.status().ToString();
}

TEST(RadosBackupStoreOpenTest, AWrongKeyIsRefusedQuickly) {
  testing::TempDir dir;
  const std::string keyring = dir.path() + "/wrong.keyring";
  // A well-formed cephx key that the cluster does not know for client.admin.
  std::ofstream(keyring) << "[client.admin]\n\tkey = AQBrq0pjAAAAABAAV5bvg3eJHz0WqHyBWvnMUw==\n";
  RadosOptions options = testing::OptionsFor("x");
  options.keyring = keyring;
  options.connect_timeout_seconds = 20;
  const auto start = std::chrono::steady_clock::now();
  auto store = RadosBackupStore::Open(options);
  ASSERT_FALSE(store.ok());
  EXPECT_TRUE(store.status().IsIOError()) << store.status().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
}

TEST_F(RadosBackupStoreTest, TheLayoutIsOneObjectPerBackupWithItsMetadataXattr) {
  // The layout is shared by every server on the pool: pin it.
  const BackupId key = KeyFor(1);
  const std::string blob = BlobFor(1, 3000);
  ASSERT_TRUE(store_->Put(key, blob, 19001).ok());
  librados::bufferlist data;
  ASSERT_EQ(raw_.io().read(key.ToHex(), data, 0, 0), 3000);
  EXPECT_TRUE(data.to_str() == blob);
  librados::bufferlist meta;
  // Format 2 (issue 16): version byte, size (u64 LE), upload day (i32 LE), the 16-byte ETag tag,
  // the number of kept versions, then 16 bytes per version (none here).
  ASSERT_EQ(raw_.io().getxattr(key.ToHex(), "safe.meta", meta), 30);
  const std::string m = meta.to_str();
  EXPECT_EQ(m[0], 2);  // format version
  EXPECT_EQ(static_cast<uint8_t>(m[1]) | static_cast<uint8_t>(m[2]) << 8, 3000);
  EXPECT_EQ(static_cast<uint8_t>(m[9]) | static_cast<uint8_t>(m[10]) << 8, 19001 & 0xffff);
  EXPECT_EQ(m[29], 0);  // no previous versions yet
  // The index: the key in its shard of day 19001, the day in "days".
  EXPECT_EQ(raw_.OmapKeys(ShardFor(key, 19001)), std::set<std::string>{key.ToHex()});
  EXPECT_EQ(raw_.OmapKeys("days").size(), 1u);
}

TEST_F(RadosBackupStoreTest, TwoClientsOnOnePoolSeeEachOthersWrites) {
  auto other = OpenOrFail(name_space_);
  ASSERT_NE(other, nullptr);
  const BackupId key = KeyFor(7);
  ASSERT_EQ(*store_->Put(key, "through one", 5), PutOutcome::kCreated);
  auto got = other->Get(key);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->blob, "through one");
  auto put = other->Put(key, "through the other", 6);
  ASSERT_TRUE(put.ok());
  EXPECT_EQ(*put, PutOutcome::kReplaced);
  EXPECT_EQ(store_->Get(key)->blob, "through the other");
  ASSERT_TRUE(other->Delete(key).ok());
  EXPECT_TRUE(store_->Get(key).status().IsNotFound());
}

TEST_F(RadosBackupStoreTest, ConcurrentPutsThroughTwoClientsLeaveOneWholeBlob) {
  auto other = OpenOrFail(name_space_);
  ASSERT_NE(other, nullptr);
  const BackupId key = KeyFor(8);
  std::vector<std::string> blobs;
  for (int t = 0; t < 8; ++t) blobs.push_back(BlobFor(100 + t, 256 * 1024 + t));
  const std::set<std::string> written(blobs.begin(), blobs.end());
  std::atomic<int> created{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < 8; ++t) {
    writers.emplace_back([&, t] {
      BackupStore& via = t % 2 == 0 ? static_cast<BackupStore&>(*store_) : *other;
      for (int r = 0; r < 3; ++r) {
        auto put = via.Put(key, blobs[t], 1);
        if (!put.ok()) {
          failed.fetch_add(1);
        } else if (*put == PutOutcome::kCreated) {
          created.fetch_add(1);
        }
      }
    });
  }
  for (auto& w : writers) w.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(created.load(), 1);
  for (RadosBackupStore* s : {store_.get(), other.get()}) {
    auto got = s->Get(key);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(written.count(got->blob), 1u);
    EXPECT_EQ(got->info.size, got->blob.size());
  }
}

TEST_F(RadosBackupStoreTest, ASweepThroughOneClientKeepsWhatAnotherReuploads) {
  auto other = OpenOrFail(name_space_);
  ASSERT_NE(other, nullptr);
  constexpr int kRecords = 400;
  for (int i = 0; i < kRecords; ++i) ASSERT_TRUE(store_->Put(KeyFor(i), "old", 10).ok());
  std::atomic<int> recreated{0};
  std::thread uploader([&] {
    for (int i = 0; i < kRecords; i += 2) {
      auto put = other->Put(KeyFor(i), "new", 20);
      if (put.ok() && *put == PutOutcome::kCreated) recreated.fetch_add(1);
    }
  });
  auto deleted = store_->DeleteUploadedBefore(20);
  uploader.join();
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(*deleted, static_cast<uint64_t>(kRecords / 2 + recreated.load()));
  for (int i = 0; i < kRecords; ++i) {
    auto got = store_->Get(KeyFor(i));
    if (i % 2 == 0) {
      ASSERT_TRUE(got.ok()) << "re-uploaded record " << i << " was deleted";
      EXPECT_EQ(got->blob, "new");
    } else {
      EXPECT_TRUE(got.status().IsNotFound()) << "expired record " << i << " survived";
    }
  }
}

TEST_F(RadosBackupStoreTest, ARecordReuploadedBetweenTheSweepsReadAndItsDeleteIsKept) {
  // The sweep reads a page of metadata, then deletes the expired records with a guard on the
  // metadata it read. A re-upload that lands in between must win, and not be counted. All keys
  // share one index shard, so they are read as one page, before the window opens.
  auto key = [](int n) { return KeyInShard('a', n); };
  RadosOptions options = testing::OptionsFor(name_space_);
  auto uploader = OpenOrFail(name_space_);
  ASSERT_NE(uploader, nullptr);
  std::atomic<int> windows{0};
  options.sweep_window_for_testing = [&] {
    if (windows.fetch_add(1) != 0) return;
    for (int i = 0; i < 10; i += 2) {
      EXPECT_EQ(*uploader->Put(key(i), "new", 20), PutOutcome::kReplaced);
    }
    // The same old day with another blob: still expired, but not the record the sweep read.
    // The guard refuses the delete of what was read; the walk goes again (see below).
    EXPECT_EQ(*uploader->Put(key(1), "other", 10), PutOutcome::kReplaced);
  };
  auto sweeper = RadosBackupStore::Open(options);
  ASSERT_TRUE(sweeper.ok()) << sweeper.status().ToString();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(store_->Put(key(i), "old", 10).ok());

  auto deleted = (*sweeper)->DeleteUploadedBefore(20);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_GE(windows.load(), 1);
  // 1, 3, 5, 7, 9: the re-upload of 1 on day 10 added an index entry to the shard being walked,
  // so the sweep's removal of the shard (assert_version) failed and it walked the shard again,
  // finding 1 expired under its new metadata.
  EXPECT_EQ(*deleted, 5u);
  for (int i = 0; i < 10; i += 2) {
    auto got = store_->Get(key(i));
    ASSERT_TRUE(got.ok()) << "re-uploaded record " << i << " was deleted";
    EXPECT_EQ(got->blob, "new");
  }
  for (int i = 1; i < 10; i += 2) EXPECT_TRUE(store_->Get(key(i)).status().IsNotFound());
  EXPECT_EQ(raw_.OmapKeys("day-10-a").size(), 0u);  // the swept shard is gone
}

TEST_F(RadosBackupStoreTest, ASweepRemovesTheIndexOfTheDaysItSwept) {
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(store_->Put(KeyFor(i), "x", 100 + i % 3).ok());
  ASSERT_TRUE(store_->Delete(KeyFor(0)).ok());  // leaves a stale entry on day 100
  auto deleted = store_->DeleteUploadedBefore(102);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(*deleted, 26u);  // days 100 and 101, less the one deleted by hand
  for (const std::string& name : IndexObjects()) {
    EXPECT_TRUE(name == "days" || name.rfind("day-102-", 0) == 0) << name << " was left";
  }
  EXPECT_EQ(raw_.OmapKeys("days").size(), 1u);  // day 102 only
  EXPECT_EQ(ScanAll(*store_).size(), 13u);
  // Nothing is left to sweep on the next run, and the rest goes with a later cutoff.
  EXPECT_EQ(*store_->DeleteUploadedBefore(102), 0u);
  EXPECT_EQ(*store_->DeleteUploadedBefore(103), 13u);
  EXPECT_EQ(IndexObjects(), std::set<std::string>{"days"});
  EXPECT_TRUE(raw_.OmapKeys("days").empty());
}

TEST_F(RadosBackupStoreTest, AReuploadMovesTheRecordToItsNewDay) {
  const BackupId key = KeyFor(3);
  ASSERT_TRUE(store_->Put(key, "first", 5).ok());
  ASSERT_TRUE(store_->Put(key, "second", 9).ok());
  auto seen = ScanAll(*store_);  // once, under day 9, although day 5's index still names it
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen.begin()->second.upload_day, 9);
  // Day 5's entry is stale: the sweep drops it and deletes nothing.
  EXPECT_EQ(*store_->DeleteUploadedBefore(9), 0u);
  EXPECT_TRUE(raw_.OmapKeys(ShardFor(key, 5)).empty());
  EXPECT_EQ(store_->Get(key)->blob, "second");
  EXPECT_EQ(*store_->DeleteUploadedBefore(10), 1u);
}

TEST_F(RadosBackupStoreTest, AnIndexEntryWithoutItsObjectIsSkippedAndSwept) {
  // What a put that crashed between its index write and its object write leaves behind.
  const BackupId key = KeyFor(4);
  librados::ObjectWriteOperation op;
  op.omap_set({{key.ToHex(), librados::bufferlist()}});
  ASSERT_EQ(raw_.io().operate(ShardFor(key, 50), &op), 0);
  // Make day 50 known to "days" the way a put does.
  ASSERT_TRUE(store_->Put(KeyFor(5), "real", 50).ok());
  auto seen = ScanAll(*store_);
  EXPECT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen.count(key), 0u);
  EXPECT_EQ(*store_->DeleteUploadedBefore(51), 1u);  // the real one only
  EXPECT_EQ(IndexObjects(), std::set<std::string>{"days"});
}

TEST_F(RadosBackupStoreTest, ScanAndSweepPageThroughAShardOfManyEntries) {
  // More entries in one shard than one page of the index walk: 1500 entries (forged, without
  // objects) around three real records whose names fall at the start, middle and end.
  auto key_with_prefix = [](const std::string& hex_prefix) {
    std::string hex = hex_prefix + std::string(64 - hex_prefix.size(), '0');
    return *BackupId::Parse(hex);
  };
  const BackupId first = key_with_prefix("0000");
  const BackupId middle = key_with_prefix("0800");
  const BackupId last = key_with_prefix("0fff");
  std::map<std::string, librados::bufferlist> entries;
  for (int i = 0; i < 1500; ++i) {
    char hex[8];
    std::snprintf(hex, sizeof(hex), "0%03x1", i * 2);
    entries[key_with_prefix(hex).ToHex()] = librados::bufferlist();
  }
  librados::ObjectWriteOperation op;
  op.omap_set(entries);
  ASSERT_EQ(raw_.io().operate(ShardFor(first, 77), &op), 0);
  for (const BackupId& key : {first, middle, last}) ASSERT_TRUE(store_->Put(key, "r", 77).ok());
  EXPECT_EQ(raw_.OmapKeys(ShardFor(first, 77)).size(), 1503u);

  auto seen = ScanAll(*store_);
  EXPECT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen.count(first) + seen.count(middle) + seen.count(last), 3u);
  auto deleted = store_->DeleteUploadedBefore(78);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(*deleted, 3u);
  EXPECT_EQ(IndexObjects(), std::set<std::string>{"days"});
}

TEST_F(RadosBackupStoreTest, NegativeDaysComeBeforePositiveOnes) {
  ASSERT_TRUE(store_->Put(KeyFor(1), "a", -300).ok());
  ASSERT_TRUE(store_->Put(KeyFor(2), "b", -1).ok());
  ASSERT_TRUE(store_->Put(KeyFor(3), "c", 0).ok());
  ASSERT_TRUE(store_->Put(KeyFor(4), "d", 70000).ok());
  EXPECT_EQ(*store_->DeleteUploadedBefore(-1), 1u);
  EXPECT_EQ(*store_->DeleteUploadedBefore(0), 1u);
  EXPECT_TRUE(store_->Get(KeyFor(3)).ok());
  EXPECT_EQ(*store_->DeleteUploadedBefore(70000), 1u);
  EXPECT_TRUE(store_->Get(KeyFor(4)).ok());
}

TEST_F(RadosBackupStoreTest, BrokenObjectsAreCorruptionWithoutTheKeyInTheMessage) {
  const BackupId no_meta = KeyFor(1);
  const BackupId bad_meta = KeyFor(2);
  const BackupId short_data = KeyFor(3);
  librados::bufferlist data;
  data.append("abc");
  ASSERT_EQ(raw_.io().write_full(no_meta.ToHex(), data), 0);
  ASSERT_EQ(raw_.io().write_full(bad_meta.ToHex(), data), 0);
  librados::bufferlist junk;
  junk.append("junk");
  ASSERT_EQ(raw_.io().setxattr(bad_meta.ToHex(), "safe.meta", junk), 0);
  ASSERT_TRUE(store_->Put(short_data, "abcdef", 1).ok());
  ASSERT_EQ(raw_.io().trunc(short_data.ToHex(), 2), 0);

  for (const BackupId& key : {no_meta, bad_meta, short_data}) {
    auto got = store_->Get(key);
    ASSERT_FALSE(got.ok());
    EXPECT_TRUE(got.status().IsCorruption()) << got.status().ToString();
    EXPECT_EQ(got.status().message().find(key.ToHex()), std::string::npos);
  }
  EXPECT_TRUE(store_->Stat(no_meta).status().IsCorruption());
  EXPECT_TRUE(store_->Stat(bad_meta).status().IsCorruption());
  EXPECT_TRUE(store_->Stat(short_data).ok());  // Stat reads the metadata only
}

TEST_F(RadosBackupStoreTest, NotFoundMessagesNameNoKey) {
  const BackupId key = KeyFor(9);
  for (const Status& s :
       {store_->Get(key).status(), store_->Stat(key).status(), store_->Delete(key)}) {
    EXPECT_TRUE(s.IsNotFound()) << s.ToString();
    EXPECT_EQ(s.message().find(key.ToHex()), std::string::npos) << s.ToString();
  }
}

TEST_F(RadosBackupStoreTest, GetOrCreateValueKeepsTheFirstValue) {
  auto first = store_->GetOrCreateValue("keycheck", "aaaa");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(*first, "aaaa");
  auto other = OpenOrFail(name_space_);
  ASSERT_NE(other, nullptr);
  auto second = other->GetOrCreateValue("keycheck", "bbbb");
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second, "aaaa");
  EXPECT_TRUE(store_->GetOrCreateValue("Key Check", "x").status().IsInvalidArgument());
  EXPECT_TRUE(store_->GetOrCreateValue("", "x").status().IsInvalidArgument());
  // Values are not backups: a scan does not see them.
  EXPECT_TRUE(ScanAll(*store_).empty());
}

TEST_F(RadosBackupStoreTest, StatsReportThePoolAndTheCluster) {
  ASSERT_TRUE(store_->Put(KeyFor(1), BlobFor(1, 4096), 1).ok());
  auto stats = store_->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_GT(stats->cluster_bytes_avail, 0u);
  EXPECT_GT(stats->cluster_bytes_used, 0u);
}

TEST_F(RadosBackupStoreTest, NamespacesAreSeparateStores) {
  auto elsewhere = OpenOrFail(FreshNamespace());
  ASSERT_NE(elsewhere, nullptr);
  ASSERT_TRUE(store_->Put(KeyFor(1), "here", 1).ok());
  EXPECT_TRUE(elsewhere->Get(KeyFor(1)).status().IsNotFound());
  EXPECT_TRUE(ScanAll(*elsewhere).empty());
  EXPECT_EQ(*elsewhere->DeleteUploadedBefore(100), 0u);
  EXPECT_TRUE(store_->Get(KeyFor(1)).ok());
}

}  // namespace
}  // namespace safe::storage
