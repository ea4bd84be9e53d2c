// SIGHUP reloads the TLS certificate and the credential files without dropping connections
// (certificate renewals, user changes): a real server, real files, libcurl.

#include <signal.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "safe-server/service/auth.h"
#include "tests/support/e2e_util.h"
#include "tests/support/server_process.h"

namespace safe::testing {
namespace {

namespace fs = std::filesystem;

// A self-signed certificate for 127.0.0.1 (it is its own CA) and its key.
void MakeCertificate(const std::string& cert, const std::string& key) {
  std::string out, err;
  int status =
      RunCommand({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                  "-nodes", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                  "-days", "2", "-keyout", key, "-out", cert},
                 "", &out, &err);
  ASSERT_EQ(status, 0) << err;
}

// Sends SIGHUP and waits (bounded, driven by the server's log) until it says how the reload went;
// true when it says "reloaded" (and not that it failed).
bool Reload(ServerProcess& server) {
  const std::string before = server.Log();
  const size_t ok_before = CountOf(before, "reloaded on SIGHUP");
  const size_t failed_before = CountOf(before, "reload on SIGHUP failed");
  server.Signal(SIGHUP);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    std::string log = server.Log();
    if (CountOf(log, "reload on SIGHUP failed") > failed_before) return false;
    if (CountOf(log, "reloaded on SIGHUP") > ok_before) return true;
    std::this_thread::yield();
  }
  return false;
}

TEST(ReloadTest, SighupSwapsTheCertificateAndKeepsOpenConnections) {
  TempDir dir;
  const std::string cert = dir.path() + "/cert.pem", key = dir.path() + "/key.pem";
  const std::string old_cert = dir.path() + "/old.pem", new_cert = dir.path() + "/new.pem";
  const std::string new_key = dir.path() + "/new-key.pem";
  MakeCertificate(cert, key);
  fs::copy_file(cert, old_cert);
  MakeCertificate(new_cert, new_key);
  auto server = ServerProcess::Start({"--tls-cert", cert, "--tls-key", key});
  ASSERT_NE(server, nullptr);

  CurlClient kept;  // one keep-alive connection across the reload
  CurlRequest config;
  config.url = server->BaseUrl() + "config";
  config.ca_file = old_cert;
  ASSERT_EQ(kept.Perform(config).status, 200);

  // Renewal: the files are replaced (as certbot does), then SIGHUP.
  fs::copy_file(new_cert, cert, fs::copy_options::overwrite_existing);
  fs::copy_file(new_key, key, fs::copy_options::overwrite_existing);
  ASSERT_TRUE(Reload(*server)) << server->Log();

  CurlResponse again = kept.Perform(config);
  EXPECT_EQ(again.status, 200) << again.error;
  EXPECT_EQ(again.num_connects, 0) << "the open connection was dropped";

  CurlClient fresh_new;
  CurlRequest with_new = config;
  with_new.ca_file = new_cert;
  EXPECT_EQ(fresh_new.Perform(with_new).status, 200);
  CurlClient fresh_old;
  CurlResponse refused = fresh_old.Perform(config);  // new connections show the new certificate
  EXPECT_NE(refused.code, CURLE_OK);

  // A broken certificate file on the next reload keeps the working one, and the log says the
  // reload failed, never that it reloaded (issue 13 item 7).
  { std::ofstream(cert, std::ios::trunc) << "not a certificate\n"; }
  EXPECT_FALSE(Reload(*server));
  EXPECT_EQ(CountOf(server->Log(), "reloaded on SIGHUP"), 1u) << server->Log();
  CurlClient after_broken;
  EXPECT_EQ(after_broken.Perform(with_new).status, 200);
  EXPECT_NE(server->Log().find("reload: "), std::string::npos);
}

TEST(ReloadTest, SighupReloadsTheHtpasswdFile) {
  TempDir dir;
  const std::string htpasswd = dir.path() + "/htpasswd";
  auto alice = server::HashPasswordArgon2id("alice-password");
  auto bob = server::HashPasswordArgon2id("bob-password");
  ASSERT_TRUE(alice.ok() && bob.ok());
  { std::ofstream(htpasswd) << "alice:" << *alice << "\n"; }
  auto server = ServerProcess::Start({"--htpasswd", htpasswd});
  ASSERT_NE(server, nullptr);
  CurlRequest as_alice;
  as_alice.url = server->BaseUrl() + "config";
  as_alice.user = "alice";
  as_alice.password = "alice-password";
  CurlRequest as_bob = as_alice;
  as_bob.user = "bob";
  as_bob.password = "bob-password";
  CurlClient client;
  EXPECT_EQ(client.Perform(as_alice).status, 200);
  EXPECT_EQ(client.Perform(as_bob).status, 401);

  { std::ofstream(htpasswd, std::ios::trunc) << "bob:" << *bob << "\n"; }
  ASSERT_TRUE(Reload(*server));
  EXPECT_EQ(client.Perform(as_bob).status, 200);
  EXPECT_EQ(client.Perform(as_alice).status, 401);  // removed users lose access at once

  // A broken file keeps bob, and the log does not claim a reload.
  { std::ofstream(htpasswd, std::ios::trunc) << "bob:plaintext-is-refused\n"; }
  EXPECT_FALSE(Reload(*server));
  EXPECT_EQ(CountOf(server->Log(), "reloaded on SIGHUP"), 1u) << server->Log();
  EXPECT_EQ(client.Perform(as_bob).status, 200);
}

}  // namespace
}  // namespace safe::testing
