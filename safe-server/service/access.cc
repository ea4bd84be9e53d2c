#include "safe-server/service/access.h"

#include <sodium.h>
#include <strings.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "common/log.h"
#include "common/secret.h"

namespace safe::server {

namespace {

// Subkeys of the server key (crypto_kdf, this context): one per kind of hash, so that no two
// stored hashes can be compared with each other.
constexpr char kKdfContext[crypto_kdf_CONTEXTBYTES + 1] = "safeacc1";
constexpr uint64_t kSpentSubkey = 1;
constexpr uint64_t kUserSubkey = 2;
constexpr uint64_t kSecretSubkey = 3;

constexpr size_t kUserRandomBytes = 16;
constexpr size_t kPasswordRandomBytes = 32;

Result<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int error = errno;
    return Status::IOError("cannot read " + path + ": " + std::strerror(error));
  }
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) return Status::IOError("cannot read " + path);
  return content.str();
}

std::string_view StripBasic(std::string_view authorization) {
  if (authorization.size() < 6 || strncasecmp(authorization.data(), "Basic ", 6) != 0) return {};
  authorization.remove_prefix(6);
  while (!authorization.empty() && authorization.front() == ' ') authorization.remove_prefix(1);
  while (!authorization.empty() && authorization.back() == ' ') authorization.remove_suffix(1);
  return authorization;
}

// "user:password" of a Basic header value into *out (wiped by its owner); false if not one.
bool DecodeBasic(std::string_view authorization, safe::SecretBytes* out, size_t* colon) {
  std::string_view b64 = StripBasic(authorization);
  if (b64.empty() || b64.size() > 1024) return false;
  safe::SecretBytes decoded(b64.size());
  size_t len = 0;
  if (sodium_base642bin(decoded.data(), decoded.size(), b64.data(), b64.size(), nullptr, &len,
                        nullptr, sodium_base64_VARIANT_ORIGINAL) != 0) {
    return false;
  }
  decoded.Resize(len);
  const void* c = std::memchr(decoded.data(), ':', decoded.size());
  if (c == nullptr) return false;
  *colon = static_cast<const uint8_t*>(c) - decoded.data();
  *out = std::move(decoded);
  return true;
}

bool IsAccessUser(std::string_view user) {
  const size_t prefix = sizeof(kAccessUserPrefix) - 1;
  if (user.size() != prefix + 2 * kUserRandomBytes) return false;
  if (user.substr(0, prefix) != kAccessUserPrefix) return false;
  for (char c : user.substr(prefix)) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

// Each wipes itself on destruction (common/secret.h).
struct AccessService::Keys {
  SecretKey spent;
  SecretKey user;
  SecretKey secret;
};

std::string RedeemAnswerJson(const IssuedCredential& credential) {
  // user and password are [a-z0-9-] and base64url: nothing to escape.
  return "{\"user\":\"" + credential.user + "\",\"password\":\"" + credential.password +
         "\",\"expires\":\"" + crypto::FormatIsoDay(credential.expiry_day) + "\"}";
}

Result<std::vector<IssuerKey>> LoadIssuerKeys(const std::string& list_path) {
  Result<std::string> list = ReadWholeFile(list_path);
  if (!list.ok()) return list.status();
  auto entries = crypto::ParseIssuerKeyList(*list, list_path);
  if (!entries.ok()) return entries.status();
  if (entries->empty()) {
    return Status::InvalidArgument(list_path + ": no issuer key (lines `<YYYY-MM-DD> <PEM file>`)");
  }
  std::vector<IssuerKey> keys;
  std::set<crypto::AccessKeyId> seen;
  for (const crypto::IssuerKeyListEntry& entry : *entries) {
    const std::string where = list_path + " line " + std::to_string(entry.line) + ": ";
    const std::string pem_path = crypto::ResolveBeside(list_path, entry.pem_path);
    Result<std::string> pem = ReadWholeFile(pem_path);
    if (!pem.ok()) return Status::IOError(where + pem.status().message());
    auto key = crypto::BlindRsaPublicKey::FromPem(*pem);
    if (!key.ok()) {
      return Status::InvalidArgument(where + pem_path +
                                     " is not an issuer public key: " + key.status().message());
    }
    auto id = key->KeyId();
    if (!id.ok()) return id.status();
    if (!seen.insert(*id).second) {
      return Status::InvalidArgument(where + "the same key is listed twice");
    }
    keys.push_back(IssuerKey{std::move(*key), *id, entry.expiry_day});
  }
  return keys;
}

AccessService::AccessService(const storage::ServerKey& server_key, storage::AccessStore& store,
                             const Clock& clock, std::string key_list_path,
                             std::vector<IssuerKey> keys, AccessOptions options)
    : hash_keys_(std::make_unique<Keys>()),
      store_(store),
      clock_(clock),
      key_list_path_(std::move(key_list_path)),
      options_(options),
      issuer_keys_(std::make_shared<const std::vector<IssuerKey>>(std::move(keys))) {
  safe::EnsureSodiumInitialised();
  static_assert(crypto_kdf_KEYBYTES == storage::ServerKey::kSize, "the server key is a KDF key");
  // crypto_kdf_derive_from_key fails only for a wrong length, which is fixed here.
  (void)crypto_kdf_derive_from_key(hash_keys_->spent.data(), hash_keys_->spent.size(), kSpentSubkey,
                                   kKdfContext, server_key.data());
  (void)crypto_kdf_derive_from_key(hash_keys_->user.data(), hash_keys_->user.size(), kUserSubkey,
                                   kKdfContext, server_key.data());
  (void)crypto_kdf_derive_from_key(hash_keys_->secret.data(), hash_keys_->secret.size(),
                                   kSecretSubkey, kKdfContext, server_key.data());
}

AccessService::~AccessService() = default;

std::shared_ptr<const std::vector<IssuerKey>> AccessService::Snapshot() {
  std::lock_guard<std::mutex> lock(mu_);
  return issuer_keys_;
}

size_t AccessService::key_count() { return Snapshot()->size(); }

Status AccessService::ReloadKeys() {
  auto keys = LoadIssuerKeys(key_list_path_);
  if (!keys.ok()) return keys.status();
  auto fresh = std::make_shared<const std::vector<IssuerKey>>(std::move(*keys));
  std::lock_guard<std::mutex> lock(mu_);
  issuer_keys_ = std::move(fresh);
  return Status::OK();
}

storage::AccessHash AccessService::SpentHash(const crypto::AccessKeyId& key_id,
                                             const safe::SecretBytes& token) const {
  storage::AccessHash out;
  crypto_generichash_state state;
  crypto_generichash_init(&state, hash_keys_->spent.data(), hash_keys_->spent.size(), out.size());
  crypto_generichash_update(&state, key_id.data(), key_id.size());
  crypto_generichash_update(&state, token.data(), token.size());
  crypto_generichash_final(&state, out.data(), out.size());
  Wipe(&state, sizeof state);
  return out;
}

storage::AccessHash AccessService::UserHash(std::string_view user) const {
  storage::AccessHash out;
  crypto_generichash(out.data(), out.size(), reinterpret_cast<const uint8_t*>(user.data()),
                     user.size(), hash_keys_->user.data(), hash_keys_->user.size());
  return out;
}

storage::AccessHash AccessService::SecretHash(std::string_view user,
                                              std::string_view password) const {
  storage::AccessHash out;
  crypto_generichash_state state;
  crypto_generichash_init(&state, hash_keys_->secret.data(), hash_keys_->secret.size(), out.size());
  crypto_generichash_update(&state, reinterpret_cast<const uint8_t*>(user.data()), user.size());
  const uint8_t colon = ':';
  crypto_generichash_update(&state, &colon, 1);
  crypto_generichash_update(&state, reinterpret_cast<const uint8_t*>(password.data()),
                            password.size());
  crypto_generichash_final(&state, out.data(), out.size());
  Wipe(&state, sizeof state);
  return out;
}

Result<IssuedCredential> AccessService::Redeem(std::string_view body) {
  Result<crypto::RedeemRequest> request = crypto::ParseRedeemRequest(body);
  if (!request.ok()) return request.status();
  std::shared_ptr<const std::vector<IssuerKey>> keys = Snapshot();
  const IssuerKey* issuer = nullptr;
  for (const IssuerKey& k : *keys) {
    if (k.id == request->key_id) issuer = &k;
  }
  if (issuer == nullptr) {
    return Status::PermissionDenied("the token's issuer key is not one this server accepts");
  }
  const Day today = clock_.Today();
  if (issuer->expiry_day < today) {
    return Status::PermissionDenied("the token's issuer key expired on " +
                                    crypto::FormatIsoDay(issuer->expiry_day));
  }
  if (!crypto::BlindRsaVerify(issuer->key, request->token, request->signature).ok()) {
    return Status::PermissionDenied("the token's signature does not verify under its issuer key");
  }

  IssuedCredential credential;
  uint8_t user_bytes[kUserRandomBytes];
  randombytes_buf(user_bytes, sizeof user_bytes);
  char user_hex[2 * kUserRandomBytes + 1];
  sodium_bin2hex(user_hex, sizeof user_hex, user_bytes, sizeof user_bytes);
  credential.user = std::string(kAccessUserPrefix) + user_hex;
  safe::SecretBytes password(kPasswordRandomBytes);
  randombytes_buf(password.data(), password.size());
  credential.password = crypto::Base64UrlEncode(password.data(), password.size());
  credential.expiry_day = today + static_cast<Day>(options_.access_days);

  const storage::AccessHash user_hash = UserHash(credential.user);
  storage::AccessCredentialRecord record;
  record.secret_hash = SecretHash(credential.user, credential.password);
  record.expiry_day = credential.expiry_day;
  Status stored = store_.PutCredential(user_hash, record);
  if (!stored.ok()) return stored;
  Status spent = store_.MarkSpent(SpentHash(request->key_id, request->token), issuer->expiry_day);
  if (!spent.ok()) {
    Status undone = store_.DeleteCredential(user_hash);
    if (!undone.ok() && !undone.IsNotFound()) {
      // Nobody knows its password: harmless, and the sweep drops it at its expiry.
      LogWarning("access: an unused credential could not be deleted: " + undone.ToString());
    }
    if (spent.IsAlreadyExists()) {
      return Status::AlreadyExists("this token was redeemed before");
    }
    return spent;
  }
  return credential;
}

bool AccessService::IsAccessCredential(std::string_view authorization) {
  safe::SecretBytes decoded;
  size_t colon = 0;
  if (!DecodeBasic(authorization, &decoded, &colon)) return false;
  const size_t prefix = sizeof(kAccessUserPrefix) - 1;
  return colon >= prefix && decoded.view().substr(0, prefix) == kAccessUserPrefix;
}

bool AccessService::Check(std::string_view authorization) {
  safe::SecretBytes decoded;
  size_t colon = 0;
  if (!DecodeBasic(authorization, &decoded, &colon)) return false;
  std::string_view user = decoded.view().substr(0, colon);
  std::string_view password = decoded.view().substr(colon + 1);
  if (!IsAccessUser(user)) return false;
  Result<storage::AccessCredentialRecord> record = store_.GetCredential(UserHash(user));
  if (!record.ok()) {
    if (!record.status().IsNotFound()) LogError("access: " + record.status().ToString());
    return false;
  }
  storage::AccessHash expected = SecretHash(user, password);
  if (!ConstantTimeEquals(expected.data(), record->secret_hash.data(), expected.size())) {
    return false;
  }
  return record->expiry_day >= clock_.Today();
}

Result<uint64_t> AccessService::Sweep() { return store_.DeleteExpired(clock_.Today()); }

}  // namespace safe::server
