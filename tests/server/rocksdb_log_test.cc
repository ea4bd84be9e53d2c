// Issue 12, item 9: RocksDB's own log is not written. docs/privacy.md promises that the server
// keeps no record of when backups were written; RocksDB's LOG file held per-flush timestamps and
// record counts. A real server, real PUTs, a flush (an online checkpoint flushes the memtables),
// a clean stop: no LOG or LOG.old.* file in the data directory.

#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "tests/support/e2e_util.h"
#include "tests/support/server_process.h"

namespace safe::testing {
namespace {

namespace fs = std::filesystem;

// The names in dir that are RocksDB log files: LOG, LOG.old.<time>.
std::vector<std::string> RocksDbLogFiles(const std::string& dir) {
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name == "LOG" || name.rfind("LOG.old", 0) == 0) found.push_back(name);
  }
  return found;
}

TEST(RocksDbLogTest, NoLogFileIsWrittenInTheDataDirectoryIssue12) {
  auto server = ServerProcess::Start();
  ASSERT_NE(server, nullptr);
  std::mt19937_64 rng(12);
  CurlClient client;
  for (int i = 0; i < 20; ++i) {
    CurlRequest put;
    put.method = "PUT";
    put.url = server->BaseUrl() + "backups/" + RandomBackupId(rng);
    put.body = RandomBytes(5000, rng);
    ASSERT_EQ(client.Perform(put).status, 201);
  }
  // A checkpoint flushes the memtables first: the event RocksDB logged with its time and counts.
  CurlRequest checkpoint;
  checkpoint.method = "POST";
  checkpoint.url = AdminUrl(*server, "/admin/checkpoint");
  checkpoint.body = std::string();
  CurlResponse made = client.Perform(checkpoint);
  ASSERT_EQ(made.status, 201) << made.body;
  const std::string checkpoint_dir = made.body.substr(0, made.body.find('\n'));
  EXPECT_EQ(RocksDbLogFiles(server->data_dir()), std::vector<std::string>());
  EXPECT_EQ(RocksDbLogFiles(checkpoint_dir), std::vector<std::string>());
  ASSERT_EQ(server->Terminate(), 0);
  EXPECT_EQ(RocksDbLogFiles(server->data_dir()), std::vector<std::string>());
  // And a restart on the same data writes none either.
  auto again = server->Restart();
  ASSERT_NE(again, nullptr);
  ASSERT_EQ(again->Terminate(), 0);
  EXPECT_EQ(RocksDbLogFiles(server->data_dir()), std::vector<std::string>());
}

}  // namespace
}  // namespace safe::testing
