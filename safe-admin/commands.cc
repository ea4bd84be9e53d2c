#include "safe-admin/commands.h"

#include <stdio.h>
#include <time.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <system_error>

#include "common/backup_id.h"
#include "common/secret.h"
#include "safe-admin/data_dir.h"
#include "safe-admin/password_input.h"
#include "safe-server/service/auth.h"
#include "safe-server/service/backup_service.h"
#include "safe-server/service/server_key.h"
#include "safe-server/service/token_auth.h"
#include "storage/access_store.h"
#include "storage/rocksdb_store.h"
#include "storage/sealed_store.h"

namespace safe::admin {
namespace {

namespace fs = std::filesystem;

int Fail(std::ostream& err, const std::string& what) {
  err << "safe-admin: " << what << "\n";
  return kExitFailed;
}

int Fail(std::ostream& err, const std::string& what, const Status& status) {
  return Fail(err, what + ": " + status.ToString());
}

// The refusal when a server holds the database, or OK.
Status RefuseIfServerRunning(const std::string& data_dir, const std::string& instead) {
  Result<pid_t> holder = LockHolder(data_dir);
  if (!holder.ok()) return holder.status();
  if (*holder == 0) return Status::OK();
  std::string who =
      *holder > 0 ? "a running process (pid " + std::to_string(*holder) + ")" : "a running process";
  return Status::Unavailable("the database in " + data_dir + " is open in " + who +
                             ", probably safe-server: " + instead);
}

Status RequireDatabase(const std::string& dir) {
  if (HoldsDatabase(dir)) return Status::OK();
  return Status::NotFound("no database in " + dir + " (no RocksDB CURRENT file)");
}

bool IsSealed(const std::string& data_dir) {
  std::error_code ec;
  return fs::exists(fs::path(data_dir) / server::kKeyCheckFileName, ec);
}

// Loads the key of a sealed data directory and checks it against KEYCHECK. Never creates a key:
// REQUIRES the data directory holds a database (then LoadOrCreateServerKey only reads).
Result<storage::ServerKey> LoadKeyOf(const std::string& data_dir, const std::string& key_file) {
  server::ServerKeyOptions key_options;
  key_options.data_dir = data_dir;
  key_options.key_file = key_file.empty() ? server::DefaultKeyFilePath(data_dir) : key_file;
  return server::LoadOrCreateServerKey(key_options);
}

// Gives what a command run as root made in dir (RocksDB's new files, a copy) to the data
// directory's owner, so that the service can open it (data_dir.h, GiveTreeTo). The error says how
// to do it by hand.
Status GiveToOwner(const std::string& dir, FileOwner owner) {
  Status status = GiveTreeTo(dir, owner);
  if (status.ok()) return status;
  return Status::IOError(status.message() + "; the service may be unable to open " + dir +
                         " until it is given back: chown -R " + std::to_string(owner.uid) + ":" +
                         std::to_string(owner.gid) + " " + dir);
}

storage::RocksDbOptions StoreOptions(const std::string& data_dir) {
  storage::RocksDbOptions options;
  options.path = data_dir;
  return options;
}

std::string UtcStamp() {
  time_t now = time(nullptr);
  struct tm utc {};
  gmtime_r(&now, &utc);
  char text[32];
  strftime(text, sizeof(text), "%Y%m%dT%H%M%SZ", &utc);
  return text;
}

Status CheckUserName(const std::string& user) {
  if (user.empty()) return Status::OK();
  if (user.find(':') != std::string::npos) {
    return Status::InvalidArgument("the user name must not contain ':'");
  }
  for (char c : user) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      return Status::InvalidArgument("the user name must not contain control characters");
    }
  }
  if (user.front() == '#') return Status::InvalidArgument("the user name must not start with '#'");
  if (user.front() == ' ' || user.back() == ' ') {
    return Status::InvalidArgument("the user name must not start or end with a space");
  }
  return Status::OK();
}

// What the apps will do with a password, said before it goes into the htpasswd file: the line
// is printed all the same (the operator may have reasons). Never names a character of it.
void WarnAboutPassword(std::string_view password, std::ostream& err) {
  if (!server::auth_internal::IsValidUtf8(password)) {
    err << "safe-admin: warning: the password is not valid UTF-8 (is the terminal set to "
           "another encoding?); the apps send UTF-8 (iOS, Desktop) or Latin-1 (Android, which "
           "the server turns into UTF-8), so no app can send this password\n";
    return;
  }
  size_t characters = 0;
  bool beyond_latin1 = false;
  for (size_t i = 0; i < password.size(); ++characters) {
    const auto lead = static_cast<unsigned char>(password[i]);
    const size_t length = lead < 0x80 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
    // U+0000 to U+00FF take one byte, or two with the lead byte 0xC2 or 0xC3.
    if (lead > 0xc3) beyond_latin1 = true;
    i += length;
  }
  if (beyond_latin1) {
    err << "safe-admin: warning: the password has characters outside Latin-1 (ISO-8859-1); the "
           "Android app sends passwords as Latin-1 and turns every other character into '?', so "
           "this password can never work from Android (docs/threema.md)\n";
  }
  if (characters < kShortPasswordCharacters) {
    err << "safe-admin: warning: the password is shorter than " << kShortPasswordCharacters
        << " characters: easy to guess for anyone who can reach the server\n";
  }
}

}  // namespace

int RunStats(const StatsOptions& options, std::ostream& out, std::ostream& err) {
  Status status = RequireDatabase(options.data_dir);
  if (!status.ok()) return Fail(err, "stats", status);
  Result<pid_t> holder = LockHolder(options.data_dir);
  if (!holder.ok()) return Fail(err, "stats", holder.status());

  const bool sealed = IsSealed(options.data_dir);
  std::string key_state = "not checked (give --key-file)";
  if (!options.key_file.empty()) {
    Result<storage::ServerKey> key = LoadKeyOf(options.data_dir, options.key_file);
    if (!key.ok()) return Fail(err, "stats: the key", key.status());
    key_state = "matches";
  }

  // Metadata only: safe beside a running server.
  auto store = storage::RocksDbStore::OpenReadOnly(
      StoreOptions(options.data_dir), storage::RocksDbStore::ReadOnlyMode::kMetadataOnly);
  if (!store.ok()) return Fail(err, "stats: cannot open the database", store.status());
  server::BackupService service(**store, *options.clock,
                                server::BackupServiceOptions{0, options.retention_days});
  const Day today = options.clock->Today();
  uint64_t expired = 0;
  uint64_t within_7 = 0;
  uint64_t within_30 = 0;
  // Previous versions (issue 16): counts and sizes only, never which backup has them.
  uint64_t versions = 0;
  uint64_t version_bytes = 0;
  uint64_t with_versions = 0;
  status = (*store)->Scan([&](const BackupId&, const storage::BackupInfo& info) {
    versions += info.versions;
    version_bytes += info.version_bytes;
    if (info.versions > 0) ++with_versions;
    const Day deletion = service.DeletionDay(info);
    if (deletion <= today) {
      ++expired;
    } else if (deletion <= today + 30) {
      ++within_30;
      if (deletion <= today + 7) ++within_7;
    }
  });
  if (!status.ok()) return Fail(err, "stats: reading the metadata", status);
  Result<storage::StoreStats> stats = (*store)->Stats();
  if (!stats.ok()) return Fail(err, "stats", stats.status());
  status = (*store)->Close();
  if (!status.ok()) return Fail(err, "stats: closing the database", status);

  out << "backups: " << stats->backups << "\n"
      << "stored-bytes: " << stats->bytes << "\n"
      << "versions: " << versions << "\n"
      << "version-bytes: " << version_bytes << "\n"
      << "backups-with-versions: " << with_versions << "\n"
      << "expired-awaiting-sweep: " << expired << "\n"
      << "expiring-within-7-days: " << within_7 << "\n"
      << "expiring-within-30-days: " << within_30 << "\n"
      << "retention-days: " << options.retention_days << "\n"
      << "pending-compaction-bytes: " << stats->pending_compaction_bytes << "\n"
      << "wal-bytes: " << stats->wal_bytes << "\n"
      << "server-running: " << (*holder != 0 ? "yes" : "no") << "\n"
      << "sealed: " << (sealed ? "yes" : "no") << "\n";
  if (sealed) out << "key: " << key_state << "\n";
  return kExitOk;
}

int RunCheckpoint(const CheckpointOptions& options, std::ostream& out, std::ostream& err) {
  Status status = RequireDatabase(options.data_dir);
  if (status.ok()) {
    status = RefuseIfServerRunning(
        options.data_dir,
        "a consistent checkpoint can only be made by the process that has the database open. "
        "Ask the server for one on its admin listener (POST /admin/checkpoint; see "
        "docs/operations.md), or stop it and run this again");
  }
  if (!status.ok()) return Fail(err, "checkpoint", status);
  std::error_code ec;
  if (fs::exists(fs::symlink_status(options.out_dir, ec))) {
    return Fail(err, "checkpoint: " + options.out_dir + " already exists: name a new directory");
  }
  // Opening the database for writing makes new files in it (log, manifest, options): they, and
  // the copy, go to the data directory's owner.
  Result<FileOwner> owner = OwnerOf(options.data_dir);
  if (!owner.ok()) return Fail(err, "checkpoint", owner.status());

  auto store = storage::RocksDbStore::Open(StoreOptions(options.data_dir));
  if (!store.ok()) {
    Status given = GiveToOwner(options.data_dir, *owner);
    if (!given.ok()) err << "safe-admin: checkpoint: " << given.ToString() << "\n";
    return Fail(err, "checkpoint: cannot open the database", store.status());
  }
  Result<storage::StoreStats> stats = (*store)->Stats();
  status = stats.ok() ? (*store)->Checkpoint(options.out_dir) : stats.status();
  Status closed = (*store)->Close();
  // The access credentials' own database (issue 18), when there is one, goes along.
  const std::string access_dir = (fs::path(options.data_dir) / storage::kAccessDirName).string();
  if (status.ok() && fs::is_directory(access_dir, ec)) {
    auto access = storage::RocksDbAccessStore::Open(access_dir);
    status =
        access.ok()
            ? (*access)->Checkpoint((fs::path(options.out_dir) / storage::kAccessDirName).string())
            : access.status();
  }
  Status given = GiveToOwner(options.data_dir, *owner);
  if (!status.ok()) return Fail(err, "checkpoint", status);
  if (!closed.ok()) return Fail(err, "checkpoint: closing the database", closed);
  if (!given.ok()) return Fail(err, "checkpoint", given);

  // The checkpoint holds RocksDB's files only; KEYCHECK makes it a data directory the server
  // accepts with the same key.
  if (IsSealed(options.data_dir)) {
    const std::string name = server::kKeyCheckFileName;
    status = CopyFileDurably((fs::path(options.data_dir) / name).string(),
                             (fs::path(options.out_dir) / name).string());
    if (status.ok()) status = SyncDirectory(options.out_dir);
    if (!status.ok()) return Fail(err, "checkpoint: copying " + name, status);
  }
  status = GiveToOwner(options.out_dir, *owner);
  if (!status.ok()) return Fail(err, "checkpoint", status);
  out << "checkpoint: " << options.out_dir << "\n"
      << "backups: " << stats->backups << "\n"
      << "stored-bytes: " << stats->bytes << "\n";
  return kExitOk;
}

int RunRestore(const RestoreOptions& options, std::ostream& out, std::ostream& err) {
  Status status = RequireDatabase(options.from);
  if (!status.ok()) return Fail(err, "restore: " + options.from + " is not a checkpoint", status);

  // systemd's DynamicUser makes /var/lib/NAME a link to /var/lib/private/NAME: replace the
  // directory the link points to and keep the link.
  std::error_code ec;
  fs::path target = options.data_dir;
  if (fs::is_symlink(fs::symlink_status(target, ec))) {
    target = fs::weakly_canonical(target, ec);
    if (ec) return Fail(err, "restore: cannot resolve the link " + options.data_dir);
  }
  while (!target.has_filename() && target.has_parent_path() && target != "/") {
    target = target.parent_path();  // drop a trailing '/'
  }
  const std::string target_dir = target.string();

  status = RefuseIfServerRunning(target_dir, "stop the server before restoring");
  if (!status.ok()) return Fail(err, "restore", status);
  Result<bool> empty = IsMissingOrEmpty(target_dir);
  if (!empty.ok()) return Fail(err, "restore", empty.status());
  if (!*empty && !options.force) {
    return Fail(err, "restore: " + target_dir +
                         " is not empty: give --force to replace it (it is kept, renamed)");
  }

  // Check that the checkpoint opens, without writing to it (a read-only instance).
  uint64_t backups = 0;
  {
    auto checkpoint = storage::RocksDbStore::OpenReadOnly(
        StoreOptions(options.from), storage::RocksDbStore::ReadOnlyMode::kWholeDatabase);
    if (!checkpoint.ok()) {
      return Fail(err, "restore: the checkpoint does not open", checkpoint.status());
    }
    Result<storage::StoreStats> stats = (*checkpoint)->Stats();
    if (!stats.ok()) return Fail(err, "restore: the checkpoint", stats.status());
    backups = stats->backups;
    status = (*checkpoint)->Close();
    if (!status.ok()) return Fail(err, "restore: the checkpoint", status);
  }

  const fs::path parent = target.has_parent_path() ? target.parent_path() : fs::path(".");
  fs::create_directories(parent, ec);
  if (ec) return Fail(err, "restore: cannot create " + parent.string() + ": " + ec.message());
  // The restored directory belongs to whoever owns the one it replaces, or else the directory it
  // is made in (the service's state directory), whatever user runs this.
  Result<FileOwner> owner = OwnerOf(*empty ? parent.string() : target_dir);
  if (!owner.ok()) return Fail(err, "restore", owner.status());
  // Copied beside the target (same file system), then renamed into place: a crash leaves either
  // the old directory or the new one, never half of one.
  const std::string staging = target_dir + ".restoring";
  fs::remove_all(staging, ec);  // a leftover of an interrupted restore
  status = CopyTreeDurably(options.from, staging);
  if (status.ok()) status = GiveToOwner(staging, *owner);
  if (!status.ok()) {
    fs::remove_all(staging, ec);
    return Fail(err, "restore: copying the checkpoint", status);
  }
  std::string kept;
  if (!*empty) {
    // A second restore within the same second gets its own name.
    const std::string stamp = target_dir + ".replaced-" + UtcStamp();
    kept = stamp;
    for (int n = 2; fs::exists(fs::symlink_status(kept, ec)); ++n) {
      kept = stamp + "-" + std::to_string(n);
    }
    if (::rename(target_dir.c_str(), kept.c_str()) != 0) {
      fs::remove_all(staging, ec);
      return Fail(err, "restore: cannot move " + target_dir + " aside to " + kept + ": " +
                           std::strerror(errno));
    }
  }
  // rename(2) replaces an empty directory, so a missing or empty target needs nothing else.
  if (::rename(staging.c_str(), target_dir.c_str()) != 0) {
    return Fail(err, "restore: cannot rename " + staging + " to " + target_dir + ": " +
                         std::strerror(errno) +
                         (kept.empty() ? "" : "; the old data directory is " + kept));
  }
  status = SyncDirectory(parent.string());
  if (!status.ok()) return Fail(err, "restore", status);

  out << "restored: " << target_dir << "\n"
      << "backups: " << backups << "\n";
  if (!kept.empty()) out << "previous-data-kept-in: " << kept << "\n";
  if (!IsSealed(target_dir)) {
    err << "safe-admin: note: the checkpoint has no " << server::kKeyCheckFileName
        << " file; a server that seals its data refuses a data directory without one\n";
  }
  return kExitOk;
}

int RunVerify(const VerifyOptions& options, std::ostream& out, std::ostream& err) {
  Status status = RequireDatabase(options.data_dir);
  if (status.ok()) {
    status = RefuseIfServerRunning(
        options.data_dir,
        "verify a checkpoint of it instead (safe-admin verify --data-dir CHECKPOINT_DIR), or stop "
        "the server");
  }
  if (!status.ok()) return Fail(err, "verify", status);

  const bool sealed = IsSealed(options.data_dir);
  std::optional<storage::ServerKey> key;
  if (sealed) {
    Result<storage::ServerKey> loaded = LoadKeyOf(options.data_dir, options.key_file);
    if (!loaded.ok()) return Fail(err, "verify: the key", loaded.status());
    key.emplace(std::move(loaded.value()));
  }

  // The server is stopped (checked above), so RocksDB's read-only mode may read every blob.
  auto store = storage::RocksDbStore::OpenReadOnly(
      StoreOptions(options.data_dir), storage::RocksDbStore::ReadOnlyMode::kWholeDatabase);
  if (!store.ok()) return Fail(err, "verify: cannot open the database", store.status());
  uint64_t records = 0;
  uint64_t good = 0;
  std::map<std::string, uint64_t> bad;         // reason -> count; reasons never name a key
  std::optional<storage::SealedStore> opener;  // opens records; never writes through
  if (key) opener.emplace(*key, **store);
  status = (*store)->Scan([&](const BackupId& storage_key, const storage::BackupInfo&) {
    ++records;
    Result<storage::BackupRecord> record = (*store)->Get(storage_key);
    if (!record.ok()) {
      ++bad[record.status().ToString()];
      return;
    }
    if (sealed) {
      const std::string& blob = record->blob;
      if (blob.size() < storage::SealedStore::kOverhead) {
        ++bad["shorter than a sealed record"];
        return;
      }
      if (static_cast<uint8_t>(blob[0]) != storage::SealedStore::kFormatAes256Gcm) {
        ++bad["unknown sealed record format"];
        return;
      }
      if (!opener->CheckRecord(storage_key, blob).ok()) {
        ++bad["does not open under the key (corrupted)"];
        return;
      }
    }
    ++good;
  });
  Status closed = (*store)->Close();
  if (!status.ok()) return Fail(err, "verify: reading the metadata", status);
  if (!closed.ok()) return Fail(err, "verify: closing the database", closed);

  uint64_t bad_total = 0;
  for (const auto& [reason, count] : bad) bad_total += count;
  out << "records: " << records << "\n"
      << "ok: " << good << "\n"
      << "bad: " << bad_total << "\n";
  for (const auto& [reason, count] : bad) out << "  " << count << " x " << reason << "\n";
  out << "sealed: " << (sealed ? "yes (key matches; every record opened under it)" : "no") << "\n";
  return bad_total == 0 ? kExitOk : kExitFailed;
}

int RunExpire(const ExpireOptions& options, std::ostream& out, std::ostream& err) {
  Status status = RequireDatabase(options.data_dir);
  if (!status.ok()) return Fail(err, "expire", status);
  const server::BackupServiceOptions rules{0, options.retention_days};

  if (options.dry_run) {
    auto store = storage::RocksDbStore::OpenReadOnly(
        StoreOptions(options.data_dir), storage::RocksDbStore::ReadOnlyMode::kMetadataOnly);
    if (!store.ok()) return Fail(err, "expire: cannot open the database", store.status());
    server::BackupService service(**store, *options.clock, rules);
    const Day today = options.clock->Today();
    uint64_t records = 0;
    uint64_t due = 0;
    status = (*store)->Scan([&](const BackupId&, const storage::BackupInfo& info) {
      ++records;
      if (service.DeletionDay(info) <= today) ++due;
    });
    Status closed = (*store)->Close();
    if (!status.ok()) return Fail(err, "expire: reading the metadata", status);
    if (!closed.ok()) return Fail(err, "expire: closing the database", closed);
    out << "would-delete: " << due << "\n"
        << "backups: " << records << "\n"
        << "retention-days: " << options.retention_days << "\n";
    return kExitOk;
  }

  status = RefuseIfServerRunning(
      options.data_dir,
      "its own retention sweep deletes expired backups every sweep-interval; stop it to run "
      "this by hand (--dry-run works while it runs)");
  if (!status.ok()) return Fail(err, "expire", status);
  // Deleting writes new files (log, tables, manifest): they go to the data directory's owner.
  Result<FileOwner> owner = OwnerOf(options.data_dir);
  if (!owner.ok()) return Fail(err, "expire", owner.status());
  auto store = storage::RocksDbStore::Open(StoreOptions(options.data_dir));
  if (!store.ok()) {
    Status given = GiveToOwner(options.data_dir, *owner);
    if (!given.ok()) err << "safe-admin: expire: " << given.ToString() << "\n";
    return Fail(err, "expire: cannot open the database", store.status());
  }
  server::BackupService service(**store, *options.clock, rules);
  Result<uint64_t> deleted = service.ExpireOld();
  Result<storage::StoreStats> stats = (*store)->Stats();
  Status closed = (*store)->Close();
  Status given = GiveToOwner(options.data_dir, *owner);
  if (!deleted.ok()) return Fail(err, "expire", deleted.status());
  if (!closed.ok()) return Fail(err, "expire: closing the database", closed);
  if (!given.ok()) return Fail(err, "expire", given);
  out << "deleted: " << *deleted << "\n";
  if (stats.ok()) out << "backups: " << stats->backups << "\n";
  out << "retention-days: " << options.retention_days << "\n";
  return kExitOk;
}

int RunHashPassword(const HashPasswordOptions& options, std::ostream& out, std::ostream& err) {
  Status status = CheckUserName(options.user);
  if (!status.ok()) return Fail(err, "hash-password", status);
  Result<safe::SecretBytes> password = ReadNewPassword(options.in_fd, err);
  if (!password.ok()) return Fail(err, "hash-password", password.status());
  WarnAboutPassword(password->view(), err);
  Result<std::string> hash = server::HashPasswordArgon2id(password->view());
  if (!hash.ok()) return Fail(err, "hash-password", hash.status());
  if (!options.user.empty()) out << options.user << ":";
  out << *hash << "\n";
  return kExitOk;
}

int RunMakeToken(std::ostream& out) {
  server::NewToken token = server::MakeToken();
  out << "token: " << token.token << "\n"
      << "tokens-file-line: " << token.line << "\n";
  return kExitOk;
}

}  // namespace safe::admin
