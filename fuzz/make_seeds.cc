// make_seeds: writes the seed corpora of the fuzz targets (fuzz/corpus/<target>/), small valid
// and near-valid inputs made with the project's own writers (HashPasswordArgon2id, SealBackup,
// GzipStored, the ID export of the known-answer test) so that they stay in step with the code.
//
// Usage: make_seeds DIR   (scripts/sanitize does not run it: the seeds are kept in the repository;
// run it by hand after a format changes, then review the diff.)

#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "crypto/blob.h"
#include "crypto/gzip.h"
#include "fuzz/crypto_fuzz_util.h"
#include "safe-server/service/auth.h"
#include "tests/crypto/test_data.h"

namespace {

std::string root;

void Write(const std::string& target, const std::string& name, const void* data, size_t size) {
  std::string dir = root + "/" + target;
  mkdir(root.c_str(), 0755);
  mkdir(dir.c_str(), 0755);
  std::string path = dir + "/" + name;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr || (size > 0 && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
    std::fprintf(stderr, "make_seeds: cannot write %s\n", path.c_str());
    std::exit(1);
  }
}

void Write(const std::string& target, const std::string& name, const std::string& text) {
  Write(target, name, text.data(), text.size());
}

std::string ReadFile(const std::string& path) {
  std::string out;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    std::fprintf(stderr, "make_seeds: cannot read %s\n", path.c_str());
    std::exit(1);
  }
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) out.append(buffer, n);
  std::fclose(f);
  return out;
}

constexpr char kId[] = "066384d3695fbbd9f31a7d533900fd0cd8d1373beb6a28678522d2a49980c9c3";

void BackupIdSeeds() {
  Write("backup_id_fuzz", "valid", kId);
  Write("backup_id_fuzz", "uppercase",
        "066384D3695FBBD9F31A7D533900FD0CD8D1373BEB6A28678522D2A49980C9C3");
  Write("backup_id_fuzz", "short", std::string(kId).substr(0, 63));
  Write("backup_id_fuzz", "prefixed", std::string("0x") + kId);
  Write("backup_id_fuzz", "newline", std::string(kId) + "\n");
}

void ConfigSeeds(const std::string& source_dir) {
  Write("config_fuzz", "example", ReadFile(source_dir + "/conf/safe-server.conf"));
  Write("config_fuzz", "small", "listen = [::1]:0\nthreads = 8\nretention-days = 30\n");
  Write("config_fuzz", "quoted", "auth-realm = \"My Safe\"  # comment\ndata-dir = /var/lib/x\n");
  Write("config_fuzz", "unknown_key", "listen = 127.0.0.1:8080\nno-such-key = 1\n");
  Write("config_fuzz", "section", "[server]\nthreads = 2\n");
  Write("config_fuzz", "bad_values",
        "max-backup-bytes = 1e6\ntrusted-proxies = 10.0.0.0/33\nlisten = localhost\n");
  // Found by config_fuzz (docs/fuzzing.md, finding 1): control bytes in the trusted-proxies error.
  Write("config_fuzz", "trusted_proxies_control_bytes",
        std::string("trusted-proxies=\0\r\x01", 19));
  Write("config_fuzz", "proxies",
        "trusted-proxies = 127.0.0.1, ::1/128, 10.0.0.0/8\n"
        "request-burst = 10\nrequest-rate = 1\n");
}

// htpasswd_fuzz checks the header of one input in four (byte sum divisible by 4): trailing tabs,
// which the header parser trims, make a seed one of them.
std::string CheckedHeader(std::string seed) {
  auto sum = [](const std::string& text) {
    unsigned n = 0;
    for (unsigned char c : text) n += c;
    return n;
  };
  while (sum(seed) % 4 != 0) seed += '\t';
  return seed;
}

void HtpasswdSeeds() {
  auto hash = safe::server::HashPasswordArgon2id("pw");
  if (!hash.ok()) {
    std::fprintf(stderr, "make_seeds: %s\n", hash.status().ToString().c_str());
    std::exit(1);
  }
  const std::string line = "user:" + *hash + "\n";
  Write("htpasswd_fuzz", "valid", "# comment\n" + line + "\r\n");
  Write("htpasswd_fuzz", "valid_then_header", line + std::string(1, '\0') + "Basic dXNlcjpwdw==");
  // A bad file, so that the header is checked against the fixed user fuzz:pw.
  Write("htpasswd_fuzz", "bcrypt_then_header",
        CheckedHeader(
            std::string("u:$2y$05$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui\n") + '\0' +
            "Basic ZnV6ejpwdw=="));
  Write("htpasswd_fuzz", "twice_then_wrong",
        CheckedHeader(line + line + '\0' + "basic  ZnV6ejp3cm9uZw==  "));
  Write("htpasswd_fuzz", "bounds", "u:$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g\n");
  Write("htpasswd_fuzz", "latin1_header",
        CheckedHeader(std::string("x\n") + '\0' + "Basic ZnV6ejpw/A=="));
}

void HttpSeeds() {
  // Bytes 0..3: set-up flags, two cut positions, more flags (see http_request_fuzz.cc).
  auto seed = [](const std::string& name, const std::string& setup, const std::string& wire) {
    Write("http_request_fuzz", name, setup + wire);
  };
  const std::string plain("\x00\x10\x30\x00", 4);
  const std::string stored("\x10\x07\x50\x00", 4);
  const std::string id = kId;
  seed("get_config", plain, "GET /config HTTP/1.1\r\nHost: safe.example\r\n\r\n");
  seed("head_config", plain, "HEAD /config HTTP/1.1\r\nHost: s\r\n\r\n");
  seed("put", plain,
       "PUT /backups/" + id +
           " HTTP/1.1\r\nHost: s\r\nContent-Type: application/octet-stream\r\n"
           "Content-Length: 11\r\n\r\nhello world");
  seed("get_stored", stored, "GET /backups/" + id + " HTTP/1.1\r\nHost: s\r\n\r\n");
  seed("head_stored", stored, "HEAD /backups/" + id + " HTTP/1.1\r\nHost: s\r\n\r\n");
  seed("delete_stored", stored, "DELETE /backups/" + id + " HTTP/1.1\r\nHost: s\r\n\r\n");
  seed("chunked", plain,
       "PUT /backups/" + id +
           " HTTP/1.1\r\nHost: s\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world"
           "\r\n0\r\n\r\n");
  seed("expect_continue", plain,
       "PUT /backups/" + id +
           " HTTP/1.1\r\nHost: s\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\nblob");
  seed("pipelined", std::string("\x08\x05\x40\x00", 4),
       "GET /config HTTP/1.1\r\n\r\nHEAD /backups/" + id +
           " HTTP/1.1\r\n\r\nGET /config HTTP/1.0\r\n"
           "Connection: keep-alive\r\n\r\n");
  seed("auth", std::string("\x03\x10\x30\x00", 4),
       "GET /config HTTP/1.1\r\nAuthorization: Basic ZnV6ejpwdw==\r\n\r\n"
       "GET /backups/" +
           id + " HTTP/1.1\r\nAuthorization: Basic d3Jvbmc=\r\n\r\n");
  // Peer 127.0.0.1, a trusted proxy: the client is the right-most untrusted X-Forwarded-For entry.
  seed("forwarded_guesses", std::string("\x82\x20\x40\x00", 4),
       "GET /backups/" + id +
           " HTTP/1.1\r\nX-Forwarded-For: 198.51.100.1, 127.0.0.1\r\n\r\n"
           "GET /backups/" +
           id +
           " HTTP/1.1\r\nX-Forwarded-For: 198.51.100.1\r\n\r\n"
           "DELETE /backups/" +
           id + " HTTP/1.1\r\nX-Forwarded-For: 198.51.100.1\r\n\r\n");
  seed("too_large", std::string("\x40\x10\x30\x00", 4),
       "PUT /backups/" + id + " HTTP/1.1\r\nContent-Length: 17\r\n\r\n12345678901234567");
  seed("incomplete_body", plain,
       "PUT /backups/" + id + " HTTP/1.1\r\nContent-Length: 100\r\n\r\npartial");
  seed("bad_id", plain, "GET /backups/" + id.substr(1) + "X HTTP/1.1\r\n\r\n");
  seed("http2", plain, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
  seed("small_limits", std::string("\x20\x10\x30\x00", 4),
       "GET /config HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\nF: 6\r\nG: 7\r\nH: 8\r\n"
       "I: 9\r\n\r\n");
  // Issue 16: conditional uploads (412 on a mismatch, 400 on a malformed tag) and versions.
  seed("if_match_stored", stored,
       "PUT /backups/" + id +
           " HTTP/1.1\r\nIf-Match: \"0123456789abcdef0123456789abcdef\"\r\n"
           "Content-Length: 4\r\n\r\nblob"
           "PUT /backups/" +
           id + " HTTP/1.1\r\nIf-None-Match: *\r\nContent-Length: 4\r\n\r\nblob");
  seed("if_match_malformed", plain,
       "PUT /backups/" + id + " HTTP/1.1\r\nIf-Match: W/\"x\", \r\nContent-Length: 1\r\n\r\nb");
  seed("versions", stored,
       "GET /backups/" + id + "/versions HTTP/1.1\r\n\r\nGET /backups/" + id +
           "/versions/1 HTTP/1.1\r\n\r\nHEAD /backups/" + id + "/versions/0 HTTP/1.1\r\n\r\n");
  // Issue 17: a CORS preflight; issue 18: a redeem with a malformed body.
  seed("preflight", plain,
       "OPTIONS /backups/" + id +
           " HTTP/1.1\r\nOrigin: https://a.example\r\nAccess-Control-Request-Method: PUT\r\n"
           "Access-Control-Request-Headers: authorization\r\n\r\n");
  seed("redeem", plain,
       "POST /access/redeem HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 24\r\n"
       "\r\n{\"token\":\"x\",\"sig\":\"y\"}");
  seed("failed_write", std::string("\x00\x10\x30\x02", 4),
       "GET /config HTTP/1.1\r\n\r\nGET /config HTTP/1.1\r\n\r\n");
}

void CryptoSeeds() {
  const safe::SecretBytes json = safe::SecretBytes::FromString(safe::crypto::testdata::kAppJson);
  const std::string minimal =
      R"({"info":{"version":1},"user":{"privatekey":"dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo="},)"
      R"("settings":{}})";

  // backup_json_fuzz
  Write("backup_json_fuzz", "app", json.data(), json.size());
  Write("backup_json_fuzz", "minimal", minimal);
  Write("backup_json_fuzz", "version2",
        R"({"info":{"version":2},"user":{"privatekey":"AAAA"},"settings":{}})");
  Write("backup_json_fuzz", "short_key",
        R"({"info":{"version":1},"user":{"privatekey":"AAAA"},"settings":{},"contacts":{}})");
  Write("backup_json_fuzz", "not_json", "{\"info\":");

  // gzip_fuzz
  auto stored = safe::crypto::GzipStored(json.data(), json.size());
  auto empty = safe::crypto::GzipStored(nullptr, 0);
  if (!stored.ok() || !empty.ok()) std::exit(1);
  Write("gzip_fuzz", "stored", stored->data(), stored->size());
  Write("gzip_fuzz", "empty", empty->data(), empty->size());
  const auto& python = safe::crypto::testdata::kPythonGzip;
  Write("gzip_fuzz", "python_compressed", python.data(), python.size());
  Write("gzip_fuzz", "truncated", python.data(), python.size() / 2);

  // blob_fuzz
  const safe::SecretKey key = safe::fuzz::FixedBlobKey();
  auto blob = safe::crypto::SealBackup(json, key);
  auto small = safe::crypto::SealBackup(safe::SecretBytes::FromString(minimal), key);
  if (!blob.ok() || !small.ok()) std::exit(1);
  Write("blob_fuzz", "app", blob->data(), blob->size());
  Write("blob_fuzz", "minimal", small->data(), small->size());
  Write("blob_fuzz", "python_gzip_content", python.data(), python.size());
  Write("blob_fuzz", "too_short", blob->data(), 39);

  // id_export_fuzz: the known-answer export of tests/crypto/id_export_test.cc, whose password is
  // kExportPassword. Trailing dashes (ignored by the reader) make its byte sum a multiple of 32,
  // which id_export_fuzz requires before it runs PBKDF2.
  std::string text =
      "AEBA-GBAF-AYDQ-R2TR-H5KM-LR36-GVRB-IOCF-CVWV-3O3I-YFHP-4BYZ-KOS6-3OGS-EH3D-M6DE-EDXH-LHHS-"
      "K6CX-OSSX";
  auto sum = [](const std::string& s) {
    unsigned n = 0;
    for (unsigned char c : s) n += c;
    return n;
  };
  while (sum(text) % 32 != 0) text += '-';  // 45 is odd: reaches every residue
  Write("id_export_fuzz", "export", text);
  std::string lower;
  for (char c : text) {
    if (c != '-' && c != ' ') lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  }
  while (sum(lower) % 32 != 0) lower += '-';
  Write("id_export_fuzz", "compact_lower", lower);
  Write("id_export_fuzz", "base32_padded", "MZXW6YQ=");
  Write("id_export_fuzz", "short", "AEBA-GBAF");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: make_seeds CORPUS_DIR SOURCE_DIR\n");
    return 2;
  }
  root = argv[1];
  BackupIdSeeds();
  ConfigSeeds(argv[2]);
  HtpasswdSeeds();
  HttpSeeds();
  CryptoSeeds();
  return 0;
}
