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
#include <string>
#include <string_view>
#include <vector>

#include "storage/backup_store.h"

namespace safe::storage {

class MemoryStore final : public BackupStore {
 public:
  MemoryStore() = default;
  MemoryStore(const MemoryStore&) = delete;
  MemoryStore& operator=(const MemoryStore&) = delete;

  Result<BackupRecord> Get(const BackupId& key) override;
  Result<BackupInfo> Stat(const BackupId& key) override;
  using BackupStore::Put;
  Result<PutResult> Put(const BackupId& key, std::string_view blob, Day upload_day,
                        const PutOptions& options) override;
  Result<std::vector<VersionInfo>> ListVersions(const BackupId& key) override;
  Result<BackupRecord> GetVersion(const BackupId& key, uint32_t n) override;
  Status Delete(const BackupId& key) override;
  // Visits a copy of the key set taken when the scan starts.
  Status Scan(const std::function<void(const BackupId&, const BackupInfo&)>& visit) override;
  Result<uint64_t> DeleteUploadedBefore(Day cutoff_day) override;

 private:
  struct Version {
    std::string blob;
    VersionInfo info;
  };
  struct Entry {
    BackupRecord current;           // current.info.versions etc. are filled in on the way out
    std::vector<Version> versions;  // most recently replaced first
  };
  static BackupInfo InfoOf(const Entry& entry);
  // Drops the versions replaced before cutoff_day.
  static void TrimBefore(Entry* entry, Day cutoff_day);

  std::mutex mutex_;
  std::map<BackupId, Entry> records_;  // GUARDED_BY(mutex_)
};

}  // namespace safe::storage
