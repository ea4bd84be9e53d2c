// Fuzzes the client's gzip reader: safe::crypto::Gunzip (crypto/gzip.h), which must read any
// single gzip member and refuse to inflate past its cap (zip bombs).
//
// Invariants: no crash; success never exceeds the cap; the cap is exact (the same input with a
// cap one byte below the content is TooLarge); GzipStored of the content reads back the same.

#include <cstddef>
#include <cstdint>

#include "crypto/gzip.h"
#include "fuzz/crypto_fuzz_util.h"
#include "fuzz/fuzz_check.h"

using namespace safe::crypto;
using safe::SecretBytes;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr size_t kCap = safe::fuzz::kInflateCap;
  safe::Result<SecretBytes> content = Gunzip(data, size, kCap);
  if (!content.ok()) {
    FUZZ_CHECK(content.status().IsCorruption() || content.status().IsTooLarge(),
               "bad gzip is Corruption, too much is TooLarge");
    return 0;
  }
  FUZZ_CHECK(content->size() <= kCap, "within the cap");
  if (!content->empty()) {
    safe::Result<SecretBytes> capped = Gunzip(data, size, content->size() - 1);
    FUZZ_CHECK(!capped.ok() && capped.status().IsTooLarge(), "the cap is exact");
  }
  safe::Result<SecretBytes> stored = GzipStored(content->data(), content->size());
  FUZZ_CHECK(stored.ok(), "GzipStored");
  safe::Result<SecretBytes> again = Gunzip(stored->data(), stored->size(), kCap);
  FUZZ_CHECK(again.ok() && again->Equals(*content), "Gunzip(GzipStored(x)) == x");
  return 0;
}
