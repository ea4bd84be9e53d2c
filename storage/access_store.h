// AccessStore: what the server keeps for anonymous access credentials (issue 18): the spent
// tokens, so that no token is redeemed twice, and the credentials it handed out.
//
// The store never sees a token, a user name or a password: the caller (safe-server's
// AccessService) passes keyed hashes made under the server key. Each entry carries the day after
// which it may go (a spent token lives as long as the issuer key that signed it; a credential as
// long as it is valid), and DeleteExpired removes those whose day has passed.
//
// Engines:
//   MemoryAccessStore      in memory (tests; a server without persistence never uses it).
//   RocksDbAccessStore     a small RocksDB of its own (safe-server puts it in DATA_DIR/access),
//                          every write synced, so a spent token stays spent after kill -9.
//   RadosAccessStore       (rados_access_store.h) objects in a RADOS pool, shared by every
//                          server instance over that pool.
//
// Guarantees every engine gives:
// - MarkSpent is a create-once: of any number of calls with one hash, in this process or
//   (RADOS) in others, exactly one returns OK; the others get AlreadyExists.
// - A call that returned OK is durable (synced to disk, or acknowledged by every RADOS replica).
// - Errors are values: NotFound, AlreadyExists as said, NoSpace when the disk is full, IOError or
//   Corruption otherwise. Messages never hold a hash. No method throws.
//
// Thread-safety: every method may be called concurrently from any thread.

#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/clock.h"
#include "common/status.h"

namespace safe::storage {

// The RocksDB engine's directory inside a data directory (and inside a checkpoint of one).
inline constexpr char kAccessDirName[] = "access";

// A keyed hash (32 bytes) standing for a token, a user name or a password.
using AccessHash = std::array<uint8_t, 32>;

// A credential as stored: a hash of its password and the last day it is valid.
struct AccessCredentialRecord {
  AccessHash secret_hash{};
  Day expiry_day = 0;  // valid through this day (UTC); deleted by DeleteExpired after it
};

class AccessStore {
 public:
  virtual ~AccessStore() = default;

  // Records token_hash as spent, to be kept through expiry_day. OK: it was not spent before and
  // now is, durably. AlreadyExists: it was spent before (whatever its day). Errors as above.
  [[nodiscard]] virtual Status MarkSpent(const AccessHash& token_hash, Day expiry_day) = 0;

  // Stores a credential under user_hash, replacing any there. Durable when it returns OK.
  [[nodiscard]] virtual Status PutCredential(const AccessHash& user_hash,
                                             const AccessCredentialRecord& record) = 0;

  // The credential under user_hash. NotFound when there is none (expired ones may still be found
  // until swept: the caller compares expiry_day).
  virtual Result<AccessCredentialRecord> GetCredential(const AccessHash& user_hash) = 0;

  // Removes the credential. NotFound when there was none.
  [[nodiscard]] virtual Status DeleteCredential(const AccessHash& user_hash) = 0;

  // Deletes every spent token and credential whose expiry_day is before today. Returns how many.
  virtual Result<uint64_t> DeleteExpired(Day today) = 0;
};

// In memory: for tests. Nothing survives the object.
class MemoryAccessStore final : public AccessStore {
 public:
  Status MarkSpent(const AccessHash& token_hash, Day expiry_day) override;
  Status PutCredential(const AccessHash& user_hash, const AccessCredentialRecord& record) override;
  Result<AccessCredentialRecord> GetCredential(const AccessHash& user_hash) override;
  Status DeleteCredential(const AccessHash& user_hash) override;
  Result<uint64_t> DeleteExpired(Day today) override;

  size_t spent_count();
  size_t credential_count();

 private:
  std::mutex mu_;
  std::map<AccessHash, Day> spent_;                           // GUARDED_BY(mu_)
  std::map<AccessHash, AccessCredentialRecord> credentials_;  // GUARDED_BY(mu_)
};

// A RocksDB of its own at `path` (created if missing, mode 0700). Keys: 's' or 'c' followed by
// the 32-byte hash; values: expiry day (i32 LE), and for 'c' the 32-byte secret hash after it.
// Every write is synced (WriteOptions::sync). MarkSpent reads and writes under a mutex; RocksDB's
// LOCK file keeps other processes out of the directory, so the create-once holds.
class RocksDbAccessStore final : public AccessStore {
 public:
  // Errors: IOError (the directory cannot be made or the database opened, e.g. another process
  // holds it), Corruption (the database is damaged).
  [[nodiscard]] static Result<std::unique_ptr<RocksDbAccessStore>> Open(const std::string& path);
  ~RocksDbAccessStore() override;
  RocksDbAccessStore(const RocksDbAccessStore&) = delete;
  RocksDbAccessStore& operator=(const RocksDbAccessStore&) = delete;

  Status MarkSpent(const AccessHash& token_hash, Day expiry_day) override;
  Status PutCredential(const AccessHash& user_hash, const AccessCredentialRecord& record) override;
  Result<AccessCredentialRecord> GetCredential(const AccessHash& user_hash) override;
  Status DeleteCredential(const AccessHash& user_hash) override;
  Result<uint64_t> DeleteExpired(Day today) override;

  // A consistent copy of the whole database in `out_dir`, which must not exist (RocksDB's
  // Checkpoint: files hard-linked on the same file system, memtables flushed first so the copy
  // needs no log replay). Used by the server's and safe-admin's checkpoints, so that a restored
  // checkpoint keeps the spent tokens and credentials. Errors: InvalidArgument when out_dir
  // exists or is empty, IOError otherwise (naming the path, never a hash).
  [[nodiscard]] Status Checkpoint(const std::string& out_dir);

 private:
  struct Impl;
  explicit RocksDbAccessStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace safe::storage
