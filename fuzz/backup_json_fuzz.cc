// Fuzzes the client's backup JSON reader: safe::crypto::BackupJson::Parse and ValidateBackupJson
// (crypto/backup_json.h), schema version 1.
//
// Invariants: no crash and no exception; ValidateBackupJson agrees with Parse; a parsed document
// serialises to JSON that parses again and serialises to the same bytes (keys kept in order), with
// the same private key.

#include <cstddef>
#include <cstdint>

#include "crypto/backup_json.h"
#include "fuzz/fuzz_check.h"

using namespace safe::crypto;
using safe::SecretBytes;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  SecretBytes text(data, size);
  safe::Result<BackupJson> parsed = BackupJson::Parse(text);
  safe::Status validated = ValidateBackupJson(text);
  FUZZ_CHECK(parsed.ok() == validated.ok(), "ValidateBackupJson agrees with Parse");
  if (!parsed.ok()) {
    FUZZ_CHECK(parsed.status().IsInvalidArgument(), "a bad backup is InvalidArgument");
    return 0;
  }
  SecretBytes once = parsed->Serialize();
  safe::Result<BackupJson> reparsed = BackupJson::Parse(once);
  FUZZ_CHECK(reparsed.ok(), "a serialised backup parses again");
  SecretBytes twice = reparsed->Serialize();
  FUZZ_CHECK(once.Equals(twice), "serialising is stable");
  FUZZ_CHECK(parsed->PrivateKey().Equals(reparsed->PrivateKey()), "the same private key");
  return 0;
}
