#include "crypto/gzip.h"

#include <zlib.h>

#include <climits>

namespace safe::crypto {
namespace {

// windowBits 15 + 16 asks zlib for a gzip wrapper instead of a zlib one.
constexpr int kGzipWindowBits = 15 + 16;
constexpr size_t kChunk = 16384;

}  // namespace

Result<SecretBytes> GzipStored(const uint8_t* data, size_t size) {
  if (size > UINT_MAX) return Status::TooLarge("input too large for gzip");
  z_stream zs{};
  // Level 0 (Z_NO_COMPRESSION) makes deflate emit stored blocks only.
  if (deflateInit2(&zs, Z_NO_COMPRESSION, Z_DEFLATED, kGzipWindowBits, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    return Status::IOError("zlib: deflateInit2 failed");
  }
  SecretBytes out(deflateBound(&zs, static_cast<uLong>(size)));
  zs.next_in = const_cast<Bytef*>(data);
  zs.avail_in = static_cast<uInt>(size);
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  const size_t written = zs.total_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return Status::IOError("zlib: deflate failed");
  out.Resize(written);
  return out;
}

Result<SecretBytes> Gunzip(const uint8_t* data, size_t size, size_t max_output) {
  if (size > UINT_MAX) return Status::TooLarge("gzip input too large");
  z_stream zs{};
  // 16 + MAX_WBITS: a gzip wrapper only (a bare zlib stream is not what the apps write).
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
    return Status::IOError("zlib: inflateInit2 failed");
  zs.next_in = const_cast<Bytef*>(data);
  zs.avail_in = static_cast<uInt>(size);
  SecretBytes out;
  uint8_t chunk[kChunk];
  int rc = Z_OK;
  Status status;
  while (rc != Z_STREAM_END) {
    zs.next_out = chunk;
    zs.avail_out = sizeof(chunk);
    rc = inflate(&zs, Z_NO_FLUSH);
    const size_t produced = sizeof(chunk) - zs.avail_out;
    if (out.size() + produced > max_output) {
      status = Status::TooLarge("the backup inflates to more than the allowed size");
      break;
    }
    out.Append(chunk, produced);
    if (rc == Z_STREAM_END) break;
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) {
      status = Status::Corruption("the gzip data is truncated");
      break;
    }
    if (rc != Z_OK) {
      status = Status::Corruption("the data is not valid gzip");
      break;
    }
  }
  const size_t left_over = zs.avail_in;
  inflateEnd(&zs);
  Wipe(chunk, sizeof(chunk));
  if (!status.ok()) return status;
  if (left_over != 0) return Status::Corruption("unexpected bytes after the gzip data");
  return out;
}

}  // namespace safe::crypto
