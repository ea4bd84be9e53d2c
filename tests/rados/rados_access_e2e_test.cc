// Issue 18 over RADOS: two safe-server instances on one pool share the spent tokens and the
// access credentials. A token redeemed at one instance is refused (409) at the other, also when
// both are asked at once, and the credential one instance handed out opens the other.

#include <sys/stat.h>

#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/rados/rados_test_util.h"
#include "tests/support/e2e_util.h"
#include "tests/support/server_process.h"

namespace safe::testing {
namespace {

using storage::testing::RadosConf;
using storage::testing::RadosPool;

const std::string kBin = SAFE_BIN_DIR;

// The shared test pool's server key (as rados_server_e2e_test: an instance with another key
// refuses the pool).
constexpr char kPoolKeyHex[] = "5afe5e7e5afe5e7e00112233445566778899aabbccddeeff0011223344556677";

class RadosAccessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    key_file_ = dir_.path() + "/server.key";
    std::ofstream(key_file_) << kPoolKeyHex << "\n";
    ASSERT_EQ(chmod(key_file_.c_str(), 0600), 0);
    keys_ = dir_.path() + "/keys";
    std::string out, err;
    ASSERT_EQ(RunCommand({kBin + "/safe-admin", "access-key", "new", "--dir", keys_, "--bits",
                          "2048", "--days", "10"},
                         "", &out, &err),
              0)
        << err;
    pem_ = Field(out, "public-key");
  }

  // An instance with a data directory of its own (with RADOS it holds only KEYCHECK).
  std::unique_ptr<ServerProcess> StartInstance() {
    const std::string data = dir_.path() + "/data" + std::to_string(++instances_);
    if (mkdir(data.c_str(), 0700) != 0) return nullptr;
    return ServerProcess::Start({"--storage", "rados", "--rados-conf", RadosConf(), "--rados-pool",
                                 RadosPool(), "--rados-user", "admin", "--key-file", key_file_,
                                 "--data-dir", data, "--access-issuer-key",
                                 keys_ + "/issuer-keys"});
  }

  // A finalized token in a state file of its own.
  std::string PaidToken(const std::string& name) {
    const std::string state = dir_.path() + "/" + name + ".json";
    std::string line, sig, out, err;
    EXPECT_EQ(RunCommand({kBin + "/safe-client", "access", "request", "--issuer-key", pem_,
                          "--state", state},
                         "", &line, &err),
              0)
        << err;
    EXPECT_EQ(RunCommand({kBin + "/safe-admin", "issue", "--dir", keys_}, line, &sig, &err), 0)
        << err;
    EXPECT_EQ(RunCommand({kBin + "/safe-client", "access", "finalize", "--state", state}, sig, &out,
                         &err),
              0)
        << err;
    return state;
  }

  int Redeem(const std::string& state, const ServerProcess& server, std::string* out,
             std::string* err) {
    return RunCommand(
        {kBin + "/safe-client", "access", "redeem", "--state", state, "--server", server.BaseUrl()},
        "", out, err);
  }

  TempDir dir_;
  std::string key_file_;
  std::string keys_;
  std::string pem_;
  int instances_ = 0;
};

TEST_F(RadosAccessTest, ATokenRedeemedAtOneInstanceIsSpentAtTheOtherAndItsCredentialWorksThere) {
  auto a = StartInstance();
  ASSERT_NE(a, nullptr);
  auto b = StartInstance();
  ASSERT_NE(b, nullptr);
  const std::string state = PaidToken("t1");
  const std::string copy = dir_.path() + "/t1-copy.json";
  std::ofstream(copy) << ReadFile(state);
  std::string out, err;
  ASSERT_EQ(Redeem(state, *a, &out, &err), 0) << err;
  const std::string user = Field(out, "user");
  const std::string password = Field(out, "password");
  ASSERT_FALSE(user.empty());
  EXPECT_EQ(Redeem(copy, *b, &out, &err), 1);
  EXPECT_NE(err.find("409"), std::string::npos) << err;

  std::mt19937_64 rng(std::random_device{}());
  char id[65];
  for (int i = 0; i < 64; ++i) id[i] = "0123456789abcdef"[rng() % 16];
  id[64] = '\0';
  CurlClient curl;
  CurlRequest put;
  put.method = "PUT";
  put.url = b->BaseUrl() + "backups/" + id;
  put.body = std::string(64, 'z');
  put.user = user;
  put.password = password;
  EXPECT_EQ(curl.Perform(put).status, 201);  // the credential from a opens b
  CurlRequest del = put;
  del.method = "DELETE";
  del.body.reset();
  del.url = a->BaseUrl() + "backups/" + id;
  EXPECT_EQ(curl.Perform(del).status, 204);
}

TEST_F(RadosAccessTest, OneTokenRedeemedAtBothInstancesAtOnceHasOneWinner) {
  auto a = StartInstance();
  ASSERT_NE(a, nullptr);
  auto b = StartInstance();
  ASSERT_NE(b, nullptr);
  for (int round = 0; round < 3; ++round) {
    const std::string state = PaidToken("race" + std::to_string(round));
    const std::string copy = state + ".copy";
    std::ofstream(copy) << ReadFile(state);
    int rc_a = -1, rc_b = -1;
    std::string out_a, err_a, out_b, err_b;
    std::thread ta([&] { rc_a = Redeem(state, *a, &out_a, &err_a); });
    std::thread tb([&] { rc_b = Redeem(copy, *b, &out_b, &err_b); });
    ta.join();
    tb.join();
    EXPECT_EQ((rc_a == 0) + (rc_b == 0), 1) << err_a << err_b;
    EXPECT_NE((err_a + err_b).find("409"), std::string::npos) << err_a << err_b;
  }
}

}  // namespace
}  // namespace safe::testing
