// safe-admin's file-system helpers: who holds RocksDB's lock, empty directories, durable copies.

#include "safe-admin/data_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "tests/support/files.h"
#include "tests/support/server_process.h"

namespace safe::admin {
namespace {

namespace fs = std::filesystem;
using safe::testing::ReadFile, safe::testing::TempDir, safe::testing::WriteFile;

TEST(LockHolderTest, IsNobodyWithoutALockFile) {
  TempDir dir;
  auto holder = LockHolder(dir.path());
  ASSERT_TRUE(holder.ok()) << holder.status().ToString();
  EXPECT_EQ(*holder, 0);
}

TEST(LockHolderTest, IsNobodyWhenTheLockFileIsNotLocked) {
  TempDir dir;
  ASSERT_TRUE(WriteFile(dir.path() + "/LOCK", ""));
  auto holder = LockHolder(dir.path());
  ASSERT_TRUE(holder.ok()) << holder.status().ToString();
  EXPECT_EQ(*holder, 0);
}

TEST(LockHolderTest, NamesTheProcessThatHoldsTheLock) {
  TempDir dir;
  const std::string lock_path = dir.path() + "/LOCK";
  ASSERT_TRUE(WriteFile(lock_path, ""));
  auto child = safe::testing::ForkedChild::Start([&](int ready) {
    // As RocksDB does: an fcntl() write lock on the whole LOCK file, held until exit.
    int fd = open(lock_path.c_str(), O_RDWR);
    struct flock lock {};
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;
    if (fd < 0 || fcntl(fd, F_SETLK, &lock) != 0) _exit(1);
    char byte = 1;
    if (write(ready, &byte, 1) != 1) _exit(1);
    pause();
    _exit(0);
  });
  ASSERT_NE(child, nullptr);
  char byte = 0;
  ASSERT_TRUE(child->ReadExactly(&byte, 1)) << "the child could not take the lock";

  auto holder = LockHolder(dir.path());
  const pid_t pid = child->pid();
  child->KillAndWait();
  ASSERT_TRUE(holder.ok()) << holder.status().ToString();
  EXPECT_EQ(*holder, pid);

  // Released when the holder is gone.
  auto after = LockHolder(dir.path());
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*after, 0);
}

TEST(IsMissingOrEmptyTest, TellsMissingEmptyAndFullApart) {
  TempDir dir;
  EXPECT_TRUE(*IsMissingOrEmpty(dir.path() + "/missing"));
  EXPECT_TRUE(*IsMissingOrEmpty(dir.path()));
  ASSERT_TRUE(WriteFile(dir.path() + "/file", "x"));
  EXPECT_FALSE(*IsMissingOrEmpty(dir.path()));
  EXPECT_TRUE(IsMissingOrEmpty(dir.path() + "/file").status().IsInvalidArgument());
}

TEST(HoldsDatabaseTest, LooksForCurrent) {
  TempDir dir;
  EXPECT_FALSE(HoldsDatabase(dir.path()));
  ASSERT_TRUE(WriteFile(dir.path() + "/CURRENT", "MANIFEST-000001\n"));
  EXPECT_TRUE(HoldsDatabase(dir.path()));
}

TEST(CopyTreeDurablyTest, CopiesNestedFilesWithPrivateModes) {
  TempDir dir;
  const std::string from = dir.path() + "/from";
  fs::create_directories(from + "/sub/deeper");
  ASSERT_TRUE(WriteFile(from + "/a", "alpha"));
  ASSERT_TRUE(WriteFile(from + "/sub/b", std::string(100000, 'b')));
  ASSERT_TRUE(WriteFile(from + "/sub/deeper/c", ""));
  const std::string to = dir.path() + "/to";

  ASSERT_TRUE(CopyTreeDurably(from, to).ok());
  EXPECT_EQ(ReadFile(to + "/a"), "alpha");
  EXPECT_EQ(ReadFile(to + "/sub/b"), std::string(100000, 'b'));
  EXPECT_TRUE(fs::is_regular_file(to + "/sub/deeper/c"));
  struct stat st;
  ASSERT_EQ(stat(to.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  ASSERT_EQ(stat((to + "/a").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  // The source is untouched.
  EXPECT_EQ(ReadFile(from + "/a"), "alpha");
}

TEST(CopyTreeDurablyTest, RefusesASymlinkAndAnExistingTarget) {
  TempDir dir;
  const std::string from = dir.path() + "/from";
  fs::create_directories(from);
  fs::create_symlink("a", from + "/link");
  EXPECT_TRUE(CopyTreeDurably(from, dir.path() + "/to").IsInvalidArgument());

  fs::remove(from + "/link");
  fs::create_directories(dir.path() + "/exists");
  EXPECT_TRUE(CopyTreeDurably(from, dir.path() + "/exists").IsIOError());
}

TEST(CopyFileDurablyTest, NeverOverwrites) {
  TempDir dir;
  ASSERT_TRUE(WriteFile(dir.path() + "/a", "new"));
  ASSERT_TRUE(WriteFile(dir.path() + "/b", "old"));
  EXPECT_TRUE(CopyFileDurably(dir.path() + "/a", dir.path() + "/b").IsIOError());
  EXPECT_EQ(ReadFile(dir.path() + "/b"), "old");
  EXPECT_TRUE(CopyFileDurably(dir.path() + "/missing", dir.path() + "/c").IsIOError());
  EXPECT_FALSE(fs::exists(dir.path() + "/c"));
}

}  // namespace
}  // namespace safe::admin
