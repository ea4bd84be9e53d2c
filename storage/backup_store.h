// BackupStore: where backups live. The server's only view of storage.
//
// A backup is an opaque blob stored under a 32-byte key (a BackupId, or a keyed hash of one when
// a decorator seals the store). Each record holds the blob, its size and the day of its last
// upload: nothing finer, nothing else.
//
// Guarantees every implementation gives:
// - Put replaces the whole record atomically: a reader sees the old blob or the new one, never a
//   mix or a torn blob.
// - A Put that returned OK is durable (for persistent engines: synced before returning).
// - Errors are values: NotFound for a missing key, NoSpace when the disk is full, IOError or
//   Corruption otherwise. No method throws.
//
// Thread-safety: all methods may be called concurrently from any thread.

#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/backup_id.h"
#include "common/clock.h"
#include "common/status.h"

namespace safe::storage {

// What the store keeps about a backup besides the blob.
struct BackupInfo {
  uint64_t size = 0;   // bytes of the blob
  Day upload_day = 0;  // day of the last Put
};

struct BackupRecord {
  std::string blob;
  BackupInfo info;
};

enum class PutOutcome { kCreated, kReplaced };

class BackupStore {
 public:
  virtual ~BackupStore() = default;

  // On success returns the blob and its info. NotFound when there is none.
  virtual Result<BackupRecord> Get(const BackupId& key) = 0;

  // The info alone, without reading the blob. NotFound when there is none.
  virtual Result<BackupInfo> Stat(const BackupId& key) = 0;

  // Stores blob under key with upload_day, replacing any previous record whole. Returns whether
  // the key was new or replaced. Durable when it returns OK.
  virtual Result<PutOutcome> Put(const BackupId& key, std::string_view blob, Day upload_day) = 0;

  // Removes the record. NotFound when there was none.
  virtual Status Delete(const BackupId& key) = 0;

  // Calls visit(key, info) for every record, in no particular order, without reading blobs.
  // Records written or deleted during the scan may or may not be visited.
  virtual Status Scan(const std::function<void(const BackupId&, const BackupInfo&)>& visit) = 0;

  // Deletes every record whose upload_day is before cutoff_day (a record uploaded on cutoff_day
  // stays). Returns how many were deleted. A record re-uploaded during the sweep is kept.
  virtual Result<uint64_t> DeleteUploadedBefore(Day cutoff_day) = 0;
};

}  // namespace safe::storage
