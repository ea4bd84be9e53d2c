// BackupService: the rules of a Safe server, between the HTTP handlers and a BackupStore.
//
// - A blob is 1 to max_backup_bytes bytes (TooLarge / InvalidArgument otherwise).
// - Each upload records today's day; nothing finer is kept.
// - A backup not uploaded again within retention_days is gone: from its deletion day on it reads
//   as NotFound even before the periodic sweep (ExpireOld) removes it.
//
// Thread-safety: all methods may be called concurrently (the store is thread-safe).

#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>

#include "common/backup_id.h"
#include "common/clock.h"
#include "common/status.h"
#include "storage/backup_store.h"

namespace safe::server {

struct BackupServiceOptions {
  uint64_t max_backup_bytes = 524288;
  uint32_t retention_days = 180;
};

class BackupService {
 public:
  // `store` and `clock` must outlive the service.
  BackupService(storage::BackupStore& store, const Clock& clock, BackupServiceOptions options)
      : store_(store), clock_(clock), options_(options) {}

  // Stores blob under id as uploaded today. InvalidArgument for an empty blob, TooLarge above
  // max_backup_bytes (the store is not touched then); the store's error otherwise.
  Result<storage::PutOutcome> Upload(const BackupId& id, std::string_view blob);

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
  };
  Result<ExpiryCounts> CountExpiring();

  // False after an upload failed for a storage reason (full disk, I/O error), until one succeeds.
  bool writable() const { return !write_failing_.load(); }

  // The first day on which a backup with this info is gone unless uploaded again.
  Day DeletionDay(const storage::BackupInfo& info) const {
    return info.upload_day + static_cast<Day>(options_.retention_days) + 1;
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
