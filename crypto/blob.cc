#include "crypto/blob.h"

#include <sodium.h>

#include <cstdlib>
#include <cstring>

namespace safe::crypto {

static_assert(kBlobNonceBytes == crypto_secretbox_NONCEBYTES);
static_assert(kBlobTagBytes == crypto_secretbox_MACBYTES);
static_assert(SecretKey::kSize == crypto_secretbox_KEYBYTES);

std::vector<uint8_t> SealGzip(const SecretBytes& gzip_bytes, const SecretKey& key) {
  EnsureSodiumInitialised();
  std::vector<uint8_t> blob(kBlobNonceBytes + kBlobTagBytes + gzip_bytes.size());
  randombytes_buf(blob.data(), kBlobNonceBytes);
  // crypto_secretbox_easy only fails for messages beyond crypto_secretbox_MESSAGEBYTES_MAX (2^64).
  if (crypto_secretbox_easy(blob.data() + kBlobNonceBytes, gzip_bytes.data(), gzip_bytes.size(),
                            blob.data(), key.data()) != 0) {
    std::abort();
  }
  return blob;
}

Result<SecretBytes> OpenToGzip(const uint8_t* blob, size_t size, const SecretKey& key) {
  EnsureSodiumInitialised();
  if (size < kBlobOverheadBytes) {
    return Status::Corruption("the backup is too short to be a Threema Safe backup");
  }
  SecretBytes plain(size - kBlobOverheadBytes);
  if (crypto_secretbox_open_easy(plain.data(), blob + kBlobNonceBytes, size - kBlobNonceBytes, blob,
                                 key.data()) != 0) {
    return Status::Corruption(
        "the backup failed authentication: it is corrupted or was made with another password");
  }
  return plain;
}

Result<std::vector<uint8_t>> SealBackup(const SecretBytes& json, const SecretKey& key) {
  Result<SecretBytes> gz = GzipStored(json.data(), json.size());
  if (!gz.ok()) return gz.status();
  return SealGzip(*gz, key);
}

Result<SecretBytes> OpenBackup(const uint8_t* blob, size_t size, const SecretKey& key,
                               size_t max_json_bytes) {
  Result<SecretBytes> gz = OpenToGzip(blob, size, key);
  if (!gz.ok()) return gz.status();
  Result<SecretBytes> json = Gunzip(gz->data(), gz->size(), max_json_bytes);
  if (!json.ok() && json.status().IsCorruption()) {
    return Status::Corruption("the backup decrypts but does not hold gzip data: " +
                              json.status().message());
  }
  return json;
}

}  // namespace safe::crypto
