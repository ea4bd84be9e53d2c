// The BackupStore contract as one typed GoogleTest suite, shared by every implementation's test
// binary (tests/storage/backup_store_test.cc for the embedded engines, tests/rados/ for RADOS).
//
// How to use: in an anonymous namespace inside safe::storage, define one factory per
// implementation, then `using StoreImplementations = ::testing::Types<...>;`, then include this
// header. A factory is default-constructible and has
//   static constexpr const char* kName;           // the type's name in test names
//   std::unique_ptr<BackupStore> Make();           // a fresh, empty store (nullptr + ADD_FAILURE)
//   BackupId ScannedKey(const BackupId& id) const; // the key Scan reports for id: id itself, or
//                                                  // its storage key when sealed
// Each test gets a new factory and store. Test names are BackupStoreTest/<kName>.<Test>.
//
// Include it once per test binary, and only from a .cc: it defines tests.

#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "storage/backup_store.h"
#include "tests/storage/store_test_util.h"

namespace safe::storage {
namespace {

using testing::BlobFor;
using testing::KeyFor;

template <typename Factory>
class BackupStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = factory_.Make();
    ASSERT_NE(store_, nullptr);
  }

  // Every record the store reports through Scan.
  std::map<BackupId, BackupInfo> ScanAll() {
    std::map<BackupId, BackupInfo> seen;
    Status s = store_->Scan([&](const BackupId& key, const BackupInfo& info) {
      EXPECT_TRUE(seen.emplace(key, info).second) << "key visited twice";
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return seen;
  }

  Factory factory_;
  std::unique_ptr<BackupStore> store_;
};

struct FactoryNames {
  template <typename T>
  static std::string GetName(int) {
    return T::kName;
  }
};

TYPED_TEST_SUITE(BackupStoreTest, StoreImplementations, FactoryNames);

TYPED_TEST(BackupStoreTest, MissingKeyIsNotFoundForGetStatAndDelete) {
  const BackupId key = KeyFor(1);
  EXPECT_TRUE(this->store_->Get(key).status().IsNotFound());
  EXPECT_TRUE(this->store_->Stat(key).status().IsNotFound());
  EXPECT_TRUE(this->store_->Delete(key).IsNotFound());
}

TYPED_TEST(BackupStoreTest, PutCreatesAndGetReturnsBlobAndInfo) {
  const BackupId key = KeyFor(1);
  const std::string blob = BlobFor(1, 1000);
  auto put = this->store_->Put(key, blob, 19000);
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(*put, PutOutcome::kCreated);

  auto got = this->store_->Get(key);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->blob, blob);
  EXPECT_EQ(got->info.size, 1000u);
  EXPECT_EQ(got->info.upload_day, 19000);

  auto stat = this->store_->Stat(key);
  ASSERT_TRUE(stat.ok()) << stat.status().ToString();
  EXPECT_EQ(stat->size, 1000u);
  EXPECT_EQ(stat->upload_day, 19000);

  // Another key is still absent.
  EXPECT_TRUE(this->store_->Get(KeyFor(2)).status().IsNotFound());
}

TYPED_TEST(BackupStoreTest, PutOnExistingKeyReplacesTheWholeRecord) {
  const BackupId key = KeyFor(1);
  ASSERT_TRUE(this->store_->Put(key, BlobFor(1, 20000), 100).ok());
  const std::string shorter = BlobFor(2, 300);
  auto put = this->store_->Put(key, shorter, 105);
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(*put, PutOutcome::kReplaced);

  auto got = this->store_->Get(key);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->blob, shorter);  // no tail of the longer blob left
  EXPECT_EQ(got->info.size, 300u);
  EXPECT_EQ(got->info.upload_day, 105);
  EXPECT_EQ(this->ScanAll().size(), 1u);
}

TYPED_TEST(BackupStoreTest, DeleteRemovesTheRecordAndALaterPutCreatesAgain) {
  const BackupId key = KeyFor(1);
  const BackupId other = KeyFor(2);
  ASSERT_TRUE(this->store_->Put(key, "first", 7).ok());
  ASSERT_TRUE(this->store_->Put(other, "other", 7).ok());

  Status deleted = this->store_->Delete(key);
  ASSERT_TRUE(deleted.ok()) << deleted.ToString();
  EXPECT_TRUE(this->store_->Get(key).status().IsNotFound());
  EXPECT_TRUE(this->store_->Stat(key).status().IsNotFound());
  EXPECT_TRUE(this->store_->Delete(key).IsNotFound());
  EXPECT_TRUE(this->store_->Get(other).ok());  // the neighbour is untouched

  auto put = this->store_->Put(key, "second", 8);
  ASSERT_TRUE(put.ok());
  EXPECT_EQ(*put, PutOutcome::kCreated);
  EXPECT_EQ(this->store_->Get(key)->blob, "second");
}

TYPED_TEST(BackupStoreTest, EmptyBlobIsStoredAsZeroBytes) {
  // The server refuses empty bodies; the store itself does not.
  const BackupId key = KeyFor(1);
  auto put = this->store_->Put(key, "", 3);
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  auto got = this->store_->Get(key);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->blob, "");
  EXPECT_EQ(got->info.size, 0u);
  EXPECT_EQ(this->store_->Stat(key)->size, 0u);
}

TYPED_TEST(BackupStoreTest, LargeAndBinaryBlobsRoundTripBitExact) {
  const std::string random_512k = BlobFor(7, 512 * 1024);
  const std::string zeros(4096, '\0');
  const std::string nul_inside("a\0b\0\0c\xff", 7);
  const std::vector<std::string> blobs = {random_512k, zeros, nul_inside, std::string(1, '\0')};
  for (size_t i = 0; i < blobs.size(); ++i) {
    ASSERT_TRUE(this->store_->Put(KeyFor(i), blobs[i], 1).ok());
  }
  for (size_t i = 0; i < blobs.size(); ++i) {
    auto got = this->store_->Get(KeyFor(i));
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(got->blob.size(), blobs[i].size()) << "blob " << i;
    EXPECT_TRUE(got->blob == blobs[i]) << "blob " << i << " differs";
    EXPECT_EQ(got->info.size, blobs[i].size());
  }
}

TYPED_TEST(BackupStoreTest, ScanVisitsExactlyTheStoredSet) {
  EXPECT_TRUE(this->ScanAll().empty());
  // More records than one chunk of the RocksDB scan, so that chunking is exercised.
  constexpr int kRecords = 2500;
  std::map<BackupId, BackupInfo> expected;
  for (int i = 0; i < kRecords; ++i) {
    const BackupId key = KeyFor(i);
    const Day day = 100 + i % 7;
    ASSERT_TRUE(this->store_->Put(key, BlobFor(i, i % 50), day).ok());
    expected[this->factory_.ScannedKey(key)] = BackupInfo{static_cast<uint64_t>(i % 50), day};
  }
  for (int i = 0; i < kRecords; i += 3) {
    ASSERT_TRUE(this->store_->Delete(KeyFor(i)).ok());
    expected.erase(this->factory_.ScannedKey(KeyFor(i)));
  }
  auto seen = this->ScanAll();
  ASSERT_EQ(seen.size(), expected.size());
  for (const auto& [key, info] : expected) {
    auto it = seen.find(key);
    ASSERT_NE(it, seen.end());
    EXPECT_EQ(it->second.size, info.size);
    EXPECT_EQ(it->second.upload_day, info.upload_day);
  }
}

TYPED_TEST(BackupStoreTest, ScanVisitorMayCallBackIntoTheStore) {
  std::map<BackupId, BackupId> id_for_scanned_key;
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(this->store_->Put(KeyFor(i), "x", 1).ok());
    id_for_scanned_key.emplace(this->factory_.ScannedKey(KeyFor(i)), KeyFor(i));
  }
  int visited = 0;
  Status s = this->store_->Scan([&](const BackupId& key, const BackupInfo&) {
    ++visited;
    auto id = id_for_scanned_key.find(key);
    ASSERT_NE(id, id_for_scanned_key.end());
    EXPECT_TRUE(this->store_->Stat(id->second).ok());
    EXPECT_TRUE(this->store_->Put(id->second, "yy", 2).ok());
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(visited, 10);
  EXPECT_EQ(this->store_->Stat(KeyFor(3))->size, 2u);
}

TYPED_TEST(BackupStoreTest, DeleteUploadedBeforeKeepsTheCutoffDay) {
  FakeClock clock(20000);
  const BackupId old_key = KeyFor(1);
  const BackupId cutoff_key = KeyFor(2);
  const BackupId new_key = KeyFor(3);
  ASSERT_TRUE(this->store_->Put(old_key, "old", clock.Today()).ok());
  clock.Advance(1);
  ASSERT_TRUE(this->store_->Put(cutoff_key, "on the cutoff day", clock.Today()).ok());
  clock.Advance(1);
  ASSERT_TRUE(this->store_->Put(new_key, "new", clock.Today()).ok());

  // Nothing is before the first day.
  auto none = this->store_->DeleteUploadedBefore(20000);
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_EQ(*none, 0u);

  auto deleted = this->store_->DeleteUploadedBefore(clock.Today() - 1);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(*deleted, 1u);
  EXPECT_TRUE(this->store_->Get(old_key).status().IsNotFound());
  EXPECT_EQ(this->store_->Get(cutoff_key)->blob, "on the cutoff day");
  EXPECT_TRUE(this->store_->Get(new_key).ok());

  // A re-upload refreshes the day: the record then survives a later cutoff.
  ASSERT_TRUE(this->store_->Put(cutoff_key, "refreshed", clock.Today()).ok());
  deleted = this->store_->DeleteUploadedBefore(clock.Today());
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 0u);
  deleted = this->store_->DeleteUploadedBefore(clock.Today() + 1);
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 2u);
  EXPECT_TRUE(this->ScanAll().empty());
}

TYPED_TEST(BackupStoreTest, ConcurrentPutsToOneKeyLeaveExactlyOneWholeBlob) {
  constexpr int kThreads = 8;
  constexpr int kRounds = 5;
  const BackupId key = KeyFor(42);
  std::vector<std::string> blobs;
  for (int t = 0; t < kThreads; ++t) blobs.push_back(BlobFor(1000 + t, 64 * 1024 + t));
  const std::set<std::string> written(blobs.begin(), blobs.end());

  std::atomic<int> created{0};
  std::atomic<int> failed{0};
  std::atomic<bool> writers_done{false};
  std::atomic<int> torn_reads{0};
  std::thread reader([&] {
    // Every read made while the writers run sees one whole written blob, or nothing yet.
    while (!writers_done.load()) {
      auto got = this->store_->Get(key);
      if (got.ok() && written.count(got->blob) == 0) torn_reads.fetch_add(1);
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int r = 0; r < kRounds; ++r) {
        auto put = this->store_->Put(key, blobs[t], 1 + r);
        if (!put.ok()) {
          failed.fetch_add(1);
        } else if (*put == PutOutcome::kCreated) {
          created.fetch_add(1);
        }
      }
    });
  }
  for (auto& w : writers) w.join();
  writers_done.store(true);
  reader.join();

  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(created.load(), 1);  // exactly one writer found the key absent
  EXPECT_EQ(torn_reads.load(), 0);
  auto got = this->store_->Get(key);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(written.count(got->blob), 1u);
  EXPECT_EQ(got->info.size, got->blob.size());
  EXPECT_EQ(got->info.upload_day, kRounds);
  EXPECT_EQ(this->ScanAll().size(), 1u);
}

TYPED_TEST(BackupStoreTest, ConcurrentPutsToDifferentKeysAreAllPresent) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 40;
  std::atomic<int> failed{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const int n = t * kPerThread + i;
        auto put = this->store_->Put(KeyFor(n), BlobFor(n, 100 + n * 37), n);
        if (!put.ok() || *put != PutOutcome::kCreated) failed.fetch_add(1);
      }
    });
  }
  for (auto& w : writers) w.join();
  EXPECT_EQ(failed.load(), 0);
  for (int n = 0; n < kThreads * kPerThread; ++n) {
    auto got = this->store_->Get(KeyFor(n));
    ASSERT_TRUE(got.ok()) << "record " << n << ": " << got.status().ToString();
    EXPECT_TRUE(got->blob == BlobFor(n, 100 + n * 37)) << "record " << n;
    EXPECT_EQ(got->info.upload_day, n);
  }
  EXPECT_EQ(this->ScanAll().size(), static_cast<size_t>(kThreads * kPerThread));
}

TYPED_TEST(BackupStoreTest, RecordsReuploadedDuringTheSweepAreKept) {
  // Old records; a second thread re-uploads every other one while the sweep runs. Whatever the
  // interleaving: every re-uploaded record ends present with its new blob, every other one is
  // gone, and the sweep counts exactly the deletions it made (a re-upload that came after the
  // sweep's deletion is a creation).
  constexpr int kRecords = 3000;
  constexpr Day kOld = 10;
  constexpr Day kNew = 20;
  for (int i = 0; i < kRecords; ++i) {
    ASSERT_TRUE(this->store_->Put(KeyFor(i), BlobFor(i, 16), kOld).ok());
  }
  std::atomic<int> recreated{0};
  std::atomic<int> failed{0};
  std::thread uploader([&] {
    // Keys are random, so this order is unrelated to the sweep's: depending on timing, some
    // re-uploads land before the sweep reaches their key and some after.
    for (int i = kRecords - 2; i >= 0; i -= 2) {
      auto put = this->store_->Put(KeyFor(i), BlobFor(i + kRecords, 24), kNew);
      if (!put.ok()) {
        failed.fetch_add(1);
      } else if (*put == PutOutcome::kCreated) {
        recreated.fetch_add(1);
      }
    }
  });
  auto deleted = this->store_->DeleteUploadedBefore(kNew);
  uploader.join();
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(*deleted, static_cast<uint64_t>(kRecords / 2 + recreated.load()));
  for (int i = 0; i < kRecords; ++i) {
    auto got = this->store_->Get(KeyFor(i));
    if (i % 2 == 0) {
      ASSERT_TRUE(got.ok()) << "re-uploaded record " << i << " was deleted";
      EXPECT_TRUE(got->blob == BlobFor(i + kRecords, 24));
      EXPECT_EQ(got->info.upload_day, kNew);
    } else {
      EXPECT_TRUE(got.status().IsNotFound()) << "expired record " << i << " survived";
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Versions, tags and conditions (issue 16).

PutOptions Keep(uint32_t n) {
  PutOptions options;
  options.keep_versions = n;
  return options;
}

TYPED_TEST(BackupStoreTest, ReplacingPutKeepsThePreviousBlobsUpToKeepVersions) {
  const BackupId key = KeyFor(1);
  for (int i = 0; i < 5; ++i) {
    auto put = this->store_->Put(key, BlobFor(i, 100 + i), 1000 + i, Keep(3));
    ASSERT_TRUE(put.ok()) << put.status().ToString();
    EXPECT_EQ(put->outcome, i == 0 ? PutOutcome::kCreated : PutOutcome::kReplaced);
  }
  EXPECT_EQ(this->store_->Get(key)->blob, BlobFor(4, 104));
  auto versions = this->store_->ListVersions(key);
  ASSERT_TRUE(versions.ok()) << versions.status().ToString();
  ASSERT_EQ(versions->size(), 3u);
  for (uint32_t n = 1; n <= 3; ++n) {
    const int i = 4 - static_cast<int>(n);  // version n is the upload before the n-th latest
    EXPECT_EQ((*versions)[n - 1].size, 100u + i) << "version " << n;
    EXPECT_EQ((*versions)[n - 1].upload_day, 1000 + i);
    EXPECT_EQ((*versions)[n - 1].replaced_day, 1000 + i + 1);
    auto got = this->store_->GetVersion(key, n);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_TRUE(got->blob == BlobFor(i, 100 + i)) << "version " << n;
    EXPECT_EQ(got->info.size, 100u + i);
    EXPECT_EQ(got->info.upload_day, 1000 + i);
  }
  EXPECT_TRUE(this->store_->GetVersion(key, 0).status().IsNotFound());
  EXPECT_TRUE(this->store_->GetVersion(key, 4).status().IsNotFound());
  auto stat = this->store_->Stat(key);
  ASSERT_TRUE(stat.ok());
  EXPECT_EQ(stat->size, 104u);
  EXPECT_EQ(stat->versions, 3u);
  EXPECT_EQ(stat->version_bytes, 103u + 102u + 101u);
  EXPECT_EQ(stat->oldest_replaced_day, 1002);
  auto scanned = this->ScanAll();
  ASSERT_EQ(scanned.size(), 1u);
  EXPECT_EQ(scanned.begin()->second.versions, 3u);
  EXPECT_EQ(scanned.begin()->second.version_bytes, 306u);
}

TYPED_TEST(BackupStoreTest, ThePlainPutKeepsNoVersionsAndDropsThoseThereWere) {
  const BackupId key = KeyFor(1);
  ASSERT_TRUE(this->store_->Put(key, "one", 1).ok());
  ASSERT_TRUE(this->store_->Put(key, "two", 2).ok());
  ASSERT_TRUE(this->store_->ListVersions(key).ok());
  EXPECT_TRUE(this->store_->ListVersions(key)->empty());
  ASSERT_TRUE(this->store_->Put(key, "three", 3, Keep(2)).ok());
  EXPECT_EQ(this->store_->ListVersions(key)->size(), 1u);
  ASSERT_TRUE(this->store_->Put(key, "four", 4).ok());  // keep_versions 0: versions off
  EXPECT_TRUE(this->store_->ListVersions(key)->empty());
  EXPECT_EQ(this->store_->Get(key)->blob, "four");
  EXPECT_TRUE(this->store_->ListVersions(KeyFor(2)).status().IsNotFound());
  EXPECT_TRUE(this->store_->GetVersion(KeyFor(2), 1).status().IsNotFound());
}

TYPED_TEST(BackupStoreTest, DeleteRemovesTheVersionsToo) {
  const BackupId key = KeyFor(1);
  ASSERT_TRUE(this->store_->Put(key, "one", 1, Keep(3)).ok());
  ASSERT_TRUE(this->store_->Put(key, "two", 2, Keep(3)).ok());
  ASSERT_TRUE(this->store_->Delete(key).ok());
  EXPECT_TRUE(this->store_->ListVersions(key).status().IsNotFound());
  EXPECT_TRUE(this->store_->GetVersion(key, 1).status().IsNotFound());
  // Created again: nothing of before comes back.
  auto put = this->store_->Put(key, "new", 3, Keep(3));
  ASSERT_TRUE(put.ok());
  EXPECT_EQ(put->outcome, PutOutcome::kCreated);
  EXPECT_TRUE(this->store_->ListVersions(key)->empty());
}

TYPED_TEST(BackupStoreTest, EveryPutGivesANewTagThatStatAndGetReport) {
  const BackupId key = KeyFor(1);
  auto first = this->store_->Put(key, "same", 1, Keep(1));
  auto second = this->store_->Put(key, "same", 1, Keep(1));
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_NE(first->tag, Tag{});
  EXPECT_NE(first->tag, second->tag);
  EXPECT_EQ(this->store_->Stat(key)->tag, second->tag);
  EXPECT_EQ(this->store_->Get(key)->info.tag, second->tag);
}

TYPED_TEST(BackupStoreTest, IfMatchWritesOnlyOverTheMatchingTag) {
  const BackupId key = KeyFor(1);
  PutOptions stale = Keep(2);
  stale.if_match = Tag{1, 2, 3};
  EXPECT_TRUE(this->store_->Put(key, "x", 1, stale).status().IsNotFound());
  PutOptions exists;
  exists.if_exists = true;
  EXPECT_TRUE(this->store_->Put(key, "x", 1, exists).status().IsNotFound());
  EXPECT_TRUE(this->store_->Stat(key).status().IsNotFound());  // nothing written

  auto first = this->store_->Put(key, "first", 1, Keep(2));
  ASSERT_TRUE(first.ok());
  auto other = this->store_->Put(key, "other device", 2, Keep(2));
  ASSERT_TRUE(other.ok());
  PutOptions seen_first = Keep(2);
  seen_first.if_match = first->tag;
  EXPECT_TRUE(this->store_->Put(key, "stale", 3, seen_first).status().IsFailedPrecondition());
  EXPECT_EQ(this->store_->Get(key)->blob, "other device");
  EXPECT_EQ(this->store_->ListVersions(key)->size(), 1u);

  PutOptions seen_other = Keep(2);
  seen_other.if_match = other->tag;
  auto put = this->store_->Put(key, "fresh", 3, seen_other);
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(put->outcome, PutOutcome::kReplaced);
  EXPECT_EQ(this->store_->Get(key)->blob, "fresh");
  EXPECT_EQ(this->store_->GetVersion(key, 1)->blob, "other device");
  auto replaced = this->store_->Put(key, "any", 4, exists);
  ASSERT_TRUE(replaced.ok()) << replaced.status().ToString();
  EXPECT_EQ(replaced->outcome, PutOutcome::kReplaced);
}

TYPED_TEST(BackupStoreTest, IfAbsentCreatesOnlyOnce) {
  const BackupId key = KeyFor(1);
  PutOptions absent;
  absent.if_absent = true;
  auto put = this->store_->Put(key, "mine", 1, absent);
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(put->outcome, PutOutcome::kCreated);
  EXPECT_TRUE(this->store_->Put(key, "theirs", 1, absent).status().IsFailedPrecondition());
  EXPECT_EQ(this->store_->Get(key)->blob, "mine");
}

TYPED_TEST(BackupStoreTest, ConcurrentConditionalPutsOverOneTagLetExactlyOneThrough) {
  const BackupId key = KeyFor(1);
  auto base = this->store_->Put(key, "base", 1, Keep(3));
  ASSERT_TRUE(base.ok());
  constexpr int kThreads = 8;
  std::atomic<int> won{0};
  std::atomic<int> refused{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      PutOptions options = Keep(3);
      options.if_match = base->tag;
      auto put = this->store_->Put(key, BlobFor(t, 1000), 2, options);
      if (put.ok()) {
        won.fetch_add(1);
      } else if (put.status().IsFailedPrecondition()) {
        refused.fetch_add(1);
      } else {
        failed.fetch_add(1);
      }
    });
  }
  for (auto& w : writers) w.join();
  EXPECT_EQ(won.load(), 1);
  EXPECT_EQ(refused.load(), kThreads - 1);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(this->store_->ListVersions(key)->size(), 1u);
  EXPECT_EQ(this->store_->GetVersion(key, 1)->blob, "base");
}

TYPED_TEST(BackupStoreTest, TheSweepDropsVersionsReplacedBeforeTheCutoff) {
  const BackupId key = KeyFor(1);
  const BackupId plain = KeyFor(2);
  // Uploaded on days 10, 20, 30, 40: versions replaced on 40 (the day-30 blob), 30 and 20.
  for (Day day : {10, 20, 30, 40}) {
    ASSERT_TRUE(this->store_->Put(key, "day " + std::to_string(day), day, Keep(5)).ok());
  }
  ASSERT_TRUE(this->store_->Put(plain, "p", 40).ok());
  auto deleted = this->store_->DeleteUploadedBefore(31);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(*deleted, 0u);  // records deleted; dropped versions are not counted
  auto versions = this->store_->ListVersions(key);
  ASSERT_TRUE(versions.ok());
  ASSERT_EQ(versions->size(), 1u);  // only the one replaced on day 40 stays
  EXPECT_EQ((*versions)[0].replaced_day, 40);
  EXPECT_EQ(this->store_->GetVersion(key, 1)->blob, "day 30");
  EXPECT_TRUE(this->store_->GetVersion(key, 2).status().IsNotFound());
  EXPECT_EQ(this->store_->Stat(key)->versions, 1u);

  // The record expires whole, versions and all.
  deleted = this->store_->DeleteUploadedBefore(41);
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 2u);
  EXPECT_TRUE(this->store_->ListVersions(key).status().IsNotFound());
  EXPECT_TRUE(this->ScanAll().empty());
}

TYPED_TEST(BackupStoreTest, AnExpiredBlobIsNotKeptAsAVersion) {
  const BackupId key = KeyFor(1);
  for (Day day : {10, 20, 30}) {
    ASSERT_TRUE(this->store_->Put(key, "day " + std::to_string(day), day, Keep(3)).ok());
  }
  // Versions replaced on 30 (the day-20 blob) and 20 (the day-10 blob). With day 21 as the first
  // day still kept, the day-10 blob has expired and goes; the day-30 one becomes version 1.
  PutOptions options = Keep(3);
  options.expired_before = 21;
  ASSERT_TRUE(this->store_->Put(key, "day 40", 40, options).ok());
  auto versions = this->store_->ListVersions(key);
  ASSERT_TRUE(versions.ok());
  ASSERT_EQ(versions->size(), 2u);
  EXPECT_EQ(this->store_->GetVersion(key, 1)->blob, "day 30");
  EXPECT_EQ(this->store_->GetVersion(key, 2)->blob, "day 20");
  // A current blob that had itself expired is not kept, nor anything older.
  options.expired_before = 41;
  auto put = this->store_->Put(key, "day 100", 100, options);
  ASSERT_TRUE(put.ok());
  EXPECT_TRUE(this->store_->ListVersions(key)->empty());
  EXPECT_EQ(this->store_->Stat(key)->versions, 0u);
}

}  // namespace
}  // namespace safe::storage
