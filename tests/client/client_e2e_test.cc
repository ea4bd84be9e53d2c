// End to end: the safe-client binary against the real safe-server on a free loopback port.
// Each test starts its own server (tests/support/server_process.h) and drives safe-client as a
// subprocess with --password-file, as a person would.

#include <argon2.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sodium.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "crypto/blob.h"
#include "crypto/kdf.h"
#include "safe-client/http_client.h"
#include "safe-client/server_api.h"
#include "tests/crypto/test_data.h"
#include "tests/support/server_process.h"

namespace safe::client {
namespace {

using safe::testing::ListDir;
using safe::testing::ReadFile;
using safe::testing::RunCommand;
using safe::testing::ServerProcess;
using safe::testing::TempDir;
using safe::testing::WriteFile;

constexpr char kId[] = "ECHOECHO";
constexpr char kPassword[] = "shootdeathstar";

// A backup JSON as the iOS app writes it, with a key no schema version knows.
constexpr char kAppJson[] =
    R"({"info":{"version":1,"device":"iOS 7.2"},)"
    R"("user":{"privatekey":"dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=","nickname":"Echo",)"
    R"("profilePic":null,"profilePicRelease":["*"],"links":[]},)"
    R"("contacts":[{"identity":"ABCDEFGH","verification":1,"createdAt":1700000000000}],)"
    R"("groups":[],"settings":{"syncContacts":false,"syncExcludedIDs":[]},)"
    R"("futureKey":{"z":1,"a":[1,2,3]}})"
    "\n";

struct Outcome {
  int exit_code;
  std::string out;
  std::string err;
};

Outcome Client(std::vector<std::string> args) {
  args.insert(args.begin(), std::string(SAFE_BIN_DIR) + "/safe-client");
  Outcome r;
  r.exit_code = RunCommand(args, "", &r.out, &r.err);
  return r;
}

bool Exists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

// One device: a directory with the password file, as a person would keep it.
struct Device {
  TempDir dir;
  std::string password_file;
  explicit Device(const std::string& password = kPassword) {
    password_file = dir.path() + "/password";
    EXPECT_TRUE(WriteFile(password_file, password + "\n"));
  }
  std::string Path(const std::string& name) const { return dir.path() + "/" + name; }
};

std::vector<std::string> KeyArgs(const std::string& server, const Device& device,
                                 const std::string& kdf = "argon2id") {
  return {"--server", server, "--id", kId, "--kdf", kdf, "--password-file", device.password_file};
}

std::vector<std::string> Cat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Writes kAppJson to the device's backup.json and backs it up.
Outcome BackUpAppJson(const std::string& server, const Device& device, const std::string& kdf) {
  EXPECT_TRUE(WriteFile(device.Path("backup.json"), kAppJson));
  return Client(
      Cat({"backup"}, Cat(KeyArgs(server, device, kdf), {"--input", device.Path("backup.json")})));
}

TEST(ClientE2eTest, BacksUpThenRestoresOnANewDevice) {
  auto server = ServerProcess::Start();
  ASSERT_NE(server, nullptr);
  Device phone;
  EXPECT_TRUE(WriteFile(phone.Path("backup.json"), kAppJson));
  Outcome backup = Client(Cat(
      {"backup"}, Cat(KeyArgs(server->BaseUrl(), phone), {"--input", phone.Path("backup.json")})));
  ASSERT_EQ(backup.exit_code, 0) << backup.err;
  EXPECT_NE(backup.out.find("Backup stored"), std::string::npos);

  // The new device has nothing but the password.
  Device new_phone;
  const std::string restored = new_phone.Path("restored.json");
  Outcome restore =
      Client(Cat({"restore"}, Cat(KeyArgs(server->BaseUrl(), new_phone), {"--output", restored})));
  ASSERT_EQ(restore.exit_code, 0) << restore.err;
  EXPECT_EQ(ReadFile(restored), kAppJson);  // byte for byte, unknown keys included
  struct stat st {};
  ASSERT_EQ(stat(restored.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // Beside the restored file: the ETag of the backup it came from (issue 16), nothing else.
  EXPECT_EQ(ListDir(new_phone.dir.path()),
            (std::set<std::string>{"password", "restored.json", "restored.json.etag"}));

  // Uploading again replaces the backup.
  Outcome again = Client(Cat(
      {"backup"}, Cat(KeyArgs(server->BaseUrl(), phone), {"--input", phone.Path("backup.json")})));
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("replacing"), std::string::npos);
}

TEST(ClientE2eTest, InfoDeriveAndDelete) {
  auto server = ServerProcess::Start();
  ASSERT_NE(server, nullptr);
  Device phone;
  ASSERT_EQ(BackUpAppJson(server->BaseUrl(), phone, "scrypt").exit_code, 0);

  Outcome info = Client(Cat({"info"}, KeyArgs(server->BaseUrl(), phone, "scrypt")));
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_NE(info.out.find("Size: "), std::string::npos);
  EXPECT_NE(info.out.find("Last uploaded: "), std::string::npos);
  EXPECT_NE(info.out.find("Expires: "), std::string::npos);
  EXPECT_NE(info.out.find("The server stores nothing else about this backup: no address, no "
                          "account, no device."),
            std::string::npos);

  // derive prints the id the apps would use: Threema Safe's known answer for scrypt.
  Outcome derive =
      Client({"derive", "--id", kId, "--kdf", "scrypt", "--password-file", phone.password_file});
  ASSERT_EQ(derive.exit_code, 0) << derive.err;
  EXPECT_EQ(derive.out, "066384d3695fbbd9f31a7d533900fd0cd8d1373beb6a28678522d2a49980c9c3\n");

  Outcome del = Client(Cat({"delete"}, KeyArgs(server->BaseUrl(), phone, "scrypt")));
  ASSERT_EQ(del.exit_code, 0) << del.err;
  Outcome gone = Client(Cat({"info"}, KeyArgs(server->BaseUrl(), phone, "scrypt")));
  EXPECT_NE(gone.exit_code, 0);
  EXPECT_NE(gone.err.find("no backup found for this ID and password"), std::string::npos);
}

TEST(ClientE2eTest, WrongPasswordSaysNoBackupFoundAndWritesNothing) {
  auto server = ServerProcess::Start();
  ASSERT_NE(server, nullptr);
  Device phone;
  EXPECT_TRUE(WriteFile(phone.Path("backup.json"), kAppJson));
  ASSERT_EQ(Client(Cat({"backup"}, Cat(KeyArgs(server->BaseUrl(), phone),
                                       {"--input", phone.Path("backup.json")})))
                .exit_code,
            0);
  Device thief("shootdeathstaR");
  const std::string output = thief.Path("restored.json");
  Outcome r =
      Client(Cat({"restore"}, Cat(KeyArgs(server->BaseUrl(), thief), {"--output", output})));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.err.rfind("safe-client: no backup found for this ID and password (with --kdf "
                        "argon2id). The backup id is derived from the ID, the password and the key "
                        "derivation together",
                        0),
            0u)
      << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;  // one line
  EXPECT_FALSE(Exists(output));
  EXPECT_EQ(ListDir(thief.dir.path()), std::set<std::string>{"password"});
}

// The apps' side, done by the test: scrypt keys, a compressed gzip (as older Android builds
// wrote), secretbox, PUT with any HTTP client.
std::vector<uint8_t> AppStyleBlob(const std::string& json, const safe::SecretKey& key) {
  const std::vector<uint8_t> gz = crypto::testdata::CompressWithZlib(json, 9);
  return crypto::SealGzip(safe::SecretBytes(gz.data(), gz.size()), key);
}

void Upload(const std::string& base, const BackupId& id, const std::vector<uint8_t>& blob) {
  HttpClient http(HttpOptions{});
  SafeServerApi api(base, http);
  Result<bool> put = api.PutBackup(id, blob);
  ASSERT_TRUE(put.ok()) << put.status().ToString();
}

TEST(ClientE2eTest, RestoresABackupWrittenTheWayTheAppsWriteIt) {
  auto server = ServerProcess::Start();
  ASSERT_NE(server, nullptr);
  // Long and repetitive, so compression really happens.
  std::string json = R"({"info":{"version":1,"device":"Android 6.4"},)"
                     R"("user":{"privatekey":"dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo="},)"
                     R"("settings":{"blockUnknown":false},"contacts":[)";
  for (int i = 0; i < 50; ++i) {
    json += std::string(i ? "," : "") + R"({"identity":"ABCDEF)" + std::to_string(10 + i) +
            R"(","verification":0,"lastUpdate":1700000000000})";
  }
  json += R"(],"groups":[],"distributionlists":[]})";

  Result<crypto::DerivedKeys> keys =
      crypto::DeriveKeys(crypto::Kdf::kScrypt, *crypto::ThreemaId::Parse(kId),
                         safe::SecretBytes::FromString(kPassword));
  ASSERT_TRUE(keys.ok());
  std::vector<uint8_t> blob = AppStyleBlob(json, keys->key);
  ASSERT_LT(blob.size(), json.size());  // it is compressed
  Upload(server->BaseUrl(), keys->backup_id, blob);

  Device new_phone;
  const std::string restored = new_phone.Path("restored.json");
  Outcome r = Client(Cat(
      {"restore"}, Cat(KeyArgs(server->BaseUrl(), new_phone, "scrypt"), {"--output", restored})));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadFile(restored), json);
}

TEST(ClientE2eTest, CorruptedBlobIsReportedAndNoPartialFileIsLeft) {
  auto server = ServerProcess::Start();
  ASSERT_NE(server, nullptr);
  Result<crypto::DerivedKeys> keys =
      crypto::DeriveKeys(crypto::Kdf::kScrypt, *crypto::ThreemaId::Parse(kId),
                         safe::SecretBytes::FromString(kPassword));
  ASSERT_TRUE(keys.ok());
  std::vector<uint8_t> blob = AppStyleBlob(kAppJson, keys->key);
  blob[blob.size() / 2] ^= 0x01;
  Upload(server->BaseUrl(), keys->backup_id, blob);

  Device phone;
  const std::string output = phone.Path("restored.json");
  EXPECT_TRUE(WriteFile(output, "the previous restore"));
  Outcome r = Client(
      Cat({"restore"}, Cat(KeyArgs(server->BaseUrl(), phone, "scrypt"), {"--output", output})));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("corrupted or was made with another password"), std::string::npos) << r.err;
  EXPECT_EQ(ReadFile(output), "the previous restore");  // untouched
  EXPECT_EQ(ListDir(phone.dir.path()), (std::set<std::string>{"password", "restored.json"}));
}

TEST(ClientE2eTest, RefusesABackupLargerThanMaxBackupBytesBeforeUploading) {
  auto server = ServerProcess::Start({"--max-backup-bytes", "200"});
  ASSERT_NE(server, nullptr);
  Device phone;
  EXPECT_TRUE(WriteFile(phone.Path("backup.json"), kAppJson));
  Outcome config = Client({"config", "--server", server->BaseUrl()});
  ASSERT_EQ(config.exit_code, 0) << config.err;
  EXPECT_NE(config.out.find("maxBackupBytes: 200"), std::string::npos);

  Outcome r = Client(Cat({"backup"}, Cat(KeyArgs(server->BaseUrl(), phone, "scrypt"),
                                         {"--input", phone.Path("backup.json")})));
  EXPECT_NE(r.exit_code, 0);
  // Our own refusal, not the server's 413: nothing was sent.
  EXPECT_NE(r.err.find("the server accepts at most 200 bytes (maxBackupBytes), so it was not "
                       "uploaded"),
            std::string::npos)
      << r.err;
  Outcome info = Client(Cat({"info"}, KeyArgs(server->BaseUrl(), phone, "scrypt")));
  EXPECT_NE(info.err.find("no backup found"), std::string::npos);
}

TEST(ClientE2eTest, InvalidJsonIsRefusedBeforeAnythingIsSent) {
  auto server = ServerProcess::Start();
  ASSERT_NE(server, nullptr);
  Device phone;
  EXPECT_TRUE(
      WriteFile(phone.Path("backup.json"), R"({"info":{"version":2},"user":{},"settings":{}})"));
  Outcome r = Client(Cat({"backup"}, Cat(KeyArgs(server->BaseUrl(), phone, "scrypt"),
                                         {"--input", phone.Path("backup.json")})));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("schema version 2"), std::string::npos) << r.err;
}

TEST(ClientE2eTest, UnreachableServerHasItsOwnMessage) {
  auto server = ServerProcess::Start();
  ASSERT_NE(server, nullptr);
  const std::string url = server->BaseUrl();
  server->Kill9();
  Outcome r = Client({"config", "--server", url});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("cannot reach the server"), std::string::npos) << r.err;
}

// --- Basic auth -------------------------------------------------------------------------------

std::string HtpasswdLine(const std::string& user, const std::string& password) {
  uint8_t salt[16];
  randombytes_buf(salt, sizeof(salt));
  char encoded[256];
  EXPECT_EQ(argon2id_hash_encoded(2, 19456, 1, password.data(), password.size(), salt, sizeof(salt),
                                  32, encoded, sizeof(encoded)),
            ARGON2_OK);
  return user + ":" + encoded + "\n";
}

TEST(ClientE2eTest, BasicAuthWithFlagsOrUrlAndTheRefusals) {
  TempDir auth;
  const std::string htpasswd = auth.path() + "/htpasswd";
  EXPECT_TRUE(WriteFile(htpasswd, HtpasswdLine("alice", "server secret")));
  const std::string auth_pw = auth.path() + "/auth-password";
  EXPECT_TRUE(WriteFile(auth_pw, "server secret\n"));
  const std::string wrong_pw = auth.path() + "/wrong-password";
  EXPECT_TRUE(WriteFile(wrong_pw, "server secreT\n"));
  auto server = ServerProcess::Start({"--htpasswd", htpasswd});
  ASSERT_NE(server, nullptr);
  const std::string base = server->BaseUrl();

  Device phone;
  EXPECT_TRUE(WriteFile(phone.Path("backup.json"), kAppJson));
  // With --user and --auth-password-file.
  Outcome backup =
      Client(Cat({"backup", "--user", "alice", "--auth-password-file", auth_pw},
                 Cat(KeyArgs(base, phone, "scrypt"), {"--input", phone.Path("backup.json")})));
  ASSERT_EQ(backup.exit_code, 0) << backup.err;

  // With the credentials in the URL (http://alice:server%20secret@127.0.0.1:PORT/).
  const std::string with_userinfo = "http://alice:server%20secret@" + base.substr(7);
  Device new_phone;
  Outcome restore = Client(Cat({"restore"}, Cat(KeyArgs(with_userinfo, new_phone, "scrypt"),
                                                {"--output", new_phone.Path("r.json")})));
  ASSERT_EQ(restore.exit_code, 0) << restore.err;
  EXPECT_EQ(ReadFile(new_phone.Path("r.json")), kAppJson);

  // Without credentials: the server challenges.
  Outcome none = Client({"config", "--server", base});
  EXPECT_NE(none.exit_code, 0);
  EXPECT_NE(none.err.find("the server asks for a user name and password (HTTP 401)"),
            std::string::npos)
      << none.err;

  // With a wrong password.
  Outcome wrong =
      Client({"config", "--server", base, "--user", "alice", "--auth-password-file", wrong_pw});
  EXPECT_NE(wrong.exit_code, 0);
  EXPECT_NE(wrong.err.find("the server did not accept the user name and password (HTTP 401)"),
            std::string::npos)
      << wrong.err;
}

// docs/threema.md: the Android app sends the server password as Latin-1, with '?' for every
// character outside it. What it sends is reproduced here byte for byte.
TEST(ClientE2eTest, AndroidStyleLatin1ServerPasswordsWorkOnlyWithinLatin1) {
  TempDir auth;
  const std::string htpasswd = auth.path() + "/htpasswd";
  // The htpasswd is made from UTF-8, as safe-admin hash-password does.
  EXPECT_TRUE(WriteFile(htpasswd, HtpasswdLine("bob", "caf\xc3\xa9 secret") +
                                      HtpasswdLine("carol", "\xce\xa9mega secret")));
  auto server = ServerProcess::Start({"--htpasswd", htpasswd});
  ASSERT_NE(server, nullptr);
  auto config_as = [&](const std::string& user, const std::string& password_bytes) {
    const std::string file = auth.path() + "/pw-" + user;
    EXPECT_TRUE(WriteFile(file, password_bytes + "\n"));
    return Client(
        {"config", "--server", server->BaseUrl(), "--user", user, "--auth-password-file", file});
  };
  // Android: "café secret" as Latin-1 (0xE9) works.
  Outcome bob = config_as("bob", "caf\xe9 secret");
  EXPECT_EQ(bob.exit_code, 0) << bob.err;
  // Android: "Ωmega secret" arrives as "?mega secret" and can never work.
  Outcome carol = config_as("carol", "?mega secret");
  EXPECT_EQ(carol.exit_code, 1);
  EXPECT_NE(carol.err.find("did not accept the user name and password (HTTP 401)"),
            std::string::npos)
      << carol.err;
  // iOS and Desktop send UTF-8: the same password works from them.
  Outcome carol_utf8 = config_as("carol", "\xce\xa9mega secret");
  EXPECT_EQ(carol_utf8.exit_code, 0) << carol_utf8.err;
}

// --- HTTPS ------------------------------------------------------------------------------------

bool Openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string out, err;
  const int rc = RunCommand(argv, "", &out, &err);
  if (rc != 0) ADD_FAILURE() << "openssl failed: " << err;
  return rc == 0;
}

// A private CA and a server certificate for 127.0.0.1 signed by it, made with the openssl
// command.
struct TestPki {
  TempDir dir;
  std::string ca() const { return dir.path() + "/ca.pem"; }
  std::string cert() const { return dir.path() + "/server.pem"; }
  std::string key() const { return dir.path() + "/server.key"; }
  bool Make() {
    const std::string d = dir.path();
    EXPECT_TRUE(WriteFile(d + "/ext.cnf", "subjectAltName=IP:127.0.0.1,DNS:localhost\n"));
    return Openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", d + "/ca.key", "-out", ca(), "-days", "2", "-subj",
                    "/CN=safe-client test CA", "-addext", "basicConstraints=critical,CA:TRUE",
                    "-addext", "keyUsage=critical,keyCertSign,cRLSign"}) &&
           Openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", key(), "-out", d + "/server.csr", "-subj", "/CN=127.0.0.1"}) &&
           Openssl({"x509", "-req", "-in", d + "/server.csr", "-CA", ca(), "-CAkey", d + "/ca.key",
                    "-CAcreateserial", "-out", cert(), "-days", "2", "-extfile", d + "/ext.cnf"});
  }
};

TEST(ClientE2eTest, HttpsWithAPrivateCa) {
  TestPki pki;
  ASSERT_TRUE(pki.Make());
  auto server = ServerProcess::Start({"--tls-cert", pki.cert(), "--tls-key", pki.key()});
  ASSERT_NE(server, nullptr);
  const std::string base = server->BaseUrl();
  ASSERT_EQ(base.rfind("https://", 0), 0u) << base;

  // Not trusted without --cacert.
  Outcome untrusted = Client({"config", "--server", base});
  EXPECT_NE(untrusted.exit_code, 0);
  EXPECT_NE(untrusted.err.find("TLS failure"), std::string::npos) << untrusted.err;

  Device phone;
  EXPECT_TRUE(WriteFile(phone.Path("backup.json"), kAppJson));
  Outcome backup =
      Client(Cat({"backup", "--cacert", pki.ca()},
                 Cat(KeyArgs(base, phone, "scrypt"), {"--input", phone.Path("backup.json")})));
  ASSERT_EQ(backup.exit_code, 0) << backup.err;
  EXPECT_EQ(backup.err.find("warning"), std::string::npos);
  Device new_phone;
  Outcome restore =
      Client(Cat({"restore", "--cacert", pki.ca()},
                 Cat(KeyArgs(base, new_phone, "scrypt"), {"--output", new_phone.Path("r.json")})));
  ASSERT_EQ(restore.exit_code, 0) << restore.err;
  EXPECT_EQ(ReadFile(new_phone.Path("r.json")), kAppJson);
}

// --- Moving the ID ----------------------------------------------------------------------------

TEST(ClientE2eTest, ExportsAndImportsTheIdFromARestoredBackup) {
  Device phone;
  EXPECT_TRUE(WriteFile(phone.Path("backup.json"), kAppJson));
  const std::string export_pw = phone.Path("export-password");
  EXPECT_TRUE(WriteFile(export_pw, "correct horse battery\n"));
  const std::string png = phone.Path("id.png");
  Outcome exp = Client({"export-id", "--id", "echoecho", "--input", phone.Path("backup.json"),
                        "--password-file", export_pw, "--qr-png", png});
  ASSERT_EQ(exp.exit_code, 0) << exp.err;
  ASSERT_EQ(exp.out.size(), 100u) << exp.out;  // 80 characters, 19 dashes, a newline
  const std::string text = exp.out.substr(0, 99);
  const std::string png_bytes = ReadFile(png);
  EXPECT_EQ(png_bytes.substr(0, 8), "\x89PNG\r\n\x1a\n");

  Outcome qr = Client({"export-id", "--id", kId, "--input", phone.Path("backup.json"),
                       "--password-file", export_pw, "--qr"});
  ASSERT_EQ(qr.exit_code, 0) << qr.err;
  EXPECT_NE(qr.out.find("\u2588"), std::string::npos);

  Outcome imp = Client({"import-id", "--export", text, "--password-file", export_pw});
  ASSERT_EQ(imp.exit_code, 0) << imp.err;
  // RFC 7748 section 6.1: the public key of Alice's private key, which the backup holds.
  EXPECT_EQ(imp.out,
            "ID: ECHOECHO\n"
            "Public key: 8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a\n");

  EXPECT_TRUE(WriteFile(export_pw, "correct horse batterY\n"));
  Outcome wrong = Client({"import-id", "--export", text, "--password-file", export_pw});
  EXPECT_NE(wrong.exit_code, 0);
  EXPECT_NE(wrong.err.find("wrong password"), std::string::npos) << wrong.err;
}

TEST(ClientE2eTest, UsageErrorsAndVersion) {
  Outcome version = Client({"--version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_EQ(version.out.rfind("safe-client ", 0), 0u) << version.out;
  EXPECT_EQ(Client({}).exit_code, 2);
  EXPECT_EQ(Client({"backup", "--id", kId}).exit_code, 2);  // --server and --input missing
  EXPECT_EQ(Client({"derive", "--id", kId, "--kdf", "md5"}).exit_code, 2);
  // There is no way to give the backup password as an argument.
  EXPECT_EQ(Client({"derive", "--id", kId, "--password", kPassword}).exit_code, 2);
}

// --- Errors that point at the cause (issue 13) -------------------------------------------------

// A loopback HTTP listener that is not a Safe server. Each request gets what `answer` returns for
// its request line ("GET /config HTTP/1.1"), after which the connection is closed; an empty
// answer holds the connection open and silent until the listener is destroyed. A socket listening
// on a free loopback port; *addr receives its address.
int LoopbackListener(int backlog, sockaddr_in* addr) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  *addr = sockaddr_in{};
  addr->sin_family = AF_INET;
  addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(*addr);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(addr), sizeof(*addr)), 0);
  EXPECT_EQ(listen(fd, backlog), 0);
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(addr), &len), 0);
  return fd;
}

class FakeServer {
 public:
  explicit FakeServer(std::function<std::string(const std::string&)> answer)
      : answer_(std::move(answer)) {
    sockaddr_in addr{};
    listener_ = LoopbackListener(16, &addr);
    port_ = ntohs(addr.sin_port);
    EXPECT_EQ(pipe2(stop_, O_CLOEXEC), 0);
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeServer() {
    EXPECT_EQ(write(stop_[1], "x", 1), 1);
    thread_.join();
    for (int fd : held_) close(fd);
    close(listener_);
    close(stop_[0]);
    close(stop_[1]);
  }
  std::string BaseUrl() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }

 private:
  void Serve() {
    for (;;) {
      pollfd fds[2] = {{listener_, POLLIN, 0}, {stop_[0], POLLIN, 0}};
      if (poll(fds, 2, -1) < 0) return;
      if (fds[1].revents != 0) return;
      const int fd = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      std::string request;
      char buf[4096];
      while (request.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0) break;
        request.append(buf, static_cast<size_t>(n));
      }
      const std::string answer = answer_(request.substr(0, request.find("\r\n")));
      if (answer.empty()) {
        held_.push_back(fd);
        continue;
      }
      EXPECT_EQ(write(fd, answer.data(), answer.size()), static_cast<ssize_t>(answer.size()));
      close(fd);
    }
  }

  std::function<std::string(const std::string&)> answer_;
  int listener_ = -1;
  int stop_[2] = {-1, -1};
  uint16_t port_ = 0;
  std::vector<int> held_;  // used by the serving thread only, until it is joined
  std::thread thread_;
};

std::string HttpAnswer(const std::string& status, const std::string& type,
                       const std::string& body) {
  return "HTTP/1.1 " + status + "\r\nContent-Type: " + type +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" +
         body;
}

bool HasBackupId(const std::string& text) {
  return std::regex_search(text, std::regex("[0-9a-f]{64}"));
}

TEST(ClientE2eTest, AWrongServerPathIsNotASafeServerNotAMissingBackup) {
  auto server = ServerProcess::Start();
  ASSERT_NE(server, nullptr);
  Device phone;
  ASSERT_EQ(BackUpAppJson(server->BaseUrl(), phone, "scrypt").exit_code, 0);
  const std::string wrong = server->BaseUrl() + "threema-safe/";
  const std::string expected = wrong + " is not a Safe server: GET config answered HTTP 404";
  const std::string output = phone.Path("restored.json");
  for (const std::vector<std::string>& command :
       {std::vector<std::string>{"restore", "--output", output},
        {"info"},
        {"delete"},
        {"backup", "--input", phone.Path("backup.json")}}) {
    Outcome r = Client(Cat(command, KeyArgs(wrong, phone, "scrypt")));
    EXPECT_EQ(r.exit_code, 1) << command[0];
    EXPECT_NE(r.err.find(expected), std::string::npos) << command[0] << ": " << r.err;
    EXPECT_EQ(r.err.find("no backup found"), std::string::npos) << command[0] << ": " << r.err;
  }
  EXPECT_FALSE(Exists(output));
  Outcome config = Client({"config", "--server", wrong});
  EXPECT_NE(config.err.find(expected), std::string::npos) << config.err;
  // The backup is still there, under the right URL.
  EXPECT_EQ(Client(Cat({"info"}, KeyArgs(server->BaseUrl(), phone, "scrypt"))).exit_code, 0);

  // A web site that answers everything with a page.
  FakeServer site([](const std::string&) {
    return HttpAnswer("200 OK", "text/html", "<html><body>Welcome</body></html>");
  });
  Outcome page = Client(Cat({"restore", "--output", output}, KeyArgs(site.BaseUrl(), phone)));
  EXPECT_EQ(page.exit_code, 1);
  EXPECT_NE(
      page.err.find(site.BaseUrl() + " is not a Safe server: its config answer is not JSON with "
                                     "maxBackupBytes and retentionDays"),
      std::string::npos)
      << page.err;
  EXPECT_FALSE(Exists(output));
}

TEST(ClientE2eTest, AppBackupLookedUpWithTheDefaultKdfPointsAtScrypt) {
  auto server = ServerProcess::Start();
  ASSERT_NE(server, nullptr);
  Device phone;
  Outcome backup = BackUpAppJson(server->BaseUrl(), phone, "scrypt");
  ASSERT_EQ(backup.exit_code, 0) << backup.err;
  EXPECT_EQ(backup.err.find("note:"), std::string::npos) << backup.err;  // scrypt: apps can read it

  // The same ID and password, but the default key derivation: another backup id.
  for (const char* command : {"restore", "info", "delete"}) {
    std::vector<std::string> args = {command, "--server",        server->BaseUrl(),  "--id",
                                     kId,     "--password-file", phone.password_file};
    if (std::string(command) == "restore") args = Cat(args, {"--output", phone.Path("r.json")});
    Outcome r = Client(args);
    EXPECT_EQ(r.exit_code, 1) << command;
    EXPECT_NE(r.err.find("no backup found for this ID and password (with --kdf argon2id)"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("a backup made by a Threema app needs --kdf scrypt"), std::string::npos)
        << r.err;
    EXPECT_FALSE(HasBackupId(r.err)) << r.err;
  }
  // And the other way round.
  Device other("another long password");
  Outcome r = Client(Cat({"info"}, KeyArgs(server->BaseUrl(), other, "scrypt")));
  EXPECT_NE(r.err.find("(with --kdf scrypt)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("a backup safe-client made with its default needs --kdf argon2id"),
            std::string::npos)
      << r.err;
}

TEST(ClientE2eTest, TheKdfChoiceSaysTheAppsNeedScrypt) {
  for (const char* command : {"backup", "restore", "derive"}) {
    Outcome help = Client({command, "--help"});
    EXPECT_EQ(help.exit_code, 0);
    EXPECT_NE(help.out.find("scrypt (the Threema apps': use it for any backup an app must read"),
              std::string::npos)
        << help.out;
    EXPECT_NE(help.out.find("the apps cannot read such a backup"), std::string::npos) << help.out;
  }
  auto server = ServerProcess::Start();
  ASSERT_NE(server, nullptr);
  Device phone;
  Outcome backup = BackUpAppJson(server->BaseUrl(), phone, "argon2id");
  ASSERT_EQ(backup.exit_code, 0) << backup.err;
  EXPECT_NE(backup.err.find("note: --kdf argon2id: only safe-client can read this backup, the "
                            "Threema apps cannot; use --kdf scrypt"),
            std::string::npos)
      << backup.err;
}

TEST(ClientE2eTest, AUrlWithoutSchemeSaysHttpsIsMissing) {
  auto server = ServerProcess::Start();
  ASSERT_NE(server, nullptr);
  const std::string without = server->BaseUrl().substr(std::string("http://").size());
  Outcome r = Client({"config", "--server", without});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("the server URL has no scheme: https:// is missing"), std::string::npos)
      << r.err;
}

TEST(ClientE2eTest, ASilentServerShowsTheWaitAndTimesOutAsSet) {
  // Answers /config as a Safe server would, then never answers the backup request.
  FakeServer silent([](const std::string& request_line) -> std::string {
    if (request_line.find(" /config ") == std::string::npos) return "";
    return HttpAnswer("200 OK", "application/json",
                      R"({"maxBackupBytes":524288,"retentionDays":180})");
  });
  Device phone;
  const auto start = std::chrono::steady_clock::now();
  Outcome r = Client(Cat({"restore", "--output", phone.Path("r.json"), "--timeout", "4"},
                         KeyArgs(silent.BaseUrl(), phone, "scrypt")));
  const auto seconds =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start)
          .count();
  EXPECT_EQ(r.exit_code, 1);
  const std::string host = silent.BaseUrl().substr(7, silent.BaseUrl().size() - 8);
  EXPECT_NE(r.err.find("safe-client: waiting for " + host + "...\n"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("the server stopped answering: nothing arrived for 4 seconds (--timeout)"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(HasBackupId(r.err)) << r.err;  // the request's URL holds it; the notice does not
  EXPECT_LT(seconds, 20) << r.err;            // not the default, and not forever
  EXPECT_FALSE(Exists(phone.Path("r.json")));

  Outcome bad = Client({"config", "--server", silent.BaseUrl(), "--timeout", "0"});
  EXPECT_EQ(bad.exit_code, 2);
  Outcome help = Client({"config", "--help"});
  EXPECT_NE(help.out.find("--connect-timeout"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("--timeout"), std::string::npos) << help.out;
}

TEST(ClientE2eTest, AServerThatNeverAcceptsTimesOutAfterConnectTimeout) {
  // A listener whose accept queue is full: Linux drops further SYNs, so a connect never finishes.
  sockaddr_in addr{};
  const int listener = LoopbackListener(0, &addr);
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));  // EINPROGRESS is expected
    fillers.push_back(fd);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const std::string host = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  Outcome r = Client({"config", "--server", "http://" + host + "/", "--connect-timeout", "4"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("safe-client: waiting for " + host + "...\n"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("cannot reach the server: no connection within 4 seconds "
                       "(--connect-timeout)"),
            std::string::npos)
      << r.err;
  for (int fd : fillers) close(fd);
  close(listener);
}

TEST(ClientE2eTest, TheUserHintNamesAuthPasswordFile) {
  // No controlling terminal (setsid), as under cron or in a script.
  for (const std::string& server :
       {std::string("http://alice@127.0.0.1:9/"), std::string("http://127.0.0.1:9/")}) {
    std::vector<std::string> args = {
        "setsid", "-w", std::string(SAFE_BIN_DIR) + "/safe-client", "config", "--server", server};
    if (server.find('@') == std::string::npos) args = Cat(args, {"--user", "alice"});
    Outcome r;
    r.exit_code = RunCommand(args, "", &r.out, &r.err);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("no terminal to ask for the password on: use --auth-password-file"),
              std::string::npos)
        << r.err;
  }
}

TEST(ClientE2eTest, AMissingOutputDirectoryIsNamedBeforeAnythingIsFetched) {
  auto server = ServerProcess::Start();
  ASSERT_NE(server, nullptr);
  const std::string url = server->BaseUrl();
  server->Kill9();  // nothing may be fetched: the directory is checked first
  Device phone;
  const std::string missing = phone.Path("restored");
  Outcome r =
      Client(Cat({"restore", "--output", missing + "/backup.json"}, KeyArgs(url, phone, "scrypt")));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "safe-client: --output " + missing + "/backup.json: the directory " + missing +
                       " does not exist; create it first (mkdir -p " + missing + ")\n");
  EXPECT_EQ(ListDir(phone.dir.path()), std::set<std::string>{"password"});

  EXPECT_TRUE(WriteFile(phone.Path("backup.json"), kAppJson));
  Outcome png = Client({"export-id", "--id", kId, "--input", phone.Path("backup.json"),
                        "--password-file", phone.password_file, "--qr-png", missing + "/id.png"});
  EXPECT_EQ(png.exit_code, 1);
  EXPECT_NE(
      png.err.find("--qr-png " + missing + "/id.png: the directory " + missing + " does not exist"),
      std::string::npos)
      << png.err;
  EXPECT_EQ(png.out, "");  // the export was not printed either
}

// --- The documentation's commands (issue 13) ---------------------------------------------------

// The ```sh blocks of docs/client.md, in order, continuation lines joined.
std::vector<std::string> DocumentedShellBlocks() {
  std::ifstream doc(std::string(SAFE_SOURCE_DIR) + "/docs/client.md");
  std::vector<std::string> blocks;
  std::string line;
  bool in_sh = false;
  while (std::getline(doc, line)) {
    const size_t indent = line.find_first_not_of(' ');
    const std::string trimmed = indent == std::string::npos ? "" : line.substr(indent);
    if (!in_sh && trimmed == "```sh") {
      in_sh = true;
      blocks.emplace_back();
    } else if (in_sh && trimmed == "```") {
      in_sh = false;
    } else if (in_sh) {
      blocks.back() += trimmed + "\n";
    }
  }
  return blocks;
}

// Every option that `safe-client <command> --help` lists is in safe-client(1) and docs/client.md.
TEST(ClientE2eTest, TheManPageAndClientMdNameEveryOption) {
  std::string man = ReadFile(std::string(SAFE_SOURCE_DIR) + "/docs/man/safe-client.1");
  man = std::regex_replace(man, std::regex(R"(\\-)"), "-");
  const std::string md = ReadFile(std::string(SAFE_SOURCE_DIR) + "/docs/client.md");
  ASSERT_FALSE(man.empty());
  ASSERT_FALSE(md.empty());
  std::set<std::string> options;
  for (const char* command : {"config", "derive", "backup", "restore", "versions", "delete", "info",
                              "export-id", "import-id"}) {
    const std::string help = Client({command, "--help"}).out;
    const std::regex option("  (--[a-z][a-z-]*)");
    for (std::sregex_iterator it(help.begin(), help.end(), option), end; it != end; ++it) {
      options.insert((*it)[1]);
    }
  }
  EXPECT_GT(options.size(), 10u);
  for (const std::string& option : options) {
    if (option == "--help") continue;
    EXPECT_NE(man.find(option), std::string::npos) << "safe-client(1) lacks " << option;
    EXPECT_NE(md.find(option), std::string::npos) << "docs/client.md lacks " << option;
  }
}

TEST(ClientE2eTest, TheSampleIdentityWorksWithTheDocumentedCommands) {
  const std::vector<std::string> blocks = DocumentedShellBlocks();
  ASSERT_GE(blocks.size(), 3u);
  const std::string sample_path = std::string(SAFE_SOURCE_DIR) + "/docs/examples/identity.json";
  const std::string sample = ReadFile(sample_path);
  ASSERT_FALSE(sample.empty());

  auto server = ServerProcess::Start();
  ASSERT_NE(server, nullptr);
  TempDir home;
  std::string script = "set -e\ncd '" + home.path() + "'\nexport HOME='" + home.path() +
                       "'\nexport PATH='" + SAFE_BIN_DIR + "':\"$PATH\"\ncp '" + sample_path +
                       "' identity.json\n";
  for (std::string block : blocks) {
    // App-facing examples use the apps' key derivation.
    std::regex command(R"(safe-client (backup|restore|info|delete)[^\n]*(\\\n[^\n]*)*)");
    for (std::sregex_iterator it(block.begin(), block.end(), command), end; it != end; ++it) {
      EXPECT_NE(it->str().find("--kdf scrypt"), std::string::npos) << it->str();
    }
    script +=
        std::regex_replace(block, std::regex("https://safe\\.example\\.org/"), server->BaseUrl());
  }
  Outcome r;
  r.exit_code = RunCommand({"sh", "-c", script}, "", &r.out, &r.err);
  ASSERT_EQ(r.exit_code, 0) << script << "\n" << r.out << r.err;
  EXPECT_EQ(ReadFile(home.path() + "/restored.json"), sample);
  // export-id printed the ID export: 80 characters in groups of 4.
  EXPECT_TRUE(std::regex_search(r.out, std::regex("([A-Z2-7]{4}-){19}[A-Z2-7]{4}"))) << r.out;
}

// Issue 16: a device whose copy is stale cannot replace a newer backup by accident, while the
// apps' plain PUT still works; the replaced uploads stay restorable as versions.
TEST(ClientE2eTest, AStaleDeviceCannotReplaceANewerBackupButTheAppsPlainPutWorks) {
  auto server = ServerProcess::Start();
  ASSERT_NE(server, nullptr);
  const std::string base = server->BaseUrl();
  Device laptop;
  Device tablet;
  ASSERT_EQ(BackUpAppJson(base, laptop, "scrypt").exit_code, 0);
  const std::string laptop_etag = ReadFile(laptop.Path("backup.json.etag"));
  EXPECT_EQ(laptop_etag.size(), 32u + 1 + 34 + 1) << laptop_etag;  // "<key> \"<32 hex>\"\n"
  // The backup id is not in the ETag file, in any spelling.
  Outcome derive =
      Client({"derive", "--id", kId, "--kdf", "scrypt", "--password-file", laptop.password_file});
  ASSERT_EQ(derive.exit_code, 0);
  const std::string id_hex = derive.out.substr(0, 64);
  EXPECT_EQ(laptop_etag.find(id_hex), std::string::npos);

  // The tablet has never seen the backup: it refuses to replace it.
  Outcome blind = BackUpAppJson(base, tablet, "scrypt");
  EXPECT_EQ(blind.exit_code, 1);
  EXPECT_NE(blind.err.find("that this device has not seen"), std::string::npos) << blind.err;
  EXPECT_NE(blind.err.find("--force"), std::string::npos) << blind.err;
  // After a restore it may.
  ASSERT_EQ(Client(Cat({"restore"}, Cat(KeyArgs(base, tablet, "scrypt"),
                                        {"--output", tablet.Path("backup.json")})))
                .exit_code,
            0);
  Outcome tablet_backup = Client(Cat(
      {"backup"}, Cat(KeyArgs(base, tablet, "scrypt"), {"--input", tablet.Path("backup.json")})));
  ASSERT_EQ(tablet_backup.exit_code, 0) << tablet_backup.err;

  // The laptop's copy is now stale: refused, and the server keeps the tablet's upload.
  Outcome stale = Client(Cat(
      {"backup"}, Cat(KeyArgs(base, laptop, "scrypt"), {"--input", laptop.Path("backup.json")})));
  EXPECT_EQ(stale.exit_code, 1);
  EXPECT_NE(stale.err.find("has changed since this device last saw it"), std::string::npos)
      << stale.err;
  EXPECT_EQ(ReadFile(laptop.Path("backup.json.etag")), laptop_etag);  // unchanged

  // The app's plain PUT (no condition) is accepted as ever.
  HttpClient http(HttpOptions{});
  const std::vector<uint8_t> app_blob(300, 0x42);
  Result<HttpResponse> put =
      http.Put(base + "backups/" + id_hex, app_blob, "application/octet-stream");
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(put->status, 204);
  ASSERT_NE(put->Header("etag"), nullptr);

  // Three uploads were replaced: the versions list them, newest first, without the app's blob.
  Outcome versions = Client(Cat({"versions"}, KeyArgs(base, laptop, "scrypt")));
  ASSERT_EQ(versions.exit_code, 0) << versions.err;
  EXPECT_NE(versions.out.find("version 1: "), std::string::npos) << versions.out;
  EXPECT_NE(versions.out.find("version 2: "), std::string::npos) << versions.out;
  EXPECT_EQ(versions.out.find("version 3: "), std::string::npos) << versions.out;

  // Version 1 is the tablet's backup: restore it, then --force is not needed to put it back.
  const std::string old = laptop.Path("old.json");
  Outcome restore_old = Client(
      Cat({"restore"}, Cat(KeyArgs(base, laptop, "scrypt"), {"--version", "1", "--output", old})));
  ASSERT_EQ(restore_old.exit_code, 0) << restore_old.err;
  EXPECT_EQ(ReadFile(old), kAppJson);
  Outcome missing = Client(Cat({"restore"}, Cat(KeyArgs(base, laptop, "scrypt"),
                                                {"--version", "9", "--output", old + "9"})));
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("no version 9"), std::string::npos) << missing.err;
  Outcome put_back =
      Client(Cat({"backup"}, Cat(KeyArgs(base, laptop, "scrypt"), {"--input", old})));
  ASSERT_EQ(put_back.exit_code, 0) << put_back.err;

  // --force replaces whatever is there.
  Outcome forced = Client(Cat({"backup"}, Cat(KeyArgs(base, tablet, "scrypt"),
                                              {"--input", tablet.Path("backup.json"), "--force"})));
  EXPECT_EQ(forced.exit_code, 0) << forced.err;
}

}  // namespace
}  // namespace safe::client
