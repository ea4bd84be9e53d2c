// Fuzzes the client's blob reader: safe::crypto::OpenBackup (crypto/blob.h), nonce || secretbox(
// gzip(JSON)), with a fixed key.
//
// A fuzzer cannot forge a Poly1305 tag, so a fuzzed blob is refused at authentication. To reach
// what lies behind it, the input is also sealed as the gzip bytes of a blob (SealGzip) and opened
// again: then OpenToGzip must give the input back exactly, and OpenBackup must agree with Gunzip
// of the input (same success, same content).
//
// Invariants: no crash; a blob shorter than nonce + tag is Corruption; an opened JSON is at most
// the cap; the two layers compose as documented.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "crypto/blob.h"
#include "crypto/gzip.h"
#include "fuzz/crypto_fuzz_util.h"
#include "fuzz/fuzz_check.h"

using namespace safe::crypto;
using safe::SecretBytes;
using safe::SecretKey;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const SecretKey key = safe::fuzz::FixedBlobKey();
  constexpr size_t kCap = safe::fuzz::kInflateCap;

  safe::Result<SecretBytes> opened = OpenBackup(data, size, key, kCap);
  if (size < kBlobOverheadBytes) {
    FUZZ_CHECK(!opened.ok() && opened.status().IsCorruption(), "a short blob is Corruption");
  }
  if (opened.ok()) FUZZ_CHECK(opened->size() <= kCap, "the JSON is within the cap");

  // The input as the gzip bytes inside a blob sealed with the key.
  std::vector<uint8_t> sealed = SealGzip(SecretBytes(data, size), key);
  FUZZ_CHECK(sealed.size() == size + kBlobOverheadBytes, "a blob is its content plus 40 bytes");
  safe::Result<SecretBytes> gz = OpenToGzip(sealed.data(), sealed.size(), key);
  FUZZ_CHECK(gz.ok() && gz->size() == size && (size == 0 || gz->Equals(SecretBytes(data, size))),
             "OpenToGzip(SealGzip(x)) == x");
  safe::Result<SecretBytes> json = OpenBackup(sealed.data(), sealed.size(), key, kCap);
  safe::Result<SecretBytes> direct = Gunzip(data, size, kCap);
  FUZZ_CHECK(json.ok() == direct.ok(), "OpenBackup agrees with Gunzip of the content");
  if (json.ok()) {
    FUZZ_CHECK(json->Equals(*direct), "OpenBackup gives Gunzip's content");
  } else {
    FUZZ_CHECK(json.status().code() == direct.status().code(), "the same refusal");
  }
  // A flipped bit anywhere fails authentication.
  if (!sealed.empty()) {
    sealed[size % sealed.size()] ^= 0x01;
    FUZZ_CHECK(OpenToGzip(sealed.data(), sealed.size(), key).status().IsCorruption(),
               "a flipped bit is Corruption");
  }
  return 0;
}
