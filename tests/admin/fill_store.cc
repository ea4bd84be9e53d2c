// admin_fill_store: fills a new sealed data directory with N backups, as a server would store
// them (a key beside it, KEYCHECK inside, every record sealed and synced), so that safe-admin's
// checkpoint, restore and verify can be timed at a provider's scale (docs/hosting.md, issue 13).
// Faster than loading over HTTP: several threads put at once, and RocksDB groups their synced
// writes as it does for a busy server.
//
// Usage: admin_fill_store DATA_DIR COUNT [BLOB_BYTES (4096)] [THREADS (16)] [SEED_FILE FIRST]
// With SEED_FILE and FIRST, the backups are bench/run's (issue 14, its 10,000,000-backup growth
// point): ids n = FIRST .. FIRST+COUNT-1 as bench/safe.lua makes them (splitmix64), each blob the
// id's 64 characters followed by bytes 64.. of SEED_FILE, so that the benchmark can read and
// check them. Otherwise distinct hashed ids and random blobs.
// Prints the count, the time taken and the rate. Exit status 0 done, 1 failed, 2 usage.
// Not a test: built on request (cmake --build DIR --target admin_fill_store).

#include <sodium.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "common/backup_id.h"
#include "common/clock.h"
#include "common/secret.h"
#include "safe-server/service/server_key.h"
#include "storage/rocksdb_store.h"
#include "storage/sealed_store.h"

namespace {

// A distinct id per index, spread over the id space like scrypt's output.
safe::BackupId IdFor(uint64_t index) {
  safe::BackupId::Bytes bytes{};
  unsigned char seed[8];
  for (int i = 0; i < 8; ++i) seed[i] = static_cast<unsigned char>(index >> (8 * i));
  crypto_generichash(bytes.data(), bytes.size(), seed, sizeof(seed), nullptr, 0);
  return safe::BackupId::FromBytes(bytes);
}

// bench/safe.lua's ids: splitmix64(4n) .. splitmix64(4n+3), each 16 lowercase hex digits.
uint64_t SplitMix64(uint64_t x) {
  uint64_t z = x + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::string BenchId(uint64_t n) {
  std::string id;
  char part[17];
  for (uint64_t k = 0; k < 4; ++k) {
    std::snprintf(part, sizeof part, "%016llx",
                  static_cast<unsigned long long>(SplitMix64(4 * n + k)));
    id += part;
  }
  return id;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || argc > 7 || argc == 6) {
    std::fprintf(stderr, "usage: %s DATA_DIR COUNT [BLOB_BYTES] [THREADS] [SEED_FILE FIRST]\n",
                 argv[0]);
    return 2;
  }
  const std::string data_dir = argv[1];
  const uint64_t count = std::strtoull(argv[2], nullptr, 10);
  const size_t blob_bytes = argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 4096;
  const unsigned threads = argc > 4 ? std::strtoul(argv[4], nullptr, 10) : 16;
  safe::EnsureSodiumInitialised();
  if (count == 0 || blob_bytes == 0 || threads == 0) {
    std::fprintf(stderr, "fill_store: COUNT, BLOB_BYTES and THREADS must be positive\n");
    return 2;
  }
  std::string seed;  // bench mode: bench/run's seed blob
  uint64_t first = 0;
  if (argc == 7) {
    std::ifstream in(argv[5], std::ios::binary);
    seed.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    first = std::strtoull(argv[6], nullptr, 10);
    if (seed.size() != blob_bytes || blob_bytes < 64) {
      std::fprintf(stderr, "fill_store: SEED_FILE must hold BLOB_BYTES (at least 64) bytes\n");
      return 2;
    }
  }

  safe::server::ServerKeyOptions key_options;
  key_options.data_dir = data_dir;
  key_options.key_file = safe::server::DefaultKeyFilePath(data_dir);
  auto key = safe::server::LoadOrCreateServerKey(key_options);
  if (!key.ok()) {
    std::fprintf(stderr, "fill_store: the key: %s\n", key.status().ToString().c_str());
    return 1;
  }
  safe::storage::RocksDbOptions options;
  options.path = data_dir;
  auto store = safe::storage::RocksDbStore::Open(options);
  if (!store.ok()) {
    std::fprintf(stderr, "fill_store: %s\n", store.status().ToString().c_str());
    return 1;
  }
  safe::storage::SealedStore sealed(*key, **store);
  const safe::Day today = safe::SystemClock().Today();

  std::atomic<uint64_t> next{0};
  std::atomic<bool> failed{false};
  const auto started = std::chrono::steady_clock::now();
  std::vector<std::thread> workers;
  for (unsigned t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      std::string blob(blob_bytes, '\0');
      for (uint64_t i = next++; i < count && !failed; i = next++) {
        safe::BackupId id = IdFor(i);
        if (seed.empty()) {
          randombytes_buf(blob.data(), blob.size());  // like the apps' encrypted backups
        } else {
          const std::string text = BenchId(first + i);
          id = *safe::BackupId::Parse(text);
          blob = text + seed.substr(64);
        }
        if (!sealed.Put(id, blob, today).ok()) failed = true;
      }
    });
  }
  for (std::thread& worker : workers) worker.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  safe::Status closed = (*store)->Close();
  if (failed || !closed.ok()) {
    std::fprintf(stderr, "fill_store: a put or the close failed: %s\n", closed.ToString().c_str());
    return 1;
  }
  std::printf("stored: %llu\nblob-bytes: %zu\nseconds: %.1f\nputs-per-second: %.0f\n",
              static_cast<unsigned long long>(count), blob_bytes, seconds, count / seconds);
  return 0;
}
