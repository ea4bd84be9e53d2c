// Reading and writing the client's files: JSON backups, password files, QR code PNGs.
//
// WriteFileAtomically never leaves a partial file under the target name: it writes a temporary
// file beside it (created with the final mode, 0600 by default, so a secret is never readable by
// others even for a moment), fsyncs it, renames it over the target and fsyncs the directory. On any
// failure the temporary file is removed.
//
// Thread-safety: free functions; no shared state.

#pragma once

#include <sys/types.h>
#include <string>

#include "common/secret.h"
#include "common/status.h"

namespace safe::client {

// The whole file. NotFound if it does not exist, TooLarge past max_bytes, IOError otherwise.
// Messages name the path.
Result<safe::SecretBytes> ReadFileSecret(const std::string& path, size_t max_bytes);

// Checks, before any work whose result would be lost, that path can be written: OK if the
// directory that will hold it exists and is writable. Else NotFound "<option> <path>: the directory
// <dir> does not exist; create it first (mkdir -p <dir>)", or IOError naming the directory and the
// reason (not a directory, permission denied). option is the flag that named the path ("--output").
Status CheckOutputDirectory(const std::string& path, const std::string& option);

// Writes data to path atomically with the given mode. IOError naming the path on failure, NotFound
// naming the directory when it does not exist.
Status WriteFileAtomically(const std::string& path, const void* data, size_t size,
                           mode_t mode = 0600);

}  // namespace safe::client
