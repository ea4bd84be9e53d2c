// Fixed inputs shared by the crypto fuzz targets and the seed maker (fuzz/make_seeds.cc): the
// blob key, the ID export password. Fixed so that the seeds in fuzz/corpus/ open with them.
//
// Thread-safety: constants and pure functions.

#pragma once

#include <cstdint>

#include "common/secret.h"

namespace safe::fuzz {

// The key of every blob in fuzz/corpus/blob_fuzz: bytes 0, 1, ..., 31.
inline safe::SecretKey FixedBlobKey() {
  safe::SecretKey key;
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(i);
  return key;
}

// The password of the ID export seed (the export of tests/crypto/id_export_test.cc).
inline constexpr char kExportPassword[] = "correct horse battery";

// Largest JSON the blob and gzip targets let Gunzip make: far above a real backup (512 KiB),
// small enough that a zip bomb costs little.
inline constexpr size_t kInflateCap = 1 << 20;

}  // namespace safe::fuzz
