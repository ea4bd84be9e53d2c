#include "safe-admin/data_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "common/posix.h"

namespace safe::admin {
namespace {

namespace fs = std::filesystem;

using Fd = ScopedFd;

Status CopyContents(int in, int out, const std::string& from, const std::string& to) {
  char buffer[1 << 16];
  for (;;) {
    ssize_t n = ::read(in, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("cannot read " + from, errno);
    if (n == 0) return Status::OK();
    const char* p = buffer;
    while (n > 0) {
      ssize_t written = ::write(out, p, static_cast<size_t>(n));
      if (written < 0 && errno == EINTR) continue;
      if (written < 0) {
        return errno == ENOSPC ? Status::NoSpace("no space left to write " + to)
                               : ErrnoError("cannot write " + to, errno);
      }
      p += written;
      n -= written;
    }
  }
}

// Gives the open entry fd (shown as path in errors) to owner with the mode for its type; a
// directory's entries too. REQUIRES: fd was opened with O_NOFOLLOW.
Status GiveOpenEntry(int fd, const std::string& path, FileOwner owner);

Status GiveDirectoryEntries(int dir_fd, const std::string& path, FileOwner owner) {
  // fdopendir takes over the descriptor it is given: hand it a copy.
  int listing_fd = ::dup(dir_fd);
  if (listing_fd < 0) return ErrnoError("cannot list " + path, errno);
  DIR* dir = ::fdopendir(listing_fd);
  if (dir == nullptr) {
    const int error = errno;
    ::close(listing_fd);
    return ErrnoError("cannot list " + path, error);
  }
  Status status;
  for (;;) {
    errno = 0;
    const dirent* entry = ::readdir(dir);
    if (entry == nullptr) {
      if (errno != 0) status = ErrnoError("cannot list " + path, errno);
      break;
    }
    const std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    const std::string child = path + "/" + name;
    Fd fd(
        ::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    if (fd.get() < 0) {
      if (errno == ENOENT) continue;  // RocksDB deleted it meanwhile
      if (errno != ELOOP) {
        status = ErrnoError("cannot open " + child + " to give it to the data's owner", errno);
        break;
      }
      // A symbolic link: its own owner only.
      if (::fchownat(dir_fd, name.c_str(), owner.uid, owner.gid, AT_SYMLINK_NOFOLLOW) != 0 &&
          errno != ENOENT) {
        status = ErrnoError("cannot change the owner of " + child, errno);
        break;
      }
      continue;
    }
    status = GiveOpenEntry(fd.get(), child, owner);
    if (!status.ok()) break;
  }
  ::closedir(dir);
  return status;
}

Status GiveOpenEntry(int fd, const std::string& path, FileOwner owner) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return ErrnoError("cannot stat " + path, errno);
  if ((st.st_uid != owner.uid || st.st_gid != owner.gid) &&
      ::fchown(fd, owner.uid, owner.gid) != 0) {
    return ErrnoError("cannot change the owner of " + path, errno);
  }
  if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) return Status::OK();
  const mode_t mode = S_ISDIR(st.st_mode) ? 0700 : 0600;
  if ((st.st_mode & 07777) != mode && ::fchmod(fd, mode) != 0) {
    return ErrnoError("cannot change the mode of " + path, errno);
  }
  if (S_ISDIR(st.st_mode)) return GiveDirectoryEntries(fd, path, owner);
  return Status::OK();
}

}  // namespace

Result<FileOwner> OwnerOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return ErrnoError("cannot stat " + path, errno);
  return FileOwner{st.st_uid, st.st_gid};
}

Status GiveTreeTo(const std::string& top, FileOwner owner) {
  if (::geteuid() != 0) return Status::OK();
  // top itself may be a symbolic link (systemd's DynamicUser makes /var/lib/NAME one).
  Fd fd(::open(top.c_str(), O_RDONLY | O_DIRECTORY | O_NOCTTY | O_CLOEXEC));
  if (fd.get() < 0)
    return ErrnoError("cannot open " + top + " to give it to the data's owner", errno);
  return GiveOpenEntry(fd.get(), top, owner);
}

bool HoldsDatabase(const std::string& dir) {
  std::error_code ec;
  return fs::is_regular_file(fs::path(dir) / "CURRENT", ec);
}

Result<pid_t> LockHolder(const std::string& dir) {
  const std::string path = (fs::path(dir) / "LOCK").string();
  // O_RDWR: F_GETLK for a write lock needs a descriptor that could take one. Opening the file
  // does not disturb the holder's lock (closing it would drop OUR locks only; we hold none).
  Fd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0) {
    if (errno == ENOENT) return static_cast<pid_t>(0);
    return ErrnoError("cannot open " + path + " to see whether a server holds it", errno);
  }
  struct flock lock {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  lock.l_start = 0;
  lock.l_len = 0;
  if (::fcntl(fd.get(), F_GETLK, &lock) != 0) {
    return ErrnoError("cannot ask who holds " + path, errno);
  }
  if (lock.l_type == F_UNLCK) return static_cast<pid_t>(0);
  // A lock held through an open file description (OFD lock) reports pid -1: still held.
  return lock.l_pid > 0 ? lock.l_pid : static_cast<pid_t>(-1);
}

Result<bool> IsMissingOrEmpty(const std::string& dir) {
  std::error_code ec;
  fs::file_status status = fs::status(dir, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return Status::IOError("cannot stat " + dir + ": " + ec.message());
  }
  if (!fs::exists(status)) return true;
  if (!fs::is_directory(status)) return Status::InvalidArgument(dir + " is not a directory");
  fs::directory_iterator it(dir, ec);
  if (ec) return Status::IOError("cannot list " + dir + ": " + ec.message());
  return it == fs::directory_iterator();
}

Status SyncDirectory(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoError("cannot open the directory " + dir + " to sync it", errno);
  if (::fsync(fd.get()) != 0) return ErrnoError("cannot sync the directory " + dir, errno);
  return Status::OK();
}

Status CopyFileDurably(const std::string& from, const std::string& to, mode_t mode) {
  Fd in(::open(from.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (in.get() < 0) return ErrnoError("cannot open " + from, errno);
  Fd out(::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode));
  if (out.get() < 0) return ErrnoError("cannot create " + to, errno);
  Status status = CopyContents(in.get(), out.get(), from, to);
  if (status.ok() && ::fsync(out.get()) != 0) status = ErrnoError("cannot sync " + to, errno);
  if (status.ok() && out.Close() != 0) status = ErrnoError("cannot close " + to, errno);
  if (!status.ok()) ::unlink(to.c_str());
  return status;
}

Status CopyTreeDurably(const std::string& from, const std::string& to) {
  if (::mkdir(to.c_str(), 0700) != 0) return ErrnoError("cannot create " + to, errno);
  std::error_code ec;
  fs::directory_iterator it(from, ec);
  if (ec) return Status::IOError("cannot list " + from + ": " + ec.message());
  for (const fs::directory_entry& entry : it) {
    const std::string name = entry.path().filename().string();
    const std::string source = entry.path().string();
    const std::string target = (fs::path(to) / name).string();
    fs::file_status status = entry.symlink_status(ec);
    if (ec) return Status::IOError("cannot stat " + source + ": " + ec.message());
    Status copied;
    if (fs::is_directory(status)) {
      copied = CopyTreeDurably(source, target);
    } else if (fs::is_regular_file(status)) {
      copied = CopyFileDurably(source, target);
    } else {
      return Status::InvalidArgument(source + " is neither a directory nor a regular file");
    }
    if (!copied.ok()) return copied;
  }
  return SyncDirectory(to);
}

}  // namespace safe::admin
