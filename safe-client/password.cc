#include "safe-client/password.h"

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "safe-client/files.h"

namespace safe::client {
namespace {

// A password file holds at most a password of 4096 characters (up to 4 bytes each) and a newline;
// allow some slack for trailing lines, which are ignored.
constexpr size_t kMaxPasswordFileBytes = 64 * 1024;

void WriteAll(int fd, const std::string& text) {
  const char* p = text.data();
  size_t left = text.size();
  while (left > 0) {
    const ssize_t n = write(fd, p, left);
    if (n <= 0) return;
    p += n;
    left -= static_cast<size_t>(n);
  }
}

Result<safe::SecretBytes> ReadLineNoEcho(int tty, const std::string& prompt) {
  WriteAll(tty, prompt);
  termios old_mode{};
  const bool is_terminal = tcgetattr(tty, &old_mode) == 0;
  if (is_terminal) {
    termios quiet = old_mode;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    tcsetattr(tty, TCSAFLUSH, &quiet);
  }
  safe::SecretBytes line;
  Status status;
  for (;;) {
    char c;
    const ssize_t n = read(tty, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      status = Status::Unavailable("no password was typed");
      break;
    }
    if (c == '\n') break;
    line.Append(&c, 1);
    c = 0;
  }
  if (is_terminal) tcsetattr(tty, TCSAFLUSH, &old_mode);
  if (!status.ok()) return status;
  if (!line.empty() && line[line.size() - 1] == '\r') line.Resize(line.size() - 1);
  return line;
}

}  // namespace

Result<safe::SecretBytes> ReadPasswordFile(const std::string& path) {
  Result<safe::SecretBytes> content = ReadFileSecret(path, kMaxPasswordFileBytes);
  if (!content.ok()) return content.status();
  size_t end = 0;
  while (end < content->size() && (*content)[end] != '\n') ++end;
  if (end > 0 && (*content)[end - 1] == '\r') --end;
  if (end == 0) return Status::InvalidArgument("the first line of " + path + " is empty");
  content->Resize(end);
  return std::move(content).value();
}

Result<safe::SecretBytes> AskPassword(const std::string& prompt, bool confirm,
                                      const std::string& file_option) {
  const int tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (tty < 0) {
    return Status::Unavailable("no terminal to ask for the password on: use " + file_option);
  }
  Result<safe::SecretBytes> first = ReadLineNoEcho(tty, prompt);
  if (first.ok() && confirm) {
    Result<safe::SecretBytes> second = ReadLineNoEcho(tty, "Repeat the password: ");
    if (!second.ok()) {
      first = second.status();
    } else if (!second->Equals(*first)) {
      first = Status::InvalidArgument("the two passwords differ");
    }
  }
  close(tty);
  return first;
}

Result<safe::SecretBytes> GetPassword(const std::string& path, const std::string& prompt,
                                      bool confirm) {
  if (!path.empty()) return ReadPasswordFile(path);
  return AskPassword(prompt, confirm, "--password-file");
}

}  // namespace safe::client
