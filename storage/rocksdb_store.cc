#include "storage/rocksdb_store.h"

#include <pthread.h>
#include <stdlib.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdarg>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <random>
#include <shared_mutex>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/listener.h>
#include <rocksdb/options.h>
#include <rocksdb/snapshot.h>
#include <rocksdb/table.h>
#include <rocksdb/transaction_log.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>

namespace safe::storage {
namespace {

constexpr char kMetadataFamily[] = "metadata";
constexpr char kBlobsFamily[] = "blobs";

// Metadata value, format 1 (records written before issue 16): version (u8, = 1) | size (u64 LE)
// | upload_day (i32 LE, two's complement); the blob is under the key itself.
// Format 2: version (u8, = 2) | size (u64) | upload_day (i32) | tag (16 bytes) | blob suffix
// (u64) | count of versions (u8) | per version, most recently replaced first: size (u64) |
// upload_day (i32) | replaced_day (i32) | blob suffix (u64). All little-endian. A blob is stored
// in the blobs family under the key followed by its 8-byte suffix (random, never 0); suffix 0
// means the key alone (a blob written in format 1).
constexpr uint8_t kMetadataVersion1 = 1;
constexpr uint8_t kMetadataVersion2 = 2;
constexpr size_t kMetadataBytes = 1 + 8 + 4;
constexpr size_t kMetadata2Bytes = 1 + 8 + 4 + 16 + 8 + 1;
constexpr size_t kVersionBytes = 8 + 4 + 4 + 8;
constexpr uint32_t kMaxVersions = 255;

// Stripes of the per-key lock. Enough that unrelated keys rarely share one on a small machine.
constexpr size_t kStripes = 64;

// Scan and sweep walk the metadata in chunks and drop their iterator between chunks, so that a
// visitor may call back into the store and a long walk does not pin old memtables and files.
constexpr size_t kChunkRecords = 1024;

// Blob files: smaller than RocksDB's 256 MiB default, so that garbage collection can reclaim
// replaced blobs on a small server without rewriting huge files.
constexpr uint64_t kBlobFileBytes = 64 << 20;
// The wait after a failed recovery starts here and doubles up to the maximum (see
// RocksDbStore::Impl::Recover).
constexpr std::chrono::milliseconds kMinResumeBackoff{50};
constexpr std::chrono::milliseconds kMaxResumeBackoff{1000};

void PutU64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutDay(std::string* out, Day day) {
  uint32_t u;
  std::memcpy(&u, &day, sizeof(u));
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((u >> (8 * i)) & 0xff));
}
uint64_t GetU64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}
Day GetDay(const char* p) {
  uint32_t u = 0;
  for (int i = 0; i < 4; ++i) u |= static_cast<uint32_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  Day day;
  std::memcpy(&day, &u, sizeof(day));
  return day;
}

struct StoredVersion {
  VersionInfo info;
  uint64_t suffix = 0;
};

// A decoded metadata value.
struct Meta {
  BackupInfo info;  // size, upload_day, tag (versions and the rest: see Info())
  uint64_t suffix = 0;
  std::vector<StoredVersion> versions;  // most recently replaced first

  BackupInfo Info() const {
    BackupInfo out = info;
    out.versions = static_cast<uint32_t>(versions.size());
    out.version_bytes = 0;
    for (const StoredVersion& v : versions) out.version_bytes += v.info.size;
    out.oldest_replaced_day = versions.empty() ? 0 : versions.back().info.replaced_day;
    return out;
  }
};

std::string EncodeMeta(const Meta& meta) {
  std::string out;
  out.reserve(kMetadata2Bytes + meta.versions.size() * kVersionBytes);
  out.push_back(static_cast<char>(kMetadataVersion2));
  PutU64(&out, meta.info.size);
  PutDay(&out, meta.info.upload_day);
  out.append(reinterpret_cast<const char*>(meta.info.tag.data()), meta.info.tag.size());
  PutU64(&out, meta.suffix);
  out.push_back(static_cast<char>(meta.versions.size()));
  for (const StoredVersion& v : meta.versions) {
    PutU64(&out, v.info.size);
    PutDay(&out, v.info.upload_day);
    PutDay(&out, v.info.replaced_day);
    PutU64(&out, v.suffix);
  }
  return out;
}

Result<Meta> DecodeMeta(std::string_view value) {
  const Status unknown = Status::Corruption("backup metadata has an unknown format");
  if (value.empty()) return unknown;
  Meta meta;
  const char* p = value.data();
  if (static_cast<uint8_t>(p[0]) == kMetadataVersion1 && value.size() == kMetadataBytes) {
    meta.info.size = GetU64(p + 1);
    meta.info.upload_day = GetDay(p + 9);
    return meta;
  }
  if (static_cast<uint8_t>(p[0]) != kMetadataVersion2 || value.size() < kMetadata2Bytes) {
    return unknown;
  }
  const size_t count = static_cast<uint8_t>(p[kMetadata2Bytes - 1]);
  if (value.size() != kMetadata2Bytes + count * kVersionBytes) return unknown;
  meta.info.size = GetU64(p + 1);
  meta.info.upload_day = GetDay(p + 9);
  std::memcpy(meta.info.tag.data(), p + 13, meta.info.tag.size());
  meta.suffix = GetU64(p + 29);
  for (size_t i = 0; i < count; ++i) {
    const char* v = p + kMetadata2Bytes + i * kVersionBytes;
    StoredVersion version;
    version.info.size = GetU64(v);
    version.info.upload_day = GetDay(v + 8);
    version.info.replaced_day = GetDay(v + 12);
    version.suffix = GetU64(v + 16);
    meta.versions.push_back(version);
  }
  return meta;
}

// The blobs family's key of a blob: the record's key, then the suffix unless it is 0.
std::string BlobKey(const BackupId& key, uint64_t suffix) {
  std::string out(key.AsStringView());
  if (suffix != 0) PutU64(&out, suffix);
  return out;
}

// How many of `all` (the replaced blob, then the old versions) have not expired by
// options.expired_before: a prefix, since replaced days do not increase along it.
template <typename T>
size_t AliveVersions(const std::vector<T>& all, Day replaced_upload_day,
                     const PutOptions& options) {
  if (replaced_upload_day < options.expired_before) return 0;
  size_t alive = 1;
  while (alive < all.size() && all[alive].info.replaced_day >= options.expired_before) ++alive;
  return alive;
}

uint64_t NewSuffix() {
  thread_local std::random_device device;
  uint64_t suffix = 0;
  while (suffix == 0) suffix = (uint64_t{device()} << 32) | device();
  return suffix;
}

rocksdb::Slice ToSlice(const BackupId& key) {
  std::string_view bytes = key.AsStringView();
  return rocksdb::Slice(bytes.data(), bytes.size());
}

Result<BackupId> KeyFromSlice(const rocksdb::Slice& slice) {
  if (slice.size() != BackupId::kBytes) return Status::Corruption("stored key has a wrong length");
  BackupId::Bytes bytes;
  std::memcpy(bytes.data(), slice.data(), bytes.size());
  return BackupId::FromBytes(bytes);
}

std::string CodeName(rocksdb::Status::Code code) {
  switch (code) {
    case rocksdb::Status::kNotSupported:
      return "not supported by RocksDB";
    case rocksdb::Status::kInvalidArgument:
      return "invalid argument to RocksDB";
    case rocksdb::Status::kIncomplete:
      return "RocksDB operation incomplete";
    case rocksdb::Status::kShutdownInProgress:
      return "RocksDB is shutting down";
    case rocksdb::Status::kTimedOut:
      return "RocksDB timed out";
    case rocksdb::Status::kAborted:
      return "RocksDB aborted the operation";
    case rocksdb::Status::kBusy:
      return "RocksDB is busy";
    case rocksdb::Status::kTryAgain:
      return "RocksDB asks to try again";
    default:
      return "RocksDB error code " + std::to_string(static_cast<int>(code));
  }
}

// The one translation of rocksdb::Status. `what` names the operation. RocksDB's own message is
// kept only for I/O errors (it names files, never keys); a Corruption message may quote a key, so
// it is dropped.
Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::OK();
  if (s.IsNotFound()) return Status::NotFound(what + ": not found");
  if (s.IsNoSpace() || (s.IsIOError() && s.subcode() == rocksdb::Status::kSpaceLimit)) {
    return Status::NoSpace(what + ": no space left for the store");
  }
  if (s.IsCorruption()) return Status::Corruption(what + ": stored data failed a check");
  if (s.IsIOError()) return Status::IOError(what + ": " + s.ToString());
  // Busy, TimedOut, ShutdownInProgress, ...: the engine failed; its code's name is enough.
  return Status::IOError(what + ": " + CodeName(s.code()));
}

// Discards RocksDB's informational log, for every way of opening the store: RocksDB would
// otherwise write (and rotate) a LOG file in the data directory with per-flush timestamps and
// record counts, which docs/privacy.md promises are not kept. Errors reach the server as
// Status values instead.
class NullLogger final : public rocksdb::Logger {
 public:
  NullLogger() : rocksdb::Logger(rocksdb::InfoLogLevel::HEADER_LEVEL) {}
  using rocksdb::Logger::Logv;
  void Logv(const char* /*format*/, va_list /*ap*/) override {}
  void Logv(const rocksdb::InfoLogLevel /*level*/, const char* /*format*/,
            va_list /*ap*/) override {}
  void LogHeader(const char* /*format*/, va_list /*ap*/) override {}
};

// What RocksDbStore needs to know of RocksDB's background errors: one was raised and the
// database has not been resumed since. Shared by the listener and the store.
struct RecoveryState {
  std::atomic<bool> resume_needed{false};
  // The error is one DB::Resume() cannot clear (RocksDB's severity kFatalError or above): only
  // closing and opening the database again recovers.
  std::atomic<bool> fatal{false};
};

// Keeps RocksDB from recovering on its own and tells the store to resume it instead. RocksDB's
// own recovery from a full disk waits until a whole write buffer of the (unused) default column
// family is free (64 MiB) and looks only every few seconds, so on a small or nearly full disk
// puts would answer 507 long after space was freed; meanwhile DB::Resume() answers Busy; and it
// does not try at all after errors it classes as fatal (e.g. a WAL that could not be created
// while the process was out of file descriptors). Instead RocksDbStore::Impl::Recover() resumes
// (or reopens) the database on the next call, with a backoff, as soon as the error has gone
// (tests/faults: FullDiskTest, StoreRecoveryTest).
class ManualRecovery final : public rocksdb::EventListener {
 public:
  explicit ManualRecovery(std::shared_ptr<RecoveryState> state) : state_(std::move(state)) {}
  void OnBackgroundError(rocksdb::BackgroundErrorReason /*reason*/,
                         rocksdb::Status* bg_error) override {
    if (bg_error->severity() >= rocksdb::Status::Severity::kFatalError) state_->fatal.store(true);
    state_->resume_needed.store(true);
  }
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason /*reason*/, rocksdb::Status /*bg_error*/,
                            bool* auto_recovery) override {
    *auto_recovery = false;
    state_->resume_needed.store(true);
  }

 private:
  std::shared_ptr<RecoveryState> state_;
};

// Wakes the blob collector of a writable store (RocksDbStore::Impl::RunCollector). Garbage is
// accounted when a compaction drops the references to replaced blobs, and flushes lead to
// compactions, so both wake it; it then only reads two properties unless there is work.
struct CollectorSignal {
  std::mutex mutex;
  std::condition_variable wake;
  bool poked = false;     // GUARDED_BY(mutex)
  bool stopping = false;  // GUARDED_BY(mutex)

  void Poke() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      poked = true;
    }
    wake.notify_one();
  }
};

class CollectorWakeup final : public rocksdb::EventListener {
 public:
  explicit CollectorWakeup(std::shared_ptr<CollectorSignal> signal) : signal_(std::move(signal)) {}
  void OnFlushCompleted(rocksdb::DB* /*db*/, const rocksdb::FlushJobInfo& /*info*/) override {
    signal_->Poke();
  }
  void OnCompactionCompleted(rocksdb::DB* /*db*/,
                             const rocksdb::CompactionJobInfo& /*info*/) override {
    signal_->Poke();
  }

 private:
  std::shared_ptr<CollectorSignal> signal_;
};

// The options of the database, the same for every way of opening it.
struct DbConfig {
  rocksdb::DBOptions db_options;
  std::vector<rocksdb::ColumnFamilyDescriptor> families;  // default, metadata, blobs
};

DbConfig MakeDbConfig(const RocksDbOptions& options,
                      const std::shared_ptr<RecoveryState>& recovery) {
  DbConfig config;
  config.db_options.info_log = std::make_shared<NullLogger>();
  config.db_options.create_if_missing = true;
  config.db_options.create_missing_column_families = true;
  config.db_options.max_background_jobs = 2;
  // Group commit: concurrent sync writers share one WAL write and one fsync; pipelining lets
  // the next group's WAL write overlap the previous group's memtable insert.
  config.db_options.enable_pipelined_write = true;
  config.db_options.max_write_batch_group_size_bytes = options.max_write_batch_group_size_bytes;
  // The metadata family fills its memtable far more slowly than the blobs family; without a cap
  // its unflushed entries would keep gigabytes of WAL alive.
  config.db_options.max_total_wal_size = 4 * options.write_buffer_bytes;
  config.db_options.listeners.push_back(std::make_shared<ManualRecovery>(recovery));

  std::shared_ptr<rocksdb::Cache> cache = rocksdb::NewLRUCache(options.block_cache_bytes);

  rocksdb::BlockBasedTableOptions metadata_table;
  metadata_table.block_cache = cache;
  // Stat and Put of a new key look up keys that are absent: a bloom filter answers from memory.
  metadata_table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  rocksdb::ColumnFamilyOptions metadata_options;
  metadata_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(metadata_table));
  metadata_options.write_buffer_size = options.write_buffer_bytes;
  metadata_options.level_compaction_dynamic_level_bytes = true;

  rocksdb::BlockBasedTableOptions blobs_table;
  blobs_table.block_cache = cache;
  rocksdb::ColumnFamilyOptions blobs_options;
  blobs_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(blobs_table));
  blobs_options.write_buffer_size = options.write_buffer_bytes;
  blobs_options.level_compaction_dynamic_level_bytes = true;
  // Blobs are encrypted by the apps: compressing them only costs CPU.
  blobs_options.compression = rocksdb::kNoCompression;
  blobs_options.enable_blob_files = options.enable_blob_files;
  blobs_options.min_blob_size = options.min_blob_size;
  blobs_options.blob_file_size = kBlobFileBytes;
  blobs_options.blob_compression_type = rocksdb::kNoCompression;
  // Every re-upload leaves the old blob behind as garbage. RocksDB's GC during compaction would
  // relocate the live blobs of the oldest blob files on every compaction: the store's collector
  // thread collects instead, when the garbage is worth it (see "Blob garbage" in the header).
  blobs_options.enable_blob_garbage_collection = false;

  config.families = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
      {kMetadataFamily, metadata_options},
      {kBlobsFamily, blobs_options},
  };
  return config;
}

}  // namespace

struct RocksDbStore::Impl {
  // Shared by every call, exclusive in Close(): Close waits for calls in progress.
  std::shared_mutex lifetime_mutex;
  std::unique_ptr<rocksdb::DB> db;  // GUARDED_BY(lifetime_mutex); null: closed or reopening
  // Set while a reopen after a fatal error has not succeeded yet: calls then answer IOError
  // (and try the reopen again, see Recover) instead of Unavailable.
  bool reopen_pending = false;  // GUARDED_BY(lifetime_mutex)
  // What the database was opened with, for a reopen (writable stores only).
  std::string path;
  DbConfig config;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;  // GUARDED_BY(lifetime_mutex); owned
  rocksdb::ColumnFamilyHandle* metadata = nullptr;    // one of handles
  rocksdb::ColumnFamilyHandle* blobs = nullptr;       // one of handles

  std::array<std::mutex, kStripes> stripes;
  std::atomic<uint64_t> backups{0};
  std::atomic<uint64_t> bytes{0};
  // Set when a write failed or RocksDB raised a background error: the next call resumes the
  // database first (see Recover).
  std::shared_ptr<RecoveryState> recovery = std::make_shared<RecoveryState>();
  // After a failed DB::Resume(), none before resume_after; the wait doubles up to
  // kMaxResumeBackoff. GUARDED_BY(resume_mutex).
  std::mutex resume_mutex;
  std::chrono::steady_clock::time_point resume_after;
  std::chrono::milliseconds resume_backoff{0};
  // Set by OpenReadOnly before the store is shared; never changed after.
  bool read_only = false;
  bool metadata_only = false;  // a secondary instance: no blob reads (see ReadOnlyMode)
  bool verify_blob_checksums = true;
  std::string secondary_dir;  // the secondary instance's log directory; removed by Close()

  // The blob collector (writable stores with blob_garbage_ratio > 0): a thread waiting on
  // collector_signal. StopCollector() (Close) cancels a collection in progress and joins it
  // before the database closes.
  std::shared_ptr<CollectorSignal> collector_signal;
  std::thread collector;  // GUARDED_BY(collector_mutex) for join
  std::mutex collector_mutex;
  std::atomic<bool> collector_cancel{false};
  std::atomic<uint64_t> collections{0};
  // After a failed collection, none before this (read and written by the collector thread only).
  std::chrono::steady_clock::time_point collector_retry_after;
  double garbage_ratio = 0;
  uint64_t garbage_min_bytes = 0;

  void StartCollector() {
    collector = std::thread([this] {
      pthread_setname_np(pthread_self(), "safe-blob-gc");
      RunCollector();
    });
    collector_signal->Poke();  // a database may open with garbage from before
  }

  void RunCollector() {
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(collector_signal->mutex);
        collector_signal->wake.wait(
            lock, [this] { return collector_signal->poked || collector_signal->stopping; });
        if (collector_signal->stopping) return;
        collector_signal->poked = false;
      }
      CollectIfDue();
    }
  }

  // One forced collection when the blobs family's garbage has reached its threshold. Errors are
  // not fatal: a wake-up a minute later tries again; a full disk makes the next write resume the
  // DB.
  void CollectIfDue() {
    if (std::chrono::steady_clock::now() < collector_retry_after) return;
    std::shared_lock<std::shared_mutex> lifetime(lifetime_mutex);
    if (!db) return;
    uint64_t file_bytes = 0;
    uint64_t garbage = 0;
    if (!db->GetIntProperty(blobs, rocksdb::DB::Properties::kLiveBlobFileSize, &file_bytes) ||
        !db->GetIntProperty(blobs, rocksdb::DB::Properties::kLiveBlobFileGarbageSize, &garbage)) {
      return;
    }
    if (garbage == 0 || garbage < garbage_min_bytes ||
        static_cast<double>(garbage) < garbage_ratio * static_cast<double>(file_bytes)) {
      return;
    }
    rocksdb::CompactRangeOptions options;
    // Rewrite the key files even at the bottom level: that is where the references are.
    options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForceOptimized;
    options.blob_garbage_collection_policy = rocksdb::BlobGarbageCollectionPolicy::kForce;
    // The oldest quarter of the blob files per collection: replaced blobs gather there, and the
    // job stays a quarter of the live blobs long (it holds RocksDB's one compaction slot, so
    // level-0 files pile up meanwhile). Still above the ratio afterwards, the completed
    // compaction wakes the collector for the next quarter.
    options.blob_garbage_collection_age_cutoff = 0.25;
    // Flush the memtable at once rather than wait for a write stall to clear first: Close()
    // must not wait for that (canceled is not looked at during that wait).
    options.allow_write_stall = true;
    options.canceled = &collector_cancel;
    rocksdb::Status s = db->CompactRange(options, blobs, nullptr, nullptr);
    if (s.ok()) {
      collections.fetch_add(1);
      return;
    }
    collector_retry_after = std::chrono::steady_clock::now() + std::chrono::minutes(1);
    recovery->resume_needed.store(true);  // a no-op when RocksDB raised no background error
  }

  // Idempotent; safe to call concurrently.
  void StopCollector() {
    std::lock_guard<std::mutex> lock(collector_mutex);
    if (!collector.joinable()) return;
    collector_cancel.store(true);
    {
      std::lock_guard<std::mutex> signal_lock(collector_signal->mutex);
      collector_signal->stopping = true;
    }
    collector_signal->wake.notify_one();
    collector.join();
  }

  std::mutex& StripeFor(const BackupId& key) {
    return stripes[std::hash<std::string_view>{}(key.AsStringView()) % kStripes];
  }

  // REQUIRES: lifetime_mutex held (shared) and db open.
  Result<Meta> ReadMeta(const rocksdb::ReadOptions& read_options, const BackupId& key) {
    std::string value;
    rocksdb::Status s = db->Get(read_options, metadata, ToSlice(key), &value);
    if (s.IsNotFound()) return Status::NotFound("no backup under this key");
    if (!s.ok()) return FromRocks(s, "reading backup metadata");
    return DecodeMeta(value);
  }

  // REQUIRES: lifetime_mutex held (shared) and db open.
  Result<BackupInfo> ReadInfo(const rocksdb::ReadOptions& read_options, const BackupId& key) {
    Result<Meta> meta = ReadMeta(read_options, key);
    if (!meta.ok()) return meta.status();
    return meta->Info();
  }

  // Reads the blob stored under key with suffix, whose length must be size.
  // REQUIRES: lifetime_mutex held (shared) and db open.
  Result<std::string> ReadBlob(rocksdb::ReadOptions read_options, const BackupId& key,
                               uint64_t suffix, uint64_t size) {
    std::string blob;
    read_options.verify_checksums = verify_blob_checksums;
    rocksdb::Status s = db->Get(read_options, blobs, BlobKey(key, suffix), &blob);
    if (s.IsNotFound()) return Status::Corruption("backup metadata without its blob");
    if (!s.ok()) return FromRocks(s, "reading a backup");
    if (blob.size() != size)
      return Status::Corruption("backup blob length differs from its metadata");
    return blob;
  }

  // Brings the database back after a failed write or a background error (a full disk, a WAL
  // or SST file that could not be created or written, e.g. while the process was out of file
  // descriptors), so that writes are accepted again without a restart. Does nothing unless a
  // write failed or an error was raised since the last recovery. First DB::Resume(); when
  // RocksDB refuses to resume because it classed the error as fatal (e.g. a WAL that could not
  // be created), the database is closed and opened again. A write (for_write) tries Resume at
  // once, since it would fail anyway; anything else (Stats, polled by /readyz and /metrics, and
  // every reopen) waits after a failed try (50 ms, doubling up to kMaxResumeBackoff), so a
  // lasting failure costs little. One call recovers at a time; the others go on.
  // REQUIRES: lifetime_mutex NOT held by the caller.
  void Recover(bool for_write) {
    if (read_only || !recovery->resume_needed.load()) return;
    std::unique_lock<std::mutex> lock(resume_mutex, std::try_to_lock);
    if (!lock.owns_lock()) return;  // another call is recovering
    const auto now = std::chrono::steady_clock::now();
    const bool waiting = now < resume_after;
    if (waiting && !for_write) return;
    recovery->resume_needed.store(false);
    bool recovered = false;
    bool fatal = recovery->fatal.load();
    bool down = false;  // no database: an earlier reopen failed
    {
      std::shared_lock<std::shared_mutex> lifetime(lifetime_mutex);
      if (db) {
        rocksdb::Status s = db->Resume();  // OK when there is no error to clear
        recovered = s.ok();
        if (!recovered && s.severity() >= rocksdb::Status::Severity::kFatalError) fatal = true;
      } else {
        down = fatal = reopen_pending;
      }
    }
    // A reopen closes the database first, and while it fails reads are refused too: it is tried
    // only for a fatal error, never for one Resume() may still clear (a disk that is still
    // full), and then only after the backoff unless the store is down anyway.
    if (!recovered && fatal && (!waiting || down)) recovered = Reopen().ok();
    if (recovered) {
      recovery->fatal.store(false);
      resume_backoff = std::chrono::milliseconds(0);
      return;
    }
    recovery->resume_needed.store(true);
    if (!waiting) {
      resume_backoff = std::min(kMaxResumeBackoff, std::max(kMinResumeBackoff, 2 * resume_backoff));
      resume_after = now + resume_backoff;
    }
  }

  // Closes the database (if open) and opens it again with the same options, waiting for calls
  // in progress; counts the records again (a write that failed may still have reached the WAL).
  // On failure the store stays without a database (reopen_pending) until a later try succeeds.
  // Does nothing after Close().
  // REQUIRES: lifetime_mutex NOT held by the caller.
  Status Reopen() {
    std::unique_lock<std::shared_mutex> lifetime(lifetime_mutex);
    if (!db && !reopen_pending) return Status::Unavailable("the store is closed");
    if (db) {
      rocksdb::CancelAllBackgroundWork(db.get(), /*wait=*/true);
      for (rocksdb::ColumnFamilyHandle* handle : handles) {
        db->DestroyColumnFamilyHandle(handle).PermitUncheckedError();  // closing a failed DB
      }
      handles.clear();
      metadata = nullptr;
      blobs = nullptr;
      db->Close().PermitUncheckedError();  // it reports the very error being recovered from
      db.reset();
    }
    reopen_pending = true;
    rocksdb::DB* raw_db = nullptr;
    std::vector<rocksdb::ColumnFamilyHandle*> opened;
    // Never a new, empty database in place of one that went missing meanwhile (RocksDB would
    // create the directory and its LOCK file even without create_if_missing).
    std::error_code ec;
    if (!std::filesystem::is_regular_file(std::filesystem::path(path) / "CURRENT", ec)) {
      return Status::IOError("reopening the store: " + path + " no longer holds a database");
    }
    rocksdb::DBOptions db_options = config.db_options;
    db_options.create_if_missing = false;
    db_options.create_missing_column_families = false;
    rocksdb::Status s = rocksdb::DB::Open(db_options, path, config.families, &opened, &raw_db);
    if (!s.ok()) return FromRocks(s, "reopening the store");
    db.reset(raw_db);
    handles = std::move(opened);
    metadata = handles[1];
    blobs = handles[2];
    reopen_pending = false;
    uint64_t count = 0;
    uint64_t total = 0;
    for (ChunkCursor cursor; !cursor.done;) {
      Status read = ReadChunk(&cursor);
      if (!read.ok()) return read;
      for (const auto& entry : cursor.chunk) {
        ++count;
        total += entry.second.size;
      }
    }
    backups.store(count);
    bytes.store(total);
    return Status::OK();
  }

  // The status of a call made while there is no database.
  // REQUIRES: lifetime_mutex held.
  Status NotOpen() const {
    if (reopen_pending) {
      return Status::IOError("the store is being reopened after an I/O error; try again");
    }
    return Status::Unavailable("the store is closed");
  }

  // REQUIRES: lifetime_mutex held (shared) and db open.
  Status Write(bool sync, rocksdb::WriteBatch* batch, const char* what) {
    rocksdb::WriteOptions write_options;
    write_options.sync = sync;
    Status status = FromRocks(db->Write(write_options, batch), what);
    // Any failed write may have left a background error behind (RocksDB stops accepting writes
    // after a failed WAL write): have the next call resume the database.
    if (!status.ok()) recovery->resume_needed.store(true);
    return status;
  }

  // Where a walk over every record's metadata is: the walks (Scan, the sweep, the count after a
  // reopen) read it a chunk at a time, so that none holds the lifetime lock or an iterator for
  // the whole store.
  struct ChunkCursor {
    std::vector<std::pair<BackupId, BackupInfo>> chunk;  // what the last ReadChunk read
    bool done = false;                                   // the last chunk reached the end
    bool first = true;
    std::string resume_after;  // the last key read
  };

  // Replaces cursor->chunk with up to kChunkRecords metadata entries after the last one read
  // (from the start on the first call) and sets cursor->done when the end was reached.
  // REQUIRES: lifetime_mutex held (shared) and db open; !cursor->done.
  Status ReadChunk(ChunkCursor* cursor) {
    std::vector<std::pair<BackupId, BackupInfo>>& out = cursor->chunk;
    out.clear();
    rocksdb::ReadOptions read_options;
    read_options.fill_cache = false;  // a full walk would only evict the hot blocks
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(read_options, metadata));
    if (cursor->first) {
      it->SeekToFirst();
    } else {
      it->Seek(cursor->resume_after);
      if (it->Valid() && it->key() == rocksdb::Slice(cursor->resume_after)) it->Next();
    }
    cursor->first = false;
    for (; it->Valid() && out.size() < kChunkRecords; it->Next()) {
      Result<BackupId> key = KeyFromSlice(it->key());
      if (!key.ok()) return key.status();
      Result<Meta> meta = DecodeMeta(std::string_view(it->value().data(), it->value().size()));
      if (!meta.ok()) return meta.status();
      out.emplace_back(*key, meta->Info());
    }
    if (!it->status().ok()) return FromRocks(it->status(), "scanning backup metadata");
    cursor->done = !it->Valid();
    if (!out.empty()) cursor->resume_after = std::string(out.back().first.AsStringView());
    return Status::OK();
  }
};

RocksDbStore::RocksDbStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

RocksDbStore::~RocksDbStore() { Close().IgnoreError(); }

Result<std::unique_ptr<RocksDbStore>> RocksDbStore::Open(const RocksDbOptions& options) {
  if (options.path.empty()) return Status::InvalidArgument("the store path is empty");
  if (!(options.blob_garbage_ratio >= 0 && options.blob_garbage_ratio < 1)) {
    return Status::InvalidArgument("blob_garbage_ratio must be at least 0 and less than 1");
  }
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path path(options.path);
  fs::file_status path_status = fs::status(path, ec);
  if (fs::exists(path_status)) {
    if (!fs::is_directory(path_status)) {
      return Status::IOError("the store path exists but is not a directory: " + options.path);
    }
  } else if (fs::create_directories(path, ec); ec) {
    return Status::IOError("cannot create the store directory " + options.path + ": " +
                           ec.message());
  }

  auto impl = std::make_unique<Impl>();
  DbConfig config = MakeDbConfig(options, impl->recovery);
  impl->verify_blob_checksums = options.verify_blob_checksums;
  const bool collect = options.enable_blob_files && options.blob_garbage_ratio > 0;
  if (collect) {
    impl->collector_signal = std::make_shared<CollectorSignal>();
    impl->garbage_ratio = options.blob_garbage_ratio;
    impl->garbage_min_bytes = options.blob_garbage_min_bytes;
    config.db_options.listeners.push_back(
        std::make_shared<CollectorWakeup>(impl->collector_signal));
  }
  rocksdb::DB* raw_db = nullptr;
  rocksdb::Status s =
      rocksdb::DB::Open(config.db_options, options.path, config.families, &impl->handles, &raw_db);
  impl->path = options.path;
  impl->config = config;
  if (!s.ok()) {
    if (s.IsIOError() && s.ToString().find("lock") != std::string::npos) {
      return Status::IOError(
          "cannot open the store: its directory is locked by another open store "
          "(another server running on it?): " +
          s.ToString());
    }
    return FromRocks(s, "cannot open the store at " + options.path);
  }
  impl->db.reset(raw_db);
  Result<std::unique_ptr<RocksDbStore>> store = FinishOpen(std::move(impl));
  if (store.ok() && collect) (*store)->impl_->StartCollector();
  return store;
}

Result<std::unique_ptr<RocksDbStore>> RocksDbStore::OpenReadOnly(const RocksDbOptions& options,
                                                                 ReadOnlyMode mode) {
  if (options.path.empty()) return Status::InvalidArgument("the store path is empty");
  namespace fs = std::filesystem;
  std::error_code ec;
  // CURRENT names the live MANIFEST: every RocksDB database has one.
  if (!fs::is_regular_file(fs::path(options.path) / "CURRENT", ec)) {
    return Status::NotFound("no database at " + options.path);
  }

  auto impl = std::make_unique<Impl>();
  DbConfig config = MakeDbConfig(options, impl->recovery);
  config.db_options.create_if_missing = false;
  config.db_options.create_missing_column_families = false;
  impl->read_only = true;
  impl->metadata_only = mode == ReadOnlyMode::kMetadataOnly;
  rocksdb::DB* raw_db = nullptr;
  rocksdb::Status s;
  if (mode == ReadOnlyMode::kWholeDatabase) {
    s = rocksdb::DB::OpenForReadOnly(config.db_options, options.path, config.families,
                                     &impl->handles, &raw_db);
  } else {
    // A secondary instance needs a directory of its own (for its log, were it to keep one).
    const char* tmp = std::getenv("TMPDIR");
    std::string secondary_dir =
        std::string(tmp != nullptr && tmp[0] != '\0' ? tmp : "/tmp") + "/safe-store-reader-XXXXXX";
    if (mkdtemp(secondary_dir.data()) == nullptr) {
      return Status::IOError("cannot create a temporary directory for the read-only store: " +
                             std::string(std::strerror(errno)));
    }
    impl->secondary_dir = secondary_dir;
    // A secondary keeps every SST file open, so that files the writer deletes stay readable.
    config.db_options.max_open_files = -1;
    s = rocksdb::DB::OpenAsSecondary(config.db_options, options.path, secondary_dir,
                                     config.families, &impl->handles, &raw_db);
    if (!s.ok()) fs::remove_all(secondary_dir, ec);
  }
  if (!s.ok()) return FromRocks(s, "cannot open the store at " + options.path + " for reading");
  impl->db.reset(raw_db);
  return FinishOpen(std::move(impl));
}

Result<std::unique_ptr<RocksDbStore>> RocksDbStore::FinishOpen(std::unique_ptr<Impl> impl) {
  impl->metadata = impl->handles[1];
  impl->blobs = impl->handles[2];
  auto store = std::unique_ptr<RocksDbStore>(new RocksDbStore(std::move(impl)));

  // Count what is there, so that Stats() is exact from now on.
  uint64_t backups = 0;
  uint64_t bytes = 0;
  Status counted = store->Scan([&](const BackupId&, const BackupInfo& info) {
    ++backups;
    bytes += info.size;
  });
  if (!counted.ok()) return counted;
  store->impl_->backups.store(backups);
  store->impl_->bytes.store(bytes);
  return store;
}

Status RocksDbStore::Close() {
  // First the collector: it holds the lifetime lock (shared) while it collects.
  impl_->StopCollector();
  std::unique_lock<std::shared_mutex> lifetime(impl_->lifetime_mutex);
  impl_->reopen_pending = false;  // a reopen in progress or to come gives up
  if (!impl_->db) return Status::OK();
  rocksdb::CancelAllBackgroundWork(impl_->db.get(), /*wait=*/true);
  Status status;
  for (rocksdb::ColumnFamilyHandle* handle : impl_->handles) {
    Status destroyed = FromRocks(impl_->db->DestroyColumnFamilyHandle(handle), "closing the store");
    if (status.ok()) status = destroyed;
  }
  impl_->handles.clear();
  impl_->metadata = nullptr;
  impl_->blobs = nullptr;
  Status closed = FromRocks(impl_->db->Close(), "closing the store");
  if (status.ok()) status = closed;
  impl_->db.reset();
  if (!impl_->secondary_dir.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(impl_->secondary_dir, ec);  // only a log: a leftover is harmless
    impl_->secondary_dir.clear();
  }
  return status;
}

namespace {
Status ReadOnly() { return Status::Unavailable("the store is open for reading only"); }
}  // namespace

// Get and GetVersion: under one snapshot (so that the metadata and the blob are of the same
// Put), the metadata, then the blob `pick` names in it: its suffix, and the info to answer with.
template <typename Pick>
Result<BackupRecord> RocksDbStore::ReadRecord(const BackupId& key, Pick pick) {
  std::shared_lock<std::shared_mutex> lifetime(impl_->lifetime_mutex);
  if (!impl_->db) return impl_->NotOpen();
  if (impl_->metadata_only) {
    return Status::Unavailable("the store is open for its metadata only: blobs cannot be read");
  }
  rocksdb::ManagedSnapshot snapshot(impl_->db.get());
  rocksdb::ReadOptions read_options;
  read_options.snapshot = snapshot.snapshot();
  Result<Meta> meta = impl_->ReadMeta(read_options, key);
  if (!meta.ok()) return meta.status();
  BackupRecord record;
  uint64_t suffix = 0;
  if (Status picked = pick(*meta, &suffix, &record.info); !picked.ok()) return picked;
  Result<std::string> blob = impl_->ReadBlob(read_options, key, suffix, record.info.size);
  if (!blob.ok()) return blob.status();
  record.blob = std::move(blob).value();
  return record;
}

Result<BackupRecord> RocksDbStore::Get(const BackupId& key) {
  return ReadRecord(key, [](const Meta& meta, uint64_t* suffix, BackupInfo* info) {
    *suffix = meta.suffix;
    *info = meta.Info();
    return Status::OK();
  });
}

Result<BackupInfo> RocksDbStore::Stat(const BackupId& key) {
  std::shared_lock<std::shared_mutex> lifetime(impl_->lifetime_mutex);
  if (!impl_->db) return impl_->NotOpen();
  return impl_->ReadInfo(rocksdb::ReadOptions(), key);
}

Result<std::vector<VersionInfo>> RocksDbStore::ListVersions(const BackupId& key) {
  std::shared_lock<std::shared_mutex> lifetime(impl_->lifetime_mutex);
  if (!impl_->db) return impl_->NotOpen();
  Result<Meta> meta = impl_->ReadMeta(rocksdb::ReadOptions(), key);
  if (!meta.ok()) return meta.status();
  std::vector<VersionInfo> out;
  for (const StoredVersion& v : meta->versions) out.push_back(v.info);
  return out;
}

Result<BackupRecord> RocksDbStore::GetVersion(const BackupId& key, uint32_t n) {
  return ReadRecord(key, [n](const Meta& meta, uint64_t* suffix, BackupInfo* info) {
    if (n == 0 || n > meta.versions.size()) return Status::NotFound("no such version");
    const StoredVersion& version = meta.versions[n - 1];
    *suffix = version.suffix;
    info->size = version.info.size;
    info->upload_day = version.info.upload_day;
    return Status::OK();
  });
}

Result<PutResult> RocksDbStore::Put(const BackupId& key, std::string_view blob, Day upload_day,
                                    const PutOptions& options) {
  if (impl_->read_only) return ReadOnly();  // set before the store exists: no lock needed
  impl_->Recover(/*for_write=*/true);
  std::shared_lock<std::shared_mutex> lifetime(impl_->lifetime_mutex);
  if (!impl_->db) return impl_->NotOpen();

  Meta meta;
  meta.info.size = blob.size();
  meta.info.upload_day = upload_day;
  meta.info.tag = options.tag ? *options.tag : RandomTag();
  meta.suffix = NewSuffix();
  // The blob goes into the batch before the lock: copying it is the slow part.
  rocksdb::WriteBatch batch(blob.size() + 4 * BackupId::kBytes + kMetadata2Bytes +
                            kMaxVersions * kVersionBytes + 128);
  rocksdb::Status added =
      batch.Put(impl_->blobs, BlobKey(key, meta.suffix), rocksdb::Slice(blob.data(), blob.size()));
  if (!added.ok()) return FromRocks(added, "preparing a backup write");

  std::lock_guard<std::mutex> stripe(impl_->StripeFor(key));
  Result<Meta> old = impl_->ReadMeta(rocksdb::ReadOptions(), key);
  if (!old.ok() && !old.status().IsNotFound()) return old.status();
  if (options.if_absent && old.ok()) return Status::FailedPrecondition("the backup exists");
  if ((options.if_match || options.if_exists) && !old.ok()) return old.status();  // NotFound
  if (options.if_match && old->info.tag != *options.if_match) {
    return Status::FailedPrecondition("the backup has changed");
  }
  // One batch: the new blob, the new metadata (the old blob as version 1) and the deletion of
  // what falls out, so that a crash leaves the old record or the new one whole.
  if (old.ok()) {
    std::vector<StoredVersion> all;
    all.push_back(
        StoredVersion{VersionInfo{old->info.size, old->info.upload_day, upload_day}, old->suffix});
    all.insert(all.end(), old->versions.begin(), old->versions.end());
    const size_t keep = std::min<size_t>(std::min(options.keep_versions, kMaxVersions),
                                         AliveVersions(all, old->info.upload_day, options));
    for (size_t i = 0; i < all.size(); ++i) {
      if (i < keep) {
        meta.versions.push_back(all[i]);
        continue;
      }
      added = batch.Delete(impl_->blobs, BlobKey(key, all[i].suffix));
      if (!added.ok()) return FromRocks(added, "preparing a backup write");
    }
  }
  added = batch.Put(impl_->metadata, ToSlice(key), EncodeMeta(meta));
  if (!added.ok()) return FromRocks(added, "preparing a backup write");
  Status written = impl_->Write(/*sync=*/true, &batch, "writing a backup");
  if (!written.ok()) return written;
  impl_->bytes.fetch_add(meta.info.size);
  if (!old.ok()) {
    impl_->backups.fetch_add(1);
    return PutResult{PutOutcome::kCreated, meta.info.tag};
  }
  impl_->bytes.fetch_sub(old->info.size);  // bytes counts current blobs only
  return PutResult{PutOutcome::kReplaced, meta.info.tag};
}

namespace {
// Adds the deletion of a record's metadata and every blob of it to batch.
rocksdb::Status DeleteRecord(rocksdb::WriteBatch* batch, rocksdb::ColumnFamilyHandle* metadata,
                             rocksdb::ColumnFamilyHandle* blobs, const BackupId& key,
                             const Meta& meta) {
  rocksdb::Status s = batch->Delete(metadata, ToSlice(key));
  if (s.ok()) s = batch->Delete(blobs, BlobKey(key, meta.suffix));
  for (const StoredVersion& v : meta.versions) {
    if (s.ok()) s = batch->Delete(blobs, BlobKey(key, v.suffix));
  }
  return s;
}
}  // namespace

Status RocksDbStore::Delete(const BackupId& key) {
  if (impl_->read_only) return ReadOnly();  // set before the store exists: no lock needed
  impl_->Recover(/*for_write=*/true);
  std::shared_lock<std::shared_mutex> lifetime(impl_->lifetime_mutex);
  if (!impl_->db) return impl_->NotOpen();
  std::lock_guard<std::mutex> stripe(impl_->StripeFor(key));
  Result<Meta> old = impl_->ReadMeta(rocksdb::ReadOptions(), key);
  if (!old.ok()) return old.status();
  rocksdb::WriteBatch batch;
  rocksdb::Status added = DeleteRecord(&batch, impl_->metadata, impl_->blobs, key, *old);
  if (!added.ok()) return FromRocks(added, "preparing a backup deletion");
  Status written = impl_->Write(/*sync=*/true, &batch, "deleting a backup");
  if (!written.ok()) return written;
  impl_->backups.fetch_sub(1);
  impl_->bytes.fetch_sub(old->info.size);
  return Status::OK();
}

Status RocksDbStore::Scan(const std::function<void(const BackupId&, const BackupInfo&)>& visit) {
  for (Impl::ChunkCursor cursor; !cursor.done;) {
    {
      std::shared_lock<std::shared_mutex> lifetime(impl_->lifetime_mutex);
      if (!impl_->db) return impl_->NotOpen();
      Status read = impl_->ReadChunk(&cursor);
      if (!read.ok()) return read;
    }
    // Outside the lock: the visitor may call back into the store.
    for (const auto& [key, info] : cursor.chunk) visit(key, info);
  }
  return Status::OK();
}

Result<uint64_t> RocksDbStore::DeleteUploadedBefore(Day cutoff_day) {
  if (impl_->read_only) return ReadOnly();  // set before the store exists: no lock needed
  impl_->Recover(/*for_write=*/true);
  uint64_t deleted = 0;
  bool synced_needed = false;
  for (Impl::ChunkCursor cursor; !cursor.done;) {
    std::shared_lock<std::shared_mutex> lifetime(impl_->lifetime_mutex);
    if (!impl_->db) return impl_->NotOpen();
    Status read = impl_->ReadChunk(&cursor);
    if (!read.ok()) return read;
    for (const auto& [key, scanned] : cursor.chunk) {
      const bool versions_expire = scanned.versions > 0 && scanned.oldest_replaced_day < cutoff_day;
      if (scanned.upload_day >= cutoff_day && !versions_expire) continue;
      // Decide again under the key's lock: the record may have been re-uploaded (keep it) or
      // deleted since the chunk was read.
      std::lock_guard<std::mutex> stripe(impl_->StripeFor(key));
      Result<Meta> current = impl_->ReadMeta(rocksdb::ReadOptions(), key);
      if (!current.ok()) {
        if (current.status().IsNotFound()) continue;
        return current.status();
      }
      rocksdb::WriteBatch batch;
      rocksdb::Status added;
      const bool record_expired = current->info.upload_day < cutoff_day;
      if (record_expired) {
        added = DeleteRecord(&batch, impl_->metadata, impl_->blobs, key, *current);
      } else {
        // Replaced days do not increase from version 1 on: the expired ones are a tail.
        Meta trimmed = *current;
        while (!trimmed.versions.empty() &&
               trimmed.versions.back().info.replaced_day < cutoff_day) {
          if (added.ok())
            added = batch.Delete(impl_->blobs, BlobKey(key, trimmed.versions.back().suffix));
          trimmed.versions.pop_back();
        }
        if (trimmed.versions.size() == current->versions.size()) continue;
        if (added.ok()) added = batch.Put(impl_->metadata, ToSlice(key), EncodeMeta(trimmed));
      }
      if (!added.ok()) return FromRocks(added, "preparing an expired backup's deletion");
      // Not synced one by one: the WAL is synced once below. A crash before that can only
      // bring back expired records, which the next sweep deletes.
      Status written = impl_->Write(/*sync=*/false, &batch, "deleting an expired backup");
      if (!written.ok()) return written;
      synced_needed = true;
      if (!record_expired) continue;
      impl_->backups.fetch_sub(1);
      impl_->bytes.fetch_sub(current->info.size);
      ++deleted;
    }
  }
  if (synced_needed) {
    std::shared_lock<std::shared_mutex> lifetime(impl_->lifetime_mutex);
    if (!impl_->db) return impl_->NotOpen();
    Status synced = FromRocks(impl_->db->SyncWAL(), "syncing the expired backups' deletion");
    if (!synced.ok()) return synced;
  }
  return deleted;
}

bool RocksDbStore::Recovering() {
  if (impl_->recovery->resume_needed.load()) return true;
  std::shared_lock<std::shared_mutex> lifetime(impl_->lifetime_mutex);
  return impl_->reopen_pending;
}

Result<StoreStats> RocksDbStore::Stats() {
  // Polled by /readyz: a store whose error has gone becomes ready without waiting for a write.
  impl_->Recover(/*for_write=*/false);
  std::shared_lock<std::shared_mutex> lifetime(impl_->lifetime_mutex);
  if (!impl_->db) return impl_->NotOpen();
  StoreStats stats;
  stats.backups = impl_->backups.load();
  stats.bytes = impl_->bytes.load();
  for (rocksdb::ColumnFamilyHandle* family : {impl_->metadata, impl_->blobs}) {
    uint64_t pending = 0;
    if (impl_->db->GetIntProperty(family, rocksdb::DB::Properties::kEstimatePendingCompactionBytes,
                                  &pending)) {
      stats.pending_compaction_bytes += pending;
    }
  }
  impl_->db->GetIntProperty(impl_->blobs, rocksdb::DB::Properties::kLiveBlobFileSize,
                            &stats.blob_file_bytes);
  impl_->db->GetIntProperty(impl_->blobs, rocksdb::DB::Properties::kLiveBlobFileGarbageSize,
                            &stats.blob_garbage_bytes);
  stats.blob_collections = impl_->collections.load();
  rocksdb::VectorLogPtr wal_files;
  Status listed = FromRocks(impl_->db->GetSortedWalFiles(wal_files), "listing the WAL files");
  if (!listed.ok()) return listed;
  for (const auto& file : wal_files) {
    if (file->Type() == rocksdb::kAliveLogFile) stats.wal_bytes += file->SizeFileBytes();
  }
  return stats;
}

Status RocksDbStore::Checkpoint(const std::string& out_dir) {
  if (out_dir.empty()) return Status::InvalidArgument("the checkpoint directory is empty");
  namespace fs = std::filesystem;
  std::error_code ec;
  // RocksDB wants an absolute path; it makes out_dir + ".tmp" and renames it at the end.
  const fs::path out = fs::absolute(out_dir, ec);
  if (ec) return Status::IOError("cannot resolve the checkpoint directory " + out_dir);
  if (fs::exists(fs::symlink_status(out, ec))) {
    return Status::InvalidArgument("the checkpoint directory already exists: " + out.string());
  }
  if (out.has_parent_path()) {
    fs::create_directories(out.parent_path(), ec);
    if (ec) {
      return Status::IOError("cannot create the parent of the checkpoint directory " +
                             out.string() + ": " + ec.message());
    }
  }
  std::shared_lock<std::shared_mutex> lifetime(impl_->lifetime_mutex);
  if (!impl_->db) return impl_->NotOpen();
  if (impl_->read_only) {
    return Status::InvalidArgument(
        "a checkpoint needs the process that has the database open for writing");
  }
  rocksdb::Checkpoint* raw_checkpoint = nullptr;
  Status made = FromRocks(rocksdb::Checkpoint::Create(impl_->db.get(), &raw_checkpoint),
                          "making a checkpoint");
  if (!made.ok()) return made;
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw_checkpoint);
  // log_size_for_flush = 0: flush the memtables first, so that the copy needs no WAL replay.
  return FromRocks(checkpoint->CreateCheckpoint(out.string(), /*log_size_for_flush=*/0),
                   "writing a checkpoint to " + out.string());
}

Result<uint64_t> RocksDbStore::IntProperty(const std::string& name) {
  std::shared_lock<std::shared_mutex> lifetime(impl_->lifetime_mutex);
  if (!impl_->db) return impl_->NotOpen();
  uint64_t total = 0;
  for (rocksdb::ColumnFamilyHandle* family : {impl_->metadata, impl_->blobs}) {
    uint64_t value = 0;
    if (!impl_->db->GetIntProperty(family, name, &value)) {
      return Status::InvalidArgument("not an integer RocksDB property: " + name);
    }
    total += value;
  }
  return total;
}

}  // namespace safe::storage
