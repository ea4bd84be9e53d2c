// The backup blob, byte for byte as the Threema Safe apps write it:
//
//   nonce (24 random bytes) || crypto_secretbox_easy(gzip(JSON), nonce, key)
//
// crypto_secretbox is XSalsa20-Poly1305; its output is the 16-byte tag followed by the ciphertext.
// There is no padding and no header. Sealing gzips with stored blocks (see gzip.h); opening accepts
// any gzip.
//
// The two layers are also offered apart (SealGzip / OpenToGzip) so a caller can encrypt gzip bytes
// it made itself, as an old app that compressed would have.
//
// Thread-safety: free functions without shared state.

#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/secret.h"
#include "common/status.h"
#include "crypto/gzip.h"

namespace safe::crypto {

inline constexpr size_t kBlobNonceBytes = 24;  // crypto_secretbox_NONCEBYTES
inline constexpr size_t kBlobTagBytes = 16;    // crypto_secretbox_MACBYTES
inline constexpr size_t kBlobOverheadBytes = kBlobNonceBytes + kBlobTagBytes;

// nonce || secretbox(gzip_bytes) with a fresh random nonce.
std::vector<uint8_t> SealGzip(const SecretBytes& gzip_bytes, const SecretKey& key);

// The gzip bytes inside a blob. Corruption if the blob is shorter than nonce and tag, or fails
// authentication: it was damaged, or made with another key (another password or ID).
Result<SecretBytes> OpenToGzip(const uint8_t* blob, size_t size, const SecretKey& key);

// The whole blob for a JSON text: SealGzip(GzipStored(json)).
Result<std::vector<uint8_t>> SealBackup(const SecretBytes& json, const SecretKey& key);

// The JSON text in a blob: Gunzip(OpenToGzip(blob)). Corruption as OpenToGzip or if the content is
// not gzip; TooLarge if it inflates past max_json_bytes. The JSON is not validated here (see
// backup_json.h).
Result<SecretBytes> OpenBackup(const uint8_t* blob, size_t size, const SecretKey& key,
                               size_t max_json_bytes = kMaxInflatedBytes);

}  // namespace safe::crypto
