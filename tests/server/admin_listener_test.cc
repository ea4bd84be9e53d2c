// The admin listener of a real server: metrics in Prometheus' format (checked with promtool),
// health and readiness, and the online checkpoint that restores into a working server.

#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <regex>
#include <string>

#include "tests/support/e2e_util.h"
#include "tests/support/server_process.h"

namespace safe::testing {
namespace {

class AdminListenerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = ServerProcess::Start();
    ASSERT_NE(server_, nullptr);
    ASSERT_NE(server_->admin_port(), 0);
  }
  CurlResponse Do(const std::string& method, const std::string& url,
                  std::optional<std::string> body = std::nullopt) {
    return client_.Perform(Request(method, url, std::move(body)));
  }
  std::unique_ptr<ServerProcess> server_;
  CurlClient client_;
  std::mt19937_64 rng_{std::random_device{}()};
};

TEST_F(AdminListenerTest, MetricsCountRequestsAndPassPromtool) {
  std::string id = RandomBackupId(rng_);
  ASSERT_EQ(Do("PUT", server_->BaseUrl() + "backups/" + id, RandomBytes(1000, rng_)).status, 201);
  ASSERT_EQ(Do("GET", server_->BaseUrl() + "backups/" + id).status, 200);
  ASSERT_EQ(Do("GET", server_->BaseUrl() + "backups/" + RandomBackupId(rng_)).status, 404);
  ASSERT_EQ(Do("GET", server_->BaseUrl() + "nothing").status, 404);
  CurlResponse m = Do("GET", AdminUrl(*server_, "/metrics"));
  ASSERT_EQ(m.status, 200);
  EXPECT_NE(m.Header("Content-Type").value_or("").find("text/plain"), std::string::npos);
  const std::string& text = m.body;
  EXPECT_NE(text.find("safe_http_requests_total{route=\"backup\",method=\"PUT\",status=\"201\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("safe_http_requests_total{route=\"backup\",method=\"GET\",status=\"404\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("safe_http_requests_total{route=\"other\",method=\"GET\",status=\"404\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("safe_backups_stored 1\n"), std::string::npos);
  EXPECT_NE(
      text.find("safe_http_request_duration_seconds_count{route=\"backup\",method=\"PUT\"} 1"),
      std::string::npos);
  EXPECT_NE(text.find("safe_backups_expiring_30d 0\n"), std::string::npos);
  EXPECT_NE(text.find("safe_rocksdb_blob_garbage_bytes 0\n"), std::string::npos);
  EXPECT_NE(text.find("safe_rocksdb_blob_collections_total 0\n"), std::string::npos);
  // The version as build information (issue 13, item 8): a provider sees what each instance runs.
  EXPECT_TRUE(std::regex_search(
      text, std::regex("\nsafe_build_info\\{version=\"[0-9]+\\.[0-9]+\\.[0-9]+\"\\} 1\n")))
      << text;
  // Aggregates only: no backup id, no address.
  EXPECT_EQ(text.find(id), std::string::npos);
  EXPECT_EQ(text.find("127.0.0.1"), std::string::npos);

  std::string out, err;
  int rc = RunCommand({"promtool", "check", "metrics"}, text, &out, &err);
  EXPECT_EQ(rc, 0) << "promtool (from Debian's prometheus package; scripts/bootstrap installs it)"
                   << " said:\n"
                   << out << err;
}

TEST_F(AdminListenerTest, HealthAndReadiness) {
  CurlResponse h = Do("GET", AdminUrl(*server_, "/healthz"));
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body, "ok\n");
  EXPECT_EQ(Do("GET", AdminUrl(*server_, "/readyz")).status, 200);
  EXPECT_EQ(Do("GET", AdminUrl(*server_, "/nothing")).status, 404);
  EXPECT_EQ(Do("PUT", AdminUrl(*server_, "/metrics"), std::string("x")).status, 405);
  // The admin API is not served on the public port, nor the public API on the admin port.
  EXPECT_EQ(Do("GET", server_->BaseUrl() + "metrics").status, 404);
  EXPECT_EQ(Do("GET", AdminUrl(*server_, "/config")).status, 404);
}

TEST_F(AdminListenerTest, OnlineCheckpointRestoresIntoAWorkingServer) {
  std::string id = RandomBackupId(rng_);
  std::string blob = RandomBytes(70000, rng_);
  ASSERT_EQ(Do("PUT", server_->BaseUrl() + "backups/" + id, blob).status, 201);
  EXPECT_EQ(Do("GET", AdminUrl(*server_, "/admin/checkpoint")).status, 405);
  CurlResponse c = Do("POST", AdminUrl(*server_, "/admin/checkpoint"), std::string());
  ASSERT_EQ(c.status, 201) << c.body;
  std::string dir = c.body.substr(0, c.body.find('\n'));
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  EXPECT_TRUE(std::filesystem::exists(dir + "/KEYCHECK"));
  // Writes after the checkpoint are not in it.
  std::string later = RandomBackupId(rng_);
  ASSERT_EQ(Do("PUT", server_->BaseUrl() + "backups/" + later, RandomBytes(10, rng_)).status, 201);

  // A server on the checkpoint with the same key serves the backup.
  std::string key = server_->data_dir() + ".key";
  auto restored = ServerProcess::Start({"--data-dir", dir, "--key-file", key});
  ASSERT_NE(restored, nullptr);
  CurlClient other;
  CurlRequest get;
  get.method = "GET";
  get.url = restored->BaseUrl() + "backups/" + id;
  CurlResponse r = other.Perform(get);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, blob);
  get.url = restored->BaseUrl() + "backups/" + later;
  EXPECT_EQ(other.Perform(get).status, 404);
}

}  // namespace
}  // namespace safe::testing
