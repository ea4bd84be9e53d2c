// The commands of safe-admin, the operator's tool for a safe-server data directory
// (issue 6, "Administer"). main.cc parses the command line into these option structs; each Run*
// function does one command, writes its result to out and a one-line reason to err, and returns
// the process exit status: 0 done, 1 failed (or, for verify, a bad record found).
//
// What may run while the server runs. RocksDB lets one process open a database for writing; the
// server is that process. Another process can read it safely only as a RocksDB secondary
// instance, which cannot read blob files (RocksDbStore::ReadOnlyMode::kMetadataOnly), and cannot
// make a consistent checkpoint of it at all (see storage/rocksdb_store.h). So:
//   stats, expire --dry-run    work either way (metadata only, as of the moment they open);
//   checkpoint                 offline only; a running server makes its own through its admin
//                              listener (POST /admin/checkpoint, docs/operations.md);
//   verify                     offline only (it reads every blob); verify a checkpoint instead;
//   expire (deleting), restore offline only.
// A server is detected by the fcntl() lock RocksDB holds on DATA_DIR/LOCK, and refused with a
// message that says what to do instead.
//
// Nothing printed names a backup id or storage key: only counts, sizes and paths.
//
// Ownership (issue 13). Run as root, checkpoint, restore and expire give every file and
// directory they create (RocksDB's new files in the data directory, a checkpoint, a restored
// directory) to the owner of the data directory they work on, files 0600 and directories 0700,
// whatever the umask: the service that owns the data can open it afterwards. A failure to do so
// fails the command, naming the chown that would fix it.
//
// Sealed data (issue 4). A data directory with a KEYCHECK file is sealed: its records are
// SealedStore records under storage keys. stats, expire and checkpoint need no key (the metadata
// is not sealed); verify checks the key against KEYCHECK and every record's sealed format.
//
// Thread-safety: each Run* function is meant to be called once from main's thread.

#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string>

#include "common/clock.h"

namespace safe::admin {

// The exit statuses of the commands.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;

struct StatsOptions {
  std::string data_dir;  // REQUIRES: not empty
  // If set, the key is checked against the data directory's KEYCHECK (and reported).
  std::string key_file;
  // The server's retention-days: decides which backups expire soon.
  uint32_t retention_days = 180;
  const Clock* clock = nullptr;  // REQUIRES: not null; "today"
};

// Prints `name: value` lines: backups, stored-bytes (the sum of stored record sizes, sealing
// overhead included), expired-awaiting-sweep (deletion day reached, not yet swept),
// expiring-within-7-days and expiring-within-30-days (deletion day within the next 7 or 30 days,
// today excluded), pending-compaction-bytes and wal-bytes (RocksDB's figures), server-running,
// and key (matches / not checked) when sealed.
int RunStats(const StatsOptions& options, std::ostream& out, std::ostream& err);

struct CheckpointOptions {
  std::string data_dir;  // REQUIRES: not empty
  std::string out_dir;   // must not exist; REQUIRES: not empty
};

// With the server stopped: opens the database, writes a RocksDB checkpoint to out_dir and
// copies DATA_DIR/KEYCHECK beside it, so that out_dir is a complete data directory, owned like
// DATA_DIR (see Ownership above). Refused
// while a server holds the database (the message names the admin listener's POST
// /admin/checkpoint).
int RunCheckpoint(const CheckpointOptions& options, std::ostream& out, std::ostream& err);

struct RestoreOptions {
  std::string from;      // a checkpoint directory; REQUIRES: not empty
  std::string data_dir;  // REQUIRES: not empty
  // Replace a data directory that holds anything: the old one is renamed aside to
  // DATA_DIR.replaced-<UTC time>, never deleted.
  bool force = false;
};

// Copies the checkpoint (after opening it read-only to check it is a database) into a fresh
// directory beside data_dir, fsyncs it and renames it into place (mode 0700; owned like the
// data_dir it replaces, or else like the directory it is made in). Refused while a
// server holds data_dir, and when data_dir holds anything unless force. When data_dir is a
// symbolic link (systemd's DynamicUser makes /var/lib/NAME one) the link's target is replaced
// and the link kept.
int RunRestore(const RestoreOptions& options, std::ostream& out, std::ostream& err);

struct VerifyOptions {
  std::string data_dir;  // REQUIRES: not empty
  // The server key; empty: "<data-dir>.key", as the server. Only used for sealed data.
  std::string key_file;
};

// Reads every record: its blob must exist and be as long as its metadata says; for sealed data
// it must be a well-formed sealed record, and the key must match KEYCHECK. Prints records, ok
// and bad counts. Exit status 1 when any record is bad. Refused while a server holds data_dir.
int RunVerify(const VerifyOptions& options, std::ostream& out, std::ostream& err);

struct ExpireOptions {
  std::string data_dir;  // REQUIRES: not empty
  uint32_t retention_days = 180;
  bool dry_run = false;
  const Clock* clock = nullptr;  // REQUIRES: not null
};

// Counts (dry_run) or deletes the backups whose deletion day has come, with the rule the
// server's sweep uses (BackupService). Deleting is refused while a server holds data_dir: its
// own sweep does this every sweep-interval.
int RunExpire(const ExpireOptions& options, std::ostream& out, std::ostream& err);

struct HashPasswordOptions {
  // The user name of the htpasswd line; empty: print the hash alone. No ':', no control
  // characters.
  std::string user;
  int in_fd = 0;  // where the password is read (ReadNewPassword)
};

// A password shorter than this many characters gets a warning from hash-password.
inline constexpr size_t kShortPasswordCharacters = 8;

// Reads a password (password_input.h) and prints `user:$argon2id$...` (or the hash alone), the
// line safe-server's htpasswd file takes. Prompts go to err, and warnings (the line is printed
// all the same, exit status 0): a password with characters outside Latin-1 (the Android app sends
// Latin-1: such a password can never work from it), one that is not UTF-8 (no app can send it),
// and one shorter than kShortPasswordCharacters characters.
int RunHashPassword(const HashPasswordOptions& options, std::ostream& out, std::ostream& err);

// Prints a new token for `Authorization: Token <token>` (OnPrem builds) and the line for the
// server's tokens file: `token: <43 characters>` and `tokens-file-line: sha256:<hex>`. The server
// keeps only the hash, so the token is shown this once.
int RunMakeToken(std::ostream& out);

}  // namespace safe::admin
