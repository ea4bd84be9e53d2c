// safe-admin against a real safe-server process (issue 6, "Administer"): what works while the
// server runs, what is refused (and says what to do instead), and a full round trip: upload,
// stop, checkpoint, restore into a new directory, start a server there, download.

#include <curl/curl.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "storage/rocksdb_store.h"
#include "tests/support/server_process.h"

namespace safe::testing {
namespace {

namespace fs = std::filesystem;

const std::string kAdmin = std::string(SAFE_BIN_DIR) + "/safe-admin";
const std::string kBackupId = "066384d3695fbbd9f31a7d533900fd0cd8d1373beb6a28678522d2a49980c9c3";

struct Ran {
  int code = -1;
  std::string out;
  std::string err;
};

Ran Admin(std::vector<std::string> args) {
  args.insert(args.begin(), kAdmin);
  Ran ran;
  ran.code = RunCommand(args, "", &ran.out, &ran.err);
  return ran;
}

size_t Collect(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

// One request with libcurl; returns the status code (0 when the transfer failed).
long Request(const std::string& method, const std::string& url, const std::string& body,
             std::string* response) {
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return 0;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/octet-stream");
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  if (method == "PUT") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, response);
  long status = 0;
  if (curl_easy_perform(curl) == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return status;
}

// The key file a sealing server keeps beside its data directory, as extra server arguments
// (none when the server made no key file).
std::vector<std::string> KeyArgs(const std::string& key_file) {
  if (!fs::exists(key_file)) return {};
  return {"--key-file", key_file};
}

TEST(AdminE2eTest, ReadsALiveServerAndRefusesWhatNeedsItStopped) {
  auto server = ServerProcess::Start();
  ASSERT_NE(server, nullptr);
  const std::string data = server->data_dir();
  std::string ignored;
  ASSERT_EQ(Request("PUT", server->BaseUrl() + "backups/" + kBackupId, "blob", &ignored) / 100, 2);

  Ran stats = Admin({"stats", "--data-dir", data});
  ASSERT_EQ(stats.code, 0) << stats.err;
  EXPECT_EQ(Field(stats.out, "backups"), "1");
  EXPECT_EQ(Field(stats.out, "server-running"), "yes");
  EXPECT_EQ(stats.out.find(kBackupId.substr(0, 16)), std::string::npos);

  Ran dry_run = Admin({"expire", "--data-dir", data, "--dry-run"});
  ASSERT_EQ(dry_run.code, 0) << dry_run.err;
  EXPECT_EQ(Field(dry_run.out, "would-delete"), "0");

  TempDir scratch;
  Ran checkpoint = Admin({"checkpoint", "--data-dir", data, scratch.path() + "/copy"});
  EXPECT_EQ(checkpoint.code, 1);
  EXPECT_NE(checkpoint.err.find("POST /admin/checkpoint"), std::string::npos) << checkpoint.err;
  EXPECT_FALSE(fs::exists(scratch.path() + "/copy"));

  Ran verify = Admin({"verify", "--data-dir", data});
  EXPECT_EQ(verify.code, 1);
  EXPECT_NE(verify.err.find("checkpoint"), std::string::npos) << verify.err;

  Ran expire = Admin({"expire", "--data-dir", data});
  EXPECT_EQ(expire.code, 1);
  EXPECT_NE(expire.err.find("sweep"), std::string::npos) << expire.err;

  // A database to restore from, made here.
  {
    storage::RocksDbOptions options;
    options.path = scratch.path() + "/other";
    auto store = storage::RocksDbStore::Open(options);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->Close().ok());
  }
  Ran restore =
      Admin({"restore", "--from", scratch.path() + "/other", "--data-dir", data, "--force"});
  EXPECT_EQ(restore.code, 1);
  EXPECT_NE(restore.err.find("stop the server"), std::string::npos) << restore.err;

  // Nothing above disturbed the server.
  std::string body;
  EXPECT_EQ(Request("GET", server->BaseUrl() + "backups/" + kBackupId, "", &body), 200);
  EXPECT_EQ(body, "blob");
  EXPECT_EQ(server->Terminate(), 0) << server->Log();
  fs::remove(data + ".key");
}

TEST(AdminE2eTest, CheckpointOfAStoppedServerRestoresIntoAWorkingServer) {
  auto server = ServerProcess::Start();
  ASSERT_NE(server, nullptr);
  const std::string data = server->data_dir();
  const std::string key_file = data + ".key";  // where a sealing server keeps its key
  std::string ignored;
  ASSERT_EQ(Request("PUT", server->BaseUrl() + "backups/" + kBackupId, "precious", &ignored) / 100,
            2);
  ASSERT_EQ(server->Terminate(), 0) << server->Log();

  TempDir scratch;
  const std::string copy = scratch.path() + "/copy";
  Ran checkpoint = Admin({"checkpoint", "--data-dir", data, copy});
  ASSERT_EQ(checkpoint.code, 0) << checkpoint.err;
  EXPECT_EQ(Field(checkpoint.out, "backups"), "1");

  std::vector<std::string> verify_args = {"verify", "--data-dir", copy};
  for (const std::string& arg : KeyArgs(key_file)) verify_args.push_back(arg);
  Ran verify = Admin(verify_args);
  EXPECT_EQ(verify.code, 0) << verify.out << verify.err;
  EXPECT_EQ(Field(verify.out, "ok"), "1");

  const std::string restored = scratch.path() + "/restored";
  Ran restore = Admin({"restore", "--from", copy, "--data-dir", restored});
  ASSERT_EQ(restore.code, 0) << restore.err;

  std::vector<std::string> args = {"--data-dir", restored};
  for (const std::string& arg : KeyArgs(key_file)) args.push_back(arg);
  auto again = ServerProcess::Start(args);
  ASSERT_NE(again, nullptr);
  std::string body;
  EXPECT_EQ(Request("GET", again->BaseUrl() + "backups/" + kBackupId, "", &body), 200);
  EXPECT_EQ(body, "precious");
  EXPECT_EQ(again->Terminate(), 0) << again->Log();
  fs::remove(key_file);
}

}  // namespace
}  // namespace safe::testing
