// RadosAccessStore: the AccessStore (access_store.h) in a RADOS pool, so that every safe-server
// instance over one pool shares the spent tokens and the credentials (issue 18). Built only when
// librados was found (SAFE_HAVE_RADOS).
//
// Layout, in the namespace "<name_space>access" of the pool (stores with different name_space
// share nothing):
//   spent-<64 hex>   a spent token: made with an exclusive create (of any number of instances
//                    creating one name at once, exactly one succeeds; the others get -EEXIST,
//                    AlreadyExists). Data: the day it may go (i32 LE).
//   cred-<64 hex>    a credential: the day it may go (i32 LE), then the 32-byte secret hash.
//   exp-<8 hex>      the index of one expiry day: omap keys are the names of the objects that
//                    expire then. Written before the object, so a crash leaves at most an entry
//                    without an object (harmless).
//   exp-days         omap keys: the days that have index objects.
// DeleteExpired reads exp-days and, for each day before today, removes the objects its index
// names, then the index object, then the day. New entries never land in such a day: every
// expiry day written is today or later.
//
// Durability: a RADOS write returns after every replica committed it.
// Errors: -ENOENT NotFound, -EEXIST (spent) AlreadyExists, -ENOSPC/-EDQUOT NoSpace, anything else
// IOError; no message holds a hash. Nothing throws.
// Thread-safety: every method may be called concurrently, by several processes on one pool.

#pragma once

#include <memory>

#include "storage/access_store.h"
#include "storage/rados_store.h"

namespace safe::storage {

class RadosAccessStore final : public AccessStore {
 public:
  // Connects as RadosBackupStore::Open does (the same options and errors).
  [[nodiscard]] static Result<std::unique_ptr<RadosAccessStore>> Open(const RadosOptions& options);
  ~RadosAccessStore() override;
  RadosAccessStore(const RadosAccessStore&) = delete;
  RadosAccessStore& operator=(const RadosAccessStore&) = delete;

  Status MarkSpent(const AccessHash& token_hash, Day expiry_day) override;
  Status PutCredential(const AccessHash& user_hash, const AccessCredentialRecord& record) override;
  Result<AccessCredentialRecord> GetCredential(const AccessHash& user_hash) override;
  Status DeleteCredential(const AccessHash& user_hash) override;
  Result<uint64_t> DeleteExpired(Day today) override;

 private:
  struct Impl;
  explicit RadosAccessStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace safe::storage
