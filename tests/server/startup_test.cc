// Starting the real binary with a key that does not belong to the data, or without the key of
// existing data: it refuses with one clear line and exit status 2, and touches nothing.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/support/server_process.h"

namespace safe::testing {
namespace {

struct Started {
  int code;
  std::string err;
};

Started StartBinary(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {std::string(SAFE_BIN_DIR) + "/safe-server", "--listen",
                                   "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"};
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

}  // namespace
}  // namespace safe::testing
