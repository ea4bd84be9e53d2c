#include "safe-server/backup_service.h"

namespace safe::server {

Result<storage::PutOutcome> BackupService::Upload(const BackupId& id, std::string_view blob) {
  if (blob.empty()) return Status::InvalidArgument("the backup is empty");
  if (blob.size() > options_.max_backup_bytes) {
    return Status::TooLarge("the backup is larger than maxBackupBytes");
  }
  Result<storage::PutOutcome> outcome = store_.Put(id, blob, clock_.Today());
  write_failing_.store(!outcome.ok() &&
                       (outcome.status().IsNoSpace() || outcome.status().IsIOError()));
  return outcome;
}

Result<storage::BackupRecord> BackupService::Download(const BackupId& id) {
  Result<storage::BackupRecord> record = store_.Get(id);
  if (record.ok() && Expired(record->info)) return Status::NotFound("no such backup");
  return record;
}

Result<storage::BackupInfo> BackupService::Stat(const BackupId& id) {
  Result<storage::BackupInfo> info = store_.Stat(id);
  if (info.ok() && Expired(*info)) return Status::NotFound("no such backup");
  return info;
}

Status BackupService::Remove(const BackupId& id) {
  Result<storage::BackupInfo> info = Stat(id);
  if (!info.ok()) return info.status();
  return store_.Delete(id);
}

Result<BackupService::ExpiryCounts> BackupService::CountExpiring() {
  ExpiryCounts counts;
  Day today = clock_.Today();
  Status s = store_.Scan([&](const BackupId&, const storage::BackupInfo& info) {
    Day left = DeletionDay(info) - today;
    if (left <= 0) return;  // expired; the sweep deletes it
    ++counts.backups;
    counts.bytes += info.size;
    if (left <= 7) ++counts.within_7_days;
    if (left <= 30) ++counts.within_30_days;
  });
  if (!s.ok()) return s;
  return counts;
}

Result<uint64_t> BackupService::ExpireOld() {
  // A backup uploaded on day D is gone from day D + retention + 1: delete every upload_day
  // before today - retention.
  Day cutoff = clock_.Today() - static_cast<Day>(options_.retention_days);
  return store_.DeleteUploadedBefore(cutoff);
}

}  // namespace safe::server
