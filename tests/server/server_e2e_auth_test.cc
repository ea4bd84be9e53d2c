// End-to-end tests of safe-server (issue 2), Basic auth: the challenge on every path, wrong
// passwords and users, credentials sent up front (Android, Desktop) and after the challenge (iOS).
// What the files of this binary share: server_e2e.h.

#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "safe-server/service/auth.h"
#include "tests/server/server_e2e.h"
#include "tests/support/e2e_util.h"
#include "tests/support/server_process.h"

namespace safe::testing {
namespace {

using namespace std::chrono_literals;

class ServerE2eAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::string> hash = safe::server::HashPasswordArgon2id(kPassword);
    ASSERT_TRUE(hash.ok()) << hash.status().ToString();
    htpasswd_ = dir_.path() + "/htpasswd";
    ASSERT_TRUE(WriteFile(htpasswd_, std::string(kUser) + ":" + *hash + "\n"));
    server_ = StartServer({"--htpasswd", htpasswd_, "--auth-realm", "Test Realm"});
    ASSERT_NE(server_, nullptr);
  }

  CurlRequest WithCredentials(CurlRequest r, const std::string& password, long auth) {
    r.user = kUser;
    r.password = password;
    r.http_auth = auth;
    return r;
  }

  static constexpr char kUser[] = "alice";
  static constexpr char kPassword[] = "correct horse battery staple";
  TempDir dir_;
  std::string htpasswd_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(ServerE2eAuthTest, NoCredentialsIs401WithChallengeOnEveryPath) {
  auto rng = SeededRng();
  CurlClient client;
  const std::string id = RandomBackupId(rng);
  const std::vector<CurlRequest> requests = {
      Request("GET", server_->BaseUrl() + "config"),
      Request("HEAD", server_->BaseUrl() + "config"),
      Request("GET", BackupUrl(*server_, id)),
      Request("PUT", BackupUrl(*server_, id), RandomBytes(100, rng)),
      Request("DELETE", BackupUrl(*server_, id)),
      Request("GET", server_->BaseUrl()),
      Request("GET", server_->BaseUrl() + "no/such/path"),
      Request("GET", BackupUrl(*server_, "not-an-id")),
      Request("POST", server_->BaseUrl() + "config", std::string("x")),
  };
  for (const CurlRequest& request : requests) {
    SCOPED_TRACE(request.method + " " + request.url);
    CurlResponse r = client.Perform(request);
    ASSERT_TRUE(r.ok()) << Describe(r);
    EXPECT_EQ(r.status, 401);
    std::optional<std::string> challenge = r.Header("WWW-Authenticate");
    ASSERT_TRUE(challenge.has_value());
    EXPECT_EQ(challenge->rfind("Basic realm=\"Test Realm\"", 0), 0u) << *challenge;
  }
  EXPECT_TRUE(Answers(
      client, WithCredentials(Request("GET", BackupUrl(*server_, id)), kPassword, CURLAUTH_BASIC),
      404))
      << "the unauthenticated PUT stored something";
}

TEST_F(ServerE2eAuthTest, WrongPasswordIs401) {
  auto rng = SeededRng();
  CurlClient client;
  const std::string id = RandomBackupId(rng);
  for (long auth : {static_cast<long>(CURLAUTH_BASIC), static_cast<long>(CURLAUTH_ANY)}) {
    SCOPED_TRACE(auth == CURLAUTH_BASIC ? "preemptive" : "after the challenge");
    EXPECT_TRUE(Answers(
        client, WithCredentials(Request("GET", server_->BaseUrl() + "config"), "wrong", auth),
        401));
    EXPECT_TRUE(
        Answers(client,
                WithCredentials(Request("PUT", BackupUrl(*server_, id), RandomBytes(100, rng)),
                                std::string(kPassword) + "x", auth),
                401));
    CurlRequest other_user = Request("GET", BackupUrl(*server_, id));
    other_user.user = "bob";
    other_user.password = kPassword;
    other_user.http_auth = auth;
    EXPECT_TRUE(Answers(client, other_user, 401));
  }
  for (const char* header : {"Authorization: Bearer abc", "Authorization: Basic !!!",
                             "Authorization: Basic YWxpY2U="}) {  // the last: "alice", no ':'
    CurlRequest odd = Request("GET", server_->BaseUrl() + "config");
    odd.headers = {header};
    EXPECT_TRUE(Answers(client, odd, 401)) << header;
  }
  EXPECT_TRUE(Answers(
      client, WithCredentials(Request("GET", BackupUrl(*server_, id)), kPassword, CURLAUTH_BASIC),
      404))
      << "a PUT with a wrong password stored something";
}

TEST_F(ServerE2eAuthTest, PreemptiveCredentialsWork) {
  auto rng = SeededRng();
  CurlClient client;
  const std::string id = RandomBackupId(rng);
  const std::string blob = RandomBytes(20000, rng);

  CurlResponse config = client.Perform(
      WithCredentials(Request("GET", server_->BaseUrl() + "config"), kPassword, CURLAUTH_BASIC));
  ASSERT_TRUE(config.ok()) << Describe(config);
  EXPECT_EQ(config.status, 200);
  EXPECT_EQ(config.status_lines.size(), 1u)
      << "credentials were not sent up front: " << Describe(config);
  EXPECT_TRUE(Answers(
      client,
      WithCredentials(Request("PUT", BackupUrl(*server_, id), blob), kPassword, CURLAUTH_BASIC),
      201));
  EXPECT_TRUE(HoldsBlob(
      client, WithCredentials(Request("GET", BackupUrl(*server_, id)), kPassword, CURLAUTH_BASIC),
      blob));
  EXPECT_TRUE(Answers(
      client,
      WithCredentials(Request("GET", server_->BaseUrl() + "nothing"), kPassword, CURLAUTH_BASIC),
      404));
  EXPECT_TRUE(Answers(
      client,
      WithCredentials(Request("DELETE", BackupUrl(*server_, id)), kPassword, CURLAUTH_BASIC), 204));
}

TEST_F(ServerE2eAuthTest, ChallengeFlowAsIosDoesItWorks) {
  auto rng = SeededRng();
  CurlClient client;
  const std::string id = RandomBackupId(rng);
  const std::string blob = RandomBytes(kDefaultMaxBytes, rng);

  // CURLAUTH_ANY: libcurl first asks without credentials, reads the challenge, then retries.
  CurlResponse config = client.Perform(
      WithCredentials(Request("GET", server_->BaseUrl() + "config"), kPassword, CURLAUTH_ANY));
  ASSERT_TRUE(config.ok()) << Describe(config);
  EXPECT_EQ(config.status, 200);
  ASSERT_GE(config.status_lines.size(), 2u) << Describe(config);
  EXPECT_EQ(config.status_lines.front().substr(0, 12), "HTTP/1.1 401");
  EXPECT_EQ(config.body, R"({"maxBackupBytes":524288,"retentionDays":180})");

  CurlResponse put = client.Perform(
      WithCredentials(Request("PUT", BackupUrl(*server_, id), blob), kPassword, CURLAUTH_ANY));
  ASSERT_TRUE(put.ok()) << Describe(put);
  EXPECT_EQ(put.status, 201);
  ASSERT_GE(put.status_lines.size(), 2u) << Describe(put);
  EXPECT_EQ(put.status_lines.front().substr(0, 12), "HTTP/1.1 401");

  CurlResponse get = client.Perform(
      WithCredentials(Request("GET", BackupUrl(*server_, id)), kPassword, CURLAUTH_ANY));
  ASSERT_TRUE(get.ok()) << Describe(get);
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get.status_lines.front().substr(0, 12), "HTTP/1.1 401");
  EXPECT_TRUE(get.body == blob) << get.body.size() << " bytes differ from the " << blob.size()
                                << " stored";
}

}  // namespace
}  // namespace safe::testing
