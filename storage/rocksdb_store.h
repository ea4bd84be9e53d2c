// RocksDbStore: the persistent BackupStore, on RocksDB (Debian's librocksdb, 7.8).
//
// Layout. One RocksDB directory with two column families (plus RocksDB's mandatory "default"
// family, which stays empty):
//   "metadata"  key (32 raw bytes) -> format 2: version (u8, = 2), size (u64 LE), upload_day
//               (i32 LE), tag (16 bytes), the blob's suffix (u64), the count of versions (u8)
//               and per version its size, upload day, replaced day and blob suffix (24 bytes).
//               Format 1 (13 bytes: version, size, upload_day; blob under the key alone) is
//               still read. Small, bloom-filtered, cheap to scan.
//   "blobs"     key (32 raw bytes) + suffix (8 random bytes, never 0) -> the blob, unchanged.
//               Values of at least min_blob_size bytes go to RocksDB blob files (integrated
//               BlobDB) so that compaction does not rewrite them.
//
// Versions (issue 16). A replacing Put writes the new blob under a new suffix and the metadata
// naming it, keeps the old blob where it is (only its metadata entry moves into the version
// list) and deletes the blobs beyond keep_versions, all in one WriteBatch: nothing is copied,
// and a crash leaves the old record with its versions or the new one with the old blob as
// version 1. Blob keys are the record's key plus a random suffix: under SealedStore, a storage
// key, never an id.
//
// Blob garbage. A re-upload or delete leaves the old blob in its blob file as garbage. RocksDB's
// own blob GC relocates every live blob of the oldest quarter of the blob files on EVERY
// compaction of the (tiny) key files, which under steady re-uploads rewrote the blob data again
// and again (about 10 ms of CPU, mostly CRC32C, per 512 KiB put: docs/performance.md). So it is
// off in automatic compactions; instead a background thread of the store, woken after each flush
// and compaction, runs a forced collection (a manual compaction of the blobs family that
// relocates the live blobs of the oldest quarter of the blob files) while the garbage is at
// least blob_garbage_ratio of the blob files' bytes. Disk use stays under about 1 / (1 - ratio)
// times the live blobs (2x at 0.5), and each byte of garbage costs about ratio / (1 - ratio)
// bytes of relocation (1 at 0.5). A failed collection is tried again a minute later at the
// earliest.
// Stat and Scan read only "metadata"; Get reads both through one snapshot, so it sees one Put
// whole, and checks that the blob's length matches the metadata (Corruption otherwise).
//
// Durability. A Put writes the metadata and the blob in ONE WriteBatch (atomic across the two
// column families: they share the WAL) with WriteOptions::sync = true, so it is in the synced WAL
// before Put returns OK. Concurrent puts are grouped by RocksDB's write thread (group commit:
// one fsync for many writers, bounded by max_write_batch_group_size_bytes); syncs are never
// turned off. Delete syncs too. The retention sweep writes its deletions without a sync and
// syncs the WAL once before it returns; a crash in the middle may bring back some expired
// records, which the next sweep deletes again.
//
// Exact outcomes. Put, Delete and the sweep lock the key's stripe (a fixed array of mutexes
// indexed by a hash of the key) around their read-then-write, so "created vs replaced" is exact
// and a record re-uploaded while the sweep runs is kept.
//
// Errors are translated once, here: RocksDB NotFound -> NotFound; no space (IOError/NoSpace or
// SpaceLimit) -> NoSpace; Corruption -> Corruption; everything else -> IOError. Messages never
// contain key bytes. After a write fails (a full disk, a WAL that could not be created while the
// process was out of file descriptors, any I/O error) RocksDB may stop accepting writes (a
// "background error"); the next write then first calls DB::Resume(), and so does Stats() (with
// a backoff of 50 ms doubling up to 1 s after a failed try), so writes work again once the
// cause has gone, without a restart. An error RocksDB classes as fatal (Resume() cannot clear
// it; a WAL that could not be created is one) is recovered by closing and opening the database
// again, waiting for the calls in progress; while that reopen fails, every call answers
// IOError ("being reopened") and the next write or Stats() tries again. Calls after Close()
// return Unavailable.
//
// RocksDB's informational log is discarded: no LOG or LOG.old.* file is written in the data
// directory (its per-flush timestamps and counts are what docs/privacy.md promises not to keep).
//
// Ownership: the store owns the RocksDB instance and its directory lock; a second store (in
// this or another process) cannot open the same directory while this one is open. A store made
// by OpenReadOnly takes no lock (see there).
//
// Checkpoints. Checkpoint() makes a consistent copy of the whole database (RocksDB's
// Checkpoint: SST and blob files hard-linked when on the same file system, the rest copied)
// while writes go on. Only the process that has the database open for writing can make one:
// from another process (a read-only or secondary instance) RocksDB's checkpoint races with the
// writer's flushes, compactions and WAL deletions, and tried here it either failed or silently
// lost records. A running server therefore makes its own checkpoints; an admin tool opens the
// database itself only while the server is stopped.
// Thread-safety: every method may be called concurrently from any thread, Close() included.

#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "storage/backup_store.h"

namespace safe::storage {

struct RocksDbOptions {
  // Directory of the database. Created (with its parents) if missing. REQUIRES: not empty.
  std::string path;
  // Size of the LRU block cache shared by both column families.
  uint64_t block_cache_bytes = 32 << 20;
  // Memtable size of each column family. The WAL is capped at four times this size: a larger
  // WAL makes RocksDB flush the column family that holds it back.
  uint64_t write_buffer_bytes = 16 << 20;
  // Store blobs of at least min_blob_size bytes in blob files rather than in SST files.
  bool enable_blob_files = true;
  // Smallest blob that goes to a blob file (when enable_blob_files).
  uint64_t min_blob_size = 4096;
  // Upper bound of one group commit: the WAL bytes written (and synced once) for a group of
  // concurrent writers.
  uint64_t max_write_batch_group_size_bytes = 16 << 20;
  // Check RocksDB's CRC32C of every blob read. Debian's librocksdb computes CRC32C in software,
  // a fifth of a GET's CPU. The server turns it off because SealedStore authenticates every blob
  // with AES-GCM, which finds any flipped bit anyway; metadata is always checked.
  bool verify_blob_checksums = true;
  // Collect blob garbage once it is at least this share of the blob files' bytes (see "Blob
  // garbage" above), and only when there is at least blob_garbage_min_bytes of it. 0 turns
  // collection off (garbage then goes only with whole blob files that hold nothing live).
  double blob_garbage_ratio = 0.5;
  uint64_t blob_garbage_min_bytes = 64 << 20;
};

// Numbers for metrics. backups and bytes are exact (counted at Open, kept up to date by every
// write); the others are RocksDB's own estimates.
struct StoreStats {
  uint64_t backups = 0;                   // records stored
  uint64_t bytes = 0;                     // sum of the blob sizes
  uint64_t pending_compaction_bytes = 0;  // RocksDB's estimate, both column families
  uint64_t wal_bytes = 0;                 // size of the live WAL files
  uint64_t blob_file_bytes = 0;           // the blob files of the current version
  uint64_t blob_garbage_bytes = 0;        // garbage in them, as RocksDB has accounted it
  uint64_t blob_collections = 0;          // forced blob collections run since Open
};

class RocksDbStore final : public BackupStore {
 public:
  // Opens (creating if missing) the database at options.path. Errors: IOError when the path
  // exists but is not a directory, when another store holds the directory's lock (the message
  // says so), or when RocksDB cannot open it; Corruption when its data fails a check.
  [[nodiscard]] static Result<std::unique_ptr<RocksDbStore>> Open(const RocksDbOptions& options);

  // How OpenReadOnly reads the database.
  enum class ReadOnlyMode {
    // RocksDB's read-only mode: everything can be read, Get included. It does not follow a
    // writer: REQUIRES that no process writes the database while this store is open (a
    // checkpoint, or a data directory whose server is stopped); otherwise reads may fail.
    kWholeDatabase,
    // A RocksDB secondary instance, RocksDB's supported way for a second process to read a
    // database another process is writing; it sees what was written up to the moment it opened.
    // Metadata only: Stat, Scan and Stats work, Get returns Unavailable, because RocksDB's
    // secondary instances do not support blob files (RocksDB 7.8 crashes reading a blob value
    // through one: facebook/rocksdb issues 13248 and 13296). Its own RocksDB log goes to a
    // temporary directory under $TMPDIR (or /tmp), removed by Close().
    kMetadataOnly,
  };

  // Opens the database at options.path for reading only. It takes no directory lock and writes
  // nothing to options.path (no RocksDB LOG file either). Put, Delete and DeleteUploadedBefore
  // return Unavailable; Checkpoint returns InvalidArgument. Errors: NotFound when options.path
  // holds no database; IOError or Corruption as Open.
  [[nodiscard]] static Result<std::unique_ptr<RocksDbStore>> OpenReadOnly(
      const RocksDbOptions& options, ReadOnlyMode mode);

  // Closes the database (see Close()).
  ~RocksDbStore() override;
  RocksDbStore(const RocksDbStore&) = delete;
  RocksDbStore& operator=(const RocksDbStore&) = delete;

  // Unavailable for a store opened with ReadOnlyMode::kMetadataOnly.
  Result<BackupRecord> Get(const BackupId& key) override;
  Result<BackupInfo> Stat(const BackupId& key) override;
  using BackupStore::Put;
  // One WriteBatch: the new blob, the metadata (the old blob as version 1) and the deletion of
  // the blobs that fall out (see "Versions" above).
  Result<PutResult> Put(const BackupId& key, std::string_view blob, Day upload_day,
                        const PutOptions& options) override;
  Result<std::vector<VersionInfo>> ListVersions(const BackupId& key) override;
  // Unavailable for a store opened with ReadOnlyMode::kMetadataOnly.
  Result<BackupRecord> GetVersion(const BackupId& key, uint32_t n) override;
  Status Delete(const BackupId& key) override;
  Status Scan(const std::function<void(const BackupId&, const BackupInfo&)>& visit) override;
  Result<uint64_t> DeleteUploadedBefore(Day cutoff_day) override;

  // Cancels RocksDB's background work (waiting for it), closes and frees the database, and
  // releases the directory lock. Waits for calls in progress. Idempotent: a second call returns
  // OK. Returns the error RocksDB reported while closing, if any.
  Status Close();

  // Exact record count and bytes plus RocksDB's estimates. Resumes the database first when a
  // background error was raised (see "Errors" above). Unavailable after Close().
  Result<StoreStats> Stats();

  // True while a failed write or a background error has not been recovered from (see "Errors"
  // above): writes are expected to fail. Stats() tries to recover first, so a caller that
  // polls Stats() and then this (as /readyz does) sees the store become ready again by itself.
  bool Recovering();

  // Writes a consistent copy of the database (both column families, as of one moment) to
  // out_dir, which must not exist; its parent directories are created if missing. Writes may go
  // on meanwhile. The copy is itself a database directory that Open and OpenReadOnly accept, and
  // it holds nothing but RocksDB's files. SST and blob files are hard links when out_dir is on
  // the database's file system (cheap, but they pin disk space until the copy is deleted),
  // copies otherwise. Errors: InvalidArgument when out_dir is empty or exists, or the store was
  // opened with OpenReadOnly; IOError (NoSpace when the disk is full) when RocksDB fails, after
  // which nothing is left at out_dir; Unavailable after Close().
  Status Checkpoint(const std::string& out_dir);

  // A RocksDB integer property (e.g. "rocksdb.total-blob-file-size"), summed over both column
  // families. InvalidArgument for a name RocksDB does not know as an integer property.
  Result<uint64_t> IntProperty(const std::string& name);

 private:
  struct Impl;
  explicit RocksDbStore(std::unique_ptr<Impl> impl);
  // Counts the records of a freshly opened impl (so that Stats() is exact) and wraps it.
  static Result<std::unique_ptr<RocksDbStore>> FinishOpen(std::unique_ptr<Impl> impl);
  // Get and GetVersion: the metadata and the blob `pick` chooses from it, under one snapshot.
  template <typename Pick>
  Result<BackupRecord> ReadRecord(const BackupId& key, Pick pick);

  std::unique_ptr<Impl> impl_;
};

}  // namespace safe::storage
