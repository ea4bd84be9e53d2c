#include "safe-server/service/server_key.h"

#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <system_error>
#include <utility>

#include "common/posix.h"
#include "common/secret.h"

namespace safe::server {
namespace {

namespace fs = std::filesystem;

constexpr char kKeyCheckTempName[] = "KEYCHECK.tmp";
// More than any valid key file or KEYCHECK holds: enough to tell "too long" apart.
constexpr size_t kReadLimit = 130;
constexpr size_t kHexKeyChars = 2 * storage::ServerKey::kSize;

using Fd = ScopedFd;

std::string ParentOf(const std::string& path) {
  fs::path parent = fs::path(path).parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

Status SyncDirectory(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoError("cannot open the directory " + dir + " to sync it", errno);
  if (::fsync(fd.get()) != 0) return ErrnoError("cannot sync the directory " + dir, errno);
  return Status::OK();
}

Status WriteAll(int fd, const void* data, size_t size, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("cannot write " + path, errno);
    p += n;
    size -= static_cast<size_t>(n);
  }
  return Status::OK();
}

// Reads at most kReadLimit bytes of an open file into *out (it may hold key bytes).
Status ReadSmall(int fd, const std::string& path, SecretBytes* out) {
  out->Resize(kReadLimit);
  size_t size = 0;
  while (size < kReadLimit) {
    ssize_t n = ::read(fd, out->data() + size, kReadLimit - size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("cannot read " + path, errno);
    if (n == 0) break;
    size += static_cast<size_t>(n);
  }
  out->Resize(size);
  return Status::OK();
}

// 32 raw bytes, or 64 hex characters with an optional final newline.
Result<storage::ServerKey> ParseKey(const SecretBytes& buffer, const std::string& what) {
  storage::ServerKey key;
  const std::string_view text = buffer.view();
  if (text.size() == key.size()) {
    std::memcpy(key.data(), text.data(), key.size());
    return key;
  }
  if (text.size() == kHexKeyChars || (text.size() == kHexKeyChars + 1 && text.back() == '\n')) {
    size_t raw_len = 0;
    const char* end = nullptr;
    const bool parsed = sodium_hex2bin(key.data(), key.size(), text.data(), kHexKeyChars, nullptr,
                                       &raw_len, &end) == 0 &&
                        raw_len == key.size() && end == text.data() + kHexKeyChars;
    if (!parsed) {
      return Status::InvalidArgument(what + " holds 64 characters that are not all hex digits");
    }
    return key;
  }
  const std::string size = text.size() >= kReadLimit ? "more than " + std::to_string(kReadLimit - 1)
                                                     : std::to_string(text.size());
  return Status::InvalidArgument(what + " holds " + size +
                                 " bytes: expected 32 raw bytes or 64 hex characters");
}

std::string ModeString(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof(text), "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

// Reads the key at path; nullopt when there is no such file. With check_mode, refuses a mode
// other than 0600 or 0400.
Result<std::optional<storage::ServerKey>> ReadKeyFrom(const std::string& path,
                                                      const std::string& what, bool check_mode) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0) {
    if (errno == ENOENT) return std::optional<storage::ServerKey>();
    return ErrnoError("cannot open " + what, errno);
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoError("cannot stat " + what, errno);
  if (!S_ISREG(st.st_mode)) return Status::InvalidArgument(what + " is not a regular file");
  const mode_t mode = st.st_mode & 07777;
  if (check_mode && mode != 0600 && mode != 0400) {
    return Status::InvalidArgument(what + " has mode " + ModeString(mode) +
                                   ": it must be 0600 or 0400 (readable by its owner only); "
                                   "fix it with chmod 600");
  }
  SecretBytes buffer;
  Status read = ReadSmall(fd.get(), what, &buffer);
  if (!read.ok()) return read;
  Result<storage::ServerKey> key = ParseKey(buffer, what);
  if (!key.ok()) return key.status();
  return std::optional<storage::ServerKey>(std::move(key).value());
}

enum class DataDirState { kMissing, kEmpty, kHoldsData };

// A data directory holds data when it has any entry but an abandoned KEYCHECK.tmp.
Result<DataDirState> InspectDataDir(const std::string& data_dir) {
  struct stat st;
  if (::stat(data_dir.c_str(), &st) != 0) {
    if (errno == ENOENT) return DataDirState::kMissing;
    return ErrnoError("cannot stat the data directory " + data_dir, errno);
  }
  if (!S_ISDIR(st.st_mode)) {
    return Status::InvalidArgument("the data directory " + data_dir + " is not a directory");
  }
  DIR* dir = ::opendir(data_dir.c_str());
  if (dir == nullptr) return ErrnoError("cannot list the data directory " + data_dir, errno);
  DataDirState state = DataDirState::kEmpty;
  errno = 0;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    if (name == "." || name == ".." || name == kKeyCheckTempName) continue;
    state = DataDirState::kHoldsData;
    break;
  }
  const int err = errno;
  ::closedir(dir);
  if (state == DataDirState::kEmpty && err != 0) {
    return ErrnoError("cannot list the data directory " + data_dir, err);
  }
  return state;
}

// Whether path lies inside dir (compared component by component after resolving what exists).
bool IsInside(const std::string& path, const std::string& dir) {
  std::error_code ec;
  const fs::path p = fs::weakly_canonical(fs::absolute(path, ec), ec);
  if (ec) return false;
  const fs::path d = fs::weakly_canonical(fs::absolute(dir, ec), ec);
  if (ec) return false;
  auto pi = p.begin();
  for (auto di = d.begin(); di != d.end(); ++di, ++pi) {
    if (di->empty()) continue;  // a trailing separator
    if (pi == p.end() || *pi != *di) return false;
  }
  return pi != p.end();
}

// `make_parent`: the key sits beside the data directory (the default path), whose parents a first
// start makes anyway (issue 13: it used to fail with "No such file or directory"). A key file
// named elsewhere whose directory is missing is refused with its path: likely a typo.
Result<storage::ServerKey> CreateKeyFile(const std::string& path, bool make_parent) {
  const std::string parent = ParentOf(path);
  std::error_code ec;
  if (make_parent && !parent.empty() && !fs::exists(parent, ec)) {
    fs::create_directories(parent, ec);
    if (ec)
      return Status::IOError("cannot create " + parent + " for the key file: " + ec.message());
  }
  storage::ServerKey key = storage::ServerKey::Random();
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (fd.get() < 0) return ErrnoError("cannot create the key file " + path, errno);
  Status status = Status::OK();
  // The umask may only have removed bits; make the mode exact.
  if (::fchmod(fd.get(), 0600) != 0)
    status = ErrnoError("cannot chmod the key file " + path, errno);
  if (status.ok()) status = WriteAll(fd.get(), key.data(), key.size(), "the key file " + path);
  if (status.ok() && ::fsync(fd.get()) != 0) {
    status = ErrnoError("cannot sync the key file " + path, errno);
  }
  if (status.ok() && fd.Close() != 0) {
    status = ErrnoError("cannot close the key file " + path, errno);
  }
  if (status.ok()) status = SyncDirectory(ParentOf(path));
  if (!status.ok()) {
    // A partial key file would be refused at the next start; leave none.
    ::unlink(path.c_str());
    return status;
  }
  return key;
}

// Creates the data directory (mode 0700; its parents as needed) when it is missing.
Status EnsureDataDir(const std::string& data_dir, DataDirState state) {
  if (state != DataDirState::kMissing) return Status::OK();
  const std::string parent = ParentOf(data_dir);
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) return Status::IOError("cannot create " + parent + ": " + ec.message());
  if (::mkdir(data_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoError("cannot create the data directory " + data_dir, errno);
  }
  return SyncDirectory(parent);
}

Status WriteKeyCheck(const std::string& data_dir, const std::string& check) {
  const std::string temp = data_dir + "/" + kKeyCheckTempName;
  const std::string final_path = data_dir + "/" + kKeyCheckFileName;
  const std::string content = check + "\n";
  Fd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (fd.get() < 0) return ErrnoError("cannot create " + temp, errno);
  Status status = WriteAll(fd.get(), content.data(), content.size(), temp);
  if (status.ok() && ::fsync(fd.get()) != 0) status = ErrnoError("cannot sync " + temp, errno);
  if (status.ok() && fd.Close() != 0) status = ErrnoError("cannot close " + temp, errno);
  if (status.ok() && ::rename(temp.c_str(), final_path.c_str()) != 0) {
    status = ErrnoError("cannot rename " + temp + " to " + final_path, errno);
  }
  if (!status.ok()) {
    ::unlink(temp.c_str());
    return status;
  }
  return SyncDirectory(data_dir);
}

Status VerifyKeyCheck(const std::string& data_dir, const std::string& check,
                      const std::string& source) {
  const std::string path = data_dir + "/" + kKeyCheckFileName;
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0) {
    if (errno == ENOENT) {
      return Status::InvalidArgument("the data directory " + data_dir +
                                     " holds data but no KEYCHECK file, so " + source +
                                     " cannot be checked against it: refusing to start");
    }
    return ErrnoError("cannot open " + path, errno);
  }
  SecretBytes buffer;
  Status read = ReadSmall(fd.get(), path, &buffer);
  if (!read.ok()) return read;
  size_t size = buffer.size();
  if (size > 0 && buffer[size - 1] == '\n') --size;
  if (size != check.size()) return Status::Corruption(path + " is malformed");
  if (!ConstantTimeEquals(buffer.data(), check.data(), check.size())) {
    return Status::InvalidArgument(source + " does not match the data in " + data_dir +
                                   " (its KEYCHECK differs): refusing to start");
  }
  return Status::OK();
}

std::string BaseName(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return fs::path(p).filename().string();
}

bool SamePath(const fs::path& a, const std::string& b) {
  std::error_code ec;
  return fs::weakly_canonical(fs::absolute(a, ec), ec) ==
         fs::weakly_canonical(fs::absolute(b, ec), ec);
}

// Signs that a store lived here and was moved away, or was restored to another path, checked
// before a new, empty store (and maybe a new key) is made (issue 13, item 2: following a wrong
// path in the docs, a restore moved the key aside and the server then started empty). Returns
// the reason to refuse, or an empty string when this clearly is a first start.
std::string TraceOfAStore(const ServerKeyOptions& options, bool key_missing, bool key_from_file,
                          DataDirState state) {
  const std::string& data_dir = options.data_dir;
  std::error_code ec;
  if (key_missing && !options.key_file.empty()) {
    // "data.key.bak", "data.key.old", "data.key.replaced-...": a key someone moved aside.
    const std::string prefix = BaseName(options.key_file) + ".";
    for (const auto& entry : fs::directory_iterator(ParentOf(options.key_file), ec)) {
      const std::string name = entry.path().filename().string();
      if (name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0) {
        return "there is no key file at " + options.key_file + " but " + entry.path().string() +
               " beside it looks like a key moved aside: put it back (or name it with "
               "key-file); refusing to start with a new key and an empty store";
      }
    }
  }
  const std::string parent = ParentOf(data_dir);
  for (const char* name : {"CURRENT", kKeyCheckFileName}) {
    if (fs::exists(parent + "/" + name, ec)) {
      return parent + ", the parent of the data directory " + data_dir + ", holds a store (" +
             name + "): was it restored to " + parent + " instead of " + data_dir +
             "? Move it into place or set data-dir to it; refusing to start an empty store";
    }
  }
  // "data.replaced-...", "data.restoring", "data.old", checkpoints: the store was moved aside.
  const std::string prefix = BaseName(data_dir) + ".";
  for (const auto& entry : fs::directory_iterator(parent, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    if (!options.key_file.empty() && SamePath(entry.path(), options.key_file)) continue;
    std::error_code empty_ec;
    if (entry.is_directory(empty_ec) && fs::is_empty(entry.path(), empty_ec)) continue;
    return "the data directory " + data_dir + " is " +
           (state == DataDirState::kMissing ? "missing" : "empty") + " but " +
           entry.path().string() +
           " beside it looks like a store moved aside or its copies: restore it (safe-admin "
           "restore) or move it away; refusing to start an empty store";
  }
  if (key_from_file && state == DataDirState::kMissing) {
    return "the key file " + options.key_file + " exists but the data directory " + data_dir +
           " is missing: if the data was moved, put it back (or restore it with safe-admin "
           "restore); for a new, empty store with this key, create the directory first (mkdir "
           "-m 0700 " +
           data_dir + "); refusing to start";
  }
  return std::string();
}

}  // namespace

std::string DefaultKeyFilePath(const std::string& data_dir) {
  std::string dir = data_dir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir + ".key";
}

Result<storage::ServerKey> LoadOrCreateServerKey(const ServerKeyOptions& options,
                                                 KeyStartup* startup) {
  if (options.data_dir.empty()) return Status::InvalidArgument("no data directory given");
  const std::string& data_dir = options.data_dir;

  std::optional<storage::ServerKey> key;
  std::string source;
  bool from_credential = false;
  if (!options.credentials_directory.empty()) {
    const std::string path = options.credentials_directory + "/" + kServerKeyCredential;
    source = "the credential " + path;
    auto read = ReadKeyFrom(path, source, /*check_mode=*/false);
    if (!read.ok()) return read.status();
    key = std::move(*read);
    from_credential = key.has_value();
  }
  if (!key.has_value()) {
    if (options.key_file.empty()) {
      return Status::InvalidArgument(std::string("no server key: no credential \"") +
                                     kServerKeyCredential +
                                     "\" in $CREDENTIALS_DIRECTORY and no key file given");
    }
    source = "the key file " + options.key_file;
    if (IsInside(options.key_file, data_dir)) {
      return Status::InvalidArgument(source + " is inside the data directory " + data_dir +
                                     ": a copy of the data would carry its key; put it elsewhere");
    }
    auto read = ReadKeyFrom(options.key_file, source, /*check_mode=*/true);
    if (!read.ok()) return read.status();
    key = std::move(*read);
  }

  Result<DataDirState> state = InspectDataDir(data_dir);
  if (!state.ok()) return state.status();
  const bool key_from_file = key.has_value() && !from_credential;
  if (*state != DataDirState::kHoldsData && options.store_in_data_dir) {
    const std::string trace = TraceOfAStore(options, !key.has_value(), key_from_file, *state);
    if (!trace.empty()) return Status::InvalidArgument(trace);
  }
  if (!key.has_value()) {
    if (*state == DataDirState::kHoldsData) {
      return Status::InvalidArgument("no key file at " + options.key_file + " but " + data_dir +
                                     " holds data: refusing to create a new key over existing "
                                     "data");
    }
    Result<storage::ServerKey> created =
        CreateKeyFile(options.key_file, SamePath(ParentOf(options.key_file), ParentOf(data_dir)));
    if (!created.ok()) return created.status();
    key = std::move(created).value();
    if (startup != nullptr) startup->created_key = true;
  }
  if (startup != nullptr) {
    startup->new_store = options.store_in_data_dir && *state != DataDirState::kHoldsData;
  }

  const std::string check = storage::SealedStore::KeyCheck(*key);
  Status status = *state == DataDirState::kHoldsData ? VerifyKeyCheck(data_dir, check, source)
                                                     : EnsureDataDir(data_dir, *state);
  if (status.ok() && *state != DataDirState::kHoldsData) status = WriteKeyCheck(data_dir, check);
  if (!status.ok()) return status;
  return std::move(*key);
}

Status VerifySharedKeyCheck(
    const storage::ServerKey& key,
    const std::function<Result<std::string>(const std::string& check)>& get_or_create) {
  const std::string check = storage::SealedStore::KeyCheck(key);
  Result<std::string> stored = get_or_create(check);
  if (!stored.ok()) {
    return Status::IOError("cannot read its key check: " + stored.status().ToString());
  }
  if (*stored != check) {
    return Status::FailedPrecondition(
        "sealed with another server key (its keycheck differs): refusing to start");
  }
  return Status::OK();
}

}  // namespace safe::server
