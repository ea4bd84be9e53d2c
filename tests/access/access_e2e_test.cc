// Issue 18 end to end, through the three binaries: the provider makes an issuer key
// (safe-admin access-key new), the customer makes a token and blinds it (safe-client access
// request), the payment system signs it (safe-admin issue), the customer unblinds (finalize) and
// redeems it at the server (redeem), then uploads a backup with the credential. A second redeem
// is refused, also after kill -9. Afterwards nothing in the server's directory or log equals the
// token, the blinded message or the signature, raw or as hex or base64.

#include <gtest/gtest.h>
#include <sodium.h>
#include <sys/stat.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/secret.h"
#include "crypto/access_token.h"
#include "tests/support/e2e_util.h"
#include "tests/support/server_process.h"

namespace safe::testing {
namespace {

const std::string kBin = SAFE_BIN_DIR;

std::vector<uint8_t> FromB64Url(const std::string& text) {
  auto bytes = crypto::Base64UrlDecode(text, "test");
  EXPECT_TRUE(bytes.ok()) << text;
  return bytes.ok() ? *bytes : std::vector<uint8_t>{};
}

// Every form a secret could be written in: raw, hex (both cases), base64 (padded, unpadded,
// url-safe).
std::vector<std::string> FormsOf(const std::vector<uint8_t>& bytes) {
  std::vector<std::string> forms;
  forms.emplace_back(bytes.begin(), bytes.end());
  const std::string hex = Hex(bytes);
  forms.push_back(hex);
  std::string upper = hex;
  for (char& c : upper) c = static_cast<char>(toupper(c));
  forms.push_back(upper);
  for (int variant : {sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING}) {
    std::string b64(sodium_base64_encoded_len(bytes.size(), variant), '\0');
    sodium_bin2base64(b64.data(), b64.size(), bytes.data(), bytes.size(), variant);
    b64.resize(strlen(b64.c_str()));
    forms.push_back(b64);
  }
  return forms;
}

// A token paid for: requested with the issuer's public key `pem`, signed with the keys in `keys`,
// finalized. Returns its state file (`state`), ready to redeem.
std::string PaidToken(const std::string& keys, const std::string& pem, const std::string& state) {
  std::string line, sig, o, e;
  EXPECT_EQ(RunCommand(
                {kBin + "/safe-client", "access", "request", "--issuer-key", pem, "--state", state},
                "", &line, &e),
            0);
  EXPECT_EQ(RunCommand({kBin + "/safe-admin", "issue", "--dir", keys}, line, &sig, &e), 0) << e;
  EXPECT_EQ(
      RunCommand({kBin + "/safe-client", "access", "finalize", "--state", state}, sig, &o, &e), 0);
  return state;
}

TEST(AccessE2eTest, IssueFinalizeRedeemUploadAndNoTraceOfTheToken) {
  EnsureSodiumInitialised();
  TempDir work;
  const std::string keys = work.path() + "/keys";
  std::string out, err;
  ASSERT_EQ(RunCommand({kBin + "/safe-admin", "access-key", "new", "--dir", keys, "--bits", "2048",
                        "--days", "30"},
                       "", &out, &err),
            0)
      << err;
  const std::string pem = Field(out, "public-key");
  ASSERT_FALSE(pem.empty()) << out;
  // The private key is the owner's alone.
  struct stat st;
  ASSERT_EQ(stat(Field(out, "private-key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  auto server = ServerProcess::Start({"--access-issuer-key", keys + "/issuer-keys"});
  ASSERT_NE(server, nullptr);
  EXPECT_NE(server->Log().find("authentication on (access credentials)"), std::string::npos);

  // The customer: a token, blinded.
  const std::string state = work.path() + "/token.json";
  ASSERT_EQ(RunCommand(
                {kBin + "/safe-client", "access", "request", "--issuer-key", pem, "--state", state},
                "", &out, &err),
            0)
      << err;
  const std::string request_line = out;
  auto request = crypto::ParseIssueRequest(request_line);
  ASSERT_TRUE(request.ok());
  const std::vector<uint8_t> blinded = request->blinded_msg;
  auto state_json = nlohmann::json::parse(ReadFile(state));
  const std::vector<uint8_t> token = FromB64Url(state_json["token"]);
  ASSERT_EQ(token.size(), crypto::kAccessTokenBytes);

  // The payment system: a blind signature.
  std::string blind_sig;
  ASSERT_EQ(
      RunCommand({kBin + "/safe-admin", "issue", "--dir", keys}, request_line, &blind_sig, &err), 0)
      << err;

  // The customer: finalize, keep a copy to try a double spend, redeem.
  ASSERT_EQ(RunCommand({kBin + "/safe-client", "access", "finalize", "--state", state}, blind_sig,
                       &out, &err),
            0)
      << err;
  state_json = nlohmann::json::parse(ReadFile(state));
  const std::vector<uint8_t> signature = FromB64Url(state_json["signature"]);
  ASSERT_FALSE(signature.empty());
  const std::string copy = work.path() + "/copy.json";
  std::ofstream(copy) << ReadFile(state);
  ASSERT_EQ(RunCommand({kBin + "/safe-client", "access", "redeem", "--state", state, "--server",
                        server->BaseUrl()},
                       "", &out, &err),
            0)
      << err;
  const std::string user = Field(out, "user");
  const std::string password = Field(out, "password");
  ASSERT_FALSE(user.empty()) << out;
  EXPECT_EQ(Field(out, "server-url"), server->BaseUrl());
  EXPECT_FALSE(Field(out, "expires").empty());
  // The state file no longer holds the token.
  EXPECT_EQ(ReadFile(state).find(state_json["token"].get<std::string>()), std::string::npos);

  // The credential works as any Basic credential.
  CurlClient curl;
  CurlRequest put;
  put.method = "PUT";
  put.url = server->BaseUrl() + "backups/" + std::string(64, 'a');
  put.body = std::string(100, 'x');
  put.headers = {"Content-Type: application/octet-stream"};
  put.user = user;
  put.password = password;
  EXPECT_EQ(curl.Perform(put).status, 201);
  CurlRequest anonymous = put;
  anonymous.user.clear();
  EXPECT_EQ(curl.Perform(anonymous).status, 401);
  CurlRequest wrong = put;
  wrong.password = password + "x";
  EXPECT_EQ(curl.Perform(wrong).status, 401);

  // A double spend: refused, also after kill -9.
  EXPECT_EQ(RunCommand({kBin + "/safe-client", "access", "redeem", "--state", copy, "--server",
                        server->BaseUrl()},
                       "", &out, &err),
            1);
  EXPECT_NE(err.find("409"), std::string::npos) << err;
  server->Kill9();
  auto restarted = server->Restart();
  ASSERT_NE(restarted, nullptr);
  EXPECT_EQ(RunCommand({kBin + "/safe-client", "access", "redeem", "--state", copy, "--server",
                        restarted->BaseUrl()},
                       "", &out, &err),
            1);
  EXPECT_NE(err.find("409"), std::string::npos) << err;
  put.url = restarted->BaseUrl() + "backups/" + std::string(64, 'a');
  EXPECT_EQ(curl.Perform(put).status, 204);  // the credential survived too

  // Nothing the server keeps or logs equals the token, the blinded message or the signature.
  const std::string log = server->Log() + restarted->Log();
  EXPECT_EQ(restarted->Terminate(), 0);
  std::string server_dir = restarted->data_dir().substr(0, restarted->data_dir().rfind('/'));
  const std::vector<std::string> files = FilesUnder(server_dir);
  ASSERT_FALSE(files.empty());
  size_t scanned = 0;
  for (const auto& [name, secret] : std::vector<std::pair<std::string, std::vector<uint8_t>>>{
           {"token", token},
           {"token's message", std::vector<uint8_t>(token.begin() + 32, token.end())},
           {"blinded message", blinded},
           {"signature", signature}}) {
    for (const std::string& form : FormsOf(secret)) {
      EXPECT_EQ(log.find(form), std::string::npos) << name << " in the log";
      for (const std::string& file : files) {
        EXPECT_EQ(ReadFile(file).find(form), std::string::npos) << name << " in " << file;
        ++scanned;
      }
    }
  }
  EXPECT_GT(scanned, 0u);
  // The scan finds what is there: the customer's unredeemed copy holds the token (base64url).
  EXPECT_NE(ReadFile(copy).find(FormsOf(token).back()), std::string::npos);
}

TEST(AccessE2eTest, ServerRefusesAMalformedKeyListAtStartBeforeMakingAKey) {
  TempDir work;
  std::ofstream(work.path() + "/list") << "2030-01-01 missing.pem\n";
  std::string out, err;
  int rc = RunCommand(
      {kBin + "/safe-server", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
       "--data-dir", work.path() + "/data", "--access-issuer-key", work.path() + "/list"},
      "", &out, &err);
  EXPECT_EQ(rc, 2);
  EXPECT_NE(err.find("safe-server: access-issuer-key: "), std::string::npos) << err;
  EXPECT_NE(err.find("line 1"), std::string::npos) << err;
  struct stat st;
  EXPECT_NE(stat((work.path() + "/data.key").c_str(), &st), 0);  // nothing was created
  EXPECT_NE(stat((work.path() + "/data").c_str(), &st), 0);
}

TEST(AccessE2eTest, IssueRefusesRetiredAndUnknownKeys) {
  TempDir work;
  const std::string keys = work.path() + "/keys";
  std::string out, err;
  ASSERT_EQ(RunCommand({kBin + "/safe-admin", "access-key", "new", "--dir", keys, "--bits", "2048"},
                       "", &out, &err),
            0);
  const std::string id = Field(out, "id");
  const std::string pem = Field(out, "public-key");
  const std::string state = work.path() + "/s.json";
  ASSERT_EQ(RunCommand(
                {kBin + "/safe-client", "access", "request", "--issuer-key", pem, "--state", state},
                "", &out, &err),
            0);
  const std::string request_line = out;
  EXPECT_NE(RunCommand({kBin + "/safe-admin", "issue", "--dir", keys}, "garbage\n", &out, &err), 0);
  EXPECT_NE(err.find("issue request"), std::string::npos) << err;
  ASSERT_EQ(
      RunCommand({kBin + "/safe-admin", "access-key", "retire", "--dir", keys, id}, "", &out, &err),
      0)
      << err;
  ASSERT_EQ(RunCommand({kBin + "/safe-admin", "access-key", "list", "--dir", keys}, "", &out, &err),
            0);
  EXPECT_NE(out.find("retired"), std::string::npos) << out;
  EXPECT_NE(RunCommand({kBin + "/safe-admin", "issue", "--dir", keys}, request_line, &out, &err),
            0);
  EXPECT_NE(err.find("retired"), std::string::npos) << err;
  // A second request on the same state file is refused: it may hold an unredeemed token.
  EXPECT_NE(RunCommand(
                {kBin + "/safe-client", "access", "request", "--issuer-key", pem, "--state", state},
                "", &out, &err),
            0);
}

// Key rotation as hosting.md describes it: a new key joins the list and redeems after SIGHUP; a
// retired key's tokens still redeem until its last day; a key taken off the list (a leaked key)
// is refused after SIGHUP.
TEST(AccessE2eTest, KeyRotationThroughTheListAndSighup) {
  TempDir work;
  const std::string keys = work.path() + "/keys";
  std::string out, err;
  ASSERT_EQ(RunCommand({kBin + "/safe-admin", "access-key", "new", "--dir", keys, "--bits", "2048"},
                       "", &out, &err),
            0);
  const std::string old_id = Field(out, "id");
  const std::string old_pem = Field(out, "public-key");
  auto server = ServerProcess::Start({"--access-issuer-key", keys + "/issuer-keys"});
  ASSERT_NE(server, nullptr);
  auto paid_token = [&](const std::string& pem, const std::string& name) {
    return PaidToken(keys, pem, work.path() + "/" + name + ".json");
  };
  auto redeem = [&](const std::string& state) {
    std::string o, e;
    int rc = RunCommand({kBin + "/safe-client", "access", "redeem", "--state", state, "--server",
                         server->BaseUrl()},
                        "", &o, &e);
    return rc == 0 ? std::string("ok") : e;
  };
  auto reload = [&](size_t count) {
    server->Signal(SIGHUP);
    for (int i = 0; i < 500; ++i) {
      std::string log = server->Log();
      size_t seen = 0;
      for (size_t at = log.find("reload"); at != std::string::npos;
           at = log.find("reload", at + 1)) {
        ++seen;
      }
      if (seen >= count) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "no reload logged";
  };
  const std::string old_token = paid_token(old_pem, "old");
  const std::string old_token2 = paid_token(old_pem, "old2");

  // A new key: its tokens are refused until the server has read the list again.
  ASSERT_EQ(RunCommand({kBin + "/safe-admin", "access-key", "new", "--dir", keys, "--bits", "2048"},
                       "", &out, &err),
            0);
  const std::string new_pem = Field(out, "public-key");
  const std::string new_token = paid_token(new_pem, "new");
  const std::string new_copy = work.path() + "/new-copy.json";
  std::ofstream(new_copy) << ReadFile(new_token);
  EXPECT_NE(redeem(new_token).find("HTTP 401"), std::string::npos);
  reload(1);
  EXPECT_EQ(redeem(new_copy), "ok");

  // The old key retired: it issues no more, its tokens still redeem.
  ASSERT_EQ(RunCommand({kBin + "/safe-admin", "access-key", "retire", "--dir", keys, old_id}, "",
                       &out, &err),
            0);
  EXPECT_EQ(redeem(old_token), "ok");

  // Taken off the list (a leaked key): refused after the reload.
  ASSERT_EQ(
      RunCommand({kBin + "/safe-admin", "access-key", "retire", "--dir", keys, "--remove", old_id},
                 "", &out, &err),
      0)
      << err;
  reload(2);
  EXPECT_NE(redeem(old_token2).find("issuer key is not one this server accepts"),
            std::string::npos);
}

// A checkpoint keeps what access needs (issue 18): restored, a token spent before it stays spent
// and a credential handed out before it still opens the API. Both the server's online checkpoint
// (POST /admin/checkpoint) and safe-admin's offline one copy DATA_DIR/access.
TEST(AccessE2eTest, ACheckpointKeepsSpentTokensAndCredentials) {
  TempDir work;
  const std::string keys = work.path() + "/keys";
  std::string out, err;
  ASSERT_EQ(RunCommand({kBin + "/safe-admin", "access-key", "new", "--dir", keys, "--bits", "2048"},
                       "", &out, &err),
            0)
      << err;
  const std::string pem = Field(out, "public-key");
  auto server = ServerProcess::Start({"--access-issuer-key", keys + "/issuer-keys"});
  ASSERT_NE(server, nullptr);
  const std::string state = PaidToken(keys, pem, work.path() + "/token.json");
  const std::string copy = work.path() + "/copy.json";
  std::ofstream(copy) << ReadFile(state);
  ASSERT_EQ(RunCommand({kBin + "/safe-client", "access", "redeem", "--state", state, "--server",
                        server->BaseUrl()},
                       "", &out, &err),
            0)
      << err;
  const std::string user = Field(out, "user");
  const std::string password = Field(out, "password");
  ASSERT_FALSE(user.empty()) << out;

  CurlClient curl;
  CurlRequest checkpoint;
  checkpoint.method = "POST";
  checkpoint.url = AdminUrl(*server, "/admin/checkpoint");
  CurlResponse made = curl.Perform(checkpoint);
  ASSERT_EQ(made.status, 201) << made.body;
  const std::string online = made.body.substr(0, made.body.find('\n'));
  EXPECT_TRUE(std::filesystem::exists(online + "/access/CURRENT")) << online;
  ASSERT_EQ(server->Terminate(), 0);

  // The offline checkpoint of the stopped server has it too.
  const std::string offline = work.path() + "/offline";
  ASSERT_EQ(
      RunCommand({kBin + "/safe-admin", "checkpoint", "--data-dir", server->data_dir(), offline},
                 "", &out, &err),
      0)
      << err;
  EXPECT_TRUE(std::filesystem::exists(offline + "/access/CURRENT"));

  // Restored over the data directory, each checkpoint keeps the token spent and the credential.
  for (const std::string& from : {online, offline}) {
    SCOPED_TRACE(from);
    ASSERT_EQ(RunCommand({kBin + "/safe-admin", "restore", "--from", from, "--data-dir",
                          server->data_dir(), "--force"},
                         "", &out, &err),
              0)
        << err;
    auto restored = server->Restart();
    ASSERT_NE(restored, nullptr);
    EXPECT_EQ(RunCommand({kBin + "/safe-client", "access", "redeem", "--state", copy, "--server",
                          restored->BaseUrl()},
                         "", &out, &err),
              1);
    EXPECT_NE(err.find("409"), std::string::npos) << err;
    CurlRequest get;
    get.method = "GET";
    get.url = restored->BaseUrl() + "config";
    get.user = user;
    get.password = password;
    EXPECT_EQ(curl.Perform(get).status, 200);
    get.password = "not-" + password;  // the control: a wrong credential is refused
    EXPECT_EQ(curl.Perform(get).status, 401);
    EXPECT_EQ(restored->Terminate(), 0);
  }
}

}  // namespace
}  // namespace safe::testing
