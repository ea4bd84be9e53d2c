#include "crypto/kdf.h"

#include <argon2.h>
#include <sodium.h>

#include <cstring>

namespace safe::crypto {
namespace {

constexpr size_t kMasterBytes = 64;

size_t CountCodePoints(const SecretBytes& text) {
  size_t n = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((text[i] & 0xC0) != 0x80) ++n;  // every byte but a UTF-8 continuation byte starts one
  }
  return n;
}

}  // namespace

Result<ThreemaId> ThreemaId::Parse(std::string_view text) {
  if (text.size() != kLength) {
    return Status::InvalidArgument("a Threema ID has exactly 8 characters (0-9, A-Z, *)");
  }
  std::string id(text);
  for (char& c : id) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    const bool ok = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || c == '*';
    if (!ok) return Status::InvalidArgument("a Threema ID has only the characters 0-9, A-Z and *");
  }
  return ThreemaId(std::move(id));
}

Status ValidatePassword(const SecretBytes& password) {
  const size_t n = CountCodePoints(password);
  if (n < kMinPasswordChars) {
    return Status::InvalidArgument("the password is too short: it needs at least 8 characters");
  }
  if (n > kMaxPasswordChars) {
    return Status::InvalidArgument("the password is too long: at most 4096 characters");
  }
  return Status::OK();
}

Result<Kdf> ParseKdf(std::string_view name) {
  if (name == "scrypt") return Kdf::kScrypt;
  if (name == "argon2id") return Kdf::kArgon2id;
  return Status::InvalidArgument("unknown key derivation: use scrypt or argon2id");
}

const char* KdfName(Kdf kdf) { return kdf == Kdf::kScrypt ? "scrypt" : "argon2id"; }

Result<SecretBytes> DeriveMaster(Kdf kdf, const ThreemaId& id, const SecretBytes& password) {
  if (Status s = ValidatePassword(password); !s.ok()) return s;
  EnsureSodiumInitialised();
  SecretBytes master(kMasterBytes);
  if (kdf == Kdf::kScrypt) {
    // libsodium's low-level scrypt takes N, r, p directly (the high-level API only takes limits).
    const int rc = crypto_pwhash_scryptsalsa208sha256_ll(
        password.data(), password.size(), reinterpret_cast<const uint8_t*>(id.str().data()),
        id.str().size(), kScryptN, kScryptR, kScryptP, master.data(), master.size());
    if (rc != 0) return Status::IOError("scrypt failed (out of memory?)");
  } else {
    std::string salt(kArgon2idSaltPrefix);
    salt += id.str();
    const int rc =
        argon2id_hash_raw(kArgon2idTimeCost, kArgon2idMemoryKiB, kArgon2idLanes, password.data(),
                          password.size(), salt.data(), salt.size(), master.data(), master.size());
    if (rc != ARGON2_OK) {
      return Status::IOError(std::string("argon2id failed: ") + argon2_error_message(rc));
    }
  }
  return master;
}

Result<DerivedKeys> DeriveKeys(Kdf kdf, const ThreemaId& id, const SecretBytes& password) {
  Result<SecretBytes> master = DeriveMaster(kdf, id, password);
  if (!master.ok()) return master.status();
  BackupId::Bytes id_bytes;
  std::memcpy(id_bytes.data(), master->data(), BackupId::kBytes);
  DerivedKeys keys{BackupId::FromBytes(id_bytes), SecretKey()};
  std::memcpy(keys.key.data(), master->data() + BackupId::kBytes, SecretKey::size());
  return keys;
}

}  // namespace safe::crypto
