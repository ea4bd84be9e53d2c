// LoadOrCreateServerKey (issue 4): where the server key comes from, when one is created, and
// the KEYCHECK that refuses a key that does not belong to the data.

#include "safe-server/service/server_key.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "storage/rocksdb_store.h"
#include "storage/sealed_store.h"
#include "tests/support/bytes.h"
#include "tests/support/files.h"

namespace safe::server {
namespace {

namespace fs = std::filesystem;
using safe::testing::Hex, safe::testing::ReadFile, safe::testing::TempDir, safe::testing::WriteFile;
using storage::ServerKey;

mode_t ModeOf(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

std::string Raw(const ServerKey& key) {
  return std::string(reinterpret_cast<const char*>(key.data()), key.size());
}

ServerKey FixedKey(uint8_t seed) {
  uint8_t bytes[ServerKey::kSize];
  for (size_t i = 0; i < sizeof(bytes); ++i) bytes[i] = static_cast<uint8_t>(seed * 3 + i);
  return ServerKey(bytes);
}

class ServerKeyTest : public ::testing::Test {
 protected:
  ServerKeyOptions Options() const {
    ServerKeyOptions options;
    options.data_dir = data_dir_;
    options.key_file = DefaultKeyFilePath(data_dir_);
    return options;
  }

  // A refusal whose message names `needle` and no byte of the keys given.
  void ExpectRefused(const ServerKeyOptions& options, const std::string& needle,
                     std::initializer_list<const ServerKey*> keys) {
    auto key = LoadOrCreateServerKey(options);
    ASSERT_FALSE(key.ok()) << "expected a refusal naming: " << needle;
    const std::string& message = key.status().message();
    EXPECT_NE(message.find(needle), std::string::npos) << message;
    for (const ServerKey* k : keys) {
      EXPECT_EQ(message.find(Hex(*k)), std::string::npos) << message;
      EXPECT_EQ(message.find(Hex(*k).substr(0, 8)), std::string::npos) << message;
      EXPECT_EQ(message.find(Raw(*k)), std::string::npos) << message;
    }
  }

  TempDir dir_;
  const std::string data_dir_ = dir_.path() + "/data";
};

TEST_F(ServerKeyTest, DefaultKeyFileIsASiblingOfTheDataDirectory) {
  EXPECT_EQ(DefaultKeyFilePath("/var/lib/safe/data"), "/var/lib/safe/data.key");
  EXPECT_EQ(DefaultKeyFilePath("/var/lib/safe/data//"), "/var/lib/safe/data.key");
  EXPECT_EQ(DefaultKeyFilePath("data"), "data.key");
}

TEST_F(ServerKeyTest, CreatesA0600KeyAndAKeyCheckWhenTheDataDirectoryIsMissing) {
  auto key = LoadOrCreateServerKey(Options());
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  const std::string key_file = Options().key_file;
  EXPECT_EQ(ModeOf(key_file), 0600u);
  EXPECT_EQ(ReadFile(key_file), Raw(*key));
  EXPECT_EQ(ModeOf(data_dir_), 0700u);
  EXPECT_EQ(ReadFile(data_dir_ + "/KEYCHECK"), storage::SealedStore::KeyCheck(*key) + "\n");
}

// Issue 13 item 7: a first start whose --data-dir lies under directories that do not exist yet
// makes them (it used to fail with "cannot create the key file ...: No such file or directory").
TEST_F(ServerKeyTest, AFirstStartUnderMissingDirectoriesMakesThem) {
  ServerKeyOptions options;
  options.data_dir = dir_.path() + "/not/yet/there/data";
  options.key_file = DefaultKeyFilePath(options.data_dir);
  auto key = LoadOrCreateServerKey(options);
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_EQ(ModeOf(options.key_file), 0600u);
  EXPECT_EQ(ModeOf(options.data_dir), 0700u);
}

TEST_F(ServerKeyTest, CreatesAKeyWhenTheDataDirectoryIsEmpty) {
  ASSERT_TRUE(fs::create_directory(data_dir_));
  auto key = LoadOrCreateServerKey(Options());
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_EQ(ModeOf(Options().key_file), 0600u);
  EXPECT_TRUE(fs::exists(data_dir_ + "/KEYCHECK"));
}

TEST_F(ServerKeyTest, ReusesTheKeyOnTheNextStartWithTheStoreInBetween) {
  auto first = LoadOrCreateServerKey(Options());
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  {
    // RocksDB opens a directory holding KEYCHECK and leaves the file alone.
    storage::RocksDbOptions options;
    options.path = data_dir_;
    auto engine = storage::RocksDbStore::Open(options);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    storage::SealedStore store(*first, **engine);
    BackupId::Bytes id{};
    ASSERT_TRUE(store.Put(BackupId::FromBytes(id), "blob", 1).ok());
    ASSERT_TRUE((*engine)->Close().ok());
  }
  auto second = LoadOrCreateServerKey(Options());
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_TRUE(second->Equals(*first));
  EXPECT_TRUE(fs::exists(data_dir_ + "/KEYCHECK"));
}

TEST_F(ServerKeyTest, RefusesToCreateAKeyOverExistingData) {
  ASSERT_TRUE(fs::create_directory(data_dir_));
  ASSERT_TRUE(WriteFile(data_dir_ + "/CURRENT", "MANIFEST-000001\n", 0644));
  ServerKeyOptions options = Options();
  ExpectRefused(options,
                "no key file at " + options.key_file + " but " + data_dir_ +
                    " holds data: refusing to create a new key over existing data",
                {});
  EXPECT_FALSE(fs::exists(options.key_file));
}

TEST_F(ServerKeyTest, RefusesToCreateAKeyWhenOnlyTheKeyCheckRemains) {
  auto key = LoadOrCreateServerKey(Options());
  ASSERT_TRUE(key.ok());
  ASSERT_TRUE(fs::remove(Options().key_file));  // the key is lost; the data is not
  ExpectRefused(Options(), "refusing to create a new key over existing data", {&*key});
  EXPECT_FALSE(fs::exists(Options().key_file));
}

TEST_F(ServerKeyTest, RefusesAGroupOrWorldReadableKeyFile) {
  const ServerKey key = FixedKey(1);
  const ServerKeyOptions options = Options();
  for (mode_t mode : {0644, 0640, 0604, 0660, 0700}) {
    ASSERT_TRUE(WriteFile(options.key_file, Raw(key), mode));
    char expected[64];
    std::snprintf(expected, sizeof(expected), "has mode %04o: it must be 0600 or 0400",
                  static_cast<unsigned>(mode));
    ExpectRefused(options, expected, {&key});
    ExpectRefused(options, options.key_file, {&key});
  }
  ASSERT_TRUE(WriteFile(options.key_file, Raw(key), 0400));
  ASSERT_TRUE(fs::create_directory(data_dir_));  // a first start with a key made by hand
  auto read = LoadOrCreateServerKey(options);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_TRUE(read->Equals(key));
}

TEST_F(ServerKeyTest, AcceptsRawOrHexKeysAndRefusesOtherLengths) {
  const ServerKey key = FixedKey(2);
  const ServerKeyOptions options = Options();
  ASSERT_TRUE(fs::create_directory(data_dir_));  // a first start with a key made by hand
  for (const std::string& content : {Raw(key), Hex(key), Hex(key) + "\n"}) {
    ASSERT_TRUE(WriteFile(options.key_file, content, 0600));
    auto read = LoadOrCreateServerKey(options);
    ASSERT_TRUE(read.ok()) << read.status().ToString();
    EXPECT_TRUE(read->Equals(key));
  }
  for (const std::string& content :
       {std::string(), Raw(key).substr(0, 31), Raw(key) + "x", Hex(key).substr(0, 63),
        Hex(key) + "\n\n", std::string(500, 'a')}) {
    ASSERT_TRUE(WriteFile(options.key_file, content, 0600));
    ExpectRefused(options, "expected 32 raw bytes or 64 hex characters", {&key});
  }
  std::string not_hex = Hex(key);
  not_hex[10] = 'g';
  ASSERT_TRUE(WriteFile(options.key_file, not_hex, 0600));
  ExpectRefused(options, "not all hex digits", {&key});
}

TEST_F(ServerKeyTest, TheCredentialIsPreferredOverTheKeyFile) {
  const ServerKey file_key = FixedKey(3);
  const ServerKey credential_key = FixedKey(4);
  const std::string credentials = dir_.path() + "/credentials";
  ASSERT_TRUE(fs::create_directory(credentials));
  ServerKeyOptions options = Options();
  options.credentials_directory = credentials;
  ASSERT_TRUE(WriteFile(options.key_file, Raw(file_key), 0600));
  // systemd makes credentials 0400 (or 0440 with a group); the mode is not checked.
  ASSERT_TRUE(WriteFile(credentials + "/server-key", Hex(credential_key) + "\n", 0440));
  auto key = LoadOrCreateServerKey(options);
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_TRUE(key->Equals(credential_key));

  // A credentials directory without the credential falls back to the key file.
  ASSERT_TRUE(fs::remove(credentials + "/server-key"));
  TempDir other;
  options.data_dir = other.path() + "/data";
  ASSERT_TRUE(fs::create_directory(options.data_dir));
  key = LoadOrCreateServerKey(options);
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_TRUE(key->Equals(file_key));
}

TEST_F(ServerKeyTest, AMalformedCredentialIsRefused) {
  const std::string credentials = dir_.path() + "/credentials";
  ASSERT_TRUE(fs::create_directory(credentials));
  ServerKeyOptions options = Options();
  options.credentials_directory = credentials;
  ASSERT_TRUE(WriteFile(credentials + "/server-key", "short", 0400));
  ExpectRefused(options, "the credential " + credentials + "/server-key holds 5 bytes", {});
}

TEST_F(ServerKeyTest, RefusesAKeyThatDoesNotMatchTheData) {
  auto created = LoadOrCreateServerKey(Options());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  ASSERT_TRUE(
      WriteFile(data_dir_ + "/CURRENT", "MANIFEST-000001\n", 0644));  // the store has written data
  const ServerKey other = FixedKey(5);
  ASSERT_TRUE(WriteFile(Options().key_file, Raw(other), 0600));
  ExpectRefused(Options(),
                "the key file " + Options().key_file + " does not match the data in " + data_dir_,
                {&other, &*created});

  // The same through a credential.
  const std::string credentials = dir_.path() + "/credentials";
  ASSERT_TRUE(fs::create_directory(credentials));
  ASSERT_TRUE(WriteFile(credentials + "/server-key", Raw(other), 0400));
  ServerKeyOptions options = Options();
  options.credentials_directory = credentials;
  ExpectRefused(options, "does not match the data in " + data_dir_, {&other, &*created});
}

TEST_F(ServerKeyTest, RefusesDataWithoutAKeyCheck) {
  ASSERT_TRUE(fs::create_directory(data_dir_));
  ASSERT_TRUE(WriteFile(data_dir_ + "/CURRENT", "MANIFEST-000001\n", 0644));
  const ServerKey key = FixedKey(6);
  ASSERT_TRUE(WriteFile(Options().key_file, Raw(key), 0600));
  ExpectRefused(Options(), "holds data but no KEYCHECK file", {&key});
}

TEST_F(ServerKeyTest, AMalformedKeyCheckIsCorruption) {
  ASSERT_TRUE(LoadOrCreateServerKey(Options()).ok());
  ASSERT_TRUE(WriteFile(data_dir_ + "/KEYCHECK", "nonsense\n", 0600));
  auto key = LoadOrCreateServerKey(Options());
  ASSERT_FALSE(key.ok());
  EXPECT_TRUE(key.status().IsCorruption()) << key.status().ToString();
  EXPECT_NE(key.status().message().find(data_dir_ + "/KEYCHECK"), std::string::npos);
}

TEST_F(ServerKeyTest, RefusesAKeyFileInsideTheDataDirectory) {
  ServerKeyOptions options = Options();
  options.key_file = data_dir_ + "/server.key";
  ExpectRefused(options, "is inside the data directory " + data_dir_, {});
  EXPECT_FALSE(fs::exists(options.key_file));
  // A sibling whose name starts like the data directory is outside it.
  options.key_file = data_dir_ + "-key";
  EXPECT_TRUE(LoadOrCreateServerKey(options).ok());
}

TEST_F(ServerKeyTest, NeitherCredentialNorKeyFileIsRefused) {
  ServerKeyOptions options = Options();
  options.key_file.clear();
  ExpectRefused(options, "no server key", {});
  options.data_dir.clear();
  ExpectRefused(options, "no data directory", {});
}

TEST_F(ServerKeyTest, ADataPathThatIsAFileIsRefused) {
  ASSERT_TRUE(WriteFile(data_dir_, "not a directory", 0600));
  ExpectRefused(Options(), data_dir_ + " is not a directory", {});
}

// With RADOS the backups live in the pool (whose own key check guards them): a key file beside
// a missing data directory is no sign of a moved store there, and the store is not "new".
TEST_F(ServerKeyTest, ARadosInstanceStartsWithItsKeyAndAMissingDataDirectory) {
  ServerKeyOptions first = Options();
  auto created = LoadOrCreateServerKey(first);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  fs::remove_all(data_dir_);
  ExpectRefused(Options(), "is missing", {&*created});  // a local store: refused
  ServerKeyOptions rados = Options();
  rados.store_in_data_dir = false;
  KeyStartup startup;
  auto key = LoadOrCreateServerKey(rados, &startup);
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_FALSE(startup.created_key);
  EXPECT_FALSE(startup.new_store);
}

TEST_F(ServerKeyTest, AMissingKeyFileDirectoryFailsWithThePath) {
  ServerKeyOptions options = Options();
  options.key_file = dir_.path() + "/no/such/dir/server.key";
  auto key = LoadOrCreateServerKey(options);
  ASSERT_FALSE(key.ok());
  EXPECT_TRUE(key.status().IsIOError()) << key.status().ToString();
  EXPECT_NE(key.status().message().find(options.key_file), std::string::npos);
}

// Issue 13, item 2: never a new, empty store over what looks like a moved or restored one.

TEST_F(ServerKeyTest, RefusesANewKeyWhenTheKeyWasMovedAside) {
  auto created = LoadOrCreateServerKey(Options());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  const std::string key_file = Options().key_file;
  fs::rename(key_file, key_file + ".replaced-20261205");
  fs::remove_all(data_dir_);  // what a restore one level too high leaves for the server
  ExpectRefused(Options(), "looks like a key moved aside", {&*created});
  EXPECT_FALSE(fs::exists(key_file));
  EXPECT_FALSE(fs::exists(data_dir_));
}

TEST_F(ServerKeyTest, RefusesAnEmptyStoreWhenTheParentHoldsARestoredStore) {
  // safe-admin restore --data-dir PARENT (instead of PARENT/data) puts the store one level up.
  ASSERT_TRUE(WriteFile(dir_.path() + "/CURRENT", "MANIFEST-000001\n", 0644));
  ASSERT_TRUE(WriteFile(dir_.path() + "/KEYCHECK", std::string(64, 'a') + "\n", 0600));
  ExpectRefused(Options(), "holds a store", {});
  EXPECT_FALSE(fs::exists(Options().key_file));
  EXPECT_FALSE(fs::exists(data_dir_));
}

TEST_F(ServerKeyTest, RefusesAnEmptyStoreWhenTheDataWasMovedAside) {
  auto created = LoadOrCreateServerKey(Options());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  ASSERT_TRUE(WriteFile(data_dir_ + "/CURRENT", "MANIFEST-000001\n", 0644));
  fs::rename(data_dir_, data_dir_ + ".replaced-20261205");
  // With the key still there: the key exists but the data directory is missing.
  ExpectRefused(Options(), "looks like a store moved aside", {&*created});
  // And an empty data directory made by hand does not hide the moved one.
  ASSERT_TRUE(fs::create_directory(data_dir_));
  ExpectRefused(Options(), data_dir_ + ".replaced-20261205", {&*created});
  EXPECT_FALSE(fs::exists(data_dir_ + "/KEYCHECK"));
}

TEST_F(ServerKeyTest, RefusesAKeyFileWithoutItsDataDirectory) {
  auto created = LoadOrCreateServerKey(Options());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  fs::remove_all(data_dir_);
  ExpectRefused(Options(), "exists but the data directory " + data_dir_ + " is missing",
                {&*created});
  EXPECT_FALSE(fs::exists(data_dir_));
  // Created by hand, the empty directory says: a new store with this key.
  ASSERT_TRUE(fs::create_directory(data_dir_));
  KeyStartup startup;
  auto again = LoadOrCreateServerKey(Options(), &startup);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_FALSE(startup.created_key);
  EXPECT_TRUE(startup.new_store);
}

TEST_F(ServerKeyTest, AFirstStartSaysWhatItCreatedAndALaterOneDoesNot) {
  KeyStartup first;
  auto created = LoadOrCreateServerKey(Options(), &first);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_TRUE(first.created_key);
  EXPECT_TRUE(first.new_store);
  KeyStartup second;
  auto read = LoadOrCreateServerKey(Options(), &second);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_FALSE(second.created_key);
  EXPECT_FALSE(second.new_store);
  // Empty checkpoint directories beside the data do not count as a store.
  TempDir fresh;
  ASSERT_TRUE(fs::create_directory(fresh.path() + "/data.checkpoints"));
  ServerKeyOptions options;
  options.data_dir = fresh.path() + "/data";
  options.key_file = DefaultKeyFilePath(options.data_dir);
  EXPECT_TRUE(LoadOrCreateServerKey(options).ok());
}

TEST_F(ServerKeyTest, ACredentialStartsANewStoreWhenNothingWasThere) {
  // The documented first start: a key made by hand, handed in as a systemd credential.
  const std::string credentials = dir_.path() + "/credentials";
  ASSERT_TRUE(fs::create_directory(credentials));
  const ServerKey key = FixedKey(9);
  ASSERT_TRUE(WriteFile(credentials + "/server-key", Hex(key) + "\n", 0400));
  ServerKeyOptions options = Options();
  options.credentials_directory = credentials;
  KeyStartup startup;
  auto read = LoadOrCreateServerKey(options, &startup);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_FALSE(startup.created_key);
  EXPECT_TRUE(startup.new_store);
  // Moved aside later, the data is not replaced by an empty store.
  ASSERT_TRUE(WriteFile(data_dir_ + "/CURRENT", "MANIFEST-000001\n", 0644));
  fs::rename(data_dir_, data_dir_ + ".old");
  ExpectRefused(options, data_dir_ + ".old", {&key});
}

// The key check of a shared store (a RADOS pool): the first key is recorded, the same key passes,
// another key is refused, and a store that cannot be asked is an IOError (not a pass).
TEST(SharedKeyCheckTest, RecordsTheFirstKeyAndRefusesAnother) {
  std::string stored;  // the pool's value; empty: none yet
  int calls = 0;
  auto pool = [&](const std::string& check) -> Result<std::string> {
    ++calls;
    if (stored.empty()) stored = check;
    return stored;
  };
  EXPECT_TRUE(VerifySharedKeyCheck(FixedKey(1), pool).ok());
  EXPECT_EQ(stored, storage::SealedStore::KeyCheck(FixedKey(1)));
  EXPECT_TRUE(VerifySharedKeyCheck(FixedKey(1), pool).ok());
  Status other = VerifySharedKeyCheck(FixedKey(2), pool);
  EXPECT_TRUE(other.IsFailedPrecondition()) << other.ToString();
  EXPECT_EQ(other.message(),
            "sealed with another server key (its keycheck differs): refusing to start");
  EXPECT_EQ(stored, storage::SealedStore::KeyCheck(FixedKey(1)));  // the record is kept
  EXPECT_EQ(calls, 3);
  Status down = VerifySharedKeyCheck(FixedKey(1), [](const std::string&) -> Result<std::string> {
    return Status::IOError("the cluster does not answer");
  });
  EXPECT_TRUE(down.IsIOError()) << down.ToString();
}

}  // namespace
}  // namespace safe::server
