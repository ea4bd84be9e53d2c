// EtagState: the ETag of the server's backup that this device last saw (issue 16), kept in a small
// file beside the device's copy of the backup: `<json file>.etag` for `backup --input` and
// `restore --output`.
//
// `backup` sends it as If-Match, so that a backup made from a stale copy never replaces a newer
// one that another device (or the app) uploaded since; without it, `backup` sends
// If-None-Match: * (it has seen no backup, so it replaces none). --force drops the condition.
//
// Format: one line per server and backup, `<key> <etag>`, where key is 32 hex digits of
// BLAKE2b-128 over the server's base URL, a NUL byte and the backup id: the file never holds the
// backup id itself (which lets anyone overwrite or delete the backup) nor the URL's credentials.
// Written atomically with mode 0600.
//
// Thread-safety: functions of files; one process at a time per file.

#pragma once

#include <optional>
#include <string>

#include "common/backup_id.h"
#include "common/status.h"

namespace safe::client {

// The sidecar file of a backup JSON file.
std::string EtagStatePath(const std::string& json_path);

// The ETag recorded for (server_base, id) in the file at path; nullopt when the file or the line
// is missing. IOError when the file exists but cannot be read; InvalidArgument (naming the file)
// when a line is malformed.
Result<std::optional<std::string>> LoadEtag(const std::string& path, const std::string& server_base,
                                            const BackupId& id);

// Records etag for (server_base, id), keeping the file's other lines; an empty etag removes the
// line. REQUIRES: etag has no whitespace. Errors as WriteFileAtomically.
Status SaveEtag(const std::string& path, const std::string& server_base, const BackupId& id,
                const std::string& etag);

}  // namespace safe::client
