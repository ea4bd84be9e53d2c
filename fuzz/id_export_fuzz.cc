// Fuzzes the client's ID export reader: safe::crypto::ImportIdentity and Base32Decode
// (crypto/id_export.h, crypto/base32.h).
//
// ImportIdentity derives its key with 100000 rounds of PBKDF2 (tens of milliseconds) once the
// text is 80 Base32 characters. Every input is imported with an empty password (all the decoding,
// no PBKDF2); an input that decodes to the 50 bytes of an export is imported with the seed's real
// password only for one in 32 inputs (chosen by a checksum of the input, so a run is
// repeatable), or the fuzzer would spend its time in PBKDF2.
//
// Invariants: no crash; Base32 is canonical (Encode(Decode(x)) is x upper-cased, without '='
// padding); an empty password is always refused; a successful import has a valid 8-character ID,
// the public key of its private key, and exports again (same salt) to the same text.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/base32.h"
#include "crypto/id_export.h"
#include "fuzz/crypto_fuzz_util.h"
#include "fuzz/fuzz_check.h"

using namespace safe::crypto;
using safe::SecretBytes;

namespace {

std::string UpperWithoutPadding(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  std::string out(text);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

// The export text as ImportIdentity reads it: without separators, upper case.
std::string Compact(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '-' || c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
    out.push_back(c);
  }
  return UpperWithoutPadding(out);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  safe::Result<std::vector<uint8_t>> bytes = Base32Decode(text);
  if (bytes.ok()) {
    std::string encoded = Base32Encode(bytes->data(), bytes->size());
    FUZZ_CHECK(UpperWithoutPadding(encoded) == UpperWithoutPadding(text), "Base32 is canonical");
  }

  safe::Result<ImportedIdentity> no_password = ImportIdentity(text, SecretBytes());
  FUZZ_CHECK(!no_password.ok() && no_password.status().IsInvalidArgument(),
             "an empty password is refused");

  const std::string compact = Compact(text);
  safe::Result<std::vector<uint8_t>> export_bytes = Base32Decode(compact);
  if (!export_bytes.ok() || export_bytes->size() != kExportBytes) return 0;
  unsigned checksum = 0;
  for (size_t i = 0; i < size; ++i) checksum += data[i];
  if (checksum % 32 != 0) return 0;

  const SecretBytes password = SecretBytes::FromString(safe::fuzz::kExportPassword);
  safe::Result<ImportedIdentity> imported = ImportIdentity(text, password);
  if (!imported.ok()) {
    FUZZ_CHECK(imported.status().IsPermissionDenied(), "a damaged export is PermissionDenied");
    return 0;
  }
  FUZZ_CHECK(ThreemaId::Parse(imported->id.str()).ok() && imported->id.str().size() == 8,
             "a valid ID");
  FUZZ_CHECK(PublicKeyFromPrivate(imported->private_key) == imported->public_key,
             "the public key of the private key");
  std::array<uint8_t, kExportSaltBytes> salt;
  for (size_t i = 0; i < salt.size(); ++i) salt[i] = (*export_bytes)[i];
  safe::Result<std::string> again =
      ExportIdentityWithSalt(imported->id, imported->private_key, password, salt);
  FUZZ_CHECK(again.ok() && Compact(*again) == compact, "exports again to the same text");
  return 0;
}
