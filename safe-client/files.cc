#include "safe-client/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace safe::client {
namespace {

Status PosixError(const std::string& context, int error) {
  if (error == ENOENT) return Status::NotFound(context + ": " + std::strerror(error));
  return Status::IOError(context + ": " + std::strerror(error));
}

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Why a file cannot be created in dir: NotFound when dir is missing, IOError otherwise.
Status DirectoryError(const std::string& what, const std::string& dir, int error) {
  if (error == ENOENT) {
    return Status::NotFound(what + ": the directory " + dir +
                            " does not exist; create it first (mkdir -p " + dir + ")");
  }
  return Status::IOError(what + ": cannot create a file in " + dir + ": " + std::strerror(error));
}

}  // namespace

Status CheckOutputDirectory(const std::string& path, const std::string& option) {
  const std::string dir = DirectoryOf(path);
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0) return DirectoryError(option + " " + path, dir, errno);
  if (!S_ISDIR(st.st_mode)) return DirectoryError(option + " " + path, dir, ENOTDIR);
  if (access(dir.c_str(), W_OK | X_OK) != 0) {
    return DirectoryError(option + " " + path, dir, errno);
  }
  return Status::OK();
}

Result<safe::SecretBytes> ReadFileSecret(const std::string& path, size_t max_bytes) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return PosixError("cannot open " + path, errno);
  safe::SecretBytes out;
  uint8_t buffer[8192];
  Status status;
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) continue;
      status = PosixError("cannot read " + path, errno);
      break;
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_bytes) {
      status = Status::TooLarge(path + " is larger than " + std::to_string(max_bytes) + " bytes");
      break;
    }
    out.Append(buffer, static_cast<size_t>(n));
  }
  safe::Wipe(buffer, sizeof(buffer));
  close(fd);
  if (!status.ok()) return status;
  return out;
}

Status WriteFileAtomically(const std::string& path, const void* data, size_t size, mode_t mode) {
  std::string temp = path + ".tmp-XXXXXX";
  std::vector<char> name(temp.begin(), temp.end());
  name.push_back('\0');
  const int fd = mkstemp(name.data());  // creates the file with mode 0600
  if (fd < 0) {
    const int error = errno;
    if (error == ENOENT || error == ENOTDIR) {
      return DirectoryError("cannot write " + path, DirectoryOf(path), error);
    }
    return PosixError("cannot create a temporary file beside " + path, error);
  }
  temp = name.data();

  Status status;
  if (fchmod(fd, mode) != 0) status = PosixError("cannot set the mode of " + temp, errno);
  const auto* p = static_cast<const uint8_t*>(data);
  size_t left = size;
  while (status.ok() && left > 0) {
    const ssize_t n = write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      status = PosixError("cannot write " + temp, errno);
      break;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (status.ok() && fsync(fd) != 0) status = PosixError("cannot sync " + temp, errno);
  if (close(fd) != 0 && status.ok()) status = PosixError("cannot close " + temp, errno);
  if (status.ok() && rename(temp.c_str(), path.c_str()) != 0) {
    status = PosixError("cannot rename the temporary file to " + path, errno);
  }
  if (!status.ok()) {
    unlink(temp.c_str());
    return status;
  }
  // Make the rename itself durable.
  const int dir = open(DirectoryOf(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    fsync(dir);
    close(dir);
  }
  return Status::OK();
}

}  // namespace safe::client
