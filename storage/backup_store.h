// BackupStore: where backups live. The server's only view of storage.
//
// A backup is an opaque blob stored under a 32-byte key (a BackupId, or a keyed hash of one when
// a decorator seals the store). Each record holds the blob, its size, the day of its last upload
// and a 16-byte tag that changes with every upload (the server's ETag is made from it), plus up
// to keep_versions previous blobs ("versions", issue 16), each with its size, the day it was
// uploaded and the day it was replaced: nothing finer, nothing else.
//
// Guarantees every implementation gives:
// - Put replaces the whole record atomically: a reader sees the old blob or the new one, never a
//   mix or a torn blob. A replacing Put that keeps versions moves the old blob to version 1 in
//   the same atomic write: after a crash there is either the old record with its versions or the
//   new one with the old blob as version 1, never neither. Its conditions (if_match, if_absent)
//   are checked in that same step, so no other Put can come in between.
// - Delete removes the record with all its versions.
// - A Put that returned OK is durable (for persistent engines: synced before returning).
// - Errors are values: NotFound for a missing key, NoSpace when the disk is full, IOError or
//   Corruption otherwise. No method throws.
//
// Thread-safety: all methods may be called concurrently from any thread.

#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "common/backup_id.h"
#include "common/clock.h"
#include "common/status.h"

namespace safe::storage {

// A record's tag: opaque, new with every Put. All zero for a record written before tags existed.
using Tag = std::array<uint8_t, 16>;

// A fresh random tag (never all zero), for engines whose caller gave none.
inline Tag RandomTag() {
  thread_local std::random_device device;
  Tag tag{};
  do {
    for (size_t i = 0; i < tag.size(); i += 4) {
      const uint32_t r = device();
      for (size_t j = 0; j < 4; ++j) tag[i + j] = static_cast<uint8_t>(r >> (8 * j));
    }
  } while (tag == Tag{});
  return tag;
}

// What the store keeps about a backup besides the blob.
struct BackupInfo {
  uint64_t size = 0;            // bytes of the blob
  Day upload_day = 0;           // day of the last Put
  Tag tag{};                    // the current blob's tag (all zero: written before tags existed)
  uint32_t versions = 0;        // previous blobs kept
  uint64_t version_bytes = 0;   // their sizes, summed
  Day oldest_replaced_day = 0;  // when the oldest kept one was replaced (when versions > 0)
};

// A previous blob of a backup. Versions are numbered from 1, the most recently replaced.
struct VersionInfo {
  uint64_t size = 0;     // bytes of the blob
  Day upload_day = 0;    // the day it was uploaded
  Day replaced_day = 0;  // the day a newer upload replaced it (retention counts from here)
};

// How a Put treats what is there. The defaults are the apps' plain upload: no conditions, no
// versions kept (a replaced blob and any versions of the record are dropped).
struct PutOptions {
  // Keep up to this many previous blobs: the replaced one becomes version 1, older ones move up,
  // and those beyond keep_versions are dropped.
  uint32_t keep_versions = 0;
  // Retention at write time: the replaced blob is not kept when it was uploaded before this day
  // (its backup had expired and awaits the sweep), nor is any version replaced before it.
  Day expired_before = std::numeric_limits<Day>::min();
  // FailedPrecondition when the record's tag is another one; NotFound when there is no record.
  std::optional<Tag> if_match;
  // NotFound when there is no record.
  bool if_exists = false;
  // FailedPrecondition when a record exists.
  bool if_absent = false;
  // The new record's tag. None: the store makes one (SealedStore: a keyed MAC of the sealed
  // record; the engines: a random one). SealedStore ignores it.
  std::optional<Tag> tag;
};

struct BackupRecord {
  std::string blob;
  BackupInfo info;
};

enum class PutOutcome { kCreated, kReplaced };

struct PutResult {
  PutOutcome outcome = PutOutcome::kCreated;
  Tag tag{};  // the tag of the record now stored
};

class BackupStore {
 public:
  virtual ~BackupStore() = default;

  // On success returns the blob and its info. NotFound when there is none.
  virtual Result<BackupRecord> Get(const BackupId& key) = 0;

  // The info alone, without reading the blob. NotFound when there is none.
  virtual Result<BackupInfo> Stat(const BackupId& key) = 0;

  // Stores blob under key with upload_day, replacing the current blob (which becomes version 1
  // when options.keep_versions > 0; see PutOptions). Returns whether the key was new or replaced
  // and the new tag. Durable when it returns OK. When a condition of options does not hold,
  // nothing is written: FailedPrecondition, or NotFound for if_match / if_exists without a record.
  virtual Result<PutResult> Put(const BackupId& key, std::string_view blob, Day upload_day,
                                const PutOptions& options) = 0;

  // The plain upload: Put with default PutOptions.
  Result<PutOutcome> Put(const BackupId& key, std::string_view blob, Day upload_day) {
    Result<PutResult> result = Put(key, blob, upload_day, PutOptions{});
    if (!result.ok()) return result.status();
    return result->outcome;
  }

  // The record's versions, most recently replaced first (maybe none). NotFound when there is
  // no record.
  virtual Result<std::vector<VersionInfo>> ListVersions(const BackupId& key) = 0;

  // Version n (1 = the most recently replaced): its blob, and in info its size and upload day.
  // NotFound when there is no record or n is 0 or above the record's count of versions.
  virtual Result<BackupRecord> GetVersion(const BackupId& key, uint32_t n) = 0;

  // Removes the record and all its versions. NotFound when there was none.
  virtual Status Delete(const BackupId& key) = 0;

  // Calls visit(key, info) for every record, in no particular order, without reading blobs.
  // Records written or deleted during the scan may or may not be visited.
  virtual Status Scan(const std::function<void(const BackupId&, const BackupInfo&)>& visit) = 0;

  // Deletes every record whose upload_day is before cutoff_day (a record uploaded on cutoff_day
  // stays), with its versions, and from the records that stay every version whose replaced_day
  // is before cutoff_day. Returns how many records were deleted (dropped versions not counted).
  // A record re-uploaded during the sweep is kept.
  virtual Result<uint64_t> DeleteUploadedBefore(Day cutoff_day) = 0;
};

}  // namespace safe::storage
