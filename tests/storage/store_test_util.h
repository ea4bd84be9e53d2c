// Helpers shared by the storage tests: a temporary directory that removes itself, and
// deterministic keys and blobs.
//
// Thread-safety: TempDir is not shared between threads; the functions are pure.

#pragma once

#include <stdlib.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <system_error>

#include "common/backup_id.h"

namespace safe::storage::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern =
        std::string(base != nullptr && base[0] != '\0' ? base : "/tmp") + "/safe-storage-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) std::abort();  // the test cannot run at all
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A key that depends only on seed.
inline BackupId KeyFor(uint64_t seed) {
  std::mt19937_64 rng(seed ^ 0x5afe5afe5afe5afeULL);
  BackupId::Bytes bytes;
  for (auto& b : bytes) b = static_cast<uint8_t>(rng());
  return BackupId::FromBytes(bytes);
}

// size bytes of pseudo-random binary data (NULs included) that depend only on seed.
inline std::string BlobFor(uint64_t seed, size_t size) {
  std::mt19937_64 rng(seed);
  std::string blob(size, '\0');
  for (auto& c : blob) c = static_cast<char>(rng());
  return blob;
}

}  // namespace safe::storage::testing
