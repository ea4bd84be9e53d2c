#include "storage/memory_store.h"

#include <utility>
#include <vector>

namespace safe::storage {

Result<BackupRecord> MemoryStore::Get(const BackupId& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = records_.find(key);
  if (it == records_.end()) return Status::NotFound("no backup under this key");
  return it->second;
}

Result<BackupInfo> MemoryStore::Stat(const BackupId& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = records_.find(key);
  if (it == records_.end()) return Status::NotFound("no backup under this key");
  return it->second.info;
}

Result<PutOutcome> MemoryStore::Put(const BackupId& key, std::string_view blob, Day upload_day) {
  // Build the record before taking the lock: the copy of a large blob is the slow part.
  BackupRecord record{std::string(blob), BackupInfo{blob.size(), upload_day}};
  std::lock_guard<std::mutex> lock(mutex_);
  auto [it, inserted] = records_.try_emplace(key);
  it->second = std::move(record);
  return inserted ? PutOutcome::kCreated : PutOutcome::kReplaced;
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
    for (const auto& [key, record] : records_) snapshot.emplace_back(key, record.info);
  }
  for (const auto& [key, info] : snapshot) visit(key, info);
  return Status::OK();
}

Result<uint64_t> MemoryStore::DeleteUploadedBefore(Day cutoff_day) {
  std::lock_guard<std::mutex> lock(mutex_);
  uint64_t deleted = 0;
  for (auto it = records_.begin(); it != records_.end();) {
    if (it->second.info.upload_day < cutoff_day) {
      it = records_.erase(it);
      ++deleted;
    } else {
      ++it;
    }
  }
  return deleted;
}

}  // namespace safe::storage
