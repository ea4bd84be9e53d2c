// Key derivation: from a Threema ID and a password to a backup id and a backup key.
//
// Both schemes produce 64 bytes: the first 32 are the backup id (the address on the server, written
// as 64 lowercase hex), the last 32 the XSalsa20-Poly1305 key of the blob. The server only ever
// sees the id.
//   kScrypt   — Threema Safe, as the real apps do it: scrypt(password, salt = ID, N=65536, r=8,
//   p=1).
//               Use it for backups the apps must read, and to read theirs.
//   kArgon2id — our default for our own backups: Argon2id v1.3 (the Argon2 reference library),
//               t=3, m=65536 KiB, p=4 (RFC 9106 section 4, second recommended option),
//               salt = "safe/argon2id/v1/" || ID.
// Both take about a second and 64 MiB on purpose: they are what makes guessing passwords slow.
//
// Thread-safety: free functions without shared state; safe to call concurrently.

#pragma once

#include <string>
#include <string_view>

#include "common/backup_id.h"
#include "common/secret.h"
#include "common/status.h"

namespace safe::crypto {

// A Threema ID: exactly 8 characters from 0-9, A-Z and '*'.
class ThreemaId {
 public:
  static constexpr size_t kLength = 8;

  // Upper-cases the input, then accepts exactly 8 characters of [0-9A-Z*]; else InvalidArgument.
  static Result<ThreemaId> Parse(std::string_view text);

  const std::string& str() const { return id_; }

 private:
  explicit ThreemaId(std::string id) : id_(std::move(id)) {}
  std::string id_;
};

// Passwords of the backup (and of an ID export) are 8 to 4096 characters (Unicode code points of
// the UTF-8 text). Returns InvalidArgument otherwise; the message never repeats the password.
inline constexpr size_t kMinPasswordChars = 8;
inline constexpr size_t kMaxPasswordChars = 4096;
Status ValidatePassword(const SecretBytes& password);

enum class Kdf { kScrypt, kArgon2id };
inline constexpr Kdf kDefaultKdf = Kdf::kArgon2id;

// "scrypt" or "argon2id" to a Kdf; else InvalidArgument.
Result<Kdf> ParseKdf(std::string_view name);
const char* KdfName(Kdf kdf);

// The parameters, spelled out once.
inline constexpr uint64_t kScryptN = 65536;
inline constexpr uint32_t kScryptR = 8;
inline constexpr uint32_t kScryptP = 1;
inline constexpr uint32_t kArgon2idTimeCost = 3;
inline constexpr uint32_t kArgon2idMemoryKiB = 65536;
inline constexpr uint32_t kArgon2idLanes = 4;
inline constexpr std::string_view kArgon2idSaltPrefix = "safe/argon2id/v1/";

struct DerivedKeys {
  BackupId backup_id;  // master[0..32]
  SecretKey key;       // master[32..64]
};

// Derives the backup id and key. InvalidArgument if the password is out of bounds; IOError if the
// KDF library fails (out of memory).
Result<DerivedKeys> DeriveKeys(Kdf kdf, const ThreemaId& id, const SecretBytes& password);

// The raw 64-byte master key of the scheme, for the known-answer tests.
Result<SecretBytes> DeriveMaster(Kdf kdf, const ThreemaId& id, const SecretBytes& password);

}  // namespace safe::crypto
