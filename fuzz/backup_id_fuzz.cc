// Fuzzes safe::BackupId::Parse (common/backup_id.h), the first parser every backup URL meets.
//
// Invariants: Parse never crashes; it accepts exactly 64 characters of [0-9a-f]; when it
// accepts, ToHex gives the input back byte for byte (one backup, one spelling), FromBytes of its
// bytes is the same id, and the refusal message never repeats the input (it depends on nothing
// but the length).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/backup_id.h"
#include "fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  safe::Result<safe::BackupId> id = safe::BackupId::Parse(input);

  bool well_formed = size == safe::BackupId::kHexLength;
  for (char c : input) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) well_formed = false;
  }
  FUZZ_CHECK(id.ok() == well_formed, "Parse accepts exactly 64 lowercase hex characters");

  if (id.ok()) {
    FUZZ_CHECK(id->ToHex() == input, "ToHex(Parse(x)) == x");
    FUZZ_CHECK(safe::BackupId::FromBytes(id->bytes()) == *id, "FromBytes(bytes()) is the id");
    FUZZ_CHECK(id->AsStringView().size() == safe::BackupId::kBytes, "32 raw bytes");
  } else {
    // The message does not repeat the input: it is the one an input of the same length, made of
    // a character that is never valid, gets.
    const std::string other(size, 'g');
    FUZZ_CHECK(id.status().message() == safe::BackupId::Parse(other).status().message(),
               "the refusal does not depend on the input's content");
  }
  return 0;
}
