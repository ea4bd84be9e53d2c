// BackupService: the rules of a Safe server, between the HTTP handlers and a BackupStore.
//
// - A blob is 1 to max_backup_bytes bytes (TooLarge / InvalidArgument otherwise).
// - Each upload records today's day; nothing finer is kept.
// - A backup not uploaded again within retention_days is gone: from its deletion day on it reads
//   as NotFound even before the periodic sweep (ExpireOld) removes it.
// - Versions (issue 16): every upload keeps up to keep_versions previous blobs of the backup;
//   a version is gone retention_days after the day it was replaced (it reads as absent from
//   then on, before the sweep removes it). Remove deletes the versions too.
// - Conditions (RFC 9110 If-Match / If-None-Match, parsed by the handlers): checked by the store
//   in the same atomic step as the write.
//
// Thread-safety: all methods may be called concurrently (the store is thread-safe).

#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "common/backup_id.h"
#include "common/clock.h"
#include "common/status.h"
#include "storage/backup_store.h"

namespace safe::server {

struct BackupServiceOptions {
  uint64_t max_backup_bytes = 524288;
  uint32_t retention_days = 180;
  // Previous blobs kept per backup; 0: none (a replaced blob is gone at once).
  uint32_t keep_versions = 3;
};

// The conditions of an upload (from If-Match / If-None-Match).
struct UploadConditions {
  std::optional<storage::Tag> if_match;  // If-Match: "<etag>"
  bool if_exists = false;                // If-Match: *
  bool if_absent = false;                // If-None-Match: *
};

class BackupService {
 public:
  // `store` and `clock` must outlive the service.
  BackupService(storage::BackupStore& store, const Clock& clock, BackupServiceOptions options)
      : store_(store), clock_(clock), options_(options) {}

  // The upload rule on size, the one place it lives: OK for 1 to max_backup_bytes bytes;
  // InvalidArgument for 0, TooLarge above. The HTTP layer asks it of a declared Content-Length
  // before reading a body; Upload asks it of the blob.
  Status CheckUploadSize(uint64_t bytes) const;

  // Stores blob under id as uploaded today. InvalidArgument for an empty blob, TooLarge above
  // max_backup_bytes (the store is not touched then); the store's error otherwise.
  Result<storage::PutOutcome> Upload(const BackupId& id, std::string_view blob);

  // Upload with conditions, keeping keep_versions previous blobs; returns the outcome and the new
  // tag. Errors as Upload, and: FailedPrecondition when the backup exists but is not the one
  // if_match names, or exists and if_absent is set; NotFound when if_match or if_exists is set
  // and there is no backup (or it has expired). Nothing is written then.
  Result<storage::PutResult> Upload(const BackupId& id, std::string_view blob,
                                    const UploadConditions& conditions);

  // The backup's versions that have not expired, most recently replaced first (maybe none).
  // NotFound when there is no backup (or it has expired).
  Result<std::vector<storage::VersionInfo>> ListVersions(const BackupId& id);

  // Version n (1 = the most recently replaced). NotFound when there is no backup or no such
  // version (n = 0, beyond the count, or expired).
  Result<storage::BackupRecord> DownloadVersion(const BackupId& id, uint32_t n);

  // The backup, or NotFound (also when its deletion day has come).
  Result<storage::BackupRecord> Download(const BackupId& id);

  // Its info without the blob, or NotFound as Download.
  Result<storage::BackupInfo> Stat(const BackupId& id);

  // Deletes it. NotFound when there is none (or it has expired).
  Status Remove(const BackupId& id);

  // Deletes every backup whose deletion day has come. Returns how many.
  Result<uint64_t> ExpireOld();

  // How many backups are stored, their bytes, and how many will be gone within 7 and within 30
  // days unless uploaded again (one scan of the store's metadata).
  struct ExpiryCounts {
    uint64_t backups = 0;  // all stored (and not yet expired) backups
    uint64_t bytes = 0;    // their sizes, summed
    uint64_t within_7_days = 0;
    uint64_t within_30_days = 0;
    uint64_t versions = 0;       // previous versions kept (not yet expired or not yet swept)
    uint64_t version_bytes = 0;  // their sizes, summed
  };
  Result<ExpiryCounts> CountExpiring();

  // False after an upload failed for a storage reason (full disk, I/O error), until one succeeds.
  bool writable() const { return !write_failing_.load(); }

  // The first day on which a backup with this info is gone unless uploaded again.
  Day DeletionDay(const storage::BackupInfo& info) const {
    return info.upload_day + static_cast<Day>(options_.retention_days) + 1;
  }

  // The first day on which a version is gone: retention counts from when it was replaced.
  Day VersionDeletionDay(const storage::VersionInfo& version) const {
    return version.replaced_day + static_cast<Day>(options_.retention_days) + 1;
  }

  const BackupServiceOptions& options() const { return options_; }
  const Clock& clock() const { return clock_; }

 private:
  bool Expired(const storage::BackupInfo& info) const {
    return clock_.Today() >= DeletionDay(info);
  }

  storage::BackupStore& store_;
  const Clock& clock_;
  const BackupServiceOptions options_;
  std::atomic<bool> write_failing_{false};
};

}  // namespace safe::server
