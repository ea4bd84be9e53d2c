#include "safe-client/commands.h"

#include <sodium.h>
#include <unistd.h>

#include <memory>
#include <optional>

#include "crypto/backup_json.h"
#include "crypto/blob.h"
#include "crypto/id_export.h"
#include "crypto/kdf.h"
#include "safe-client/etag_state.h"
#include "safe-client/files.h"
#include "safe-client/http_client.h"
#include "safe-client/password.h"
#include "safe-client/qr.h"
#include "safe-client/server_api.h"

namespace safe::client {
namespace {

using safe::SecretBytes;

// A plaintext backup JSON file larger than this is refused before anything else.
constexpr size_t kMaxJsonFileBytes = crypto::kMaxInflatedBytes;

// The connection to one server: the client and the API over it.
struct Server {
  std::string base;  // the server's base URL without credentials
  std::unique_ptr<HttpClient> http;
  std::unique_ptr<SafeServerApi> api;
};

Result<Server> Connect(const CommonOptions& o, std::ostream& err) {
  if (o.server.empty()) return Status::InvalidArgument("--server is required");
  Result<ServerUrl> url = ParseServerUrl(o.server);
  if (!url.ok()) return url.status();
  if (url->plaintext_remote) {
    err << "safe-client: warning: http:// sends the backup and credentials unencrypted to a host "
           "that is not loopback; use https://\n";
  }
  HttpOptions options;
  options.ca_file = o.cacert;
  options.connect_timeout = std::chrono::seconds(o.connect_timeout_seconds);
  options.answer_timeout = std::chrono::seconds(o.timeout_seconds);
  options.waiting_notice_after = std::chrono::milliseconds(kWaitingNoticeMilliseconds);
  // The host only: the request's URL may hold the backup id.
  options.on_waiting = [&err, host = url->host] {
    err << "safe-client: waiting for " << host << "..." << std::endl;
  };
  if (!o.user.empty() && !url->user.empty()) {
    return Status::InvalidArgument("give the server user either in the URL or with --user");
  }
  if (!o.auth_password_file.empty() && o.user.empty() && url->user.empty()) {
    return Status::InvalidArgument("--auth-password-file needs --user");
  }
  options.user = o.user.empty() ? url->user : o.user;
  if (!options.user.empty()) {
    if (!o.auth_password_file.empty()) {
      Result<SecretBytes> pw = ReadPasswordFile(o.auth_password_file);
      if (!pw.ok()) return pw.status();
      options.password = std::move(pw).value();
    } else if (!url->password.empty()) {
      options.password = std::move(url->password);
    } else {
      Result<SecretBytes> pw =
          AskPassword("Server password for " + options.user + ": ", /*confirm=*/false,
                      "--auth-password-file FILE (the server password for --user)");
      if (!pw.ok()) return pw.status();
      options.password = std::move(pw).value();
    }
  }
  Server server;
  server.base = url->base;
  server.http = std::make_unique<HttpClient>(std::move(options));
  server.api = std::make_unique<SafeServerApi>(url->base, *server.http);
  return server;
}

Result<crypto::DerivedKeys> Derive(const CommonOptions& o, bool confirm, std::ostream& err) {
  Result<crypto::ThreemaId> id = crypto::ThreemaId::Parse(o.id);
  if (!id.ok()) return id.status();
  Result<crypto::Kdf> kdf = crypto::ParseKdf(o.kdf);
  if (!kdf.ok()) return kdf.status();
  Result<SecretBytes> password = GetPassword(o.password_file, "Safe password: ", confirm);
  if (!password.ok()) return password.status();
  if (Status s = crypto::ValidatePassword(*password); !s.ok()) return s;
  if (isatty(STDERR_FILENO)) {
    err << "Deriving key (this takes about a second on purpose)..." << std::endl;
  }
  return crypto::DeriveKeys(*kdf, *id, *password);
}

// Connect, then GET /config: every command checks first that the URL is a Safe server's.
Result<Server> ConnectToSafeServer(const CommonOptions& o, std::ostream& err,
                                   ServerLimits* limits = nullptr) {
  Result<Server> server = Connect(o, err);
  if (!server.ok()) return server.status();
  Result<ServerLimits> config = server->api->GetConfig();
  if (!config.ok()) return config.status();
  if (limits != nullptr) *limits = *config;
  return server;
}

// A missing backup, with what to check: the backup id comes from the ID, the password and --kdf.
Status ExplainNoBackup(Status status, const CommonOptions& o) {
  if (!status.IsNotFound() || status.message() != kNoBackupMessage) return status;
  const std::string other = o.kdf == "scrypt"
                                ? "a backup safe-client made with its default needs --kdf argon2id"
                                : "a backup made by a Threema app needs --kdf scrypt";
  return Status::NotFound(std::string(kNoBackupMessage) + " (with --kdf " + o.kdf +
                          "). The backup id is derived from the ID, the password and the key "
                          "derivation together: if a backup should be there, check all three (" +
                          other + ") and that the server is the one it was made on");
}

std::string Hex(const uint8_t* data, size_t size) {
  std::string out(size * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), data, size);
  out.pop_back();
  return out;
}

}  // namespace

Status RunConfig(const CommonOptions& o, std::ostream& out, std::ostream& err) {
  ServerLimits limits;
  Result<Server> server = ConnectToSafeServer(o, err, &limits);
  if (!server.ok()) return server.status();
  out << "maxBackupBytes: " << limits.max_backup_bytes << "\n"
      << "retentionDays: " << limits.retention_days << "\n";
  return Status::OK();
}

Status RunDerive(const CommonOptions& o, std::ostream& out, std::ostream& err) {
  Result<crypto::DerivedKeys> keys = Derive(o, /*confirm=*/false, err);
  if (!keys.ok()) return keys.status();
  out << keys->backup_id.ToHex() << "\n";
  return Status::OK();
}

Status RunBackup(const CommonOptions& o, const std::string& input, std::ostream& out,
                 std::ostream& err, bool force) {
  Result<SecretBytes> json = ReadFileSecret(input, kMaxJsonFileBytes);
  if (!json.ok()) return json.status();
  if (Status s = crypto::ValidateBackupJson(*json); !s.ok()) {
    return Status::InvalidArgument(input + ": " + s.message());
  }
  // As the apps do: fetch the limits before every upload, and give up if that fails.
  ServerLimits limits;
  Result<Server> server = ConnectToSafeServer(o, err, &limits);
  if (!server.ok()) return server.status();
  Result<crypto::DerivedKeys> keys = Derive(o, /*confirm=*/o.password_file.empty(), err);
  if (!keys.ok()) return keys.status();
  if (o.kdf == "argon2id") {
    err << "safe-client: note: --kdf argon2id: only safe-client can read this backup, the Threema "
           "apps cannot; use --kdf scrypt for a backup an app must restore\n";
  }
  // The file's bytes are uploaded as they are, so a restore gives back exactly this file.
  Result<std::vector<uint8_t>> blob = crypto::SealBackup(*json, keys->key);
  if (!blob.ok()) return blob.status();
  if (Status s = CheckBlobSize(blob->size(), limits); !s.ok()) return s;
  // Replace only the backup this device last saw (issue 16).
  const std::string state = EtagStatePath(input);
  PutCondition condition;
  if (!force) {
    Result<std::optional<std::string>> seen = LoadEtag(state, server->base, keys->backup_id);
    if (!seen.ok()) return seen.status();
    if (*seen) {
      condition.if_match = **seen;
    } else {
      condition.if_none_match = true;
    }
  }
  Result<PutAnswer> answer = server->api->PutBackup(keys->backup_id, *blob, condition);
  if (!answer.ok()) {
    if (!answer.status().IsFailedPrecondition()) return answer.status();
    return Status::FailedPrecondition(
        answer.status().message() +
        "; nothing was uploaded. Restore the server's backup first (safe-client restore "
        "--output " +
        input +
        "), or replace it anyway with --force (the server keeps the replaced one as a "
        "version if it keeps versions: safe-client versions)");
  }
  if (!answer->etag.empty()) {
    if (Status s = SaveEtag(state, server->base, keys->backup_id, answer->etag); !s.ok()) {
      err << "safe-client: warning: the backup was stored, but " << state
          << " could not be written (" << s.message() << "); the next backup will need --force\n";
    }
  }
  out << (answer->replaced ? "Backup stored, replacing the previous one" : "Backup stored") << " ("
      << blob->size() << " bytes). The server keeps it for " << limits.retention_days
      << " days after the last upload.\n";
  return Status::OK();
}

Status RunRestore(const CommonOptions& o, const std::string& output, std::ostream& out,
                  std::ostream& err, uint32_t version) {
  if (output.empty()) return Status::InvalidArgument("--output is required");
  if (Status s = CheckOutputDirectory(output, "--output"); !s.ok()) return s;
  Result<Server> server = ConnectToSafeServer(o, err);
  if (!server.ok()) return server.status();
  Result<crypto::DerivedKeys> keys = Derive(o, /*confirm=*/false, err);
  if (!keys.ok()) return keys.status();
  std::string etag;
  Result<std::vector<uint8_t>> blob = version == 0
                                          ? server->api->GetBackup(keys->backup_id, &etag)
                                          : server->api->GetVersion(keys->backup_id, version);
  if (!blob.ok()) return ExplainNoBackup(blob.status(), o);
  if (version > 0) {
    // This device has now seen the current backup: a backup of the restored version may
    // replace it.
    Result<BackupInfo> current = server->api->HeadBackup(keys->backup_id);
    if (current.ok()) etag = current->etag;
  }
  Result<SecretBytes> json = crypto::OpenBackup(blob->data(), blob->size(), keys->key);
  if (!json.ok()) return json.status();
  if (Status s = crypto::ValidateBackupJson(*json); !s.ok()) {
    return Status::Corruption("the backup decrypts, but is not a valid backup: " + s.message());
  }
  if (Status s = WriteFileAtomically(output, json->data(), json->size(), 0600); !s.ok()) return s;
  if (!etag.empty()) {
    const std::string state = EtagStatePath(output);
    if (Status s = SaveEtag(state, server->base, keys->backup_id, etag); !s.ok()) {
      err << "safe-client: warning: " << state << " could not be written (" << s.message()
          << "); the next backup from this file will need --force\n";
    }
  }
  if (version > 0) {
    out << "Version " << version << " of the backup restored to " << output << " (" << json->size()
        << " bytes).\n";
  } else {
    out << "Backup restored to " << output << " (" << json->size() << " bytes).\n";
  }
  return Status::OK();
}

Status RunVersions(const CommonOptions& o, std::ostream& out, std::ostream& err) {
  Result<Server> server = ConnectToSafeServer(o, err);
  if (!server.ok()) return server.status();
  Result<crypto::DerivedKeys> keys = Derive(o, /*confirm=*/false, err);
  if (!keys.ok()) return keys.status();
  Result<std::vector<VersionEntry>> versions = server->api->ListVersions(keys->backup_id);
  if (!versions.ok()) return ExplainNoBackup(versions.status(), o);
  if (versions->empty()) {
    out << "The server keeps no previous versions of this backup.\n";
    return Status::OK();
  }
  for (const VersionEntry& v : *versions) {
    out << "version " << v.number << ": " << v.size << " bytes, uploaded " << v.uploaded
        << ", replaced " << v.replaced << ", kept until " << v.expires << "\n";
  }
  out << "Restore one with: safe-client restore --version N --output FILE\n";
  return Status::OK();
}

Status RunDelete(const CommonOptions& o, std::ostream& out, std::ostream& err) {
  Result<Server> server = ConnectToSafeServer(o, err);
  if (!server.ok()) return server.status();
  Result<crypto::DerivedKeys> keys = Derive(o, /*confirm=*/false, err);
  if (!keys.ok()) return keys.status();
  if (Status s = server->api->DeleteBackup(keys->backup_id); !s.ok()) {
    return ExplainNoBackup(s, o);
  }
  out << "Backup deleted.\n";
  return Status::OK();
}

Status RunInfo(const CommonOptions& o, std::ostream& out, std::ostream& err) {
  Result<Server> server = ConnectToSafeServer(o, err);
  if (!server.ok()) return server.status();
  Result<crypto::DerivedKeys> keys = Derive(o, /*confirm=*/false, err);
  if (!keys.ok()) return keys.status();
  Result<BackupInfo> info = server->api->HeadBackup(keys->backup_id);
  if (!info.ok()) return ExplainNoBackup(info.status(), o);
  const std::string none = "not reported by this server";
  out << "A backup is stored for this ID and password.\n"
      << "Size: "
      << (info->content_length.empty() ? none : info->content_length + " bytes (encrypted)") << "\n"
      << "Last uploaded: " << (info->last_modified.empty() ? none : info->last_modified) << "\n"
      << "Expires: " << (info->expires.empty() ? none : info->expires) << "\n"
      << "The server stores nothing else about this backup: no address, no account, no device.\n";
  return Status::OK();
}

Status RunExportId(const ExportOptions& o, std::ostream& out, std::ostream& err) {
  Result<crypto::ThreemaId> id = crypto::ThreemaId::Parse(o.id);
  if (!id.ok()) return id.status();
  if (!o.qr_png.empty()) {
    if (Status s = CheckOutputDirectory(o.qr_png, "--qr-png"); !s.ok()) return s;
  }
  Result<SecretBytes> json = ReadFileSecret(o.input, kMaxJsonFileBytes);
  if (!json.ok()) return json.status();
  Result<crypto::BackupJson> backup = crypto::BackupJson::Parse(*json);
  if (!backup.ok()) return Status::InvalidArgument(o.input + ": " + backup.status().message());
  Result<SecretBytes> password =
      GetPassword(o.password_file, "Password for the ID export: ", o.password_file.empty());
  if (!password.ok()) return password.status();
  Result<std::string> text = crypto::ExportIdentity(*id, backup->PrivateKey(), *password);
  if (!text.ok()) return text.status();
  if (!o.qr_png.empty()) {
    Result<std::vector<uint8_t>> png = QrPng(*text);
    if (!png.ok()) return png.status();
    if (Status s = WriteFileAtomically(o.qr_png, png->data(), png->size(), 0600); !s.ok()) {
      return s;
    }
  }
  out << *text << "\n";
  if (o.qr) {
    Result<std::string> qr = QrForTerminal(*text);
    if (!qr.ok()) return qr.status();
    out << *qr;
  }
  return Status::OK();
}

Status RunImportId(const std::string& export_text, const std::string& password_file,
                   std::ostream& out, std::ostream& err) {
  Result<SecretBytes> password =
      GetPassword(password_file, "Password of the ID export: ", /*confirm=*/false);
  if (!password.ok()) return password.status();
  Result<crypto::ImportedIdentity> identity = crypto::ImportIdentity(export_text, *password);
  if (!identity.ok()) return identity.status();
  out << "ID: " << identity->id.str() << "\n"
      << "Public key: " << Hex(identity->public_key.data(), identity->public_key.size()) << "\n";
  return Status::OK();
}

}  // namespace safe::client
