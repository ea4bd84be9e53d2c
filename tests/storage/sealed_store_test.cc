// SealedStore (issue 4, "A stolen disk reveals nothing"): known answers, what the inner store
// sees, tampering, wrong keys, and a copy of the data directory that shows no id and no blob.
// The BackupStore contract itself is checked by the shared suite in backup_store_test.cc, which
// also runs over SealedStore.

#include "storage/sealed_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "storage/memory_store.h"
#include "storage/rocksdb_store.h"
#include "tests/storage/store_test_util.h"
#include "tests/support/bytes.h"

namespace safe::storage {
namespace {

using testing::BlobFor;
using testing::KeyFor;
using testing::TempDir;

using safe::testing::FromHex;
using safe::testing::Hex;

BackupId IdFromHex(const std::string& hex) {
  auto id = BackupId::Parse(hex);
  if (!id.ok()) std::abort();  // a typo in this file
  return *id;
}

ServerKey KeyWithSeed(uint8_t seed) {
  uint8_t bytes[ServerKey::kSize];
  for (size_t i = 0; i < sizeof(bytes); ++i) bytes[i] = static_cast<uint8_t>(seed + i);
  return ServerKey(bytes);
}

// ---------------------------------------------------------------------------------------------
// Known answers. Computed independently of libsodium and OpenSSL, with Python's hashlib (BLAKE2b
// with key, salt and personalisation, which is what crypto_kdf_derive_from_key is), hmac, and the
// `cryptography` package's AESGCM:
//   master = bytes(range(32)); id = bytes(range(0xa0, 0xc0))
//   k_i = blake2b(b'', digest_size=32, key=master, salt=pack('<Q', i) + 8 zero bytes,
//                 person=b'safesrv1' + 8 zero bytes)
//   storage_key = HMAC-SHA-256(k1, id)
//   key_check = blake2b(b'safe-server key check v1', digest_size=32, key=k3).hexdigest()
//   record = b'\x01' + salt + AESGCM(blake2b(salt, digest_size=32, key=k2)).encrypt(
//                12 zero bytes, plaintext, b'\x01' + storage_key),  salt = 32 bytes of 0x11

constexpr char kKatId[] = "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf";
constexpr char kKatStorageKey[] =
    "0afcc56a1de99feb6a48666a34fb0b188479547776ceacd72cfa055cc54c3103";
constexpr char kKatKeyCheck[] = "372cb12b5b1852d7593f62ee750a5ce69973c46777b8920899c32883510191b9";
constexpr char kKatPlaintext[] = "Threema Safe known-answer test";
constexpr char kKatRecord[] =
    "011111111111111111111111111111111111111111111111111111111111111111e8099ee63083c7325087db1721"
    "ed3d7c61098d9602ea6588ab69d91bdaa01f02778caf0f4dec2d4d1ac9d48684d0";

TEST(SealedStoreKnownAnswerTest, StorageKeyIsHmacSha256UnderTheFirstSubkey) {
  MemoryStore inner;
  SealedStore store(KeyWithSeed(0), inner);
  EXPECT_EQ(store.StorageKeyFor(IdFromHex(kKatId)).ToHex(), kKatStorageKey);
}

TEST(SealedStoreKnownAnswerTest, KeyCheckIsBlake2bUnderTheThirdSubkey) {
  EXPECT_EQ(SealedStore::KeyCheck(KeyWithSeed(0)), kKatKeyCheck);
}

TEST(SealedStoreKnownAnswerTest, OpensARecordSealedByAnIndependentImplementation) {
  MemoryStore inner;
  ASSERT_TRUE(inner.Put(IdFromHex(kKatStorageKey), FromHex(kKatRecord), 77).ok());
  SealedStore store(KeyWithSeed(0), inner);
  auto got = store.Get(IdFromHex(kKatId));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->blob, kKatPlaintext);
  EXPECT_EQ(got->info.size, sizeof(kKatPlaintext) - 1);
  EXPECT_EQ(got->info.upload_day, 77);
  EXPECT_EQ(store.Stat(IdFromHex(kKatId))->size, sizeof(kKatPlaintext) - 1);
}

TEST(SealedStoreKnownAnswerTest, WritesTheDocumentedLayoutWithAFreshSaltEachTime) {
  MemoryStore inner;
  SealedStore store(KeyWithSeed(0), inner);
  const BackupId id = IdFromHex(kKatId);
  ASSERT_TRUE(store.Put(id, kKatPlaintext, 1).ok());
  auto first = inner.Get(IdFromHex(kKatStorageKey));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_TRUE(store.Put(id, kKatPlaintext, 1).ok());
  auto second = inner.Get(IdFromHex(kKatStorageKey));
  ASSERT_TRUE(second.ok());
  for (const auto* record : {&first->blob, &second->blob}) {
    ASSERT_EQ(record->size(), SealedStore::kOverhead + sizeof(kKatPlaintext) - 1);
    EXPECT_EQ(static_cast<uint8_t>((*record)[0]), SealedStore::kFormatAes256Gcm);
  }
  // Another salt, so another record key: nothing repeats between two writes of the same blob.
  EXPECT_NE(first->blob.substr(1, SealedStore::kSaltBytes),
            second->blob.substr(1, SealedStore::kSaltBytes));
  EXPECT_NE(first->blob.substr(1 + SealedStore::kSaltBytes),
            second->blob.substr(1 + SealedStore::kSaltBytes));
}

// ---------------------------------------------------------------------------------------------
// What the inner store sees.

// Forwards to a MemoryStore and remembers every key and value it was given.
class RecordingStore final : public BackupStore {
 public:
  Result<BackupRecord> Get(const BackupId& key) override {
    Note(key);
    return inner_.Get(key);
  }
  Result<BackupInfo> Stat(const BackupId& key) override {
    Note(key);
    return inner_.Stat(key);
  }
  using BackupStore::Put;
  Result<PutResult> Put(const BackupId& key, std::string_view blob, Day day,
                        const PutOptions& options) override {
    Note(key);
    {
      std::lock_guard<std::mutex> lock(mu_);
      values_.emplace_back(blob);
    }
    return inner_.Put(key, blob, day, options);
  }
  Result<std::vector<VersionInfo>> ListVersions(const BackupId& key) override {
    Note(key);
    return inner_.ListVersions(key);
  }
  Result<BackupRecord> GetVersion(const BackupId& key, uint32_t n) override {
    Note(key);
    return inner_.GetVersion(key, n);
  }
  Status Delete(const BackupId& key) override {
    Note(key);
    return inner_.Delete(key);
  }
  Status Scan(const std::function<void(const BackupId&, const BackupInfo&)>& visit) override {
    return inner_.Scan(visit);
  }
  Result<uint64_t> DeleteUploadedBefore(Day cutoff_day) override {
    return inner_.DeleteUploadedBefore(cutoff_day);
  }

  std::set<BackupId> keys() {
    std::lock_guard<std::mutex> lock(mu_);
    return keys_;
  }
  std::vector<std::string> values() {
    std::lock_guard<std::mutex> lock(mu_);
    return values_;
  }

 private:
  void Note(const BackupId& key) {
    std::lock_guard<std::mutex> lock(mu_);
    keys_.insert(key);
  }

  MemoryStore inner_;
  std::mutex mu_;
  std::set<BackupId> keys_;          // GUARDED_BY(mu_)
  std::vector<std::string> values_;  // GUARDED_BY(mu_)
};

TEST(SealedStoreTest, TheInnerStoreNeverSeesAnIdOrABlob) {
  RecordingStore inner;
  SealedStore store(KeyWithSeed(1), inner);
  std::vector<BackupId> ids;
  std::vector<std::string> blobs;
  for (int i = 0; i < 20; ++i) {
    ids.push_back(KeyFor(i));
    blobs.push_back(BlobFor(i, 64 + 97 * i));
    ASSERT_TRUE(store.Put(ids[i], blobs[i], 5).ok());
    ASSERT_TRUE(store.Put(ids[i], blobs[i], 6).ok());  // a replacement
  }
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(store.Get(ids[i]).ok());
    ASSERT_TRUE(store.Stat(ids[i]).ok());
    if (i % 2 == 0) {
      ASSERT_TRUE(store.Delete(ids[i]).ok());
    }
  }
  EXPECT_TRUE(store.Get(KeyFor(1000)).status().IsNotFound());
  size_t scanned = 0;
  ASSERT_TRUE(store.Scan([&](const BackupId&, const BackupInfo&) { ++scanned; }).ok());
  EXPECT_EQ(scanned, 10u);
  ASSERT_TRUE(store.DeleteUploadedBefore(100).ok());

  const std::set<BackupId> keys = inner.keys();
  EXPECT_EQ(keys.size(), 21u);  // one storage key per id, the absent one included
  const std::vector<std::string> values = inner.values();
  ASSERT_EQ(values.size(), 40u);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(keys.count(ids[i]), 0u) << "id " << i << " reached the inner store";
    EXPECT_EQ(keys.count(store.StorageKeyFor(ids[i])), 1u);
    const std::string raw(ids[i].AsStringView());
    const std::string window = blobs[i].substr(0, 32);
    for (const std::string& value : values) {
      EXPECT_EQ(value.find(raw), std::string::npos) << "id " << i << " inside a stored value";
      EXPECT_EQ(value.find(ids[i].ToHex()), std::string::npos);
      EXPECT_EQ(value.find(window), std::string::npos) << "blob " << i << " stored in the clear";
    }
  }
  // Sanity of the check itself: the storage keys are what reached the inner store.
  EXPECT_EQ(keys.count(store.StorageKeyFor(KeyFor(1000))), 1u);
}

TEST(SealedStoreTest, SizesSeenByCallersAreThePlaintextSizes) {
  MemoryStore inner;
  SealedStore store(KeyWithSeed(1), inner);
  ASSERT_TRUE(store.Put(KeyFor(1), BlobFor(1, 1234), 9).ok());
  EXPECT_EQ(inner.Stat(store.StorageKeyFor(KeyFor(1)))->size, 1234 + SealedStore::kOverhead);
  EXPECT_EQ(store.Stat(KeyFor(1))->size, 1234u);
  EXPECT_EQ(store.Get(KeyFor(1))->info.size, 1234u);
  std::map<BackupId, BackupInfo> seen;
  ASSERT_TRUE(store.Scan([&](const BackupId& k, const BackupInfo& info) { seen[k] = info; }).ok());
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen.begin()->first, store.StorageKeyFor(KeyFor(1)));  // Scan yields storage keys
  EXPECT_EQ(seen.begin()->second.size, 1234u);
  EXPECT_EQ(seen.begin()->second.upload_day, 9);
}

TEST(SealedStoreTest, OwnsTheInnerStoreWhenGivenOne) {
  auto inner = std::make_unique<MemoryStore>();
  MemoryStore* raw = inner.get();
  SealedStore store(KeyWithSeed(1), std::move(inner));
  ASSERT_TRUE(store.Put(KeyFor(1), "x", 1).ok());
  EXPECT_TRUE(raw->Stat(store.StorageKeyFor(KeyFor(1))).ok());
}

// ---------------------------------------------------------------------------------------------
// Tampering and wrong keys.

// The status message must not name the id or its storage key.
void ExpectCorruptionNamingNoKey(const Status& status, const BackupId& id,
                                 const BackupId& storage_key) {
  EXPECT_TRUE(status.IsCorruption()) << status.ToString();
  EXPECT_EQ(status.message().find(id.ToHex()), std::string::npos);
  EXPECT_EQ(status.message().find(storage_key.ToHex()), std::string::npos);
  EXPECT_EQ(status.message().find(std::string(id.AsStringView())), std::string::npos);
}

TEST(SealedStoreTest, FlippingAnyByteOfAStoredValueIsCorruptionForThatBackupOnly) {
  MemoryStore inner;
  SealedStore store(KeyWithSeed(2), inner);
  const BackupId victim = KeyFor(1);
  ASSERT_TRUE(store.Put(victim, BlobFor(1, 200), 3).ok());
  ASSERT_TRUE(store.Put(KeyFor(2), BlobFor(2, 200), 3).ok());
  ASSERT_TRUE(store.Put(KeyFor(3), BlobFor(3, 200), 3).ok());
  const BackupId storage_key = store.StorageKeyFor(victim);
  const std::string original = inner.Get(storage_key)->blob;
  ASSERT_EQ(original.size(), 200 + SealedStore::kOverhead);

  for (size_t i = 0; i < original.size(); ++i) {
    for (uint8_t mask : {0x01, 0x80}) {
      std::string damaged = original;
      damaged[i] = static_cast<char>(damaged[i] ^ mask);
      ASSERT_TRUE(inner.Put(storage_key, damaged, 3).ok());
      auto got = store.Get(victim);
      ASSERT_FALSE(got.ok()) << "byte " << i << " flipped went unnoticed";
      ExpectCorruptionNamingNoKey(got.status(), victim, storage_key);
    }
  }
  EXPECT_TRUE(store.Get(KeyFor(2)).ok());
  EXPECT_TRUE(store.Get(KeyFor(3)).ok());
  ASSERT_TRUE(inner.Put(storage_key, original, 3).ok());
  auto restored = store.Get(victim);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(restored->blob, BlobFor(1, 200));
}

TEST(SealedStoreTest, TruncatedOrUnknownFormatRecordsAreCorruption) {
  MemoryStore inner;
  SealedStore store(KeyWithSeed(2), inner);
  const BackupId id = KeyFor(1);
  ASSERT_TRUE(store.Put(id, BlobFor(1, 100), 3).ok());
  ASSERT_TRUE(store.Put(KeyFor(2), BlobFor(2, 100), 3).ok());
  const BackupId storage_key = store.StorageKeyFor(id);
  const std::string original = inner.Get(storage_key)->blob;

  for (size_t length = 0; length < original.size(); ++length) {
    ASSERT_TRUE(inner.Put(storage_key, original.substr(0, length), 3).ok());
    auto got = store.Get(id);
    ASSERT_FALSE(got.ok()) << "a record cut to " << length << " bytes opened";
    ExpectCorruptionNamingNoKey(got.status(), id, storage_key);
    if (length < SealedStore::kOverhead) {
      ExpectCorruptionNamingNoKey(store.Stat(id).status(), id, storage_key);
    }
  }
  // A record too short to be sealed is skipped by Scan, which reports it at the end.
  ASSERT_TRUE(inner.Put(storage_key, "short", 3).ok());
  int visited = 0;
  Status scan = store.Scan([&](const BackupId&, const BackupInfo&) { ++visited; });
  EXPECT_TRUE(scan.IsCorruption()) << scan.ToString();
  EXPECT_EQ(visited, 1);

  std::string other_format = original;
  other_format[0] = 2;
  ASSERT_TRUE(inner.Put(storage_key, other_format, 3).ok());
  auto got = store.Get(id);
  ExpectCorruptionNamingNoKey(got.status(), id, storage_key);
  EXPECT_NE(got.status().message().find("format"), std::string::npos) << got.status().ToString();
}

TEST(SealedStoreTest, ARecordMovedUnderAnotherKeyDoesNotOpen) {
  MemoryStore inner;
  SealedStore store(KeyWithSeed(3), inner);
  ASSERT_TRUE(store.Put(KeyFor(1), BlobFor(1, 100), 3).ok());
  ASSERT_TRUE(store.Put(KeyFor(2), BlobFor(2, 100), 3).ok());
  // Swap the two sealed values: each is bound to its storage key.
  std::string one = inner.Get(store.StorageKeyFor(KeyFor(1)))->blob;
  ASSERT_TRUE(inner.Put(store.StorageKeyFor(KeyFor(2)), one, 3).ok());
  EXPECT_TRUE(store.Get(KeyFor(2)).status().IsCorruption());
  EXPECT_TRUE(store.Get(KeyFor(1)).ok());
}

TEST(SealedStoreTest, ADifferentMasterKeyFindsNothingAndOpensNothing) {
  MemoryStore inner;
  SealedStore right(KeyWithSeed(4), inner);
  SealedStore wrong(KeyWithSeed(5), inner);
  const BackupId id = KeyFor(1);
  ASSERT_TRUE(right.Put(id, BlobFor(1, 300), 3).ok());
  EXPECT_NE(right.StorageKeyFor(id), wrong.StorageKeyFor(id));
  // Under another key the id maps to another storage key: not there.
  EXPECT_TRUE(wrong.Get(id).status().IsNotFound());
  // Even given the record under its own storage key, the other key cannot open it.
  ASSERT_TRUE(inner.Put(wrong.StorageKeyFor(id), inner.Get(right.StorageKeyFor(id))->blob, 3).ok());
  auto got = wrong.Get(id);
  ExpectCorruptionNamingNoKey(got.status(), id, wrong.StorageKeyFor(id));
  EXPECT_EQ(right.Get(id)->blob, BlobFor(1, 300));
}

TEST(SealedStoreTest, KeyCheckIdentifiesTheKeyWithoutRevealingIt) {
  const std::string check = SealedStore::KeyCheck(KeyWithSeed(6));
  ASSERT_EQ(check.size(), 64u);
  EXPECT_EQ(check.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(check, SealedStore::KeyCheck(KeyWithSeed(6)));
  EXPECT_NE(check, SealedStore::KeyCheck(KeyWithSeed(7)));
  ServerKey key = KeyWithSeed(6);
  const std::string key_hex = Hex(key);
  EXPECT_EQ(check.find(key_hex.substr(0, 16)), std::string::npos);
}

TEST(ServerKeyTest, MovingWipesTheSourceAndEqualsComparesBytes) {
  ServerKey a = KeyWithSeed(8);
  ServerKey b = std::move(a);
  EXPECT_TRUE(b.Equals(KeyWithSeed(8)));
  EXPECT_FALSE(b.Equals(KeyWithSeed(9)));
  const uint8_t* moved_from = a.data();  // NOLINT: inspecting the moved-from object on purpose
  EXPECT_TRUE(std::all_of(moved_from, moved_from + ServerKey::kSize,
                          [](uint8_t byte) { return byte == 0; }));
  ServerKey g1 = ServerKey::Random();
  ServerKey g2 = ServerKey::Random();
  EXPECT_FALSE(g1.Equals(g2));
}

// ---------------------------------------------------------------------------------------------
// A stolen disk.

// Every regular file under dir, concatenated, with a marker between files.
std::string ReadEveryFile(const std::string& dir) {
  std::string all;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    all.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    all.append("\n--file--\n");
  }
  return all;
}

struct Upload {
  BackupId id;
  std::string blob;
};

std::vector<Upload> RandomUploads(int count) {
  std::random_device seed;
  std::mt19937_64 rng((static_cast<uint64_t>(seed()) << 32) ^ seed());
  std::uniform_int_distribution<size_t> size(100, 70000);  // inline values and blob files
  std::vector<Upload> uploads;
  for (int i = 0; i < count; ++i) {
    BackupId::Bytes bytes;
    for (auto& b : bytes) b = static_cast<uint8_t>(rng());
    std::string blob(size(rng), '\0');
    for (auto& c : blob) c = static_cast<char>(rng());
    uploads.push_back(Upload{BackupId::FromBytes(bytes), std::move(blob)});
  }
  return uploads;
}

// How many of the uploads leave a trace in bytes: the raw id, its hex (either case), or one
// 32-byte window of the blob (its start, middle or end).
int CountTraces(const std::string& bytes, const std::vector<Upload>& uploads) {
  int traces = 0;
  for (const Upload& u : uploads) {
    std::string upper_hex = u.id.ToHex();
    std::transform(upper_hex.begin(), upper_hex.end(), upper_hex.begin(), ::toupper);
    const size_t n = u.blob.size();
    const std::vector<std::string> needles = {
        std::string(u.id.AsStringView()), u.id.ToHex(),         upper_hex, u.blob.substr(0, 32),
        u.blob.substr(n / 2, 32),         u.blob.substr(n - 32)};
    for (const std::string& needle : needles) {
      if (bytes.find(needle) != std::string::npos) ++traces;
    }
  }
  return traces;
}

Status PutAll(BackupStore& store, const std::vector<Upload>& uploads) {
  for (const Upload& u : uploads) {
    auto put = store.Put(u.id, u.blob, 20000);
    if (!put.ok()) return put.status();
  }
  return Status::OK();
}

TEST(SealedStoreStolenDiskTest, ACopyOfTheDataDirectoryHoldsNoIdAndNoBlob) {
  const std::vector<Upload> uploads = RandomUploads(50);
  TempDir dir;
  RocksDbOptions options;
  options.path = dir.path() + "/sealed";
  {
    auto engine = RocksDbStore::Open(options);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    SealedStore store(KeyWithSeed(10), **engine);
    ASSERT_TRUE(PutAll(store, uploads).ok());
    ASSERT_TRUE((*engine)->Close().ok());
  }
  const std::string disk = ReadEveryFile(options.path);
  ASSERT_GT(disk.size(), 50u * 100);
  EXPECT_EQ(CountTraces(disk, uploads), 0);

  // The same uploads into a bare RocksDbStore leave traces everywhere: the search works.
  RocksDbOptions bare_options;
  bare_options.path = dir.path() + "/bare";
  {
    auto bare = RocksDbStore::Open(bare_options);
    ASSERT_TRUE(bare.ok()) << bare.status().ToString();
    ASSERT_TRUE(PutAll(**bare, uploads).ok());
    ASSERT_TRUE((*bare)->Close().ok());
  }
  // Each upload leaves its raw id and three blob windows (hex ids are never written); a few may
  // be split by the headers of the WAL's 32 KiB blocks, so not all 200 need be found whole.
  EXPECT_GE(CountTraces(ReadEveryFile(bare_options.path), uploads), 50 * 3);

  // With the key, everything is still there after a reopen.
  auto engine = RocksDbStore::Open(options);
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  SealedStore store(KeyWithSeed(10), **engine);
  for (const Upload& u : uploads) {
    auto got = store.Get(u.id);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_TRUE(got->blob == u.blob);
  }
}

TEST(SealedStoreStolenDiskTest, VersionsLeaveNoIdAndNoBlobEither) {
  // Issue 16: versions are named after the storage key (plus a random suffix), never the id,
  // and stay sealed.
  std::vector<std::vector<Upload>> generations;
  for (int g = 0; g < 4; ++g) {
    std::vector<Upload> uploads = RandomUploads(20);
    if (g > 0) {
      for (size_t i = 0; i < uploads.size(); ++i) uploads[i].id = generations[0][i].id;
    }
    generations.push_back(uploads);
  }
  TempDir dir;
  RocksDbOptions options;
  options.path = dir.path() + "/sealed";
  auto engine = RocksDbStore::Open(options);
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  {
    SealedStore store(KeyWithSeed(11), **engine);
    PutOptions keep;
    keep.keep_versions = 3;
    for (const auto& uploads : generations) {
      for (const Upload& u : uploads) ASSERT_TRUE(store.Put(u.id, u.blob, 20000, keep).ok());
    }
    auto versions = store.ListVersions(generations[0][0].id);
    ASSERT_TRUE(versions.ok());
    EXPECT_EQ(versions->size(), 3u);
    auto oldest = store.GetVersion(generations[0][0].id, 3);
    ASSERT_TRUE(oldest.ok()) << oldest.status().ToString();
    EXPECT_TRUE(oldest->blob == generations[0][0].blob);
  }
  ASSERT_TRUE((*engine)->Close().ok());
  const std::string disk = ReadEveryFile(options.path);
  for (const auto& uploads : generations) EXPECT_EQ(CountTraces(disk, uploads), 0);
}

}  // namespace
}  // namespace safe::storage
