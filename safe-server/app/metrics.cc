#include "safe-server/app/metrics.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>

#ifndef SAFE_SERVER_VERSION
#define SAFE_SERVER_VERSION "0.0.0"
#endif

namespace safe::server {

namespace {
const char* const kRouteNames[] = {"config", "backup", "other"};
const char* const kMethodNames[] = {"GET", "HEAD", "PUT", "DELETE", "other"};

void AppendLine(std::string* out, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void AppendLine(std::string* out, const char* fmt, ...) {
  char buf[512];
  va_list args;
  va_start(args, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, args);
  va_end(args);
  if (n > 0) out->append(buf, std::min<size_t>(n, sizeof buf - 1));
  out->push_back('\n');
}
}  // namespace

int Metrics::MethodIndex(HttpMethod m) {
  switch (m) {
    case HttpMethod::kGet:
      return 0;
    case HttpMethod::kHead:
      return 1;
    case HttpMethod::kPut:
      return 2;
    case HttpMethod::kDelete:
      return 3;
    default:
      return 4;
  }
}

void Metrics::RecordRequest(MetricRoute route, HttpMethod method, int status, double seconds) {
  int r = static_cast<int>(route);
  int m = MethodIndex(method);
  if (status < 0 || status >= kStatuses) status = 0;
  requests_[(r * kMethods + m) * kStatuses + status].fetch_add(1, std::memory_order_relaxed);
  Histogram& h = latency_[r * kMethods + m];
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) {
      h.buckets[i].fetch_add(1, std::memory_order_relaxed);
      break;  // buckets are stored non-cumulative; Render adds them up
    }
  }
  h.count.fetch_add(1, std::memory_order_relaxed);
  h.sum_micros.fetch_add(static_cast<uint64_t>(seconds * 1e6), std::memory_order_relaxed);
}

std::string Metrics::Render() const {
  std::string out;
  out.reserve(8192);
  AppendLine(&out,
             "# HELP safe_http_requests_total HTTP requests answered, by route, method and "
             "status.");
  AppendLine(&out, "# TYPE safe_http_requests_total counter");
  uint64_t throttled = 0;
  for (int r = 0; r < kRoutes; ++r) {
    for (int m = 0; m < kMethods; ++m) {
      for (int s = 0; s < kStatuses; ++s) {
        uint64_t n = requests_[(r * kMethods + m) * kStatuses + s].load(std::memory_order_relaxed);
        if (n == 0) continue;
        if (s == 429) throttled += n;
        AppendLine(&out, "safe_http_requests_total{route=\"%s\",method=\"%s\",status=\"%d\"} %llu",
                   kRouteNames[r], kMethodNames[m], s, static_cast<unsigned long long>(n));
      }
    }
  }
  AppendLine(&out,
             "# HELP safe_http_throttled_total Requests answered 429 (guess or request "
             "budget spent).");
  AppendLine(&out, "# TYPE safe_http_throttled_total counter");
  AppendLine(&out, "safe_http_throttled_total %llu", static_cast<unsigned long long>(throttled));

  AppendLine(&out,
             "# HELP safe_http_request_duration_seconds Time from a whole request to its "
             "answer, by route and method.");
  AppendLine(&out, "# TYPE safe_http_request_duration_seconds histogram");
  for (int r = 0; r < kRoutes; ++r) {
    for (int m = 0; m < kMethods; ++m) {
      const Histogram& h = latency_[r * kMethods + m];
      uint64_t count = h.count.load(std::memory_order_relaxed);
      if (count == 0) continue;
      uint64_t cumulative = 0;
      for (size_t i = 0; i < kBuckets.size(); ++i) {
        cumulative += h.buckets[i].load(std::memory_order_relaxed);
        AppendLine(
            &out,
            "safe_http_request_duration_seconds_bucket{route=\"%s\",method=\"%s\",le=\"%g\"} "
            "%llu",
            kRouteNames[r], kMethodNames[m], kBuckets[i],
            static_cast<unsigned long long>(cumulative));
      }
      AppendLine(
          &out,
          "safe_http_request_duration_seconds_bucket{route=\"%s\",method=\"%s\",le=\"+Inf\"} "
          "%llu",
          kRouteNames[r], kMethodNames[m], static_cast<unsigned long long>(count));
      AppendLine(&out, "safe_http_request_duration_seconds_sum{route=\"%s\",method=\"%s\"} %.6f",
                 kRouteNames[r], kMethodNames[m],
                 static_cast<double>(h.sum_micros.load(std::memory_order_relaxed)) / 1e6);
      AppendLine(&out, "safe_http_request_duration_seconds_count{route=\"%s\",method=\"%s\"} %llu",
                 kRouteNames[r], kMethodNames[m], static_cast<unsigned long long>(count));
    }
  }

  // The version as a label of a constant 1 (the Prometheus convention for build information):
  // `safe_build_info` shows which version every instance runs, and when an upgrade reached it.
  AppendLine(&out, "# HELP safe_build_info The version of the running safe-server (always 1).");
  AppendLine(&out, "# TYPE safe_build_info gauge");
  AppendLine(&out, "safe_build_info{version=\"%s\"} 1", SAFE_SERVER_VERSION);

  StoreFigures f;
  if (store_source_) f = store_source_();
  AppendLine(&out, "# HELP safe_store_up Whether the storage engine answered (1) or not (0).");
  AppendLine(&out, "# TYPE safe_store_up gauge");
  AppendLine(&out, "safe_store_up %d", f.ok ? 1 : 0);
  if (f.ok) {
    struct Gauge {
      const char* name;
      const char* help;
      uint64_t value;
    } gauges[] = {
        {"safe_backups_stored", "Backups stored.", f.backups},
        {"safe_bytes_stored", "Bytes of stored records (as sealed on disk).", f.bytes},
        {"safe_backups_expiring_7d",
         "Backups that will be deleted within 7 days unless uploaded again (as of the last "
         "sweep).",
         f.expiring_within_7_days},
        {"safe_backups_expiring_30d",
         "Backups that will be deleted within 30 days unless uploaded again (as of the last "
         "sweep).",
         f.expiring_within_30_days},
        {"safe_rocksdb_pending_compaction_bytes", "RocksDB's estimate of bytes left to compact.",
         f.pending_compaction_bytes},
        {"safe_rocksdb_wal_bytes", "Size of RocksDB's live write-ahead log files.", f.wal_bytes},
        {"safe_rocksdb_blob_file_bytes", "Size of RocksDB's live blob files.", f.blob_file_bytes},
        {"safe_rocksdb_blob_garbage_bytes",
         "Replaced or deleted blobs still in the live blob files (as accounted by compactions).",
         f.blob_garbage_bytes},
    };
    for (const Gauge& g : gauges) {
      AppendLine(&out, "# HELP %s %s", g.name, g.help);
      AppendLine(&out, "# TYPE %s gauge", g.name);
      AppendLine(&out, "%s %llu", g.name, static_cast<unsigned long long>(g.value));
    }
    AppendLine(&out,
               "# HELP safe_rocksdb_blob_collections_total Blob garbage collections run since "
               "start.");
    AppendLine(&out, "# TYPE safe_rocksdb_blob_collections_total counter");
    AppendLine(&out, "safe_rocksdb_blob_collections_total %llu",
               static_cast<unsigned long long>(f.blob_collections_total));
    AppendLine(&out, "# HELP safe_backups_expired_total Backups deleted by the retention sweep.");
    AppendLine(&out, "# TYPE safe_backups_expired_total counter");
    AppendLine(&out, "safe_backups_expired_total %llu",
               static_cast<unsigned long long>(f.expired_deleted_total));
  }
  return out;
}

}  // namespace safe::server
