// SafeServerApi: the Threema Safe HTTP API as the apps call it, over HttpClient.
//
//   GET    <base>config          -> {"maxBackupBytes": N, "retentionDays": D}
//   PUT    <base>backups/<id>    -> 201 new, 204 replaced (any 2xx counts)
//   GET    <base>backups/<id>    -> 200 with the blob, 404 none
//   HEAD   <base>backups/<id>    -> 200, 404
//   DELETE <base>backups/<id>    -> 2xx, 404
//   GET    <base>backups/<id>/versions      -> 200 {"versions": [...]}, 404 (issue 16)
//   GET    <base>backups/<id>/versions/<n>  -> 200 with that previous blob, 404
// PUT may carry If-Match / If-None-Match: * (412 when the backup is not the one named).
//
// Each HTTP refusal becomes a Status with its own message (ErrorForHttpStatus), so the command line
// can print it as it is. Messages never contain the backup id, credentials or the server's body.
//
// Thread-safety: as HttpClient (one per thread).

#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/backup_id.h"
#include "common/status.h"
#include "safe-client/http_client.h"

namespace safe::client {

// The start of every "no backup" message; the commands add what to check (ID, password, --kdf).
inline constexpr char kNoBackupMessage[] = "no backup found for this ID and password";

// What the server announces in /config.
struct ServerLimits {
  uint64_t max_backup_bytes = 0;
  uint64_t retention_days = 0;
};

// What HEAD tells about a stored backup; each header is empty when the server did not send it.
struct BackupInfo {
  std::string content_length;
  std::string last_modified;
  std::string expires;
  std::string etag;
};

// What a PUT did: whether it replaced a backup (204), and the new backup's ETag (empty when the
// server sent none: an older server).
struct PutAnswer {
  bool replaced = false;
  std::string etag;
};

// The condition a PUT carries.
struct PutCondition {
  std::string if_match;        // an ETag: replace only that backup
  bool if_none_match = false;  // If-None-Match: *: create only
};

// One previous version, as GET <base>backups/<id>/versions lists it. Days are YYYY-MM-DD.
struct VersionEntry {
  uint32_t number = 0;  // 1 = the most recently replaced
  uint64_t size = 0;
  std::string uploaded;
  std::string replaced;
  std::string expires;
};

// The body of GET <base>backups/<id>/versions. IOError when it is not what the server sends.
Result<std::vector<VersionEntry>> ParseVersions(const std::vector<uint8_t>& body);

// A parsed server URL: credentials taken out of it, the rest normalised to end in "/".
struct ServerUrl {
  std::string base;  // scheme://host[:port]/path/ without userinfo
  std::string host;  // host[:port], for messages ("waiting for safe.example.org...")
  std::string user;  // percent-decoded; empty if the URL had none
  safe::SecretBytes password;
  bool plaintext_remote = false;  // http:// to a host that is not loopback: warn
};

// InvalidArgument unless url is an absolute http:// or https:// URL with a host and no query or
// fragment; a URL without a scheme ("safe.example.org/") gets a message saying that https:// is
// missing. Messages never repeat the URL (it may hold a password).
Result<ServerUrl> ParseServerUrl(const std::string& url);

// {"maxBackupBytes": N, "retentionDays": D}, both non-negative integers, maxBackupBytes > 0;
// other keys ignored. Else IOError("the server's /config is not ...").
Result<ServerLimits> ParseServerLimits(const std::vector<uint8_t>& body);

// The Status for an HTTP answer that is not a success (2xx). `what` names the operation for the
// messages ("upload", "download", ...); has_credentials tells a 401 "refused" from "asks for".
//   401 PermissionDenied, 403 PermissionDenied, 404 NotFound(kNoBackupMessage), 413 TooLarge,
//   429 Unavailable (with Retry-After), 507 NoSpace, other 5xx Unavailable, else IOError.
Status ErrorForHttpStatus(const HttpResponse& response, const std::string& what,
                          bool has_credentials);

// Refuses a blob larger than the server's limit before it is sent, as the apps do (Android:
// length <= max). TooLarge naming both sizes.
Status CheckBlobSize(size_t blob_bytes, const ServerLimits& limits);

// A Safe server answers GET <base>config with JSON holding maxBackupBytes and retentionDays. The
// Status for an answer that shows `base` is something else (a wrong path, a web site, a redirect):
// IOError starting "<base> is not a Safe server", or the usual refusal for 401, 403, 429 and 5xx.
// REQUIRES: !IsSuccess(response) or its body failed ParseServerLimits (then pass that status).
Status NotASafeServer(const std::string& base, const HttpResponse& response,
                      const Status& parse_error, bool has_credentials);

class SafeServerApi {
 public:
  // base must end in "/" (see ParseServerUrl). Borrows http for its lifetime.
  SafeServerApi(std::string base, HttpClient& http) : base_(std::move(base)), http_(http) {}

  // The server's limits; what NotASafeServer says when the answer is not a Safe server's.
  Result<ServerLimits> GetConfig();
  // Stores the blob; returns true if the server says it replaced an existing backup (204).
  Result<bool> PutBackup(const BackupId& id, const std::vector<uint8_t>& blob);
  // Stores the blob under a condition. FailedPrecondition when the server answers 412 (the
  // backup is not the one if_match names, or one exists and if_none_match was set).
  Result<PutAnswer> PutBackup(const BackupId& id, const std::vector<uint8_t>& blob,
                              const PutCondition& condition);
  // NotFound(kNoBackupMessage) if there is none. *etag (if given) gets its ETag (or "").
  Result<std::vector<uint8_t>> GetBackup(const BackupId& id, std::string* etag = nullptr);
  // The versions the server keeps; NotFound(kNoBackupMessage) when there is no backup.
  Result<std::vector<VersionEntry>> ListVersions(const BackupId& id);
  // Version n's blob; NotFound (saying which versions there are to list) when there is none.
  Result<std::vector<uint8_t>> GetVersion(const BackupId& id, uint32_t n);
  Result<BackupInfo> HeadBackup(const BackupId& id);
  Status DeleteBackup(const BackupId& id);

 private:
  std::string BackupUrl(const BackupId& id) const { return base_ + "backups/" + id.ToHex(); }

  std::string base_;
  HttpClient& http_;
};

}  // namespace safe::client
