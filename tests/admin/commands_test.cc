// The commands of safe-admin, run in-process on databases made here (plain and sealed), with a
// fixed day. A running server is covered by admin_e2e_test.

#include "safe-admin/commands.h"

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "common/backup_id.h"
#include "common/clock.h"
#include "safe-server/service/auth.h"
#include "safe-server/service/server_key.h"
#include "safe-server/service/token_auth.h"
#include "storage/rocksdb_store.h"
#include "storage/sealed_store.h"
#include "tests/support/bytes.h"
#include "tests/support/e2e_util.h"
#include "tests/support/server_process.h"

namespace safe::admin {
namespace {

namespace fs = std::filesystem;
using safe::testing::BasicHeader, safe::testing::Field, safe::testing::IdFor,
    safe::testing::TempDir;

constexpr Day kToday = 20000;
constexpr uint32_t kRetention = 180;

std::string BlobFor(uint8_t seed, size_t size) {
  return std::string(size, static_cast<char>(seed));
}

struct Ran {
  int code = -1;
  std::string out;
  std::string err;
};

template <typename Options, typename Command>
Ran Invoke(Command command, const Options& options) {
  std::ostringstream out, err;
  Ran ran;
  ran.code = command(options, out, err);
  ran.out = out.str();
  ran.err = err.str();
  return ran;
}

std::unique_ptr<storage::RocksDbStore> OpenStore(const std::string& path) {
  storage::RocksDbOptions options;
  options.path = path;
  auto store = storage::RocksDbStore::Open(options);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(store).value() : nullptr;
}

// A plain (unsealed) database with backups uploaded `ages` days ago.
void MakePlainDatabase(const std::string& path, const std::vector<int>& ages) {
  auto store = OpenStore(path);
  ASSERT_NE(store, nullptr);
  for (size_t i = 0; i < ages.size(); ++i) {
    const auto seed = static_cast<uint8_t>(i + 1);
    ASSERT_TRUE(store->Put(IdFor(seed), BlobFor(seed, 100 + i), kToday - ages[i]).ok());
  }
  ASSERT_TRUE(store->Close().ok());
}

// A sealed data directory as the server makes it: a key file beside it, KEYCHECK inside, and
// `count` backups sealed under the key. Returns the key file's path.
std::string MakeSealedDatabase(const std::string& data_dir, int count) {
  const std::string key_file = data_dir + ".key";
  server::ServerKeyOptions key_options;
  key_options.data_dir = data_dir;
  key_options.key_file = key_file;
  auto key = server::LoadOrCreateServerKey(key_options);
  EXPECT_TRUE(key.ok()) << key.status().ToString();
  if (!key.ok()) return key_file;
  auto store = OpenStore(data_dir);
  if (store == nullptr) return key_file;
  storage::SealedStore sealed(*key, *store);
  for (int i = 0; i < count; ++i) {
    const auto seed = static_cast<uint8_t>(i + 1);
    EXPECT_TRUE(sealed.Put(IdFor(seed), BlobFor(seed, 5000 + i), kToday).ok());
  }
  EXPECT_TRUE(store->Close().ok());
  return key_file;
}

std::string WriteOtherKey(const std::string& path) {
  std::ofstream(path, std::ios::binary) << std::string(32, 'k');
  chmod(path.c_str(), 0600);
  return path;
}

// Writes records straight into RocksDB, bypassing the store's checks: one whose metadata claims
// a longer blob than stored, and one with metadata but no blob.
void AddDamagedRecords(const std::string& path) {
  rocksdb::DBOptions options;
  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, {}}, {"metadata", {}}, {"blobs", {}}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(options, path, families, &handles, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  // version 1 | size (u64 LE) = 10 | day (i32 LE)
  auto metadata = [](uint64_t size) {
    std::string value(13, '\0');
    value[0] = 1;
    for (int i = 0; i < 8; ++i) value[1 + i] = static_cast<char>((size >> (8 * i)) & 0xff);
    const auto day = static_cast<uint32_t>(kToday);
    for (int i = 0; i < 4; ++i) value[9 + i] = static_cast<char>((day >> (8 * i)) & 0xff);
    return value;
  };
  const std::string short_key(IdFor(200).AsStringView());
  const std::string orphan_key(IdFor(201).AsStringView());
  rocksdb::WriteOptions sync;
  sync.sync = true;
  ASSERT_TRUE(db->Put(sync, handles[1], short_key, metadata(10)).ok());
  ASSERT_TRUE(db->Put(sync, handles[2], short_key, "12345").ok());
  ASSERT_TRUE(db->Put(sync, handles[1], orphan_key, metadata(3)).ok());
  for (auto* handle : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(handle).ok());
  ASSERT_TRUE(db->Close().ok());
}

void ExpectNoIds(const std::string& text) {
  for (int seed = 0; seed < 256; ++seed) {
    const std::string hex = IdFor(static_cast<uint8_t>(seed)).ToHex();
    EXPECT_EQ(text.find(hex.substr(0, 16)), std::string::npos) << "an id was printed";
  }
}

// ---------------------------------------------------------------------------------------------
// stats

TEST(StatsTest, CountsBackupsAndWhatExpiresSoon) {
  TempDir dir;
  const std::string db = dir.path() + "/data";
  // With 180 days, a backup uploaded A days ago is deleted on day today - A + 181.
  // ages: 0 (keeps), 150 (in 31 days: neither window), 151 (in 30), 175 (in 6), 180 (tomorrow),
  // 181 (today: expired), 400 (expired).
  MakePlainDatabase(db, {0, 150, 151, 175, 180, 181, 400});
  FakeClock clock(kToday);
  StatsOptions options;
  options.data_dir = db;
  options.retention_days = kRetention;
  options.clock = &clock;

  Ran ran = Invoke(RunStats, options);
  ASSERT_EQ(ran.code, 0) << ran.err;
  EXPECT_EQ(Field(ran.out, "backups"), "7");
  EXPECT_EQ(Field(ran.out, "stored-bytes"),
            std::to_string(100 + 101 + 102 + 103 + 104 + 105 + 106));
  EXPECT_EQ(Field(ran.out, "expired-awaiting-sweep"), "2");
  EXPECT_EQ(Field(ran.out, "expiring-within-7-days"), "2");
  EXPECT_EQ(Field(ran.out, "expiring-within-30-days"), "3");
  EXPECT_EQ(Field(ran.out, "server-running"), "no");
  EXPECT_EQ(Field(ran.out, "sealed"), "no");
  EXPECT_NE(Field(ran.out, "wal-bytes"), "");
  EXPECT_NE(Field(ran.out, "pending-compaction-bytes"), "");
  ExpectNoIds(ran.out + ran.err);
}

TEST(StatsTest, FailsWithoutADatabaseAndCreatesNothing) {
  TempDir dir;
  FakeClock clock(kToday);
  StatsOptions options;
  options.data_dir = dir.path() + "/none";
  options.clock = &clock;
  Ran ran = Invoke(RunStats, options);
  EXPECT_EQ(ran.code, 1);
  EXPECT_NE(ran.err.find("no database"), std::string::npos) << ran.err;
  EXPECT_FALSE(fs::exists(options.data_dir));
}

TEST(StatsTest, ChecksTheKeyOfSealedData) {
  TempDir dir;
  const std::string db = dir.path() + "/data";
  const std::string key_file = MakeSealedDatabase(db, 3);
  FakeClock clock(kToday);
  StatsOptions options;
  options.data_dir = db;
  options.clock = &clock;

  Ran without_key = Invoke(RunStats, options);
  ASSERT_EQ(without_key.code, 0) << without_key.err;
  EXPECT_EQ(Field(without_key.out, "sealed"), "yes");
  EXPECT_EQ(Field(without_key.out, "backups"), "3");

  options.key_file = key_file;
  Ran right = Invoke(RunStats, options);
  ASSERT_EQ(right.code, 0) << right.err;
  EXPECT_EQ(Field(right.out, "key"), "matches");

  options.key_file = WriteOtherKey(dir.path() + "/other.key");
  Ran wrong = Invoke(RunStats, options);
  EXPECT_EQ(wrong.code, 1);
  EXPECT_NE(wrong.err.find("does not match"), std::string::npos) << wrong.err;
}

// ---------------------------------------------------------------------------------------------
// expire

TEST(ExpireTest, DryRunCountsAndDeletesNothing) {
  TempDir dir;
  const std::string db = dir.path() + "/data";
  MakePlainDatabase(db, {0, 180, 181, 400});
  FakeClock clock(kToday);
  ExpireOptions options;
  options.data_dir = db;
  options.retention_days = kRetention;
  options.dry_run = true;
  options.clock = &clock;

  Ran ran = Invoke(RunExpire, options);
  ASSERT_EQ(ran.code, 0) << ran.err;
  EXPECT_EQ(Field(ran.out, "would-delete"), "2");
  EXPECT_EQ(Field(ran.out, "backups"), "4");
  auto store = OpenStore(db);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->Stats()->backups, 4u);
}

TEST(ExpireTest, DeletesWhatTheServersSweepWould) {
  TempDir dir;
  const std::string db = dir.path() + "/data";
  MakePlainDatabase(db, {0, 180, 181, 400});
  FakeClock clock(kToday);
  ExpireOptions options;
  options.data_dir = db;
  options.retention_days = kRetention;
  options.clock = &clock;

  Ran ran = Invoke(RunExpire, options);
  ASSERT_EQ(ran.code, 0) << ran.err;
  EXPECT_EQ(Field(ran.out, "deleted"), "2");
  auto store = OpenStore(db);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->Stats()->backups, 2u);
  EXPECT_TRUE(store->Stat(IdFor(1)).ok());  // uploaded today
  EXPECT_TRUE(store->Stat(IdFor(2)).ok());  // 180 days ago: its last day
  EXPECT_TRUE(store->Stat(IdFor(3)).status().IsNotFound());
  EXPECT_TRUE(store->Stat(IdFor(4)).status().IsNotFound());
}

// ---------------------------------------------------------------------------------------------
// verify

TEST(VerifyTest, PassesAHealthyPlainDatabase) {
  TempDir dir;
  const std::string db = dir.path() + "/data";
  MakePlainDatabase(db, {0, 1, 2, 3});
  VerifyOptions options;
  options.data_dir = db;
  Ran ran = Invoke(RunVerify, options);
  EXPECT_EQ(ran.code, 0) << ran.out << ran.err;
  EXPECT_EQ(Field(ran.out, "records"), "4");
  EXPECT_EQ(Field(ran.out, "ok"), "4");
  EXPECT_EQ(Field(ran.out, "bad"), "0");
}

TEST(VerifyTest, CountsRecordsWhoseBlobDisagreesWithTheMetadata) {
  TempDir dir;
  const std::string db = dir.path() + "/data";
  MakePlainDatabase(db, {0, 1, 2});
  AddDamagedRecords(db);
  VerifyOptions options;
  options.data_dir = db;
  Ran ran = Invoke(RunVerify, options);
  EXPECT_EQ(ran.code, 1);
  EXPECT_EQ(Field(ran.out, "records"), "5");
  EXPECT_EQ(Field(ran.out, "ok"), "3");
  EXPECT_EQ(Field(ran.out, "bad"), "2");
  EXPECT_NE(ran.out.find("length differs"), std::string::npos) << ran.out;
  EXPECT_NE(ran.out.find("without its blob"), std::string::npos) << ran.out;
  ExpectNoIds(ran.out + ran.err);
}

TEST(VerifyTest, PassesHealthySealedDataUnderItsKey) {
  TempDir dir;
  const std::string db = dir.path() + "/data";
  MakeSealedDatabase(db, 5);
  VerifyOptions options;
  options.data_dir = db;  // the key file is found beside it, as the server finds it
  Ran ran = Invoke(RunVerify, options);
  EXPECT_EQ(ran.code, 0) << ran.out << ran.err;
  EXPECT_EQ(Field(ran.out, "ok"), "5");
  EXPECT_EQ(Field(ran.out, "bad"), "0");
}

TEST(VerifyTest, CountsUnsealedRecordsInSealedData) {
  TempDir dir;
  const std::string db = dir.path() + "/data";
  MakeSealedDatabase(db, 2);
  {
    auto store = OpenStore(db);
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Put(IdFor(90), "too short", kToday).ok());
    ASSERT_TRUE(store->Put(IdFor(91), std::string(200, '\x07'), kToday).ok());
    ASSERT_TRUE(store->Close().ok());
  }
  VerifyOptions options;
  options.data_dir = db;
  Ran ran = Invoke(RunVerify, options);
  EXPECT_EQ(ran.code, 1);
  EXPECT_EQ(Field(ran.out, "ok"), "2");
  EXPECT_EQ(Field(ran.out, "bad"), "2");
}

TEST(VerifyTest, FindsASealedRecordWithOneFlippedByte) {
  TempDir dir;
  const std::string db = dir.path() + "/data";
  MakeSealedDatabase(db, 3);
  {
    auto store = OpenStore(db);
    ASSERT_NE(store, nullptr);
    std::vector<BackupId> keys;
    ASSERT_TRUE(
        store->Scan([&](const BackupId& k, const storage::BackupInfo&) { keys.push_back(k); })
            .ok());
    ASSERT_EQ(keys.size(), 3u);
    auto record = store->Get(keys[1]);
    ASSERT_TRUE(record.ok());
    std::string damaged = record->blob;
    damaged[damaged.size() / 2] ^= 0x01;  // the format byte and length stay right
    ASSERT_TRUE(store->Put(keys[1], damaged, record->info.upload_day).ok());
    ASSERT_TRUE(store->Close().ok());
  }
  VerifyOptions options;
  options.data_dir = db;
  Ran ran = Invoke(RunVerify, options);
  EXPECT_EQ(ran.code, 1) << ran.out << ran.err;
  EXPECT_EQ(Field(ran.out, "ok"), "2");
  EXPECT_EQ(Field(ran.out, "bad"), "1");
  EXPECT_NE(ran.out.find("does not open under the key"), std::string::npos) << ran.out;
  ExpectNoIds(ran.out + ran.err);
}

TEST(VerifyTest, RefusesAKeyThatDoesNotMatch) {
  TempDir dir;
  const std::string db = dir.path() + "/data";
  MakeSealedDatabase(db, 1);
  VerifyOptions options;
  options.data_dir = db;
  options.key_file = WriteOtherKey(dir.path() + "/other.key");
  Ran ran = Invoke(RunVerify, options);
  EXPECT_EQ(ran.code, 1);
  EXPECT_NE(ran.err.find("does not match"), std::string::npos) << ran.err;
}

// ---------------------------------------------------------------------------------------------
// checkpoint and restore

TEST(CheckpointTest, CopiesTheDatabaseAndItsKeyCheck) {
  TempDir dir;
  const std::string db = dir.path() + "/data";
  const std::string key_file = MakeSealedDatabase(db, 4);
  CheckpointOptions options;
  options.data_dir = db;
  options.out_dir = dir.path() + "/snapshots/one";
  Ran ran = Invoke(RunCheckpoint, options);
  ASSERT_EQ(ran.code, 0) << ran.err;
  EXPECT_EQ(Field(ran.out, "backups"), "4");
  EXPECT_TRUE(fs::exists(options.out_dir + "/" + server::kKeyCheckFileName));

  // The checkpoint is a data directory the same key opens.
  VerifyOptions verify;
  verify.data_dir = options.out_dir;
  verify.key_file = key_file;
  Ran verified = Invoke(RunVerify, verify);
  EXPECT_EQ(verified.code, 0) << verified.out << verified.err;
  EXPECT_EQ(Field(verified.out, "ok"), "4");

  // And a second checkpoint to the same place is refused.
  Ran again = Invoke(RunCheckpoint, options);
  EXPECT_EQ(again.code, 1);
  EXPECT_NE(again.err.find("already exists"), std::string::npos) << again.err;
}

TEST(CheckpointTest, RefusesADirectoryWithoutADatabase) {
  TempDir dir;
  CheckpointOptions options;
  options.data_dir = dir.path();
  options.out_dir = dir.path() + "/out";
  Ran ran = Invoke(RunCheckpoint, options);
  EXPECT_EQ(ran.code, 1);
  EXPECT_FALSE(fs::exists(options.out_dir));
  EXPECT_FALSE(fs::exists(dir.path() + "/CURRENT"));
}

class RestoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MakePlainDatabase(dir_.path() + "/source", {0, 1, 2});
    CheckpointOptions options;
    options.data_dir = dir_.path() + "/source";
    options.out_dir = checkpoint_;
    Ran ran = Invoke(RunCheckpoint, options);
    ASSERT_EQ(ran.code, 0) << ran.err;
  }

  uint64_t BackupsIn(const std::string& path) {
    auto store = OpenStore(path);
    return store == nullptr ? 0 : store->Stats()->backups;
  }

  TempDir dir_;
  const std::string checkpoint_ = dir_.path() + "/checkpoint";
};

TEST_F(RestoreTest, FillsAMissingDataDirectory) {
  RestoreOptions options;
  options.from = checkpoint_;
  options.data_dir = dir_.path() + "/restored/data";
  Ran ran = Invoke(RunRestore, options);
  ASSERT_EQ(ran.code, 0) << ran.err;
  EXPECT_EQ(Field(ran.out, "backups"), "3");
  struct stat st;
  ASSERT_EQ(stat(options.data_dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  EXPECT_EQ(BackupsIn(options.data_dir), 3u);
  // The checkpoint is left as it was: a second restore from it works too.
  options.data_dir = dir_.path() + "/again";
  EXPECT_EQ(Invoke(RunRestore, options).code, 0);
  EXPECT_EQ(BackupsIn(options.data_dir), 3u);
}

TEST_F(RestoreTest, RefusesANonEmptyDataDirectoryWithoutForce) {
  const std::string data = dir_.path() + "/data";
  MakePlainDatabase(data, {5});
  RestoreOptions options;
  options.from = checkpoint_;
  options.data_dir = data;
  Ran ran = Invoke(RunRestore, options);
  EXPECT_EQ(ran.code, 1);
  EXPECT_NE(ran.err.find("--force"), std::string::npos) << ran.err;
  EXPECT_EQ(BackupsIn(data), 1u);
}

TEST_F(RestoreTest, WithForceKeepsTheOldDataDirectoryAside) {
  const std::string data = dir_.path() + "/data";
  MakePlainDatabase(data, {5});
  RestoreOptions options;
  options.from = checkpoint_;
  options.data_dir = data;
  options.force = true;
  Ran ran = Invoke(RunRestore, options);
  ASSERT_EQ(ran.code, 0) << ran.err;
  EXPECT_EQ(BackupsIn(data), 3u);
  const std::string kept = Field(ran.out, "previous-data-kept-in");
  ASSERT_EQ(kept.rfind(data + ".replaced-", 0), 0u) << ran.out;
  EXPECT_EQ(BackupsIn(kept), 1u);
}

TEST_F(RestoreTest, ReplacesTheTargetOfASymlinkedDataDirectory) {
  // As systemd's DynamicUser lays it out: /var/lib/NAME -> private/NAME.
  const std::string real = dir_.path() + "/private/data";
  fs::create_directories(real);
  const std::string link = dir_.path() + "/data";
  fs::create_directory_symlink("private/data", link);
  RestoreOptions options;
  options.from = checkpoint_;
  options.data_dir = link;
  Ran ran = Invoke(RunRestore, options);
  ASSERT_EQ(ran.code, 0) << ran.err;
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_EQ(BackupsIn(real), 3u);
}

TEST_F(RestoreTest, RefusesSomethingThatIsNotACheckpoint) {
  RestoreOptions options;
  options.from = dir_.path() + "/nothing";
  options.data_dir = dir_.path() + "/data";
  Ran ran = Invoke(RunRestore, options);
  EXPECT_EQ(ran.code, 1);
  EXPECT_FALSE(fs::exists(options.data_dir));
}

// ---------------------------------------------------------------------------------------------
// hash-password

// Runs hash-password with `input` on a pipe as its standard input.
Ran HashWithInput(const std::string& user, const std::string& input) {
  int fds[2];
  if (pipe(fds) != 0) return {};
  if (write(fds[1], input.data(), input.size()) != static_cast<ssize_t>(input.size())) return {};
  close(fds[1]);
  HashPasswordOptions options;
  options.user = user;
  options.in_fd = fds[0];
  Ran ran = Invoke(RunHashPassword, options);
  close(fds[0]);
  return ran;
}

TEST(HashPasswordTest, PrintsALineTheServerAccepts) {
  Ran ran = HashWithInput("alice", "correct horse\r\nignored second line\n");
  ASSERT_EQ(ran.code, 0) << ran.err;
  ASSERT_EQ(ran.out.rfind("alice:$argon2id$", 0), 0u) << ran.out;
  EXPECT_EQ(ran.out.find("correct horse"), std::string::npos);
  auto auth = server::BasicAuthenticator::ParseHtpasswd(ran.out, "test");
  ASSERT_TRUE(auth.ok()) << auth.status().ToString();
  EXPECT_TRUE((*auth)->Check(BasicHeader("alice:correct horse")));
  EXPECT_FALSE((*auth)->Check(BasicHeader("alice:correct horse\r")));
  EXPECT_FALSE((*auth)->Check(BasicHeader("alice:wrong")));
}

TEST(HashPasswordTest, PrintsTheHashAloneWithoutAUser) {
  Ran ran = HashWithInput("", "pw-without-newline");
  ASSERT_EQ(ran.code, 0) << ran.err;
  EXPECT_EQ(ran.out.rfind("$argon2id$", 0), 0u) << ran.out;
}

TEST(HashPasswordTest, RefusesBadUserNamesAndEmptyPasswords) {
  EXPECT_EQ(HashWithInput("a:b", "password\n").code, 1);
  EXPECT_EQ(HashWithInput("#a", "password\n").code, 1);
  EXPECT_EQ(HashWithInput("a\tb", "password\n").code, 1);
  EXPECT_EQ(HashWithInput("alice", "\n").code, 1);
  EXPECT_EQ(HashWithInput("alice", "").code, 1);
  EXPECT_EQ(HashWithInput("alice", std::string("a\0b\n", 4)).code, 1);
}

// Issue 13, item 6: Android sends Basic credentials as Latin-1, so a character outside it can
// never arrive; the warning says so, and the line is still printed.
TEST(HashPasswordTest, WarnsAboutCharactersOutsideLatin1AndStillPrintsTheLine) {
  Ran ran = HashWithInput("alice", "long enough \xce\xa9mega\n");  // U+03A9, Omega
  ASSERT_EQ(ran.code, 0) << ran.err;
  EXPECT_EQ(ran.out.rfind("alice:$argon2id$", 0), 0u) << ran.out;
  EXPECT_NE(ran.err.find("outside Latin-1"), std::string::npos) << ran.err;
  EXPECT_NE(ran.err.find("Android"), std::string::npos) << ran.err;
  EXPECT_EQ(ran.err.find("mega"), std::string::npos) << "the warning names the password";
  EXPECT_EQ(ran.err.find("shorter"), std::string::npos) << ran.err;
}

TEST(HashPasswordTest, LatinOneAndAsciiPasswordsGetNoWarning) {
  for (const std::string& password :
       {std::string("correct horse"), std::string("caf\xc3\xa9-\xc3\xbf-long")}) {
    Ran ran = HashWithInput("alice", password + "\n");
    ASSERT_EQ(ran.code, 0) << ran.err;
    EXPECT_EQ(ran.err.find("warning"), std::string::npos) << ran.err;
  }
}

TEST(HashPasswordTest, WarnsAboutShortPasswordsAndStillPrintsTheLine) {
  Ran ran = HashWithInput("alice",
                          "s\xc3\xa9"
                          "cr\xc3\xa9"
                          "t\n");  // 7 characters, 9 bytes
  ASSERT_EQ(ran.code, 0) << ran.err;
  EXPECT_EQ(ran.out.rfind("alice:$argon2id$", 0), 0u) << ran.out;
  EXPECT_NE(ran.err.find("shorter than 8 characters"), std::string::npos) << ran.err;
  EXPECT_EQ(ran.err.find("Latin-1"), std::string::npos) << ran.err;
  // Eight characters are enough.
  EXPECT_EQ(HashWithInput("alice", "12345678\n").err.find("warning"), std::string::npos);
}

TEST(HashPasswordTest, WarnsAboutPasswordsThatAreNotUtf8) {
  Ran ran = HashWithInput("alice", "caf\xe9 in Latin-1 bytes\n");
  ASSERT_EQ(ran.code, 0) << ran.err;
  EXPECT_EQ(ran.out.rfind("alice:$argon2id$", 0), 0u) << ran.out;
  EXPECT_NE(ran.err.find("not valid UTF-8"), std::string::npos) << ran.err;
}

// ---------------------------------------------------------------------------------------------
// make-token

TEST(MakeTokenTest, PrintsATokenAndALineTheServerAccepts) {
  std::ostringstream out;
  ASSERT_EQ(RunMakeToken(out), 0);
  const std::string token = Field(out.str(), "token");
  const std::string line = Field(out.str(), "tokens-file-line");
  auto tokens = server::TokenAuthenticator::Parse(line + "\n", "test");
  ASSERT_TRUE(tokens.ok()) << tokens.status().ToString();
  EXPECT_TRUE((*tokens)->Check("Token " + token));
  EXPECT_FALSE((*tokens)->Check("Token " + token + "x"));
  std::ostringstream second;
  ASSERT_EQ(RunMakeToken(second), 0);
  EXPECT_NE(Field(second.str(), "token"), token);
}

}  // namespace
}  // namespace safe::admin
