#include "safe-server/service/backup_service.h"

namespace safe::server {

Status BackupService::CheckUploadSize(uint64_t bytes) const {
  if (bytes == 0) return Status::InvalidArgument("the backup is empty");
  if (bytes > options_.max_backup_bytes) {
    return Status::TooLarge("the backup is larger than maxBackupBytes");
  }
  return Status::OK();
}

Result<storage::PutOutcome> BackupService::Upload(const BackupId& id, std::string_view blob) {
  Result<storage::PutResult> result = Upload(id, blob, UploadConditions{});
  if (!result.ok()) return result.status();
  return result->outcome;
}

Result<storage::PutResult> BackupService::Upload(const BackupId& id, std::string_view blob,
                                                 const UploadConditions& conditions) {
  if (Status size = CheckUploadSize(blob.size()); !size.ok()) return size;
  storage::PutOptions options;
  options.keep_versions = options_.keep_versions;
  // A backup past its deletion day (not yet swept) is not kept as a version.
  options.expired_before = clock_.Today() - static_cast<Day>(options_.retention_days);
  options.if_match = conditions.if_match;
  options.if_exists = conditions.if_exists;
  options.if_absent = conditions.if_absent;
  // An expired backup that the sweep has not removed yet does not exist: not for a condition,
  // and not for the answer either. An upload over it creates the backup anew (201, a guess like
  // a 404), else a PUT would tell, free of charge, what a GET answers 404 to (found in review).
  Result<storage::BackupInfo> info = store_.Stat(id);
  if (!info.ok() && !info.status().IsNotFound()) return info.status();
  const bool over_expired = info.ok() && Expired(*info);
  if (over_expired) {
    if (options.if_match || options.if_exists) return Status::NotFound("no such backup");
    options.if_absent = false;  // it is gone: the upload creates it anew
  } else if (info.ok() && options.if_match && info->tag == storage::Tag{}) {
    // Written before tags existed: it never had an ETag, so no If-Match can name it.
    return Status::FailedPrecondition("the backup has no entity-tag yet");
  }
  Result<storage::PutResult> result = store_.Put(id, blob, clock_.Today(), options);
  write_failing_.store(!result.ok() &&
                       (result.status().IsNoSpace() || result.status().IsIOError()));
  if (result.ok() && over_expired) result->outcome = storage::PutOutcome::kCreated;
  return result;
}

Result<std::vector<storage::VersionInfo>> BackupService::ListVersions(const BackupId& id) {
  Result<storage::BackupInfo> info = Stat(id);
  if (!info.ok()) return info.status();
  Result<std::vector<storage::VersionInfo>> versions = store_.ListVersions(id);
  if (!versions.ok()) return versions.status();
  const Day today = clock_.Today();
  // Replaced days do not increase from version 1 on: the expired ones are a tail.
  while (!versions->empty() && today >= VersionDeletionDay(versions->back())) versions->pop_back();
  return versions;
}

Result<storage::BackupRecord> BackupService::DownloadVersion(const BackupId& id, uint32_t n) {
  Result<std::vector<storage::VersionInfo>> versions = ListVersions(id);
  if (!versions.ok()) return versions.status();
  if (n == 0 || n > versions->size()) return Status::NotFound("no such version");
  return store_.GetVersion(id, n);
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
    counts.versions += info.versions;
    counts.version_bytes += info.version_bytes;
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
