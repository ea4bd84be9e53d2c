#include "safe-client/files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <set>
#include <string>

#include "safe-client/etag_state.h"
#include "safe-client/password.h"
#include "tests/support/server_process.h"

namespace safe::client {
namespace {

using safe::testing::ListDir;
using safe::testing::WriteFile;

TEST(WriteFileAtomicallyTest, WritesWithMode0600WhateverTheUmask) {
  safe::testing::TempDir dir;
  const std::string path = dir.path() + "/out.json";
  const mode_t old = umask(0);
  Status s = WriteFileAtomically(path, "abc", 3);
  umask(old);
  ASSERT_TRUE(s.ok()) << s.ToString();
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  Result<safe::SecretBytes> back = ReadFileSecret(path, 100);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->view(), "abc");
  EXPECT_EQ(ListDir(dir.path()), std::set<std::string>{"out.json"});
}

TEST(WriteFileAtomicallyTest, ReplacesAnExistingFileWhole) {
  safe::testing::TempDir dir;
  const std::string path = dir.path() + "/out.json";
  EXPECT_TRUE(WriteFile(path, "old content that is longer"));
  ASSERT_TRUE(WriteFileAtomically(path, "new", 3).ok());
  EXPECT_EQ(ReadFileSecret(path, 100)->view(), "new");
  EXPECT_EQ(ListDir(dir.path()), std::set<std::string>{"out.json"});
}

TEST(WriteFileAtomicallyTest, FailureLeavesNothingBehind) {
  safe::testing::TempDir dir;
  // The target is a directory: the rename fails after the temporary file was written.
  const std::string target = dir.path() + "/taken";
  ASSERT_EQ(mkdir(target.c_str(), 0700), 0);
  EXPECT_TRUE(WriteFile(target + "/inside", "x"));
  EXPECT_FALSE(WriteFileAtomically(target, "abc", 3).ok());
  EXPECT_EQ(ListDir(dir.path()), std::set<std::string>{"taken"});
  EXPECT_FALSE(WriteFileAtomically(dir.path() + "/missing/out.json", "abc", 3).ok());
  EXPECT_EQ(ListDir(dir.path()), std::set<std::string>{"taken"});
}

// Issue 13: a missing directory of --output used to read "cannot create a temporary file beside".
TEST(OutputDirectoryTest, NamesAMissingDirectory) {
  safe::testing::TempDir dir;
  const std::string missing = dir.path() + "/restored";
  Status s = CheckOutputDirectory(missing + "/backup.json", "--output");
  EXPECT_TRUE(s.IsNotFound());
  EXPECT_EQ(s.message(), "--output " + missing + "/backup.json: the directory " + missing +
                             " does not exist; create it first (mkdir -p " + missing + ")");
  s = WriteFileAtomically(missing + "/backup.json", "abc", 3);
  EXPECT_TRUE(s.IsNotFound());
  EXPECT_NE(s.message().find("the directory " + missing + " does not exist"), std::string::npos)
      << s.message();

  EXPECT_TRUE(CheckOutputDirectory(dir.path() + "/backup.json", "--output").ok());
  EXPECT_TRUE(CheckOutputDirectory("backup.json", "--output").ok());  // the current directory
  EXPECT_TRUE(WriteFile(dir.path() + "/file", "x"));
  s = CheckOutputDirectory(dir.path() + "/file/backup.json", "--qr-png");
  EXPECT_TRUE(s.IsIOError());
  EXPECT_NE(s.message().find("cannot create a file in " + dir.path() + "/file"), std::string::npos)
      << s.message();
}

TEST(ReadFileSecretTest, RefusesMissingAndTooLargeFiles) {
  safe::testing::TempDir dir;
  EXPECT_TRUE(ReadFileSecret(dir.path() + "/none", 10).status().IsNotFound());
  EXPECT_TRUE(WriteFile(dir.path() + "/big", std::string(11, 'x')));
  EXPECT_TRUE(ReadFileSecret(dir.path() + "/big", 10).status().IsTooLarge());
}

TEST(PasswordFileTest, ReadsTheFirstLineOnly) {
  safe::testing::TempDir dir;
  const std::string path = dir.path() + "/pw";
  EXPECT_TRUE(WriteFile(path, "correct horse\nsecond line\n"));
  EXPECT_EQ(ReadPasswordFile(path)->view(), "correct horse");
  EXPECT_TRUE(WriteFile(path, "windows line\r\n"));
  EXPECT_EQ(ReadPasswordFile(path)->view(), "windows line");
  EXPECT_TRUE(WriteFile(path, "no newline"));
  EXPECT_EQ(ReadPasswordFile(path)->view(), "no newline");
  EXPECT_TRUE(WriteFile(path, " spaces kept "));
  EXPECT_EQ(ReadPasswordFile(path)->view(), " spaces kept ");
  EXPECT_TRUE(WriteFile(path, "\nsecond"));
  EXPECT_TRUE(ReadPasswordFile(path).status().IsInvalidArgument());
  EXPECT_TRUE(WriteFile(path, ""));
  EXPECT_TRUE(ReadPasswordFile(path).status().IsInvalidArgument());
}

// Issue 16: the ETag sidecar keeps one line per server and backup, never the id itself.
TEST(EtagStateTest, RecordsPerServerAndBackupWithoutTheId) {
  safe::testing::TempDir dir;
  const std::string path = EtagStatePath(dir.path() + "/backup.json");
  EXPECT_EQ(path, dir.path() + "/backup.json.etag");
  BackupId::Bytes a_bytes{};
  BackupId::Bytes b_bytes{};
  b_bytes[0] = 1;
  const BackupId a = BackupId::FromBytes(a_bytes);
  const BackupId b = BackupId::FromBytes(b_bytes);
  auto none = LoadEtag(path, "https://s/", a);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());  // no file yet
  ASSERT_TRUE(SaveEtag(path, "https://s/", a, "\"aaaa\"").ok());
  ASSERT_TRUE(SaveEtag(path, "https://s/", b, "\"bbbb\"").ok());
  ASSERT_TRUE(SaveEtag(path, "https://other/", a, "\"cccc\"").ok());
  ASSERT_TRUE(SaveEtag(path, "https://s/", a, "\"dddd\"").ok());  // replaces the first
  EXPECT_EQ(LoadEtag(path, "https://s/", a)->value(), "\"dddd\"");
  EXPECT_EQ(LoadEtag(path, "https://s/", b)->value(), "\"bbbb\"");
  EXPECT_EQ(LoadEtag(path, "https://other/", a)->value(), "\"cccc\"");
  std::ifstream f(path);
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3);
  EXPECT_EQ(text.find(a.ToHex()), std::string::npos);
  EXPECT_EQ(text.find(b.ToHex()), std::string::npos);
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // A damaged file is named in the error, not silently ignored.
  std::ofstream(path) << "garbage\n";
  Status bad = LoadEtag(path, "https://s/", a).status();
  EXPECT_TRUE(bad.IsInvalidArgument());
  EXPECT_NE(bad.message().find(path), std::string::npos);
}

}  // namespace
}  // namespace safe::client
