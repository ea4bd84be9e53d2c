// The backup's JSON: Threema Safe backup schema version 1, validated.
//
// Required: "info" (an object whose "version" is 1), "user" (an object whose "privatekey" is the
// base64 of 32 bytes) and "settings" (an object). Optional: "contacts", "groups" and
// "distributionlists", each a list when present. Everything else the apps write (nickname, profile
// picture, iOS's "syncExcludedIDs", keys of future versions) is kept as it is: a parsed document
// serialises with the same keys in the same order.
//
// The messages of the refusals say exactly what is wrong and never quote the content (which is
// secret).
//
// The document lives in nlohmann::ordered_json. On destruction every string value in it is wiped;
// the parser's own temporary buffers are not under our control and are freed unwiped.
//
// Thread-safety: a value type; const methods may be called concurrently.

#pragma once

#include <memory>

#include "common/secret.h"
#include "common/status.h"

namespace safe::crypto {

inline constexpr int kBackupSchemaVersion = 1;

class BackupJson {
 public:
  // Parses and validates a JSON text. InvalidArgument naming the problem: not JSON (with the byte
  // offset), not an object, a missing or mistyped required key, another schema version (the message
  // names it), a private key that is not base64 of 32 bytes.
  static Result<BackupJson> Parse(const SecretBytes& text);

  BackupJson(BackupJson&&) noexcept;
  BackupJson& operator=(BackupJson&&) noexcept;
  ~BackupJson();

  // The identity's X25519 private key (user.privatekey, decoded).
  SecretKey PrivateKey() const;

  // The document as compact JSON, keys in their original order.
  SecretBytes Serialize() const;

 private:
  struct Doc;
  explicit BackupJson(std::unique_ptr<Doc> doc);
  std::unique_ptr<Doc> doc_;
};

// Parse(text) without keeping the result.
Status ValidateBackupJson(const SecretBytes& text);

}  // namespace safe::crypto
