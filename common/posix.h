// Small POSIX helpers shared by the layers that touch files directly: an errno translated into a
// Status once, and a file descriptor that closes itself.
//
// Thread-safety: value types; a ScopedFd is used by one thread at a time.

#pragma once

#include <unistd.h>

#include <cstring>
#include <string>

#include "common/status.h"

namespace safe {

// IOError "<what>: <strerror(err)>".
inline Status ErrnoError(const std::string& what, int err) {
  return Status::IOError(what + ": " + std::strerror(err));
}

// Owns a file descriptor and closes it on every exit path.
class ScopedFd {
 public:
  explicit ScopedFd(int fd) : fd_(fd) {}
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  ~ScopedFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Closes now and returns close(2)'s result: a deferred write error may show up here.
  int Close() {
    int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

}  // namespace safe
