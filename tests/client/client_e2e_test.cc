// End to end: the safe-client binary against the real safe-server on a free loopback port.
// Each test starts its own server (tests/support/server_process.h) and drives safe-client as a
// subprocess with --password-file, as a person would.

#include <argon2.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <sodium.h>
#include <sys/stat.h>
#include <zlib.h>

#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "crypto/blob.h"
#include "crypto/kdf.h"
#include "safe-client/http_client.h"
#include "safe-client/server_api.h"
#include "tests/support/server_process.h"

namespace safe::client {
namespace {

using safe::testing::RunCommand;
using safe::testing::ServerProcess;
using safe::testing::TempDir;

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

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream f(path, std::ios::binary);
  f << content;
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

bool Exists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

std::set<std::string> List(const std::string& dir) {
  std::set<std::string> names;
  DIR* d = opendir(dir.c_str());
  while (dirent* e = readdir(d)) {
    const std::string n = e->d_name;
    if (n != "." && n != "..") names.insert(n);
  }
  closedir(d);
  return names;
}

// One device: a directory with the password file, as a person would keep it.
struct Device {
  TempDir dir;
  std::string password_file;
  explicit Device(const std::string& password = kPassword) {
    password_file = dir.path() + "/password";
    WriteFile(password_file, password + "\n");
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

TEST(ClientE2eTest, BacksUpThenRestoresOnANewDevice) {
  auto server = ServerProcess::Start();
  ASSERT_NE(server, nullptr);
  Device phone;
  WriteFile(phone.Path("backup.json"), kAppJson);
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
  EXPECT_EQ(List(new_phone.dir.path()), (std::set<std::string>{"password", "restored.json"}));

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
  WriteFile(phone.Path("backup.json"), kAppJson);
  ASSERT_EQ(Client(Cat({"backup"}, Cat(KeyArgs(server->BaseUrl(), phone, "scrypt"),
                                       {"--input", phone.Path("backup.json")})))
                .exit_code,
            0);

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
  WriteFile(phone.Path("backup.json"), kAppJson);
  ASSERT_EQ(Client(Cat({"backup"}, Cat(KeyArgs(server->BaseUrl(), phone),
                                       {"--input", phone.Path("backup.json")})))
                .exit_code,
            0);
  Device thief("shootdeathstaR");
  const std::string output = thief.Path("restored.json");
  Outcome r =
      Client(Cat({"restore"}, Cat(KeyArgs(server->BaseUrl(), thief), {"--output", output})));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.err, "safe-client: no backup found for this ID and password\n");
  EXPECT_FALSE(Exists(output));
  EXPECT_EQ(List(thief.dir.path()), std::set<std::string>{"password"});
}

// The apps' side, done by the test: scrypt keys, a compressed gzip (as older Android builds
// wrote), secretbox, PUT with any HTTP client.
std::vector<uint8_t> AppStyleBlob(const std::string& json, const crypto::SecretKey& key) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY), Z_OK);
  std::vector<uint8_t> gz(deflateBound(&zs, json.size()));
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(json.data()));
  zs.avail_in = json.size();
  zs.next_out = gz.data();
  zs.avail_out = gz.size();
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  gz.resize(zs.total_out);
  deflateEnd(&zs);
  return crypto::SealGzip(crypto::SecretBytes(gz.data(), gz.size()), key);
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
                         crypto::SecretBytes::FromString(kPassword));
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
                         crypto::SecretBytes::FromString(kPassword));
  ASSERT_TRUE(keys.ok());
  std::vector<uint8_t> blob = AppStyleBlob(kAppJson, keys->key);
  blob[blob.size() / 2] ^= 0x01;
  Upload(server->BaseUrl(), keys->backup_id, blob);

  Device phone;
  const std::string output = phone.Path("restored.json");
  WriteFile(output, "the previous restore");
  Outcome r = Client(
      Cat({"restore"}, Cat(KeyArgs(server->BaseUrl(), phone, "scrypt"), {"--output", output})));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("corrupted or was made with another password"), std::string::npos) << r.err;
  EXPECT_EQ(ReadFile(output), "the previous restore");  // untouched
  EXPECT_EQ(List(phone.dir.path()), (std::set<std::string>{"password", "restored.json"}));
}

TEST(ClientE2eTest, RefusesABackupLargerThanMaxBackupBytesBeforeUploading) {
  auto server = ServerProcess::Start({"--max-backup-bytes", "200"});
  ASSERT_NE(server, nullptr);
  Device phone;
  WriteFile(phone.Path("backup.json"), kAppJson);
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
  WriteFile(phone.Path("backup.json"), R"({"info":{"version":2},"user":{},"settings":{}})");
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
  WriteFile(htpasswd, HtpasswdLine("alice", "server secret"));
  const std::string auth_pw = auth.path() + "/auth-password";
  WriteFile(auth_pw, "server secret\n");
  const std::string wrong_pw = auth.path() + "/wrong-password";
  WriteFile(wrong_pw, "server secreT\n");
  auto server = ServerProcess::Start({"--htpasswd", htpasswd});
  ASSERT_NE(server, nullptr);
  const std::string base = server->BaseUrl();

  Device phone;
  WriteFile(phone.Path("backup.json"), kAppJson);
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

// --- HTTPS ------------------------------------------------------------------------------------

bool Openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string out, err;
  const int rc = RunCommand(argv, "", &out, &err);
  if (rc != 0) ADD_FAILURE() << "openssl failed: " << err;
  return rc == 0;
}

// A private CA and a server certificate for 127.0.0.1 signed by it, made with the openssl command.
struct TestPki {
  TempDir dir;
  std::string ca() const { return dir.path() + "/ca.pem"; }
  std::string cert() const { return dir.path() + "/server.pem"; }
  std::string key() const { return dir.path() + "/server.key"; }
  bool Make() {
    const std::string d = dir.path();
    WriteFile(d + "/ext.cnf", "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
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
  WriteFile(phone.Path("backup.json"), kAppJson);
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
  WriteFile(phone.Path("backup.json"), kAppJson);
  const std::string export_pw = phone.Path("export-password");
  WriteFile(export_pw, "correct horse battery\n");
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

  WriteFile(export_pw, "correct horse batterY\n");
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

}  // namespace
}  // namespace safe::client
