// RadosBackupStore: the BackupStore on a Ceph RADOS pool, for providers that run several
// stateless safe-server instances over one distributed object store (issue 7). Built only when
// librados was found at configure time; SAFE_HAVE_RADOS is then defined for every target that
// links safe_storage.
//
// Layout in the pool (in options.name_space):
//   <64 hex>          one object per backup, named by the hex of its key (the server passes
//                     storage keys, HMACs of ids, through SealedStore). Its data is the blob;
//                     its xattr "safe.meta" holds format 2: version (u8, = 2), size (u64 LE),
//                     upload_day (i32 LE), tag (16 bytes), the count of versions (u8) and per
//                     version its size, upload day and replaced day (format 1, 13 bytes without
//                     tag and versions, is still read). Versions (issue 16): the object's data
//                     is the current blob followed by the versions' blobs, most recent first, so
//                     a replacing put that keeps versions is still ONE atomic write (write_full
//                     of the new blob and the kept old ones, setxattr, guarded by cmpxattr of the
//                     metadata it read). It reads the old data first and writes (N + 1) blobs:
//                     versions cost RADOS bandwidth, not atomicity. The sweep trims expired
//                     versions (truncate + setxattr, guarded) when it walks the day index of the
//                     upload that made them expire.
//   day-<D>-<h>       the index of uploads on day D: omap keys are the names of the backups put
//                     on that day whose name starts with hex digit h (16 shards per day, so that
//                     no omap object grows past Ceph's large-omap warning on a big server).
//   days              omap keys: the days that have index objects (8 hex digits of the day with
//                     its sign bit flipped, so that omap order is day order).
//   meta-<name>       small values beside the backups (GetOrCreateValue), e.g. the key check.
//
// Atomicity. A Put is ONE RADOS write operation on the backup's object: write_full of the blob
// and setxattr of its metadata, applied by the OSDs as one transaction, so a reader (Get reads
// data and metadata in one read operation) sees the old record or the new one, never a mix.
// Created vs replaced is exact: the put first tries "assert_exists + write" (the common case, a
// re-upload, costs one round trip); -ENOENT means absent, so it tries "create(exclusive) +
// write"; -EEXIST (a concurrent creator won) sends it back to the first form. Each form either
// applies whole or not at all, so exactly one of many concurrent creators sees kCreated.
//
// Durability. A RADOS write is acknowledged after every replica of its placement group has
// committed it (pool size 3: three OSDs), so a Put that returned OK survives the loss of any
// OSD but the last.
//
// Expiry without a full scan (RADOS listing is unordered and walks the whole pool). Two objects
// cannot be written atomically in RADOS, so a Put writes the index first (its name into
// day-<D>-<h> and D into "days", both at once; the "days" write is skipped for the few days this
// store registered last), then the object: a crash in between leaves an index entry without an
// object, which is harmless. A re-upload on a later day adds an entry there; the old day's
// entry goes stale and is dropped when that day is swept.
// DeleteUploadedBefore(cutoff) reads "days" and, for each day before cutoff, walks its shards:
// for each entry it reads the object's metadata, and if the object's own day is before cutoff
// deletes it with a guarded operation (cmpxattr of the metadata it read + remove), so a
// re-upload that lands in between is never deleted. It then removes the shard with
// assert_version (an entry added meanwhile makes it walk the shard again) and, once every shard
// of the day is gone, the day from "days". Scan walks the same index and visits each record
// under its current day only.
// Limit: a Put dated before the cutoff of a sweep that runs at the same moment may escape that
// sweep's index walk. The server dates puts today and sweeps with cutoff = today - retention,
// so this needs clocks a retention period apart.
//
// Errors are translated once, here: -ENOENT -> NotFound, -ENOSPC / -EDQUOT -> NoSpace (writes
// carry FULL_TRY, so a full cluster or pool answers instead of blocking), anything else ->
// IOError with the errno text; no message contains a key. A record whose metadata is missing or
// malformed, or whose data length differs from it, is Corruption. Nothing here throws.
//
// Ownership: the store owns its cluster handle (one librados::Rados, one IoCtx). REQUIRES: no
// call is in progress when it is destroyed.
// Thread-safety: every method may be called concurrently from any thread; several stores, in
// this or other processes or hosts, may use the same pool and namespace at once.

#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "storage/backup_store.h"

namespace safe::storage {

struct RadosOptions {
  // The cluster's ceph.conf: monitor addresses, auth settings, and (under [client]) the keyring.
  // REQUIRES: not empty.
  std::string conf_path;
  // The pool that holds the backups. It must exist: the provider creates it (size, placement
  // groups, replication or erasure coding are the provider's choice). REQUIRES: not empty.
  std::string pool;
  // The cephx user, without the "client." prefix.
  std::string user = "admin";
  // The user's keyring file. Empty: the keyring that ceph.conf names for this client.
  std::string keyring;
  // A RADOS namespace inside the pool. Stores on different namespaces share nothing (the tests
  // give each store its own). Empty: the pool's default namespace.
  std::string name_space;
  // How long one RADOS operation may wait (e.g. for placement groups to peer again after an OSD
  // failed) before it fails with IOError. 0 waits for ever.
  uint32_t op_timeout_seconds = 60;
  // How long Open waits for the monitors before it fails.
  uint32_t connect_timeout_seconds = 30;
  // Tests only (empty otherwise): called by DeleteUploadedBefore after it has read the metadata
  // of a page of index entries and before it deletes the expired ones, so that a test can
  // re-upload a record inside that window and see the guarded delete keep it.
  std::function<void()> sweep_window_for_testing;
};

// Figures for metrics, from the cluster's own statistics (reported to the monitors every few
// seconds, so slightly behind).
struct RadosStats {
  uint64_t pool_objects = 0;  // objects in the pool: backups and index objects, all namespaces
  uint64_t pool_bytes = 0;    // bytes stored in the pool, one copy
  uint64_t cluster_bytes_used = 0;   // raw bytes used on all OSDs, every copy
  uint64_t cluster_bytes_avail = 0;  // raw bytes still free on all OSDs
};

class RadosBackupStore final : public BackupStore {
 public:
  // Index shards per day (part of the layout: every store on a pool must agree).
  static constexpr int kIndexShards = 16;

  // Connects to the cluster and opens the pool. Errors: InvalidArgument when conf_path or pool
  // is empty; NotFound when the pool (or the ceph.conf) does not exist; IOError when the
  // configuration cannot be read, authentication fails or the monitors do not answer within
  // connect_timeout_seconds. Messages name the file or pool, never a key.
  [[nodiscard]] static Result<std::unique_ptr<RadosBackupStore>> Open(const RadosOptions& options);

  ~RadosBackupStore() override;
  RadosBackupStore(const RadosBackupStore&) = delete;
  RadosBackupStore& operator=(const RadosBackupStore&) = delete;

  // One read operation (data and metadata together). NotFound when there is none; Corruption
  // when the metadata is missing or malformed or the data length differs from it.
  Result<BackupRecord> Get(const BackupId& key) override;
  // Reads the metadata xattr only.
  Result<BackupInfo> Stat(const BackupId& key) override;
  // Index entry first, then one atomic write of blob and metadata (see the top of this file).
  // Conditions and kept versions read the object first and write it guarded by the metadata
  // read (cmpxattr), trying again when another put came in between.
  using BackupStore::Put;
  Result<PutResult> Put(const BackupId& key, std::string_view blob, Day upload_day,
                        const PutOptions& options) override;
  // The metadata xattr only.
  Result<std::vector<VersionInfo>> ListVersions(const BackupId& key) override;
  // The metadata, then the version's byte range guarded by it.
  Result<BackupRecord> GetVersion(const BackupId& key, uint32_t n) override;
  // Removes the object; its index entry goes stale and is dropped by a later sweep.
  Status Delete(const BackupId& key) override;
  // Walks the day index (not the pool): each live record once, under its current day. Index
  // entries whose object is gone or was re-uploaded on another day are skipped. A record that is
  // re-uploaded during the scan may be visited twice (once under each day).
  Status Scan(const std::function<void(const BackupId&, const BackupInfo&)>& visit) override;
  // Walks the index of every day before cutoff_day (see the top of this file). Returns how many
  // records this call deleted. An error on one record does not stop the sweep: it goes on and
  // returns the first error at the end.
  Result<uint64_t> DeleteUploadedBefore(Day cutoff_day) override;

  // A small named value stored beside the backups, set once: creates it holding `value` when
  // absent (an exclusive create, so instances starting at once agree on one value) and returns
  // the stored value, which is the existing one when there was one. For the server key's check.
  // REQUIRES: name is not empty and made of [a-z0-9-]. Errors as Put.
  Result<std::string> GetOrCreateValue(const std::string& name, std::string_view value);

  // The pool's and the cluster's figures. IOError when the cluster does not answer.
  Result<RadosStats> Stats();

 private:
  struct Impl;
  explicit RadosBackupStore(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;
};

}  // namespace safe::storage
