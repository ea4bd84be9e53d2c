// MemoryStore: a BackupStore that keeps every record in memory, behind one mutex.
//
// For tests and as the reference behaviour the persistent stores are checked against. Nothing
// survives the object; "durable" means "in the map". It never returns NoSpace, IOError or
// Corruption.
//
// Ownership: the store owns copies of every blob; Get returns a copy.
// Thread-safety: every method may be called concurrently from any thread. Scan calls its visitor
// without holding the lock, so a visitor may call back into the store.

#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string_view>

#include "storage/backup_store.h"

namespace safe::storage {

class MemoryStore final : public BackupStore {
 public:
  MemoryStore() = default;
  MemoryStore(const MemoryStore&) = delete;
  MemoryStore& operator=(const MemoryStore&) = delete;

  Result<BackupRecord> Get(const BackupId& key) override;
  Result<BackupInfo> Stat(const BackupId& key) override;
  Result<PutOutcome> Put(const BackupId& key, std::string_view blob, Day upload_day) override;
  Status Delete(const BackupId& key) override;
  // Visits a copy of the key set taken when the scan starts.
  Status Scan(const std::function<void(const BackupId&, const BackupInfo&)>& visit) override;
  Result<uint64_t> DeleteUploadedBefore(Day cutoff_day) override;

 private:
  std::mutex mutex_;
  std::map<BackupId, BackupRecord> records_;  // GUARDED_BY(mutex_)
};

}  // namespace safe::storage
