#include "safe-server/service/sweeper.h"

#include <string>

#include "common/log.h"

namespace safe::server {

PeriodicTask::PeriodicTask(std::chrono::seconds interval, std::function<void()> run)
    : interval_(interval), run_(std::move(run)) {
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      lock.unlock();
      run_();
      lock.lock();
      cv_.wait_for(lock, interval_, [this] { return stop_; });
    }
  });
}

PeriodicTask::~PeriodicTask() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

RetentionSweeper::RetentionSweeper(BackupService& service, std::chrono::seconds interval)
    : service_(service), task_(interval, [this] { Run(); }) {}

void RetentionSweeper::Run() {
  Result<uint64_t> deleted = service_.ExpireOld();
  if (!deleted.ok()) {
    LogError("retention sweep failed: " + deleted.status().ToString());
  } else {
    deleted_total_ += *deleted;
    if (*deleted > 0) {
      LogInfo("retention sweep deleted " + std::to_string(*deleted) + " expired backups");
    }
  }
  Result<BackupService::ExpiryCounts> counts = service_.CountExpiring();
  if (counts.ok()) {
    backups_ = counts->backups;
    bytes_ = counts->bytes;
    expiring_7_ = counts->within_7_days;
    expiring_30_ = counts->within_30_days;
  }
}

SweepFigures RetentionSweeper::Figures() const {
  SweepFigures f;
  f.backups = backups_.load();
  f.bytes = bytes_.load();
  f.expiring_within_7_days = expiring_7_.load();
  f.expiring_within_30_days = expiring_30_.load();
  f.expired_deleted_total = deleted_total_.load();
  return f;
}

AccessSweeper::AccessSweeper(AccessService& service, std::chrono::seconds interval)
    : task_(interval, [&service] {
        Result<uint64_t> deleted = service.Sweep();
        if (!deleted.ok()) {
          LogError("access sweep: " + deleted.status().ToString());
        } else if (*deleted > 0) {
          LogInfo("access sweep: deleted " + std::to_string(*deleted) +
                  " expired credentials and spent tokens");
        }
      }) {}

}  // namespace safe::server
