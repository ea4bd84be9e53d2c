// Files made by root are usable by the service (issue 13, item 3): `safe-admin restore`,
// `expire` and `checkpoint`, run as root with umask 077 on a data directory that belongs to
// another user (the service's), leave every file and directory they create owned like that data
// directory, files 0600 and directories 0700, and the store opens as that user afterwards.
// Before the fix root kept them (0700 / 0600 root:root) and the service could not start.
//
// The built safe-admin runs as a child process (it inherits the umask); the service user is
// `nobody`, and `setpriv` runs safe-admin as it to show that the store opens for writing.
// Skipped when not run as root (CI runs as root).

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/backup_id.h"
#include "common/clock.h"
#include "safe-server/service/server_key.h"
#include "storage/rocksdb_store.h"
#include "storage/sealed_store.h"
#include "tests/support/bytes.h"
#include "tests/support/server_process.h"

namespace safe::testing {
namespace {

namespace fs = std::filesystem;

const std::string kAdmin = std::string(SAFE_BIN_DIR) + "/safe-admin";
constexpr int kBackups = 20;
constexpr int kExpired = 5;  // the first kExpired backups were uploaded long ago

struct Ran {
  int code = -1;
  std::string out;
  std::string err;
};

// Runs safe-admin as root, with the umask given.
Ran AdminAsRoot(std::vector<std::string> args, mode_t mask = 077) {
  args.insert(args.begin(), kAdmin);
  Ran ran;
  const mode_t old = ::umask(mask);
  ran.code = RunCommand(args, "", &ran.out, &ran.err);
  ::umask(old);
  return ran;
}

// True when output holds the line `name: value`.
bool HasLine(const std::string& output, const std::string& name, int value) {
  return output.find(name + ": " + std::to_string(value) + "\n") != std::string::npos;
}

class OwnershipTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root, to act on another user's files";
    const passwd* pw = ::getpwnam("nobody");
    ASSERT_NE(pw, nullptr) << "no user nobody";
    uid_ = pw->pw_uid;
    gid_ = pw->pw_gid;
    ASSERT_NE(uid_, 0u);
    // The service's state directory: the user's own, reachable through the scratch directory.
    ASSERT_EQ(::chmod(scratch_.path().c_str(), 0755), 0);
    state_ = scratch_.path() + "/state";
    ASSERT_TRUE(fs::create_directory(state_));
    data_ = state_ + "/data";
    key_ = data_ + ".key";
    const mode_t old = ::umask(077);  // as the unit's UMask= makes the server's files
    MakeSealedDatabase();
    ::umask(old);
    ASSERT_EQ(::chmod(state_.c_str(), 0700), 0);
    GiveToService(state_);
  }

  // A sealed data directory as the server makes it, kExpired of its backups past retention.
  void MakeSealedDatabase() {
    server::ServerKeyOptions key_options;
    key_options.data_dir = data_;
    key_options.key_file = key_;
    auto key = server::LoadOrCreateServerKey(key_options);
    ASSERT_TRUE(key.ok()) << key.status().ToString();
    storage::RocksDbOptions options;
    options.path = data_;
    auto store = storage::RocksDbStore::Open(options);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    storage::SealedStore sealed(*key, **store);
    const Day today = SystemClock().Today();
    for (int i = 0; i < kBackups; ++i) {
      const Day day = i < kExpired ? today - 400 : today;
      ASSERT_TRUE(sealed.Put(IdFor(i), std::string(2000 + i, 'b'), day).ok());
    }
    ASSERT_TRUE((*store)->Close().ok());
  }

  void GiveToService(const std::string& top) {
    ASSERT_EQ(::lchown(top.c_str(), uid_, gid_), 0);
    for (const auto& entry : fs::recursive_directory_iterator(top)) {
      ASSERT_EQ(::lchown(entry.path().c_str(), uid_, gid_), 0) << entry.path();
    }
  }

  // Every file and directory under top, top included, is the service's, files 0600 and
  // directories 0700.
  void ExpectServiceOwns(const std::string& top) {
    std::vector<fs::path> paths = {top};
    for (const auto& entry : fs::recursive_directory_iterator(top)) paths.push_back(entry.path());
    for (const fs::path& path : paths) {
      struct stat st {};
      ASSERT_EQ(::lstat(path.c_str(), &st), 0) << path;
      EXPECT_EQ(st.st_uid, uid_) << path;
      EXPECT_EQ(st.st_gid, gid_) << path;
      const mode_t want = S_ISDIR(st.st_mode) ? 0700 : 0600;
      EXPECT_EQ(st.st_mode & 07777, want) << path << std::oct << " mode " << (st.st_mode & 07777);
    }
  }

  // safe-admin run as the service's user.
  Ran AdminAsService(std::vector<std::string> args) {
    std::vector<std::string> argv = {"setpriv", "--reuid=" + std::to_string(uid_),
                                     "--regid=" + std::to_string(gid_), "--clear-groups", kAdmin};
    argv.insert(argv.end(), args.begin(), args.end());
    Ran ran;
    const mode_t old = ::umask(077);
    ran.code = RunCommand(argv, "", &ran.out, &ran.err);
    ::umask(old);
    return ran;
  }

  // The store at dir opens for writing as the service's user, and every record reads back.
  void ExpectServiceOpens(const std::string& dir) {
    Ran verify = AdminAsService({"verify", "--data-dir", dir, "--key-file", key_});
    EXPECT_EQ(verify.code, 0) << verify.out << verify.err;
    Ran expire = AdminAsService({"expire", "--data-dir", dir});
    EXPECT_EQ(expire.code, 0) << expire.out << expire.err;
  }

  TempDir scratch_;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  std::string state_;
  std::string data_;
  std::string key_;
};

TEST_F(OwnershipTest, ExpireAsRootLeavesTheStoreToItsOwner) {
  Ran expire = AdminAsRoot({"expire", "--data-dir", data_});
  ASSERT_EQ(expire.code, 0) << expire.err;
  EXPECT_TRUE(HasLine(expire.out, "deleted", kExpired)) << expire.out;
  ExpectServiceOwns(data_);
  ExpectServiceOpens(data_);
}

TEST_F(OwnershipTest, CheckpointAsRootLeavesTheStoreAndTheCopyToTheStoresOwner) {
  const std::string copy = scratch_.path() + "/copy";
  Ran checkpoint = AdminAsRoot({"checkpoint", "--data-dir", data_, copy});
  ASSERT_EQ(checkpoint.code, 0) << checkpoint.err;
  EXPECT_TRUE(HasLine(checkpoint.out, "backups", kBackups)) << checkpoint.out;
  ExpectServiceOwns(data_);
  ExpectServiceOwns(copy);
  ExpectServiceOpens(data_);
  ExpectServiceOpens(copy);
}

TEST_F(OwnershipTest, RestoreAsRootGivesTheDataDirectoryToItsOwner) {
  // A checkpoint made (and kept) by root, as after copying one back from elsewhere.
  const std::string copy = scratch_.path() + "/copy";
  Ran checkpoint = AdminAsRoot({"checkpoint", "--data-dir", data_, copy});
  ASSERT_EQ(checkpoint.code, 0) << checkpoint.err;
  for (const auto& entry : fs::recursive_directory_iterator(copy)) {
    ASSERT_EQ(::lchown(entry.path().c_str(), 0, 0), 0);
  }
  ASSERT_EQ(::lchown(copy.c_str(), 0, 0), 0);

  // Over the existing data directory: the new one is owned like the old one.
  Ran replace = AdminAsRoot({"restore", "--from", copy, "--data-dir", data_, "--force"});
  ASSERT_EQ(replace.code, 0) << replace.err;
  EXPECT_TRUE(HasLine(replace.out, "backups", kBackups)) << replace.out;
  ExpectServiceOwns(data_);
  EXPECT_TRUE(fs::exists(key_)) << "a restore must leave the key beside the data directory";
  ExpectServiceOpens(data_);

  // Into a missing data directory: owned like the directory it is made in.
  const std::string fresh = state_ + "/fresh";
  Ran restore = AdminAsRoot({"restore", "--from", copy, "--data-dir", fresh});
  ASSERT_EQ(restore.code, 0) << restore.err;
  ExpectServiceOwns(fresh);
  ExpectServiceOpens(fresh);
}

TEST_F(OwnershipTest, ModesDoNotDependOnTheUmask) {
  // A permissive umask must not open the files to others.
  Ran expire = AdminAsRoot({"expire", "--data-dir", data_}, 0);
  ASSERT_EQ(expire.code, 0) << expire.err;
  ExpectServiceOwns(data_);
  ExpectServiceOpens(data_);
}

}  // namespace
}  // namespace safe::testing
