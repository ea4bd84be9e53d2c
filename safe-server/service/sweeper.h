// The server's periodic sweeps, each on a thread of its own:
//
//   PeriodicTask      runs a function at once and then every `interval` until destroyed (the
//                     one loop both sweeps below use).
//   RetentionSweeper  BackupService::ExpireOld, then CountExpiring for the metrics' gauges.
//   AccessSweeper     AccessService::Sweep: expired access credentials and spent tokens.
//
// Each logs what it deleted (counts only) and any error; a failing sweep is tried again at the
// next interval.
//
// Thread-safety: the figures may be read from any thread; destruction waits for a run under way.

#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

#include "safe-server/service/access.h"
#include "safe-server/service/backup_service.h"

namespace safe::server {

class PeriodicTask {
 public:
  PeriodicTask(std::chrono::seconds interval, std::function<void()> run);
  ~PeriodicTask();  // stops the loop; waits for a run under way
  PeriodicTask(const PeriodicTask&) = delete;
  PeriodicTask& operator=(const PeriodicTask&) = delete;

 private:
  const std::chrono::seconds interval_;
  const std::function<void()> run_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

// What the last retention sweep found (all zero before the first).
struct SweepFigures {
  uint64_t backups = 0;  // stored and not expired
  uint64_t bytes = 0;    // their sizes, summed
  uint64_t expiring_within_7_days = 0;
  uint64_t expiring_within_30_days = 0;
  uint64_t expired_deleted_total = 0;  // deleted by every sweep since start
};

// Runs the retention sweep at start and then every `interval`, until destroyed; also counts the
// backups expiring soon, for the metrics. `service` must outlive it.
class RetentionSweeper {
 public:
  RetentionSweeper(BackupService& service, std::chrono::seconds interval);

  SweepFigures Figures() const;

 private:
  void Run();

  BackupService& service_;
  std::atomic<uint64_t> backups_{0}, bytes_{0}, expiring_7_{0}, expiring_30_{0}, deleted_total_{0};
  PeriodicTask task_;  // last: stopped before the counters go
};

// Runs AccessService::Sweep at start and then every `interval` until destroyed. `service` must
// outlive it.
class AccessSweeper {
 public:
  AccessSweeper(AccessService& service, std::chrono::seconds interval);

 private:
  PeriodicTask task_;
};

}  // namespace safe::server
