#include "safe-server/service/token_auth.h"

#include <sodium.h>
#include <strings.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/secret.h"

namespace safe::server {

namespace {

constexpr std::string_view kLinePrefix = "sha256:";

std::string Sha256(std::string_view data) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  return std::string(reinterpret_cast<char*>(digest), sizeof digest);
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

Result<std::unique_ptr<TokenAuthenticator>> TokenAuthenticator::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError("cannot read \"" + path + "\": " + strerror(errno));
  std::ostringstream contents;
  contents << in.rdbuf();
  return Parse(contents.str(), path);
}

Result<std::unique_ptr<TokenAuthenticator>> TokenAuthenticator::Parse(std::string_view contents,
                                                                      const std::string& source) {
  EnsureSodiumInitialised();
  std::set<std::string> hashes;
  size_t line_number = 0;
  while (!contents.empty()) {
    size_t eol = contents.find('\n');
    std::string_view line = Trim(contents.substr(0, eol));
    contents = eol == std::string_view::npos ? std::string_view() : contents.substr(eol + 1);
    ++line_number;
    if (line.empty() || line.front() == '#') continue;
    std::string where = source + " line " + std::to_string(line_number);
    size_t space = line.find_first_of(" \t");
    std::string_view entry = line.substr(0, space);
    if (entry.substr(0, kLinePrefix.size()) != kLinePrefix ||
        entry.size() != kLinePrefix.size() + 64) {
      return Status::InvalidArgument(where + ": expected sha256:<64 lowercase hex>");
    }
    std::string_view hex = entry.substr(kLinePrefix.size());
    std::string digest(32, '\0');
    size_t bin_len = 0;
    bool lower = hex.find_first_not_of("0123456789abcdef") == std::string_view::npos;
    if (!lower ||
        sodium_hex2bin(reinterpret_cast<unsigned char*>(digest.data()), digest.size(), hex.data(),
                       hex.size(), nullptr, &bin_len, nullptr) != 0 ||
        bin_len != 32) {
      return Status::InvalidArgument(where + ": expected sha256:<64 lowercase hex>");
    }
    if (!hashes.insert(std::move(digest)).second) {
      return Status::InvalidArgument(where + ": the same token appears twice");
    }
  }
  if (hashes.empty()) return Status::InvalidArgument(source + ": no token in the file");
  return std::unique_ptr<TokenAuthenticator>(new TokenAuthenticator(std::move(hashes)));
}

bool TokenAuthenticator::Check(std::string_view header) const {
  constexpr std::string_view kScheme = "Token ";
  if (header.size() <= kScheme.size() ||
      strncasecmp(header.data(), kScheme.data(), kScheme.size()) != 0) {
    return false;
  }
  std::string_view token = Trim(header.substr(kScheme.size()));
  if (token.empty()) return false;
  // The lookup is by the token's hash: what timing could reveal is about a hash, not the token.
  return hashes_.count(Sha256(token)) > 0;
}

NewToken MakeToken() {
  EnsureSodiumInitialised();  // aborts without a random source: no secret can be made
  unsigned char raw[32];
  randombytes_buf(raw, sizeof raw);
  char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(b64, sizeof b64, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  Wipe(raw, sizeof raw);
  NewToken t;
  t.token = b64;
  Wipe(b64, sizeof b64);
  std::string digest = Sha256(t.token);
  char hex[65];
  sodium_bin2hex(hex, sizeof hex, reinterpret_cast<const unsigned char*>(digest.data()),
                 digest.size());
  t.line = std::string(kLinePrefix) + hex;
  return t;
}

}  // namespace safe::server
