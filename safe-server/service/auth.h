// BasicAuthenticator: HTTP Basic authentication against an htpasswd file of Argon2id hashes.
//
// The file holds one `user:$argon2id$v=19$m=...,t=...,p=...$salt$hash` line per user; `#` comments
// and blank lines are allowed. Only Argon2id is accepted: bcrypt, $apr1$, SHA and plaintext lines
// are refused at load, so a weak hash can never slip in unnoticed.
//
// Check() verifies with the Argon2 reference library. A successful check is remembered for a short
// time (BasicAuthOptions::cache_ttl) so that the apps' bursts of requests (config, then upload)
// cost one Argon2 run, not one each. The cache is keyed by a keyed BLAKE2b of the decoded
// "user:password" bytes under a random key made per authenticator: no password, and nothing that
// can be checked against a guess without that key, is ever kept. Failed checks are never cached.
//
// Encodings: Android sends the credentials in ISO-8859-1, Desktop in UTF-8, and an htpasswd made
// in a terminal holds the UTF-8 password. Decoded credentials that are valid UTF-8 are verified as
// they are; any others are read as ISO-8859-1 and converted to UTF-8 first, so one UTF-8 htpasswd
// line serves both apps, and every check runs Argon2 exactly once.
//
// Timing: a failed check takes as long whoever the user is. At the first check after a load, one
// dummy verification per distinct parameter set of the file is timed (lanes run in threads, so
// memory x passes does not say which is slowest); an unknown user is then verified against a
// dummy line with the slowest set, and every failure, of any user, is padded (a sleep, no CPU) to
// the running average duration at that set, so response times tell neither which users exist
// nor which parameters their lines use. The calibration runs at the first check whoever it is
// for, so it tells nothing either.
//
// Reload: an authenticator never changes after it is made. To reload the file (e.g. on SIGHUP),
// load a new one and swap the pointer; the new one starts with an empty cache, so a removed user or
// a changed password takes effect at once.
//
// Ownership: owns its user table and cache; borrows nothing after construction.
// Thread-safety: Check() and every const method may be called concurrently from any thread (the
// cache is guarded by a mutex; Argon2 runs outside it).

#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/secret.h"
#include "common/status.h"

namespace safe::server {

// The cost parameters of one argon2id line.
struct Argon2Params {
  uint32_t memory_kib = 0;
  uint32_t time_cost = 0;
  uint32_t lanes = 0;
  uint64_t cost() const { return static_cast<uint64_t>(memory_kib) * time_cost; }
  bool operator==(const Argon2Params& o) const {
    return memory_kib == o.memory_kib && time_cost == o.time_cost && lanes == o.lanes;
  }
};

struct BasicAuthOptions {
  // The realm sent in WWW-Authenticate. Printable ASCII without '"' or '\'.
  std::string realm = "Safe Server";
  // How long a successful check is remembered. Zero: never remembered.
  std::chrono::steady_clock::duration cache_ttl = std::chrono::minutes(5);
  // Most remembered checks; when full, expired entries and then the oldest are dropped.
  size_t cache_capacity = 10000;
  // The clock of the cache; tests inject their own. Empty = std::chrono::steady_clock::now.
  std::function<std::chrono::steady_clock::time_point()> now;
};

class BasicAuthenticator {
 public:
  // Reads and parses the htpasswd file at path. Errors:
  // - IOError: the file cannot be read (the message has the path and the OS reason);
  // - InvalidArgument: a line is malformed or not argon2id, a user appears twice, no user at all,
  //   or options.realm is not allowed. Messages name the line by its number, never its content.
  static Result<std::unique_ptr<BasicAuthenticator>> LoadHtpasswd(const std::string& path,
                                                                  BasicAuthOptions options = {});

  // As LoadHtpasswd, from the file's contents. source names it in messages (e.g. the path).
  static Result<std::unique_ptr<BasicAuthenticator>> ParseHtpasswd(std::string_view contents,
                                                                   const std::string& source,
                                                                   BasicAuthOptions options = {});

  ~BasicAuthenticator();
  BasicAuthenticator(const BasicAuthenticator&) = delete;
  BasicAuthenticator& operator=(const BasicAuthenticator&) = delete;

  // authorization_header_value: the value of the Authorization header, e.g. "Basic dTpw".
  // True when it is a well-formed Basic credential (scheme case-insensitive, padded standard
  // base64) of a known user whose password verifies. False for anything else, including a missing
  // (empty) value, another scheme, bad base64, no ':' and an Argon2 failure. The decoded
  // credentials are wiped before returning; the caller's header value is not touched.
  bool Check(std::string_view authorization_header_value);

  // The WWW-Authenticate value of a 401: `Basic realm="<realm>", charset="UTF-8"`.
  std::string ChallengeHeaderValue() const;

  size_t user_count() const { return users_.size(); }

  // As Check, from the cache alone: true only for a credential verified within cache_ttl. Never
  // runs Argon2 (safe on a network thread).
  bool CheckCached(std::string_view authorization_header_value);

  // How many Argon2 verifications of a request's credentials Check() has run (for tests and
  // metrics): a cache hit runs none. The calibration's runs are counted apart.
  uint64_t argon2_verifications() const { return argon2_verifications_.load(); }
  uint64_t argon2_calibrations() const { return argon2_calibrations_.load(); }

  // The parameters an unknown user's check runs Argon2 with: the slowest set of the file, as
  // timed at the first check (this runs that calibration if it has not run yet).
  Argon2Params unknown_user_params();

 private:
  struct User {
    std::string hash;  // the encoded argon2id line
    Argon2Params params;
  };
  using UserTable = std::map<std::string, User, std::less<>>;
  using CacheKey = std::array<unsigned char, 32>;
  struct CacheKeyHash {
    size_t operator()(const CacheKey& key) const;
  };

  BasicAuthenticator(UserTable users, BasicAuthOptions options);

  std::chrono::steady_clock::time_point Now() const;
  // Decodes a Basic header value into *credentials ("user:password" bytes); false when it is not
  // one. *colon is where the ':' is.
  static bool DecodeBasic(std::string_view header_value, SecretBytes* credentials, size_t* colon);
  // Argon2 verification of one "user:password" candidate, padded as the header says; counts it.
  bool VerifyCredentials(std::string_view user, std::string_view password);
  CacheKey KeyOf(std::string_view credentials) const;
  bool CacheHit(const CacheKey& key);
  void CacheInsert(const CacheKey& key);

  const UserTable users_;
  const BasicAuthOptions options_;
  // Times one dummy verification per distinct parameter set; sets slowest_ and unknown_hash_.
  void Calibrate();

  std::once_flag calibrated_;
  Argon2Params slowest_;      // set once by Calibrate
  std::string unknown_hash_;  // set once by Calibrate: an unknown user is verified against this
  std::atomic<int64_t> slowest_ns_{0};  // running average duration of checks at slowest_
  std::atomic<uint64_t> argon2_calibrations_{0};
  unsigned char cache_mac_key_[32];  // random; wiped in the destructor
  std::atomic<uint64_t> argon2_verifications_{0};

  std::mutex mutex_;
  // GUARDED_BY(mutex_): remembered successes and their expiry; order_ is oldest first.
  std::unordered_map<CacheKey, std::chrono::steady_clock::time_point, CacheKeyHash> cache_;
  std::deque<std::pair<CacheKey, std::chrono::steady_clock::time_point>> order_;
};

// Hashes password into an encoded Argon2id string for an htpasswd line, with a random 16-byte salt
// and t=2, m=19456 KiB, p=1 (OWASP's recommended minimum). Why not heavier: every failed login
// costs the server one such run and cannot be cached, so the cost per check bounds how cheaply a
// stranger can load a small server; 19 MiB and two passes keep one check in the tens of
// milliseconds on one core while still being memory-hard. Errors: Internal failures of libsodium or
// Argon2 as IOError.
Result<std::string> HashPasswordArgon2id(std::string_view password);

// Exposed for tests only.
namespace auth_internal {
// True when text is well-formed UTF-8 (RFC 3629: shortest forms, no surrogates, <= U+10FFFF).
bool IsValidUtf8(std::string_view text);
// Each ISO-8859-1 byte as its UTF-8 encoding.
std::string Latin1ToUtf8(std::string_view latin1);
}  // namespace auth_internal

}  // namespace safe::server
