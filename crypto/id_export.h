// The encrypted ID export: how the Threema apps move an identity by text or QR code.
//
//   plain  = ID (8 ASCII bytes) || private key (32 bytes) || SHA-256(ID || private key)[0..2]
//   key    = PBKDF2-HMAC-SHA256(password, salt, 100000 iterations, 32 bytes)
//   export = salt (8 random bytes) || XSalsa20(key, nonce = 24 zero bytes) XOR plain
//
// 50 bytes, written as RFC 4648 Base32 (80 characters) in 20 groups of 4 joined by '-'. There is
// no MAC: the 2-byte checksum is all that tells a wrong password, so one wrong password in 65536
// passes it (ImportIdentity then also requires the ID to be well-formed, which catches most).
//
// Thread-safety: free functions without shared state.

#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/secret.h"
#include "common/status.h"
#include "crypto/kdf.h"

namespace safe::crypto {

inline constexpr size_t kExportSaltBytes = 8;
inline constexpr size_t kExportBytes = 50;
inline constexpr int kExportPbkdf2Iterations = 100000;

using PublicKey = std::array<uint8_t, 32>;

// The export text for an identity, with a fresh random salt. InvalidArgument if the password is
// out of bounds (see ValidatePassword); IOError if OpenSSL fails.
Result<std::string> ExportIdentity(const ThreemaId& id, const SecretKey& private_key,
                                   const SecretBytes& password);

// The same with a given salt: for known-answer tests only.
Result<std::string> ExportIdentityWithSalt(const ThreemaId& id, const SecretKey& private_key,
                                           const SecretBytes& password,
                                           const std::array<uint8_t, kExportSaltBytes>& salt);

struct ImportedIdentity {
  ThreemaId id;
  SecretKey private_key;
  PublicKey public_key;  // X25519 of the private key
};

// Decodes an export text (dashes, spaces and case are ignored). InvalidArgument if it is not 80
// Base32 characters; PermissionDenied ("wrong password, or the export is damaged") if the checksum
// or the decrypted ID does not check out.
Result<ImportedIdentity> ImportIdentity(std::string_view text, const SecretBytes& password);

// X25519 public key of a private key (crypto_scalarmult_base).
PublicKey PublicKeyFromPrivate(const SecretKey& private_key);

}  // namespace safe::crypto
