#include "storage/memory_store.h"

#include <utility>
#include <vector>

namespace safe::storage {

BackupInfo MemoryStore::InfoOf(const Entry& entry) {
  BackupInfo info = entry.current.info;
  info.versions = static_cast<uint32_t>(entry.versions.size());
  info.version_bytes = 0;
  for (const Version& v : entry.versions) info.version_bytes += v.info.size;
  info.oldest_replaced_day = entry.versions.empty() ? 0 : entry.versions.back().info.replaced_day;
  return info;
}

void MemoryStore::TrimBefore(Entry* entry, Day cutoff_day) {
  // Replaced days do not increase from version 1 on: the expired ones are a tail.
  while (!entry->versions.empty() && entry->versions.back().info.replaced_day < cutoff_day) {
    entry->versions.pop_back();
  }
}

Result<BackupRecord> MemoryStore::Get(const BackupId& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = records_.find(key);
  if (it == records_.end()) return Status::NotFound("no backup under this key");
  BackupRecord record = it->second.current;
  record.info = InfoOf(it->second);
  return record;
}

Result<BackupInfo> MemoryStore::Stat(const BackupId& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = records_.find(key);
  if (it == records_.end()) return Status::NotFound("no backup under this key");
  return InfoOf(it->second);
}

Result<PutResult> MemoryStore::Put(const BackupId& key, std::string_view blob, Day upload_day,
                                   const PutOptions& options) {
  // Build the record before taking the lock: the copy of a large blob is the slow part.
  BackupRecord record{std::string(blob), BackupInfo{blob.size(), upload_day}};
  record.info.tag = options.tag ? *options.tag : RandomTag();
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = records_.find(key);
  const bool exists = it != records_.end();
  if (options.if_absent && exists) return Status::FailedPrecondition("the backup exists");
  if ((options.if_match || options.if_exists) && !exists) {
    return Status::NotFound("no backup under this key");
  }
  if (options.if_match && it->second.current.info.tag != *options.if_match) {
    return Status::FailedPrecondition("the backup has changed");
  }
  PutResult result{exists ? PutOutcome::kReplaced : PutOutcome::kCreated, record.info.tag};
  if (!exists) {
    records_.emplace(key, Entry{std::move(record), {}});
    return result;
  }
  Entry& entry = it->second;
  if (entry.current.info.upload_day < options.expired_before) {
    entry.versions.clear();  // expired with it
  } else if (options.keep_versions > 0) {
    Version replaced{
        std::move(entry.current.blob),
        VersionInfo{entry.current.info.size, entry.current.info.upload_day, upload_day}};
    entry.versions.insert(entry.versions.begin(), std::move(replaced));
  }
  TrimBefore(&entry, options.expired_before);
  if (entry.versions.size() > options.keep_versions) entry.versions.resize(options.keep_versions);
  entry.current = std::move(record);
  return result;
}

Result<std::vector<VersionInfo>> MemoryStore::ListVersions(const BackupId& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = records_.find(key);
  if (it == records_.end()) return Status::NotFound("no backup under this key");
  std::vector<VersionInfo> out;
  for (const Version& v : it->second.versions) out.push_back(v.info);
  return out;
}

Result<BackupRecord> MemoryStore::GetVersion(const BackupId& key, uint32_t n) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = records_.find(key);
  if (it == records_.end()) return Status::NotFound("no backup under this key");
  if (n == 0 || n > it->second.versions.size()) return Status::NotFound("no such version");
  const Version& v = it->second.versions[n - 1];
  BackupRecord record;
  record.blob = v.blob;
  record.info.size = v.info.size;
  record.info.upload_day = v.info.upload_day;
  return record;
}

Status MemoryStore::Delete(const BackupId& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (records_.erase(key) == 0) return Status::NotFound("no backup under this key");
  return Status::OK();
}

Status MemoryStore::Scan(const std::function<void(const BackupId&, const BackupInfo&)>& visit) {
  std::vector<std::pair<BackupId, BackupInfo>> snapshot;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    snapshot.reserve(records_.size());
    for (const auto& [key, entry] : records_) snapshot.emplace_back(key, InfoOf(entry));
  }
  for (const auto& [key, info] : snapshot) visit(key, info);
  return Status::OK();
}

Result<uint64_t> MemoryStore::DeleteUploadedBefore(Day cutoff_day) {
  std::lock_guard<std::mutex> lock(mutex_);
  uint64_t deleted = 0;
  for (auto it = records_.begin(); it != records_.end();) {
    if (it->second.current.info.upload_day < cutoff_day) {
      it = records_.erase(it);
      ++deleted;
    } else {
      TrimBefore(&it->second, cutoff_day);
      ++it;
    }
  }
  return deleted;
}

}  // namespace safe::storage
