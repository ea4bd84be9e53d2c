#include "crypto/id_export.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <sodium.h>

#include <cstring>

#include "crypto/base32.h"

namespace safe::crypto {
namespace {

constexpr size_t kIdBytes = ThreemaId::kLength;
constexpr size_t kPlainBytes = kIdBytes + SecretKey::kSize + 2;
static_assert(kExportSaltBytes + kPlainBytes == kExportBytes);

Result<SecretKey> ExportKey(const SecretBytes& password, const uint8_t* salt) {
  SecretKey key;
  if (PKCS5_PBKDF2_HMAC(reinterpret_cast<const char*>(password.data()),
                        static_cast<int>(password.size()), salt, kExportSaltBytes,
                        kExportPbkdf2Iterations, EVP_sha256(), static_cast<int>(key.size()),
                        key.data()) != 1) {
    return Status::IOError("OpenSSL PBKDF2 failed");
  }
  return key;
}

// plain = ID || private key || SHA-256(ID || private key)[0..2]
SecretBytes PlainText(const std::string& id, const SecretKey& private_key) {
  SecretBytes plain(kPlainBytes);
  std::memcpy(plain.data(), id.data(), kIdBytes);
  std::memcpy(plain.data() + kIdBytes, private_key.data(), SecretKey::kSize);
  uint8_t digest[SHA256_DIGEST_LENGTH];
  SHA256(plain.data(), kIdBytes + SecretKey::kSize, digest);
  plain[kPlainBytes - 2] = digest[0];
  plain[kPlainBytes - 1] = digest[1];
  Wipe(digest, sizeof(digest));
  return plain;
}

void XorStream(SecretBytes* data, const SecretKey& key) {
  const uint8_t zero_nonce[crypto_stream_xsalsa20_NONCEBYTES] = {};
  crypto_stream_xsalsa20_xor(data->data(), data->data(), data->size(), zero_nonce, key.data());
}

std::string Group(const std::string& base32) {
  std::string out;
  for (size_t i = 0; i < base32.size(); ++i) {
    if (i > 0 && i % 4 == 0) out.push_back('-');
    out.push_back(base32[i]);
  }
  return out;
}

}  // namespace

PublicKey PublicKeyFromPrivate(const SecretKey& private_key) {
  EnsureSodiumInitialised();
  PublicKey pub{};
  crypto_scalarmult_base(pub.data(), private_key.data());
  return pub;
}

Result<std::string> ExportIdentityWithSalt(const ThreemaId& id, const SecretKey& private_key,
                                           const SecretBytes& password,
                                           const std::array<uint8_t, kExportSaltBytes>& salt) {
  if (Status s = ValidatePassword(password); !s.ok()) return s;
  EnsureSodiumInitialised();
  Result<SecretKey> key = ExportKey(password, salt.data());
  if (!key.ok()) return key.status();
  SecretBytes plain = PlainText(id.str(), private_key);
  XorStream(&plain, *key);
  uint8_t out[kExportBytes];
  std::memcpy(out, salt.data(), kExportSaltBytes);
  std::memcpy(out + kExportSaltBytes, plain.data(), kPlainBytes);
  return Group(Base32Encode(out, sizeof(out)));
}

Result<std::string> ExportIdentity(const ThreemaId& id, const SecretKey& private_key,
                                   const SecretBytes& password) {
  EnsureSodiumInitialised();
  std::array<uint8_t, kExportSaltBytes> salt;
  randombytes_buf(salt.data(), salt.size());
  return ExportIdentityWithSalt(id, private_key, password, salt);
}

Result<ImportedIdentity> ImportIdentity(std::string_view text, const SecretBytes& password) {
  std::string compact;
  for (char c : text) {
    if (c == '-' || c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
    compact.push_back(c);
  }
  Result<std::vector<uint8_t>> bytes = Base32Decode(compact);
  if (!bytes.ok() || bytes->size() != kExportBytes) {
    return Status::InvalidArgument(
        "not an ID export: expected 80 Base32 characters (A-Z, 2-7) in groups of 4");
  }
  if (password.empty()) return Status::InvalidArgument("the password is empty");
  EnsureSodiumInitialised();
  Result<SecretKey> key = ExportKey(password, bytes->data());
  if (!key.ok()) return key.status();
  SecretBytes plain(bytes->data() + kExportSaltBytes, kPlainBytes);
  XorStream(&plain, *key);

  const std::string id_text(reinterpret_cast<const char*>(plain.data()), kIdBytes);
  SecretKey private_key;
  std::memcpy(private_key.data(), plain.data() + kIdBytes, SecretKey::kSize);
  SecretBytes expected = PlainText(id_text, private_key);
  Result<ThreemaId> id = ThreemaId::Parse(id_text);
  if (!ConstantTimeEquals(expected.data() + kPlainBytes - 2, plain.data() + kPlainBytes - 2, 2) ||
      !id.ok() || id->str() != id_text) {
    return Status::PermissionDenied("wrong password, or the export is damaged (checksum mismatch)");
  }
  PublicKey pub = PublicKeyFromPrivate(private_key);
  return ImportedIdentity{std::move(*id), std::move(private_key), pub};
}

}  // namespace safe::crypto
