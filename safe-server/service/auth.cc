#include "safe-server/service/auth.h"

#include <argon2.h>
#include <sodium.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace safe::server {
namespace {

// The parameters of HashPasswordArgon2id (see auth.h for why these).
constexpr uint32_t kHashTimeCost = 2;
constexpr uint32_t kHashMemoryKiB = 19456;
constexpr uint32_t kHashParallelism = 1;
constexpr size_t kHashSaltBytes = 16;
constexpr size_t kHashBytes = 32;

// Bounds on the parameters of a loaded hash: every uncached check runs Argon2 with them, so an
// absurd line (say m = 64 GiB) is refused at load rather than at the first login.
constexpr uint64_t kMaxMemoryKiB = 1024 * 1024;
constexpr uint64_t kMaxTimeCost = 64;
constexpr uint64_t kMaxParallelism = 64;

// Longest base64 credential accepted (decodes to 12 KiB): far beyond any real user:password.
constexpr size_t kMaxCredentialBase64 = 16384;

constexpr char kHowToMakeOne[] =
    "only argon2id is supported; make a line with: printf '%s' 'PASSWORD' | argon2 "
    "\"$(openssl rand -base64 12)\" -id -t 2 -k 19456 -p 1 -e";

}  // namespace

namespace {

// ISO-8859-1 maps byte b to code point b, so the conversion is two lines; no library needed.
// REQUIRES: out->size() >= 2 * in.size(); shrinks *out to the converted bytes.
void Latin1ToUtf8Into(std::string_view in, SecretBytes* out) {
  unsigned char* p = out->data();
  for (char ch : in) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c < 0x80) {
      *p++ = c;
    } else {
      *p++ = static_cast<unsigned char>(0xc0 | (c >> 6));
      *p++ = static_cast<unsigned char>(0x80 | (c & 0x3f));
    }
  }
  out->Resize(static_cast<size_t>(p - out->data()));
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool EqualsIgnoringAsciiCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    char y = b[i] >= 'A' && b[i] <= 'Z' ? static_cast<char>(b[i] - 'A' + 'a') : b[i];
    if (x != y) return false;
  }
  return true;
}

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Reads a decimal number of at most 10 digits; false on anything else.
bool ParseSmallNumber(std::string_view text, uint64_t* out) {
  if (text.empty() || text.size() > 10) return false;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  *out = value;
  return true;
}

// Unpadded standard base64 of at least min_bytes bytes.
bool IsUnpaddedBase64(std::string_view text, size_t min_bytes) {
  if (text.empty() || text.size() > 1024) return false;
  std::vector<unsigned char> bin(text.size());
  size_t bin_len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(bin.data(), bin.size(), text.data(), text.size(), nullptr, &bin_len, &end,
                        sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0) {
    return false;
  }
  return end == text.data() + text.size() && bin_len >= min_bytes;
}

// Checks the form `$argon2id$v=19$m=M,t=T,p=P$SALT$HASH` of the reference library's encoded
// strings. Hand-written because the library does not export its decoder; argon2_verify decodes
// again at each check, this only makes a bad line fail at load (and tells its cost). Returns ""
// when well-formed, and its parameters in *params.
std::string WhyNotArgon2id(std::string_view hash, Argon2Params* out) {
  if (!StartsWith(hash, "$argon2id$")) return kHowToMakeOne;
  const std::string kMalformed =
      "malformed argon2id hash (expected "
      "$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>)";
  std::vector<std::string_view> fields;  // after "$argon2id$": v=19, m=..,t=..,p=.., salt, hash
  std::string_view rest = hash.substr(std::strlen("$argon2id$"));
  while (true) {
    size_t dollar = rest.find('$');
    fields.push_back(rest.substr(0, dollar));
    if (dollar == std::string_view::npos) break;
    rest.remove_prefix(dollar + 1);
  }
  if (fields.size() != 4) return kMalformed;
  if (fields[0] != "v=19") return "unsupported argon2id version (only v=19 is supported)";
  uint64_t m = 0;
  uint64_t t = 0;
  uint64_t p = 0;
  std::string_view params = fields[1];
  size_t comma1 = params.find(',');
  size_t comma2 = comma1 == std::string_view::npos ? comma1 : params.find(',', comma1 + 1);
  if (comma2 == std::string_view::npos) return kMalformed;
  std::string_view m_text = params.substr(0, comma1);
  std::string_view t_text = params.substr(comma1 + 1, comma2 - comma1 - 1);
  std::string_view p_text = params.substr(comma2 + 1);
  if (!StartsWith(m_text, "m=") || !StartsWith(t_text, "t=") || !StartsWith(p_text, "p=") ||
      !ParseSmallNumber(m_text.substr(2), &m) || !ParseSmallNumber(t_text.substr(2), &t) ||
      !ParseSmallNumber(p_text.substr(2), &p)) {
    return kMalformed;
  }
  if (p < 1 || p > kMaxParallelism || t < 1 || t > kMaxTimeCost || m < 8 * p || m > kMaxMemoryKiB) {
    return "argon2id parameters out of bounds (allowed: p 1.." + std::to_string(kMaxParallelism) +
           ", t 1.." + std::to_string(kMaxTimeCost) + ", m 8*p.." + std::to_string(kMaxMemoryKiB) +
           " KiB)";
  }
  if (!IsUnpaddedBase64(fields[2], ARGON2_MIN_SALT_LENGTH) ||
      !IsUnpaddedBase64(fields[3], ARGON2_MIN_OUTLEN)) {
    return kMalformed;
  }
  *out = Argon2Params{static_cast<uint32_t>(m), static_cast<uint32_t>(t), static_cast<uint32_t>(p)};
  return "";
}

// An encoded argon2id string with these parameters, a random salt and a random "hash":
// verifying any password against it runs exactly the Argon2 work of a real line with these
// parameters and never succeeds (no Argon2 run is needed to make it).
std::string DummyHashWith(const Argon2Params& params) {
  unsigned char salt[kHashSaltBytes];
  unsigned char hash[kHashBytes];
  randombytes_buf(salt, sizeof salt);
  randombytes_buf(hash, sizeof hash);
  auto b64 = [](const unsigned char* bytes, size_t n) {
    std::string out(sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL_NO_PADDING), '\0');
    sodium_bin2base64(out.data(), out.size(), bytes, n, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
    out.resize(std::strlen(out.c_str()));
    return out;
  };
  return "$argon2id$v=19$m=" + std::to_string(params.memory_kib) +
         ",t=" + std::to_string(params.time_cost) + ",p=" + std::to_string(params.lanes) + "$" +
         b64(salt, sizeof salt) + "$" + b64(hash, sizeof hash);
}

Status ReadWholeFile(const std::string& path, std::string* contents) {
  auto os_error = [&path](int error) {
    return Status::IOError("cannot read htpasswd \"" + path + "\": " + std::strerror(error));
  };
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return os_error(errno);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int error = errno;
    close(fd);
    return os_error(error);
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return Status::IOError("cannot read htpasswd \"" + path + "\": not a regular file");
  }
  std::string data;
  char buffer[4096];
  while (true) {
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int error = errno;
      close(fd);
      Wipe(data.data(), data.size());
      return os_error(error);
    }
    if (n == 0) break;
    data.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  Wipe(buffer, sizeof(buffer));
  *contents = std::move(data);
  return Status::OK();
}

}  // namespace

namespace auth_internal {

bool IsValidUtf8(std::string_view text) {
  // RFC 3629: shortest forms only, no surrogates, nothing above U+10FFFF.
  size_t i = 0;
  while (i < text.size()) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    size_t length = 0;
    uint32_t min = 0;
    uint32_t code = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      length = 2;
      min = 0x80;
      code = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      length = 3;
      min = 0x800;
      code = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      length = 4;
      min = 0x10000;
      code = c & 0x07;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      unsigned char next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xc0) != 0x80) return false;
      code = (code << 6) | (next & 0x3f);
    }
    if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return false;
    i += length;
  }
  return true;
}

std::string Latin1ToUtf8(std::string_view latin1) {
  SecretBytes out(2 * latin1.size());
  Latin1ToUtf8Into(latin1, &out);
  return std::string(out.view());
}

}  // namespace auth_internal

size_t BasicAuthenticator::CacheKeyHash::operator()(const CacheKey& key) const {
  // The key is already a keyed hash: any 8 of its bytes are a good hash.
  size_t h = 0;
  std::memcpy(&h, key.data(), sizeof(h));
  return h;
}

Result<std::unique_ptr<BasicAuthenticator>> BasicAuthenticator::LoadHtpasswd(
    const std::string& path, BasicAuthOptions options) {
  std::string contents;
  Status read = ReadWholeFile(path, &contents);
  if (!read.ok()) return read;
  auto result = ParseHtpasswd(contents, "htpasswd \"" + path + "\"", std::move(options));
  Wipe(contents.data(), contents.size());
  return result;
}

Result<std::unique_ptr<BasicAuthenticator>> BasicAuthenticator::ParseHtpasswd(
    std::string_view contents, const std::string& source, BasicAuthOptions options) {
  EnsureSodiumInitialised();
  const std::string& realm = options.realm;
  bool realm_ok = !realm.empty() && realm.size() <= 128;
  for (char c : realm) {
    if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') realm_ok = false;
  }
  if (!realm_ok) {
    return Status::InvalidArgument(
        "the auth realm must be 1 to 128 printable ASCII characters without '\"' or '\\'");
  }

  UserTable users;
  std::map<std::string, size_t> first_line;
  size_t line_number = 0;
  while (!contents.empty()) {
    ++line_number;
    size_t newline = contents.find('\n');
    std::string_view line = contents.substr(0, newline);
    contents.remove_prefix(newline == std::string_view::npos ? contents.size() : newline + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    line = TrimSpaces(line);
    if (line.empty() || line.front() == '#') continue;

    // Messages name the line by number only: the line holds a hash.
    auto refuse = [&](const std::string& why) {
      return Status::InvalidArgument(source + " line " + std::to_string(line_number) + ": " + why);
    };
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      return refuse("expected user:$argon2id$... (a user name, ':', then an argon2id hash)");
    }
    std::string_view user = line.substr(0, colon);
    std::string_view hash = line.substr(colon + 1);
    if (user.empty()) return refuse("the user name is empty");
    for (char c : user) {
      unsigned char u = static_cast<unsigned char>(c);
      if (u < 0x20 || u == 0x7f) return refuse("the user name contains a control character");
    }
    Argon2Params params;
    std::string why = WhyNotArgon2id(hash, &params);
    if (!why.empty()) return refuse(why);
    auto [it, inserted] = first_line.emplace(std::string(user), line_number);
    if (!inserted) {
      return refuse("the user appears twice (first on line " + std::to_string(it->second) + ")");
    }
    users.emplace(std::string(user), User{std::string(hash), params});
  }
  if (users.empty()) {
    return Status::InvalidArgument(source + ": no users (expected user:$argon2id$... lines)");
  }
  return std::unique_ptr<BasicAuthenticator>(
      new BasicAuthenticator(std::move(users), std::move(options)));
}

BasicAuthenticator::BasicAuthenticator(UserTable users, BasicAuthOptions options)
    : users_(std::move(users)), options_(std::move(options)) {
  randombytes_buf(cache_mac_key_, sizeof(cache_mac_key_));
}

void BasicAuthenticator::Calibrate() {
  std::call_once(calibrated_, [this] {
    std::vector<Argon2Params> sets;
    for (const auto& [name, user] : users_) {
      if (std::find(sets.begin(), sets.end(), user.params) == sets.end()) {
        sets.push_back(user.params);
      }
    }
    int64_t slowest_ns = -1;
    for (const Argon2Params& params : sets) {
      const std::string dummy = DummyHashWith(params);
      const auto started = std::chrono::steady_clock::now();
      int ignored = argon2_verify(dummy.c_str(), "", 0, Argon2_id);
      (void)ignored;
      argon2_calibrations_.fetch_add(1);
      const int64_t took = std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::steady_clock::now() - started)
                               .count();
      if (took > slowest_ns) {
        slowest_ns = took;
        slowest_ = params;
        unknown_hash_ = dummy;
      }
    }
    slowest_ns_.store(std::max<int64_t>(slowest_ns, 0));
  });
}

Argon2Params BasicAuthenticator::unknown_user_params() {
  Calibrate();
  return slowest_;
}

BasicAuthenticator::~BasicAuthenticator() { Wipe(cache_mac_key_, sizeof(cache_mac_key_)); }

std::string BasicAuthenticator::ChallengeHeaderValue() const {
  return "Basic realm=\"" + options_.realm + "\", charset=\"UTF-8\"";
}

std::chrono::steady_clock::time_point BasicAuthenticator::Now() const {
  return options_.now ? options_.now() : std::chrono::steady_clock::now();
}

bool BasicAuthenticator::DecodeBasic(std::string_view header_value, SecretBytes* credentials,
                                     size_t* colon) {
  std::string_view value = TrimSpaces(header_value);
  size_t space = value.find_first_of(" \t");
  if (space == std::string_view::npos) return false;
  if (!EqualsIgnoringAsciiCase(value.substr(0, space), "basic")) return false;
  std::string_view token = TrimSpaces(value.substr(space));
  if (token.empty() || token.size() > kMaxCredentialBase64) return false;
  if (credentials->size() < token.size() / 4 * 3 + 3) return false;
  size_t decoded_size = 0;
  const char* end = nullptr;
  if (sodium_base642bin(credentials->data(), credentials->size(), token.data(), token.size(),
                        nullptr, &decoded_size, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != token.data() + token.size()) {
    return false;
  }
  credentials->Resize(decoded_size);
  *colon = credentials->view().find(':');
  return *colon != std::string_view::npos;
}

bool BasicAuthenticator::CheckCached(std::string_view authorization_header_value) {
  SecretBytes credentials(
      std::min(authorization_header_value.size(), kMaxCredentialBase64) / 4 * 3 + 3);
  size_t colon = 0;
  if (!DecodeBasic(authorization_header_value, &credentials, &colon)) return false;
  return CacheHit(KeyOf(credentials.view()));
}

bool BasicAuthenticator::Check(std::string_view authorization_header_value) {
  SecretBytes credentials(
      std::min(authorization_header_value.size(), kMaxCredentialBase64) / 4 * 3 + 3);
  size_t colon = 0;
  if (!DecodeBasic(authorization_header_value, &credentials, &colon)) return false;
  std::string_view raw = credentials.view();
  CacheKey key = KeyOf(raw);
  if (CacheHit(key)) return true;

  bool ok;
  if (auth_internal::IsValidUtf8(raw)) {
    ok = VerifyCredentials(raw.substr(0, colon), raw.substr(colon + 1));
  } else {
    // Android's ISO-8859-1 against an htpasswd made from UTF-8: one Argon2 run, on the converted
    // bytes. ':' is the same byte in both.
    SecretBytes utf8(2 * raw.size());
    Latin1ToUtf8Into(raw, &utf8);
    std::string_view converted = utf8.view();
    size_t utf8_colon = converted.find(':');
    ok = VerifyCredentials(converted.substr(0, utf8_colon), converted.substr(utf8_colon + 1));
  }
  if (ok) CacheInsert(key);
  return ok;
}

bool BasicAuthenticator::VerifyCredentials(std::string_view user, std::string_view password) {
  Calibrate();
  argon2_verifications_.fetch_add(1);
  const auto started = std::chrono::steady_clock::now();
  auto it = users_.find(user);
  const bool known = it != users_.end();
  const Argon2Params& params = known ? it->second.params : slowest_;
  const bool ok = argon2_verify(known ? it->second.hash.c_str() : unknown_hash_.c_str(),
                                password.data(), password.size(), Argon2_id) == ARGON2_OK;
  const int64_t took = std::chrono::duration_cast<std::chrono::nanoseconds>(
                           std::chrono::steady_clock::now() - started)
                           .count();
  if (params == slowest_) {
    // A running average (weight 1/8) of what a check at the slowest parameters takes. Updates
    // that race may lose one another; the average only steers the padding below.
    int64_t average = slowest_ns_.load();
    slowest_ns_.store(average == 0 ? took : average + (took - average) / 8);
  }
  if (!ok) {
    // Every failure takes at least what a check at the slowest parameters takes, so that a
    // wrong password for this user looks like one for any other (or for nobody). Success is not
    // padded: only someone who knows the password sees it.
    const int64_t target = slowest_ns_.load();
    if (target > took) std::this_thread::sleep_for(std::chrono::nanoseconds(target - took));
  }
  return ok;
}

BasicAuthenticator::CacheKey BasicAuthenticator::KeyOf(std::string_view credentials) const {
  CacheKey key;
  crypto_generichash(key.data(), key.size(),
                     reinterpret_cast<const unsigned char*>(credentials.data()), credentials.size(),
                     cache_mac_key_, sizeof(cache_mac_key_));
  return key;
}

bool BasicAuthenticator::CacheHit(const CacheKey& key) {
  if (options_.cache_ttl <= std::chrono::steady_clock::duration::zero() ||
      options_.cache_capacity == 0) {
    return false;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = cache_.find(key);
  if (it == cache_.end()) return false;
  if (it->second > Now()) return true;
  cache_.erase(it);  // its entry in order_ is skipped when it comes up
  return false;
}

void BasicAuthenticator::CacheInsert(const CacheKey& key) {
  if (options_.cache_ttl <= std::chrono::steady_clock::duration::zero() ||
      options_.cache_capacity == 0) {
    return;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  auto now = Now();
  // order_ is sorted by expiry (one TTL for all): expired entries are at its front. An entry whose
  // map value differs was replaced or erased since, and is only dropped from order_.
  while (!order_.empty() &&
         (order_.front().second <= now || cache_.size() >= options_.cache_capacity)) {
    auto it = cache_.find(order_.front().first);
    if (it != cache_.end() && it->second == order_.front().second) cache_.erase(it);
    order_.pop_front();
  }
  auto expiry = now + options_.cache_ttl;
  cache_.insert_or_assign(key, expiry);
  order_.emplace_back(key, expiry);
}

Result<std::string> HashPasswordArgon2id(std::string_view password) {
  EnsureSodiumInitialised();
  unsigned char salt[kHashSaltBytes];
  randombytes_buf(salt, sizeof(salt));
  size_t encoded_length = argon2_encodedlen(kHashTimeCost, kHashMemoryKiB, kHashParallelism,
                                            sizeof(salt), kHashBytes, Argon2_id);
  std::string encoded(encoded_length, '\0');
  int rc = argon2id_hash_encoded(kHashTimeCost, kHashMemoryKiB, kHashParallelism, password.data(),
                                 password.size(), salt, sizeof(salt), kHashBytes, encoded.data(),
                                 encoded.size());
  if (rc != ARGON2_OK) {
    return Status::IOError(std::string("argon2id hashing failed: ") + argon2_error_message(rc));
  }
  encoded.resize(std::strlen(encoded.c_str()));
  return encoded;
}

}  // namespace safe::server
