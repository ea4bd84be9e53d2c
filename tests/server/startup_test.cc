// Starting the real binary with a key that does not belong to the data, or without the key of
// existing data, or over a store that was moved or restored elsewhere (issue 13, item 2): it
// refuses with one clear line and exit status 2, and touches nothing. And the start-up lines
// that tell an operator what was created and whether TLS and authentication are on.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/support/server_process.h"

namespace safe::testing {
namespace {

struct Started {
  int code;
  std::string err;
};

Started StartBinary(const std::vector<std::string>& args) {
  // Bounded: a server that starts instead of refusing is stopped after 20 s (exit 124).
  std::vector<std::string> argv = {
      "timeout",    "20",          std::string(SAFE_BIN_DIR) + "/safe-server",
      "--listen",   "127.0.0.1:0", "--admin-listen",
      "127.0.0.1:0"};
  argv.insert(argv.end(), args.begin(), args.end());
  Started s;
  std::string out;
  s.code = RunCommand(argv, "", &out, &s.err);
  return s;
}

class StartupTest : public ::testing::Test {
 protected:
  // A data directory with one backup in it, made by a real server, and its key.
  void SetUp() override {
    auto server = ServerProcess::Start({"--data-dir", data_, "--key-file", key_});
    ASSERT_NE(server, nullptr);
    ASSERT_EQ(server->Terminate(), 0);
    ASSERT_TRUE(std::filesystem::exists(key_));
  }
  TempDir dir_;
  std::string data_ = dir_.path() + "/data";
  std::string key_ = dir_.path() + "/server.key";
};

TEST_F(StartupTest, WrongKeyIsRefusedWithExitTwo) {
  std::string other = dir_.path() + "/other.key";
  {
    std::ofstream f(other, std::ios::binary);
    f << std::string(32, '\x42');
  }
  std::filesystem::permissions(
      other, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  Started s = StartBinary({"--data-dir", data_, "--key-file", other});
  EXPECT_EQ(s.code, 2) << s.err;
  EXPECT_NE(s.err.find("safe-server: key-file: "), std::string::npos) << s.err;
  EXPECT_NE(s.err.find("does not match"), std::string::npos) << s.err;
  EXPECT_EQ(s.err.find("listening on"), std::string::npos);
}

TEST_F(StartupTest, MissingKeyOverExistingDataIsRefusedAndNoKeyIsMade) {
  std::string absent = dir_.path() + "/absent.key";
  Started s = StartBinary({"--data-dir", data_, "--key-file", absent});
  EXPECT_EQ(s.code, 2) << s.err;
  EXPECT_NE(s.err.find("refusing to create a new key over existing data"), std::string::npos)
      << s.err;
  EXPECT_FALSE(std::filesystem::exists(absent));
  // The right key still opens it.
  auto again = ServerProcess::Start({"--data-dir", data_, "--key-file", key_});
  EXPECT_NE(again, nullptr);
}

TEST_F(StartupTest, GroupReadableKeyIsRefused) {
  std::filesystem::permissions(key_, std::filesystem::perms::group_read,
                               std::filesystem::perm_options::add);
  Started s = StartBinary({"--data-dir", data_, "--key-file", key_});
  EXPECT_EQ(s.code, 2) << s.err;
  EXPECT_NE(s.err.find("key-file"), std::string::npos) << s.err;
}

// The one line of a refusal: "safe-server: key-file: ..." and nothing else on stderr.
void ExpectOneLineRefusal(const Started& s, const std::string& needle) {
  EXPECT_EQ(s.code, 2) << s.err;
  EXPECT_EQ(s.err.rfind("safe-server: key-file: ", 0), 0u) << s.err;
  EXPECT_EQ(std::count(s.err.begin(), s.err.end(), '\n'), 1) << s.err;
  EXPECT_NE(s.err.find(needle), std::string::npos) << s.err;
  EXPECT_EQ(s.err.find("listening on"), std::string::npos);
}

// Issue 13, item 2, as it happened: the man page named the state directory as data-dir, so
// `safe-admin restore --force` moved the whole state directory (the key included) aside and put
// the checkpoint one level above the unit's data directory. The server must not then start
// with a new key and an empty store.
TEST(StartupRestoreTest, AStoreRestoredOneLevelTooHighIsRefusedNotReplacedByAnEmptyOne) {
  TempDir dir;
  const std::string state = dir.path() + "/state";        // /var/lib/safe-server
  const std::string data = state + "/data";               // the unit's data-dir
  ASSERT_TRUE(std::filesystem::create_directory(state));  // systemd's StateDirectory=
  {
    auto server = ServerProcess::Start({"--data-dir", data});
    ASSERT_NE(server, nullptr);
    ASSERT_EQ(server->Terminate(), 0);
  }
  const std::string admin = std::string(SAFE_BIN_DIR) + "/safe-admin";
  const std::string copy = dir.path() + "/copy";
  std::string out, err;
  ASSERT_EQ(RunCommand({admin, "checkpoint", "--data-dir", data, copy}, "", &out, &err), 0) << err;
  ASSERT_EQ(RunCommand({admin, "restore", "--force", "--from", copy, "--data-dir", state}, "", &out,
                       &err),
            0)
      << err;
  ASSERT_FALSE(std::filesystem::exists(data + ".key"));  // moved aside with the state directory

  Started s = StartBinary({"--data-dir", data});
  ExpectOneLineRefusal(s, "holds a store");
  EXPECT_FALSE(std::filesystem::exists(data));
  EXPECT_FALSE(std::filesystem::exists(data + ".key"));
}

TEST_F(StartupTest, AMovedAsideKeyIsRefusedWithExitTwo) {
  std::filesystem::rename(key_, key_ + ".old");
  std::filesystem::rename(data_, dir_.path() + "/elsewhere");
  Started s = StartBinary({"--data-dir", data_, "--key-file", key_});
  ExpectOneLineRefusal(s, key_ + ".old");
  EXPECT_FALSE(std::filesystem::exists(key_));
  EXPECT_FALSE(std::filesystem::exists(data_));
}

TEST_F(StartupTest, AMissingDataDirectoryBesideItsKeyIsRefusedWithExitTwo) {
  std::filesystem::remove_all(data_);
  Started s = StartBinary({"--data-dir", data_, "--key-file", key_});
  ExpectOneLineRefusal(s, "exists but the data directory " + data_ + " is missing");
  EXPECT_FALSE(std::filesystem::exists(data_));
}

TEST_F(StartupTest, AMovedAsideDataDirectoryIsRefusedWithExitTwo) {
  std::filesystem::rename(data_, data_ + ".replaced-20261205-000000");
  std::filesystem::create_directory(data_);  // even an empty one in its place
  Started s = StartBinary({"--data-dir", data_, "--key-file", key_});
  ExpectOneLineRefusal(s, data_ + ".replaced-20261205-000000");
}

TEST(StartupLogTest, AFirstStartSaysLoudlyWhatItCreatedAndWhetherTlsAndAuthAreOn) {
  TempDir dir;
  const std::string data = dir.path() + "/data";
  auto server = ServerProcess::Start({"--data-dir", data});
  ASSERT_NE(server, nullptr);
  ASSERT_EQ(server->Terminate(), 0);
  const std::string first = server->Log();
  EXPECT_NE(first.find("safe-server: warning: created a new server key at " + data +
                       ".key and a new, empty store in " + data),
            std::string::npos)
      << first;
  EXPECT_NE(first.find("serving with TLS off, authentication off"), std::string::npos) << first;

  auto again = server->Restart();
  ASSERT_NE(again, nullptr);
  ASSERT_EQ(again->Terminate(), 0);
  const std::string second = again->Log();
  EXPECT_EQ(second.find("created a new server key"), std::string::npos) << second;
  EXPECT_EQ(second.find("empty store"), std::string::npos) << second;
  EXPECT_NE(second.find("serving with TLS off"), std::string::npos) << second;
}

}  // namespace
}  // namespace safe::testing
