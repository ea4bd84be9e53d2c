// Metrics: aggregate counters for Prometheus, nothing per backup or per client.
//
// Requests are counted by route ("config", "backup", "other"), method and status; their handling
// time goes into one histogram per route and method. Store figures (backups, bytes, expiring
// soon, compaction, WAL) come from a callback at scrape time; safe_build_info{version} is always
// 1. Render() writes the Prometheus
// text exposition format (version 0.0.4).
//
// Thread-safety: Record* may be called from any thread (atomics); Render takes a snapshot.

#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "safe-server/http/http_message.h"

namespace safe::server {

enum class MetricRoute { kConfig = 0, kBackup = 1, kOther = 2 };

struct StoreFigures {
  bool ok = false;  // false: the store could not be asked (the gauges are left out)
  uint64_t backups = 0;
  uint64_t bytes = 0;
  uint64_t pending_compaction_bytes = 0;
  uint64_t wal_bytes = 0;
  uint64_t blob_file_bytes = 0;
  uint64_t blob_garbage_bytes = 0;
  uint64_t blob_collections_total = 0;
  // From the last retention sweep.
  uint64_t expiring_within_7_days = 0;
  uint64_t expiring_within_30_days = 0;
  uint64_t expired_deleted_total = 0;
};

class Metrics {
 public:
  static constexpr std::array<double, 14> kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

  void RecordRequest(MetricRoute route, HttpMethod method, int status, double seconds);

  // Where store figures come from at scrape time.
  void SetStoreSource(std::function<StoreFigures()> source) { store_source_ = std::move(source); }

  std::string Render() const;

 private:
  static constexpr int kRoutes = 3;
  static constexpr int kMethods = 5;  // GET HEAD PUT DELETE other
  static constexpr int kStatuses = 600;

  struct Histogram {
    std::array<std::atomic<uint64_t>, kBuckets.size()> buckets{};
    std::atomic<uint64_t> count{0};
    std::atomic<uint64_t> sum_micros{0};
  };

  static int MethodIndex(HttpMethod m);

  std::array<std::atomic<uint64_t>, kRoutes * kMethods * kStatuses> requests_{};
  std::array<Histogram, kRoutes * kMethods> latency_{};
  std::function<StoreFigures()> store_source_;
};

}  // namespace safe::server
