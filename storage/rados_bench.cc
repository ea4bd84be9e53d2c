// rados_bench: the same load on RadosBackupStore and on RocksDbStore, through the BackupStore
// API (issue 7, "Figures"). Not a test; run by hand, see docs/scale-out.md.
//
//   rados_bench --engine rados --rados-conf ceph.conf --rados-pool safe [--rados-user admin]
//   rados_bench --engine rocksdb --dir /var/tmp/bench-db
//
// For each blob size: `--threads` threads put `--ops` blobs over a set of `--keys` keys (the
// first round creates them, the rest replace), then get `--ops` random keys of the set. One line
// per (operation, size): requests per second over the phase, and the p50 and p99 latency of
// single calls. Every get is checked against the blobs put for its key. The RADOS run works in a
// fresh namespace of the pool and deletes its keys at the end; the RocksDB directory must not exist
// and is left in place.

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/backup_id.h"
#include "storage/backup_store.h"
#include "storage/rados_store.h"
#include "storage/rocksdb_store.h"

namespace safe::storage {
namespace {

using Clock = std::chrono::steady_clock;

struct BenchOptions {
  std::string engine;
  std::string rados_conf;
  std::string rados_pool = "safe";
  std::string rados_user = "admin";
  std::string dir;
  int threads = 16;
  int ops = 2000;
  int keys = 500;
  std::vector<size_t> sizes = {64 * 1024, 512 * 1024};
};

BackupId KeyFor(uint64_t n) {
  std::mt19937_64 rng(n * 0x9e3779b97f4a7c15ULL + 1);
  BackupId::Bytes bytes;
  for (auto& b : bytes) b = static_cast<uint8_t>(rng());
  return BackupId::FromBytes(bytes);
}

// The blob of key n in round r: size bytes that name both, so a get can be checked.
std::string BlobFor(uint64_t n, uint64_t round, size_t size) {
  std::string blob(size, '\0');
  std::mt19937_64 rng(n * 1000003 + round);
  for (size_t i = 0; i < size; i += 8) {
    uint64_t v = rng();
    for (size_t j = 0; j < 8 && i + j < size; ++j) blob[i + j] = static_cast<char>(v >> (8 * j));
  }
  return blob;
}

struct PhaseResult {
  double seconds = 0;
  std::vector<double> latencies_ms;
  int errors = 0;
};

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

void Print(const char* op, size_t size, PhaseResult& r) {
  const double rps = static_cast<double>(r.latencies_ms.size()) / r.seconds;
  std::printf("%-4s %4zu KiB  %8.0f req/s  p50 %7.2f ms  p99 %7.2f ms  errors %d\n", op,
              size / 1024, rps, Percentile(r.latencies_ms, 0.5), Percentile(r.latencies_ms, 0.99),
              r.errors);
  std::fflush(stdout);
}

// Runs `ops` calls of fn(i) on `threads` threads; fn returns false on an error.
template <typename Fn>
PhaseResult RunPhase(int threads, int ops, Fn fn) {
  PhaseResult result;
  std::vector<std::vector<double>> per_thread(threads);
  std::atomic<int> next{0};
  std::atomic<int> errors{0};
  const Clock::time_point start = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = next.fetch_add(1); i < ops; i = next.fetch_add(1)) {
        const Clock::time_point t0 = Clock::now();
        if (!fn(i)) errors.fetch_add(1);
        per_thread[t].push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      }
    });
  }
  for (auto& th : pool) th.join();
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for (auto& v : per_thread)
    result.latencies_ms.insert(result.latencies_ms.end(), v.begin(), v.end());
  result.errors = errors.load();
  return result;
}

int Run(const BenchOptions& options) {
  std::unique_ptr<BackupStore> store;
  if (options.engine == "rados") {
    RadosOptions rados;
    rados.conf_path = options.rados_conf;
    rados.pool = options.rados_pool;
    rados.user = options.rados_user;
    rados.name_space = "bench-" + std::to_string(getpid()) + "-" +
                       std::to_string(Clock::now().time_since_epoch().count());
    auto opened = RadosBackupStore::Open(rados);
    if (!opened.ok()) {
      std::cerr << "rados_bench: " << opened.status().ToString() << "\n";
      return 1;
    }
    store = std::move(opened).value();
  } else if (options.engine == "rocksdb") {
    RocksDbOptions rocks;
    rocks.path = options.dir;
    if (rocks.path.empty() || access(rocks.path.c_str(), F_OK) == 0) {
      std::cerr << "rados_bench: --dir must name a directory that does not exist yet\n";
      return 2;
    }
    auto opened = RocksDbStore::Open(rocks);
    if (!opened.ok()) {
      std::cerr << "rados_bench: " << opened.status().ToString() << "\n";
      return 1;
    }
    store = std::move(opened).value();
  } else {
    std::cerr << "rados_bench: --engine must be rados or rocksdb\n";
    return 2;
  }
  std::printf("engine %s, %d threads, %d ops per phase over %d keys\n", options.engine.c_str(),
              options.threads, options.ops, options.keys);

  int failed = 0;
  for (size_t size : options.sizes) {
    // Pre-computed blobs (two rounds per key), so that the timed calls do only storage work.
    std::vector<std::string> blobs[2];
    for (int r = 0; r < 2; ++r) {
      for (int k = 0; k < options.keys; ++k) blobs[r].push_back(BlobFor(k, r, size));
    }
    // Put i writes key i % keys with the blob of round (i / keys) % 2.
    PhaseResult puts = RunPhase(options.threads, options.ops, [&](int i) {
      const int k = i % options.keys;
      return store->Put(KeyFor(k + size), blobs[(i / options.keys) % 2][k], 1).ok();
    });
    Print("put", size, puts);
    std::vector<int> order(options.ops);
    std::mt19937 rng(7);
    for (int& k : order) k = static_cast<int>(rng() % std::min(options.keys, options.ops));
    std::atomic<int> wrong{0};
    PhaseResult gets = RunPhase(options.threads, options.ops, [&](int i) {
      const int k = order[i];
      auto got = store->Get(KeyFor(k + size));
      if (!got.ok()) return false;
      if (got->blob != blobs[0][k] && got->blob != blobs[1][k]) wrong.fetch_add(1);
      return true;
    });
    Print("get", size, gets);
    if (wrong.load() > 0) std::printf("get %zu KiB: %d wrong blobs\n", size / 1024, wrong.load());
    failed += puts.errors + gets.errors + wrong.load();
    for (int k = 0; k < options.keys; ++k) store->Delete(KeyFor(k + size)).IgnoreError();
  }
  if (options.engine == "rados") {
    // The index objects of the namespace go with a sweep past every day used.
    store->DeleteUploadedBefore(2).status().IgnoreError();
  }
  return failed == 0 ? 0 : 1;
}

}  // namespace
}  // namespace safe::storage

int main(int argc, char** argv) {
  safe::storage::BenchOptions options;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "rados_bench: " << flag << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (flag == "--engine") {
      options.engine = value();
    } else if (flag == "--rados-conf") {
      options.rados_conf = value();
    } else if (flag == "--rados-pool") {
      options.rados_pool = value();
    } else if (flag == "--rados-user") {
      options.rados_user = value();
    } else if (flag == "--dir") {
      options.dir = value();
    } else if (flag == "--threads") {
      options.threads = std::stoi(value());
    } else if (flag == "--ops") {
      options.ops = std::stoi(value());
    } else if (flag == "--keys") {
      options.keys = std::stoi(value());
    } else if (flag == "--size") {
      options.sizes = {static_cast<size_t>(std::stoul(value()))};
    } else {
      std::cerr << "usage: rados_bench --engine rados|rocksdb [--rados-conf PATH] [--rados-pool P]"
                   " [--rados-user U] [--dir DIR] [--threads N] [--ops N] [--keys N] [--size B]\n";
      return 2;
    }
  }
  if (options.threads < 1 || options.ops < 1 || options.keys < 1) {
    std::cerr << "rados_bench: --threads, --ops and --keys must be positive\n";
    return 2;
  }
  return safe::storage::Run(options);
}
