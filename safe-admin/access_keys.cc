#include "safe-admin/access_keys.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <istream>
#include <ostream>
#include <sstream>
#include <vector>

#include "crypto/access_token.h"
#include "crypto/blind_rsa.h"
#include "safe-admin/commands.h"

namespace safe::admin {

namespace {

constexpr char kListName[] = "issuer-keys";

std::string Errno() { return std::strerror(errno); }

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError("cannot read " + path + ": " + Errno());
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

Status SyncDir(const std::string& dir) {
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::IOError("cannot open " + dir + ": " + Errno());
  int rc = fsync(fd);
  close(fd);
  if (rc != 0) return Status::IOError("cannot sync " + dir + ": " + Errno());
  return Status::OK();
}

// Writes data to dir/name whole: a temporary file, fsync, rename, fsync of dir.
Status WriteWhole(const std::string& dir, const std::string& name, std::string_view data,
                  mode_t mode) {
  const std::string path = dir + "/" + name;
  const std::string tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Status::IOError("cannot write " + tmp + ": " + Errno());
  bool ok = fchmod(fd, mode) == 0;
  size_t done = 0;
  while (ok && done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      ok = false;
    else
      done += static_cast<size_t>(n);
  }
  ok = ok && fsync(fd) == 0;
  std::string why = ok ? "" : Errno();
  close(fd);
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
    if (why.empty()) why = Errno();
    unlink(tmp.c_str());
    return Status::IOError("cannot write " + path + ": " + why);
  }
  return SyncDir(dir);
}

std::string ShortId(const crypto::AccessKeyId& id) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < 8; ++i) {
    out += kDigits[id[i] >> 4];
    out += kDigits[id[i] & 0xf];
  }
  return out;
}

struct ListedKey {
  crypto::IssuerKeyListEntry entry;
  crypto::BlindRsaPublicKey key;
  crypto::AccessKeyId id{};
  std::string short_id;
};

// The list and its keys; a missing list is an empty one.
Result<std::vector<ListedKey>> ReadList(const std::string& dir, std::string* contents) {
  const std::string path = dir + "/" + kListName;
  contents->clear();
  if (access(path.c_str(), F_OK) != 0) return std::vector<ListedKey>{};
  Result<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  *contents = *text;
  auto entries = crypto::ParseIssuerKeyList(*text, path);
  if (!entries.ok()) return entries.status();
  std::vector<ListedKey> keys;
  for (crypto::IssuerKeyListEntry& entry : *entries) {
    const std::string pem_path = crypto::ResolveBeside(path, entry.pem_path);
    Result<std::string> pem = ReadFile(pem_path);
    if (!pem.ok()) return pem.status();
    auto key = crypto::BlindRsaPublicKey::FromPem(*pem);
    if (!key.ok()) {
      return Status::InvalidArgument(pem_path + ": " + key.status().message());
    }
    auto id = key->KeyId();
    if (!id.ok()) return id.status();
    keys.push_back(ListedKey{std::move(entry), std::move(*key), *id, ShortId(*id)});
  }
  return keys;
}

std::string PrivatePath(const std::string& dir, const std::string& short_id) {
  return dir + "/issuer-" + short_id + ".key";
}

int Fail(std::ostream& err, const std::string& what) {
  err << "safe-admin: " << what << "\n";
  return 1;
}

}  // namespace

int RunAccessKeyNew(const AccessKeyOptions& options, std::ostream& out, std::ostream& err) {
  if (mkdir(options.dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Fail(err, "cannot create " + options.dir + ": " + Errno());
  }
  std::string list;
  auto existing = ReadList(options.dir, &list);
  if (!existing.ok()) return Fail(err, existing.status().message());
  auto key = crypto::BlindRsaPrivateKey::Generate(options.bits);
  if (!key.ok()) return Fail(err, "access-key new: " + key.status().message());
  auto id = key->PublicKey().KeyId();
  auto pub = key->PublicKey().ToPem();
  auto priv = key->ToPem();
  if (!id.ok() || !pub.ok() || !priv.ok()) return Fail(err, "access-key new: OpenSSL failed");
  const std::string short_id = ShortId(*id);
  const std::string base = "issuer-" + short_id;
  const Day expiry = options.clock->Today() + static_cast<Day>(options.days);
  Status s = WriteWhole(options.dir, base + ".key", priv->view(), 0600);
  if (s.ok()) s = WriteWhole(options.dir, base + ".pem", *pub, 0644);
  if (!list.empty() && list.back() != '\n') list += '\n';
  if (list.empty()) {
    list =
        "# Issuer keys whose tokens safe-server redeems (its access-issuer-key setting).\n"
        "# <last day tokens are redeemed, YYYY-MM-DD> <public key PEM, relative to this file>\n";
  }
  list += crypto::FormatIsoDay(expiry) + " " + base + ".pem\n";
  if (s.ok()) s = WriteWhole(options.dir, kListName, list, 0644);
  if (!s.ok()) return Fail(err, s.message());
  out << "id: " << short_id << "\n"
      << "bits: " << options.bits << "\n"
      << "last-day: " << crypto::FormatIsoDay(expiry) << "\n"
      << "public-key: " << options.dir << "/" << base << ".pem\n"
      << "private-key: " << options.dir << "/" << base << ".key\n"
      << "list: " << options.dir << "/" << kListName << "\n";
  return kExitOk;
}

int RunAccessKeyList(const AccessKeyOptions& options, std::ostream& out, std::ostream& err) {
  std::string list;
  auto keys = ReadList(options.dir, &list);
  if (!keys.ok()) return Fail(err, keys.status().message());
  const Day today = options.clock->Today();
  for (const ListedKey& k : *keys) {
    bool has_private = access(PrivatePath(options.dir, k.short_id).c_str(), F_OK) == 0;
    out << k.short_id << " last-day " << crypto::FormatIsoDay(k.entry.expiry_day) << " bits "
        << k.key.ModulusBits() << " " << (k.entry.expiry_day < today ? "expired" : "active") << " "
        << (has_private ? "issuing" : "retired") << "\n";
  }
  if (keys->empty()) out << "no issuer keys in " << options.dir << "\n";
  return kExitOk;
}

int RunAccessKeyRetire(const AccessKeyOptions& options, std::ostream& out, std::ostream& err) {
  std::string list;
  auto keys = ReadList(options.dir, &list);
  if (!keys.ok()) return Fail(err, keys.status().message());
  const ListedKey* found = nullptr;
  for (const ListedKey& k : *keys) {
    if (k.short_id == options.id) found = &k;
  }
  if (found == nullptr)
    return Fail(err, "access-key retire: no key " + options.id + " in the list");
  const std::string priv = PrivatePath(options.dir, found->short_id);
  if (unlink(priv.c_str()) != 0 && errno != ENOENT) {
    return Fail(err, "cannot delete " + priv + ": " + Errno());
  }
  Status synced = SyncDir(options.dir);
  if (!synced.ok()) return Fail(err, synced.message());
  out << "retired " << found->short_id << ": its private key is deleted";
  if (options.remove) {
    std::string kept;
    std::istringstream lines(list);
    std::string line;
    for (int n = 1; std::getline(lines, line); ++n) {
      if (n != found->entry.line) kept += line + "\n";
    }
    Status s = WriteWhole(options.dir, kListName, kept, 0644);
    if (!s.ok()) return Fail(err, s.message());
    out << "; it is off the list (copy the list to the server and reload it: its tokens are then "
           "refused)\n";
  } else {
    out << "; the server redeems tokens it issued through "
        << crypto::FormatIsoDay(found->entry.expiry_day) << "\n";
  }
  return kExitOk;
}

int RunIssue(const AccessKeyOptions& options, std::istream& in, std::ostream& out,
             std::ostream& err) {
  std::string line;
  std::getline(in, line);
  auto request = crypto::ParseIssueRequest(line);
  if (!request.ok()) return Fail(err, "issue: " + request.status().message());
  std::string list;
  auto keys = ReadList(options.dir, &list);
  if (!keys.ok()) return Fail(err, keys.status().message());
  const ListedKey* found = nullptr;
  for (const ListedKey& k : *keys) {
    if (k.id == request->key_id) found = &k;
  }
  if (found == nullptr) return Fail(err, "issue: the request is for a key not in the list");
  if (found->entry.expiry_day < options.clock->Today()) {
    return Fail(err, "issue: the request is for key " + found->short_id + ", which expired");
  }
  const std::string priv_path = PrivatePath(options.dir, found->short_id);
  Result<std::string> pem = ReadFile(priv_path);
  if (!pem.ok()) {
    return Fail(err, "issue: key " + found->short_id + " is retired (no private key)");
  }
  safe::SecretBytes pem_bytes = safe::SecretBytes::FromString(*pem);
  safe::Wipe(pem->data(), pem->size());
  auto key = crypto::BlindRsaPrivateKey::FromPem(pem_bytes);
  if (!key.ok()) return Fail(err, priv_path + ": " + key.status().message());
  auto blind_sig = crypto::BlindRsaBlindSign(*key, request->blinded_msg);
  if (!blind_sig.ok()) return Fail(err, "issue: " + blind_sig.status().message());
  out << crypto::Base64UrlEncode(*blind_sig) << "\n";
  return kExitOk;
}

}  // namespace safe::admin
