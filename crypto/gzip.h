// gzip as the Threema Safe apps write and read it (zlib).
//
// GzipStored writes one gzip member whose deflate stream holds only stored (uncompressed) blocks:
// the apps do not compress on purpose, so the blob's length says nothing about its content
// (compression oracles). Gunzip reads any single gzip member, compressed or not (older Android
// builds compressed), and refuses to inflate past a limit so a small hostile blob cannot expand
// into gigabytes (a zip bomb).
//
// Thread-safety: free functions without shared state.

#pragma once

#include <cstddef>
#include <cstdint>

#include "common/secret.h"
#include "common/status.h"

namespace safe::crypto {

// Default cap on inflated output: 16 MiB, far above any real backup (the apps' limit is 512 KiB).
inline constexpr size_t kMaxInflatedBytes = 16 * 1024 * 1024;

// gzip(data) with stored blocks. IOError only if zlib fails (out of memory).
Result<SecretBytes> GzipStored(const uint8_t* data, size_t size);

// The content of one gzip member. Corruption if the input is not gzip, is truncated, fails its CRC
// or has bytes after the member; TooLarge if the content exceeds max_output bytes.
Result<SecretBytes> Gunzip(const uint8_t* data, size_t size, size_t max_output = kMaxInflatedBytes);

}  // namespace safe::crypto
