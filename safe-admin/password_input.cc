#include "safe-admin/password_input.h"

#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ostream>

namespace safe::admin {
namespace {

// Restores a terminal's mode on every exit path.
class EchoOff {
 public:
  explicit EchoOff(int fd) : fd_(fd) {
    active_ = ::tcgetattr(fd_, &saved_) == 0;
    if (!active_) return;
    termios quiet = saved_;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;  // the Enter still moves to the next line
    ::tcsetattr(fd_, TCSAFLUSH, &quiet);
  }
  ~EchoOff() {
    if (active_) ::tcsetattr(fd_, TCSAFLUSH, &saved_);
  }
  EchoOff(const EchoOff&) = delete;
  EchoOff& operator=(const EchoOff&) = delete;

 private:
  int fd_;
  bool active_ = false;
  termios saved_{};
};

// Reads one line (without its "\n", or "\r\n") byte by byte, so that nothing after the line is
// consumed and no copy lands in a buffer that is not wiped. *complete says whether a "\n" ended
// it (false at the end of input).
Result<safe::SecretBytes> ReadLine(int fd, bool* complete) {
  safe::SecretBytes line;
  *complete = false;
  for (;;) {
    char c = 0;
    ssize_t n = ::read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return Status::IOError(std::string("cannot read the password: ") + std::strerror(errno));
    if (n == 0) break;
    if (c == '\n') {
      *complete = true;
      break;
    }
    if (line.size() >= kMaxPasswordBytes) {
      return Status::InvalidArgument("the password is longer than " +
                                     std::to_string(kMaxPasswordBytes) + " bytes");
    }
    line.Append(&c, 1);
    c = 0;
  }
  if (!line.empty() && line[line.size() - 1] == '\r') line.Resize(line.size() - 1);
  return line;
}

Status Check(const safe::SecretBytes& password) {
  if (password.empty()) return Status::InvalidArgument("the password is empty");
  if (std::memchr(password.data(), '\0', password.size()) != nullptr) {
    return Status::InvalidArgument("the password holds a NUL byte");
  }
  return Status::OK();
}

}  // namespace

Result<safe::SecretBytes> ReadNewPassword(int in_fd, std::ostream& prompt_out) {
  bool complete = false;
  if (!::isatty(in_fd)) {
    Result<safe::SecretBytes> line = ReadLine(in_fd, &complete);
    if (!line.ok()) return line.status();
    if (!complete && line->empty()) return Status::Unavailable("no password on standard input");
    Status checked = Check(*line);
    if (!checked.ok()) return checked;
    return line;
  }

  EchoOff echo_off(in_fd);
  prompt_out << "Password: " << std::flush;
  Result<safe::SecretBytes> first = ReadLine(in_fd, &complete);
  if (!first.ok()) return first.status();
  if (!complete) return Status::Unavailable("no password was typed");
  Status checked = Check(*first);
  if (!checked.ok()) return checked;
  prompt_out << "Repeat the password: " << std::flush;
  Result<safe::SecretBytes> second = ReadLine(in_fd, &complete);
  if (!second.ok()) return second.status();
  if (!complete) return Status::Unavailable("no password was typed");
  if (!second->Equals(*first)) return Status::InvalidArgument("the two passwords differ");
  return first;
}

}  // namespace safe::admin
