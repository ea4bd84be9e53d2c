// What is stored about me (issue 8): after real uploads through the server, the raw store holds
// per backup exactly the sealed blob, its size and the day of the upload, under a keyed hash of
// the id, and nothing that names the client: no address, no user agent, no id, no time of day.
// `safe-client info` tells a user exactly that.

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "safe-server/service/server_key.h"
#include "storage/rocksdb_store.h"
#include "storage/sealed_store.h"
#include "tests/support/e2e_util.h"
#include "tests/support/server_process.h"

namespace safe::testing {
namespace {

Day Today() {
  return static_cast<Day>(std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count() /
                          86400);
}

TEST(PrivacyTest, StoredRecordHoldsOnlyTheSealedBlobItsSizeAndTheDay) {
  auto server = ServerProcess::Start();
  ASSERT_NE(server, nullptr);
  std::mt19937_64 rng{std::random_device{}()};
  const std::string id = RandomBackupId(rng);
  const std::string blob = RandomBytes(5000, rng);
  const std::string agent = "Threema Desktop/9.9.9 (privacy-test-agent)";
  CurlClient client;
  CurlRequest put;
  put.method = "PUT";
  put.url = server->BaseUrl() + "backups/" + id;
  put.body = blob;
  put.headers = {"User-Agent: " + agent, "X-Forwarded-For: 198.51.100.77"};
  ASSERT_EQ(client.Perform(put).status, 201);
  ASSERT_EQ(server->Terminate(), 0);

  // Every file of the data directory: no id, no agent, no address.
  for (const auto& entry : std::filesystem::recursive_directory_iterator(server->data_dir())) {
    if (!entry.is_regular_file()) continue;
    std::string bytes = ReadFile(entry.path().string());
    EXPECT_EQ(bytes.find(id), std::string::npos) << entry.path();
    EXPECT_EQ(bytes.find("privacy-test-agent"), std::string::npos) << entry.path();
    EXPECT_EQ(bytes.find("127.0.0.1"), std::string::npos) << entry.path();
    EXPECT_EQ(bytes.find("198.51.100.77"), std::string::npos) << entry.path();
  }

  // The raw records: exactly one, under the keyed hash of the id, holding the sealed blob (the
  // blob plus the fixed sealing overhead, nothing more), its size and today's day.
  server::ServerKeyOptions key_options;
  key_options.key_file = server->data_dir() + ".key";
  key_options.data_dir = server->data_dir();
  auto key = server::LoadOrCreateServerKey(key_options);
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  storage::RocksDbOptions options;
  options.path = server->data_dir();
  auto raw = storage::RocksDbStore::Open(options);
  ASSERT_TRUE(raw.ok()) << raw.status().ToString();
  std::vector<std::pair<BackupId, storage::BackupInfo>> records;
  ASSERT_TRUE((*raw)
                  ->Scan([&](const BackupId& k, const storage::BackupInfo& i) {
                    records.emplace_back(k, i);
                  })
                  .ok());
  ASSERT_EQ(records.size(), 1u);
  storage::SealedStore sealed(*key, **raw);
  BackupId backup_id = *BackupId::Parse(id);
  EXPECT_EQ(records[0].first, sealed.StorageKeyFor(backup_id));
  EXPECT_NE(records[0].first, backup_id);
  EXPECT_EQ(records[0].second.size, blob.size() + storage::SealedStore::kOverhead);
  EXPECT_EQ(records[0].second.upload_day, Today());
  auto record = (*raw)->Get(records[0].first);
  ASSERT_TRUE(record.ok());
  EXPECT_EQ(record->blob.size(), blob.size() + storage::SealedStore::kOverhead);
  EXPECT_EQ(record->blob.find(blob.substr(0, 64)), std::string::npos);  // sealed, not plain
  auto opened = sealed.Get(backup_id);
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(opened->blob, blob);
}

TEST(PrivacyTest, HeadersTellTheUploadDayAndTheDeletionDay) {
  auto server = ServerProcess::Start({"--retention-days", "30"});
  ASSERT_NE(server, nullptr);
  std::mt19937_64 rng{std::random_device{}()};
  const std::string id = RandomBackupId(rng);
  CurlClient client;
  CurlRequest put;
  put.method = "PUT";
  put.url = server->BaseUrl() + "backups/" + id;
  put.body = RandomBytes(100, rng);
  ASSERT_EQ(client.Perform(put).status, 201);
  CurlRequest head;
  head.method = "HEAD";
  head.url = put.url;
  CurlResponse r = client.Perform(head);
  ASSERT_EQ(r.status, 200);
  auto day_text = [](Day day) {
    time_t t = static_cast<time_t>(day) * 86400;
    struct tm tm_utc;
    gmtime_r(&t, &tm_utc);
    char buf[40];
    strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm_utc);
    return std::string(buf);
  };
  EXPECT_EQ(r.Header("Last-Modified").value_or(""), day_text(Today()));
  EXPECT_EQ(r.Header("Expires").value_or(""), day_text(Today() + 31));
  EXPECT_EQ(r.Header("Content-Length").value_or(""), "100");
}

}  // namespace
}  // namespace safe::testing
