// End-to-end tests of safe-server (issue 2), TLS: a certificate made with openssl for the test,
// TLS 1.2 and 1.3 served, older versions and plain HTTP refused, and silent TCP connections that
// do not hold up the handshakes of other clients. What the files of this binary share:
// server_e2e.h.

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/server/server_e2e.h"
#include "tests/support/e2e_util.h"
#include "tests/support/server_process.h"

namespace safe::testing {
namespace {

using namespace std::chrono_literals;

class ServerE2eTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cert_ = dir_.path() + "/cert.pem";
    key_ = dir_.path() + "/key.pem";
    std::string out, err;
    int status =
        RunCommand({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=127.0.0.1", "-addext",
                    "subjectAltName=IP:127.0.0.1", "-days", "2", "-keyout", key_, "-out", cert_},
                   "", &out, &err);
    ASSERT_EQ(status, 0) << "openssl req failed: " << err;
    server_ = StartServer({"--tls-cert", cert_, "--tls-key", key_});
    ASSERT_NE(server_, nullptr);
    ASSERT_EQ(server_->BaseUrl().substr(0, 8), "https://");
  }

  CurlRequest Trusted(CurlRequest r) {
    r.ca_file = cert_;
    return r;
  }

  TempDir dir_;
  std::string cert_;
  std::string key_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(ServerE2eTlsTest, PutAndGetOverHttps) {
  auto rng = SeededRng();
  CurlClient client;
  const std::string id = RandomBackupId(rng);
  const std::string blob = RandomBytes(100000, rng);
  EXPECT_TRUE(Answers(client, Trusted(Request("GET", server_->BaseUrl() + "config")), 200));
  EXPECT_TRUE(Answers(client, Trusted(Request("PUT", BackupUrl(*server_, id), blob)), 201));
  EXPECT_TRUE(HoldsBlob(client, Trusted(Request("GET", BackupUrl(*server_, id))), blob));

  // The certificate is really checked: without the CA the client refuses the server.
  CurlClient untrusting;
  CurlResponse r = untrusting.Perform(Request("GET", server_->BaseUrl() + "config"));
  EXPECT_FALSE(r.ok()) << Describe(r);
}

TEST_F(ServerE2eTlsTest, Tls12And13AreAccepted) {
  CurlClient client;
  for (long version : {CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2,
                       CURL_SSLVERSION_TLSv1_3 | CURL_SSLVERSION_MAX_TLSv1_3}) {
    CurlClient fresh;  // a new handle: no session to resume
    CurlRequest r = Trusted(Request("GET", server_->BaseUrl() + "config"));
    r.ssl_version = version;
    EXPECT_TRUE(Answers(fresh, r, 200)) << "ssl version option " << version;
  }
}

TEST_F(ServerE2eTlsTest, Tls11ClientIsRefused) {
  CurlClient old_client;
  CurlRequest r = Trusted(Request("GET", server_->BaseUrl() + "config"));
  r.ssl_version = CURL_SSLVERSION_TLSv1_0 | CURL_SSLVERSION_MAX_TLSv1_1;
  CurlResponse answer = old_client.Perform(r);
  EXPECT_FALSE(answer.ok()) << Describe(answer);
  EXPECT_EQ(answer.status, 0);

  // And the server still serves a modern client.
  CurlClient client;
  EXPECT_TRUE(Answers(client, Trusted(Request("GET", server_->BaseUrl() + "config")), 200));
}

TEST_F(ServerE2eTlsTest, PlainHttpToTheTlsPortFails) {
  CurlClient plain;
  CurlResponse r = plain.Perform(
      Request("GET", "http://127.0.0.1:" + std::to_string(server_->port()) + "/config"));
  EXPECT_FALSE(r.ok() && r.status == 200) << Describe(r);
  EXPECT_EQ(r.body.find("maxBackupBytes"), std::string::npos);

  CurlClient client;
  EXPECT_TRUE(Answers(client, Trusted(Request("GET", server_->BaseUrl() + "config")), 200));
}

// Regression test: Debian's Pistache 0.0.5 listener runs the TLS handshake (SSL_accept) blocking
// on its one accept thread, so a TCP connection that never sends a ClientHello stopped the server
// from accepting anyone else (safe-server/http/acceptor.h).
TEST_F(ServerE2eTlsTest, SilentTcpConnectionDoesNotBlockOtherTlsClients) {
  std::vector<std::unique_ptr<RawConnection>> stuck;
  for (int i = 0; i < 20; ++i) {
    stuck.push_back(RawConnection::Connect(server_->port()));
    ASSERT_NE(stuck.back(), nullptr);
  }
  for (int i = 0; i < 5; ++i) {
    stuck.push_back(RawConnection::Connect(server_->port()));
    ASSERT_NE(stuck.back(), nullptr);
    ASSERT_TRUE(stuck.back()->Send(std::string("\x16\x03\x01\x02", 4)));  // a cut ClientHello
  }
  CurlClient client;
  CurlRequest r = Trusted(Request("GET", server_->BaseUrl() + "config"));
  r.timeout = 5s;
  EXPECT_TRUE(Answers(client, r, 200));
}

}  // namespace
}  // namespace safe::testing
