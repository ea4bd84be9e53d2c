// AccessService: anonymous access credentials from blind signatures (issue 18), the server's side.
//
// A customer pays the provider's issuer, who blind-signs a token it never sees
// (crypto/blind_rsa.h, crypto/access_token.h). The customer redeems the token here:
//
//   Redeem(body)  parses the POST /access/redeem body, checks that the key id names a configured
//                 issuer key that has not expired (its last day is today or later), that the
//                 signature verifies for the token under it, and that the token was never
//                 redeemed (AccessStore::MarkSpent, create-once); then answers a fresh random
//                 Basic credential valid for access_days.
//   Check(hdr)    a Basic credential whose user starts with kAccessUserPrefix is checked here:
//                 known, its password's hash matches, not past its last day.
//
// What is stored (docs/privacy.md): for a redeemed token, a keyed hash of it (BLAKE2b keyed with
// a subkey of the server key) and the issuer key's last day, after which the sweep drops it; for
// a credential, a keyed hash of the user name, a keyed hash of user and password, and its last
// day. Never the token, the signature, the blinded message, the user name or the password; and
// nothing that joins a credential to the token it came from (two entries, written apart, with
// different keys).
//
// Order of writes: the credential is stored first, then the token is marked spent; if the token
// was spent already, the new credential is deleted again. A crash between the two leaves a
// credential nobody knows and a token that can still be redeemed (the customer retries).
//
// Errors of Redeem: InvalidArgument (400) for a malformed body; PermissionDenied (401) for an
// unknown or expired issuer key or a signature that does not verify; AlreadyExists (409) for a
// token redeemed before; the store's errors (NoSpace, IOError) as they are. Messages never hold
// the input.
//
// Thread-safety: every method may be called concurrently. ReloadKeys swaps the issuer keys for
// the following calls.

#pragma once

#include <array>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "crypto/access_token.h"
#include "crypto/blind_rsa.h"
#include "storage/access_store.h"
#include "storage/sealed_store.h"

namespace safe::server {

// Every access credential's user name starts with this (then 32 lowercase hex characters).
inline constexpr char kAccessUserPrefix[] = "access-";

struct IssuerKey {
  crypto::BlindRsaPublicKey key;
  crypto::AccessKeyId id{};
  Day expiry_day = 0;  // the last day its tokens are redeemed
};

// Reads the access-issuer-key list (crypto/access_token.h) and every PEM it names. Errors:
// IOError when a file cannot be read; InvalidArgument naming the file and line for a malformed
// line, a PEM that is not an issuer public key, the same key twice, or a list without any key.
Result<std::vector<IssuerKey>> LoadIssuerKeys(const std::string& list_path);

struct AccessOptions {
  // A credential redeemed on day D is valid through day D + access_days (UTC).
  uint32_t access_days = 365;
};

struct IssuedCredential {
  std::string user;      // kAccessUserPrefix + 32 hex
  std::string password;  // 43 characters of base64url (32 random bytes)
  Day expiry_day = 0;    // the last day it is accepted
};

// The 200 answer of POST /access/redeem:
//   {"user": "...", "password": "...", "expires": "YYYY-MM-DD"}   (expires: the last valid day)
std::string RedeemAnswerJson(const IssuedCredential& credential);

class AccessService {
 public:
  // Borrows store and clock: REQUIRES they outlive this object. Derives its hash keys from
  // server_key (and keeps only those). key_list_path is re-read by ReloadKeys.
  AccessService(const storage::ServerKey& server_key, storage::AccessStore& store,
                const Clock& clock, std::string key_list_path, std::vector<IssuerKey> keys,
                AccessOptions options);
  ~AccessService();
  AccessService(const AccessService&) = delete;
  AccessService& operator=(const AccessService&) = delete;

  Result<IssuedCredential> Redeem(std::string_view body);

  // True for `Basic <base64 of user:password>` of a stored, unexpired access credential.
  bool Check(std::string_view authorization);
  // True when the header is a Basic credential whose user has kAccessUserPrefix: such a user is
  // checked by Check only, never against the htpasswd file.
  static bool IsAccessCredential(std::string_view authorization);

  // Drops spent tokens and credentials past their last day. Returns how many.
  Result<uint64_t> Sweep();

  // Reads the key list again; on an error the old keys stay.
  Status ReloadKeys();

  size_t key_count();

 private:
  struct Keys;
  std::shared_ptr<const std::vector<IssuerKey>> Snapshot();
  storage::AccessHash SpentHash(const crypto::AccessKeyId& key_id,
                                const safe::SecretBytes& token) const;
  storage::AccessHash UserHash(std::string_view user) const;
  storage::AccessHash SecretHash(std::string_view user, std::string_view password) const;

  std::unique_ptr<Keys> hash_keys_;  // wiped on destruction
  storage::AccessStore& store_;
  const Clock& clock_;
  const std::string key_list_path_;
  const AccessOptions options_;
  std::mutex mu_;
  std::shared_ptr<const std::vector<IssuerKey>> issuer_keys_;  // GUARDED_BY(mu_)
};

}  // namespace safe::server
