// SealedStore: a BackupStore decorator that lets a stolen disk reveal nothing (issue 4, "A stolen
// disk reveals nothing").
//
// It wraps any BackupStore (the "inner" store: RocksDB today, RADOS later) and changes two things
// on the way in and back out, under a 32-byte master server key:
//
// - Keys. A backup id is never given to the inner store. The inner store's key for a backup is
//   its storage key, HMAC-SHA-256(k1, the 32 id bytes). Without the server key, a copy of the
//   data shows neither which ids exist nor lets a guessed password (hence a guessed id) be checked
//   against it offline.
// - Values. The inner store's value is a sealed record (format 1, the only one):
//
//     0x01 | salt (32 random bytes) | AES-256-GCM ciphertext (as long as the blob) | tag (16)
//
//   The record key is BLAKE2b-256 keyed with k2 over the salt (crypto_generichash), so every
//   write has its own key and the fixed all-zero 96-bit GCM nonce is never reused under one key:
//   random 96-bit nonces under one key would collide after about 2^32 writes, which years of
//   daily re-uploads on a large server could reach. The associated data is the format byte and
//   the storage key, so a sealed record moved under another key fails to open. AES-256-GCM runs
//   through OpenSSL (AES-NI, VAES); it measured faster here than libsodium's
//   XChaCha20-Poly1305 (figures at the top of sealed_store.cc; `sealed_store_bench`).
//
// - Tags (the server's ETag). A record's tag is the first 16 bytes of BLAKE2b keyed with a
//   fourth subkey k4 over the storage key, the salt and the AES-GCM tag of the sealed record: a
//   MAC of the sealed blob, new with every write (fresh salt), that costs one small hash and
//   reveals nothing without the server key.
// - Versions (issue 16). A replaced record is kept by the inner store as it is, sealed under the
//   same storage key: it opens exactly as the current one did. The inner store names its
//   versions' blobs after the storage key (never the id).
//
// k1, k2 and a third subkey k3 are derived from the master key with libsodium's KDF
// (crypto_kdf_derive_from_key, context "safesrv1", subkey ids 1, 2, 3; k4 is id 4). k3 only makes
// KeyCheck(), a value stored beside the data so that a wrong key is refused at start instead of
// turning every backup into a Corruption error.
//
// What callers see. Get, Stat and Scan report the plaintext size (the sealed size less
// kOverhead). Scan yields STORAGE keys, not backup ids (an HMAC cannot be inverted); the only
// user of Scan-like walks is the retention sweep, and DeleteUploadedBefore works on the inner
// store's keys directly, so it simply forwards. Put seals and forwards (created/replaced come
// from the inner store); Delete and Stat forward with the storage key.
//
// Errors. A record that fails to open (tag mismatch, too short, unknown format byte) is
// Corruption, with a message that names no key; the inner store's errors pass through
// unchanged. Nothing here throws.
//
// Ownership: the inner store is either borrowed (the caller keeps it alive and may still call
// methods such as RocksDbStore::Close() on it) or owned (destroyed with this object). The master
// key is only read in the constructor; this object keeps the derived subkeys and wipes them when
// destroyed.
// Thread-safety: every method may be called concurrently from any thread (the subkeys are
// read-only after construction; every call uses its own cipher context).

#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/backup_id.h"
#include "common/secret.h"
#include "storage/backup_store.h"

namespace safe::storage {

// The 32-byte master server key: the project's one secret holder (common/secret.h), so it is
// move-only, wipes itself when destroyed or moved from, and compares in constant time. Never
// printed: it has no ToString/ToHex. ServerKey::Random() makes a new one.
using ServerKey = SecretArray<32>;

class SealedStore final : public BackupStore {
 public:
  // The format byte of the only record format.
  static constexpr uint8_t kFormatAes256Gcm = 1;
  static constexpr size_t kSaltBytes = 32;
  static constexpr size_t kTagBytes = 16;
  // Bytes a sealed record adds to its blob.
  static constexpr size_t kOverhead = 1 + kSaltBytes + kTagBytes;

  // Borrows inner: REQUIRES it outlives this object.
  SealedStore(const ServerKey& key, BackupStore& inner);
  // Owns inner. REQUIRES: inner != nullptr.
  SealedStore(const ServerKey& key, std::unique_ptr<BackupStore> inner);
  ~SealedStore() override;
  SealedStore(const SealedStore&) = delete;
  SealedStore& operator=(const SealedStore&) = delete;

  // NotFound when there is none; Corruption when the record does not open under this key.
  Result<BackupRecord> Get(const BackupId& id) override;
  // The plaintext size; Corruption when the record is shorter than kOverhead.
  Result<BackupInfo> Stat(const BackupId& id) override;
  // options.tag is ignored: the tag is the sealed record's MAC (see the top of this file).
  using BackupStore::Put;
  Result<PutResult> Put(const BackupId& id, std::string_view blob, Day upload_day,
                        const PutOptions& options) override;
  // Plaintext sizes.
  Result<std::vector<VersionInfo>> ListVersions(const BackupId& id) override;
  // Corruption when the version does not open under this key.
  Result<BackupRecord> GetVersion(const BackupId& id, uint32_t n) override;
  Status Delete(const BackupId& id) override;
  // Visits (storage key, info with the plaintext size). A record shorter than kOverhead is not
  // visited; the scan then goes on and returns Corruption at the end.
  Status Scan(const std::function<void(const BackupId&, const BackupInfo&)>& visit) override;
  Result<uint64_t> DeleteUploadedBefore(Day cutoff_day) override;

  // The inner store's key for a backup id: HMAC-SHA-256(k1, id).
  BackupId StorageKeyFor(const BackupId& id) const;

  // Checks that `record`, as stored in the inner store under storage_key, opens under this key
  // (format byte, length, AES-GCM tag). OK or Corruption; for offline verification.
  Status CheckRecord(const BackupId& storage_key, std::string_view record) const;

  // 64 lowercase hex characters that identify key without revealing it: BLAKE2b-256 keyed with
  // k3 over a fixed string. Kept beside the data to refuse a wrong key at start.
  static std::string KeyCheck(const ServerKey& key);

 private:
  struct Keys;

  // Seals blob under storage_key into one record string.
  Result<std::string> Seal(const BackupId& storage_key, std::string_view blob) const;
  // The tag of a sealed record (REQUIRES: record.size() >= kOverhead).
  Tag TagOf(const BackupId& storage_key, std::string_view record) const;
  // Opens a sealed record stored under storage_key into the blob.
  Result<std::string> Open(const BackupId& storage_key, std::string_view record) const;

  std::unique_ptr<BackupStore> owned_inner_;  // null when borrowed
  BackupStore& inner_;
  std::unique_ptr<Keys> keys_;  // wiped on destruction
};

}  // namespace safe::storage
