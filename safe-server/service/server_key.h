// The server key: where it comes from, when one is created, and the check that it belongs to
// the data (issue 4, "A stolen disk reveals nothing").
//
// main calls LoadOrCreateServerKey once, before opening the store, and hands the key to
// storage::SealedStore. The rules, in order:
//
// 1. A systemd credential: if credentials_directory is set and holds a file named "server-key"
//    (LoadCredential=server-key:PATH in the unit), the key is read from it. Its mode is not
//    checked: systemd makes it readable only by the service.
// 2. Otherwise the key file: if key_file exists it is read. It must be a regular file of mode
//    0600 or 0400; any other mode (group or world bits, or execute) is refused.
// 3. Otherwise a new key is created at key_file, but only when the data directory is missing or
//    empty: a data directory that holds anything is refused ("never create a key over existing
//    data"). The key is 32 bytes from randombytes_buf, written with O_CREAT|O_EXCL, mode 0600,
//    and the file and its directory are fsynced. A key file inside the data directory is refused
//    (a copy of the data directory would carry its own key).
// 4. Never a new, empty store over what looks like a moved or restored one (issue 13, item 2).
//    When the data directory is missing or empty, the start is refused if: the key file is
//    missing but a file named after it plus a suffix ("data.key.old") lies beside it; the
//    data directory's parent holds a store itself (CURRENT or KEYCHECK: restored one level too
//    high); a non-empty entry named after the data directory plus a suffix ("data.replaced-*",
//    "data.old", "data.checkpoints") lies beside it; or the key came from the key file (not a
//    credential) while the data directory is missing (a first start with a key made by hand
//    creates the empty directory first). A first start (nothing of that kind) goes on, and
//    KeyStartup tells the caller what was created, to log it.
//
// Key format (credential and key file alike): exactly 32 raw bytes, or 64 hex characters
// (either case) with an optional final newline (so `openssl rand -hex 32 > FILE` works).
// A created key file holds 32 raw bytes.
//
// The key check. DATA_DIR/KEYCHECK holds SealedStore::KeyCheck(key) (64 hex characters and a
// newline), which identifies the key without revealing it. It is written (temp file, fsync,
// rename, fsync the directory; the data directory is created with mode 0700 if missing) when the
// data directory is missing or empty, and compared in constant time otherwise. A mismatch, or a
// data directory that holds data but no KEYCHECK, refuses the start. RocksDB ignores a file of
// that name in its directory.
//
// Errors (every message names paths, never key bytes): InvalidArgument for a refused key file,
// credential, mode or data directory, a store that looks moved or restored elsewhere (rule 4),
// or a key that does not match; Corruption for a malformed
// KEYCHECK file; IOError for a failed system call (with strerror).
//
// Thread-safety: call from one thread at start; it touches the file system.

#pragma once

#include <functional>
#include <string>

#include "common/status.h"
#include "storage/sealed_store.h"

namespace safe::server {

// The credential's name in $CREDENTIALS_DIRECTORY.
inline constexpr char kServerKeyCredential[] = "server-key";
// The key check's file name inside the data directory.
inline constexpr char kKeyCheckFileName[] = "KEYCHECK";

struct ServerKeyOptions {
  // The key file. Empty: only a credential is accepted (nothing is created).
  std::string key_file;
  // The value of $CREDENTIALS_DIRECTORY; empty when unset.
  std::string credentials_directory;
  // The data directory of the store. REQUIRES: not empty.
  std::string data_dir;
  // False when the backups live elsewhere (RADOS): the data directory then holds only KEYCHECK,
  // and a missing or empty one is no sign of a moved store (the pool's own key check guards it).
  bool store_in_data_dir = true;
};

// The key file path used when --key-file is not given: a sibling of the data directory named
// after it, "<data-dir>.key" (trailing slashes of data_dir dropped), outside the directory.
std::string DefaultKeyFilePath(const std::string& data_dir);

// What LoadOrCreateServerKey created, for the start-up log.
struct KeyStartup {
  bool created_key = false;  // a new key file was written
  bool new_store = false;    // the data directory was missing or empty: the store starts empty
};

// Finds, reads or creates the server key as described above and checks it against DATA_DIR's
// KEYCHECK (writing KEYCHECK when the data directory is missing or empty). On success the store
// may be opened with the returned key, and *startup (when given) says what was created.
[[nodiscard]] Result<storage::ServerKey> LoadOrCreateServerKey(const ServerKeyOptions& options,
                                                               KeyStartup* startup = nullptr);

// The key check of a store several servers share (a RADOS pool), where KEYCHECK beside a fresh
// data directory cannot tell: every instance must seal with one server key, or each would answer
// 500 for the others' backups. `get_or_create(check)` returns the check the store holds,
// recording `check` first when it holds none (the first instance to start). OK when it is this
// key's; FailedPrecondition when another key sealed the store (refuse to start, exit 2); IOError
// when the store cannot be asked.
Status VerifySharedKeyCheck(
    const storage::ServerKey& key,
    const std::function<Result<std::string>(const std::string& check)>& get_or_create);

}  // namespace safe::server
