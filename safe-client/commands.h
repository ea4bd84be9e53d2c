// The safe-client commands, one function each, apart from argument parsing (main.cc) so that each
// is a plain function of its options. Each writes its result to out, progress and warnings to err,
// and returns OK or the Status whose message main prints; a failed command writes no output file.
//
// Thread-safety: one command per process.

#pragma once

#include <ostream>
#include <string>

#include "common/status.h"

namespace safe::client {

// Options shared by the commands that talk to a server or derive keys.
struct CommonOptions {
  std::string server;                // base URL, may carry user:password@
  std::string user;                  // Basic auth user (--user)
  std::string auth_password_file;    // its password's file (--auth-password-file)
  std::string cacert;                // a private CA to trust (--cacert)
  std::string id;                    // the Threema ID
  std::string kdf = "argon2id";      // scrypt | argon2id
  std::string password_file;         // the backup password's file; empty: ask on the terminal
  int connect_timeout_seconds = 15;  // --connect-timeout: no connection within this: give up
  int timeout_seconds = 30;          // --timeout: nothing moved for this long: give up
};

// After this long without an answer, a command prints "safe-client: waiting for <host>..." on err.
inline constexpr int kWaitingNoticeMilliseconds = 2000;

// Every command that talks to a server first fetches /config (as the apps do), so a URL that is not
// a Safe server's is reported as such ("<base> is not a Safe server: ...") and never as a missing
// backup. A missing backup is reported as kNoBackupMessage followed by what to check: the ID, the
// password and --kdf (the key derivation), which together make the backup id.

// Prints the server's maxBackupBytes and retentionDays.
Status RunConfig(const CommonOptions& o, std::ostream& out, std::ostream& err);
// Prints the backup id (64 lowercase hex) for the ID and password.
Status RunDerive(const CommonOptions& o, std::ostream& out, std::ostream& err);
// Validates the JSON file, fetches /config, encrypts, refuses a blob over maxBackupBytes, uploads.
// With --kdf argon2id, notes on err that the Threema apps cannot read the backup.
// Never replaces a backup newer than the one this device last saw (issue 16): the upload carries
// If-Match with the ETag recorded in `<input>.etag` (etag_state.h), or If-None-Match: * when none
// is recorded; the server's 412 becomes FailedPrecondition saying to restore first or use
// --force. force: upload without a condition. The new ETag is recorded afterwards.
Status RunBackup(const CommonOptions& o, const std::string& input, std::ostream& out,
                 std::ostream& err, bool force = false);
// Checks that --output's directory exists (before anything else), downloads, decrypts, validates
// and writes the JSON atomically with mode 0600, and records the server's ETag in
// `<output>.etag`. version > 0: that previous version instead (1 = the most recently replaced);
// the ETag recorded is the current backup's, so that a backup of the restored file may replace it.
Status RunRestore(const CommonOptions& o, const std::string& output, std::ostream& out,
                  std::ostream& err, uint32_t version = 0);
// Lists the previous versions the server keeps: number, size and days.
Status RunVersions(const CommonOptions& o, std::ostream& out, std::ostream& err);
Status RunDelete(const CommonOptions& o, std::ostream& out, std::ostream& err);
// HEAD of the backup: its size and dates in plain words, and what the server does not store.
Status RunInfo(const CommonOptions& o, std::ostream& out, std::ostream& err);

struct ExportOptions {
  std::string id;
  std::string input;          // a backup JSON (as restore writes it)
  std::string password_file;  // the export password's file; empty: ask (twice) on the terminal
  bool qr = false;            // also print a QR code
  std::string qr_png;         // also write a PNG of the QR code here
};
Status RunExportId(const ExportOptions& o, std::ostream& out, std::ostream& err);

// Checks the export's checksum, prints the ID and the X25519 public key in hex.
Status RunImportId(const std::string& export_text, const std::string& password_file,
                   std::ostream& out, std::ostream& err);

}  // namespace safe::client
