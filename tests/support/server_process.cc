#include "tests/support/server_process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <sstream>

namespace safe::testing {

namespace {

// What Log() keeps of the server's stderr.
constexpr size_t kMaxLogBytes = 8u << 20;

bool Has(const std::vector<std::string>& args, const std::string& flag) {
  return std::find(args.begin(), args.end(), flag) != args.end();
}

std::vector<char*> Argv(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  return argv;
}

int DecodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

std::unique_ptr<ServerProcess> ServerProcess::Start(std::vector<std::string> extra_args) {
  return Launch(std::move(extra_args), nullptr);
}

std::unique_ptr<ServerProcess> ServerProcess::StartWithFileLimit(
    rlim_t soft, rlim_t hard, std::vector<std::string> extra_args) {
  const rlimit limit{soft, hard};
  return Launch(std::move(extra_args), &limit);
}

std::unique_ptr<ServerProcess> ServerProcess::Launch(std::vector<std::string> extra_args,
                                                     const rlimit* file_limit) {
  std::unique_ptr<ServerProcess> p(new ServerProcess());
  p->has_file_limit_ = file_limit != nullptr;
  if (file_limit != nullptr) p->file_limit_ = *file_limit;
  std::vector<std::string> args = {std::string(SAFE_BIN_DIR) + "/safe-server"};
  if (!Has(extra_args, "--listen")) {
    args.push_back("--listen");
    args.push_back("127.0.0.1:0");
  }
  if (!Has(extra_args, "--admin-listen")) {
    args.push_back("--admin-listen");
    args.push_back("127.0.0.1:0");
  }
  auto it = std::find(extra_args.begin(), extra_args.end(), "--data-dir");
  if (it != extra_args.end() && it + 1 != extra_args.end()) {
    p->data_dir_ = *(it + 1);
  } else {
    p->own_data_dir_ = std::make_shared<TempDir>();
    p->data_dir_ = p->own_data_dir_->path() + "/data";
    args.push_back("--data-dir");
    args.push_back(p->data_dir_);
  }
  p->tls_ = Has(extra_args, "--tls-cert");
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  p->args_ = args;

  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return nullptr;
  pid_t pid = fork();
  if (pid < 0) return nullptr;
  if (pid == 0) {
    if (file_limit != nullptr && setrlimit(RLIMIT_NOFILE, file_limit) != 0) _exit(126);
    dup2(pipe_fds[1], STDERR_FILENO);
    int devnull = open("/dev/null", O_RDWR);
    dup2(devnull, STDIN_FILENO);
    dup2(devnull, STDOUT_FILENO);
    auto argv = Argv(args);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(pipe_fds[1]);
  p->pid_ = pid;
  p->stderr_fd_ = pipe_fds[0];

  // Read stderr line by line until the listening line, the process's end, or 30 s.
  const std::string marker = "safe-server: listening on ";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::string seen;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) break;
    pollfd pfd{p->stderr_fd_, POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(left)) <= 0) break;
    char buf[4096];
    ssize_t n = read(p->stderr_fd_, buf, sizeof buf);
    if (n <= 0) break;
    seen.append(buf, n);
    size_t at = seen.find(marker);
    size_t eol = at == std::string::npos ? std::string::npos : seen.find('\n', at);
    if (eol != std::string::npos) {
      std::string hostport = seen.substr(at + marker.size(), eol - at - marker.size());
      p->port_ = static_cast<uint16_t>(std::stoi(hostport.substr(hostport.rfind(':') + 1)));
      const std::string admin_marker = "safe-server: admin listening on ";
      size_t admin_at = seen.find(admin_marker);
      if (admin_at != std::string::npos) {
        std::string admin = seen.substr(admin_at + admin_marker.size(),
                                        seen.find('\n', admin_at) - admin_at - admin_marker.size());
        p->admin_port_ = static_cast<uint16_t>(std::stoi(admin.substr(admin.rfind(':') + 1)));
      }
      {
        std::lock_guard<std::mutex> lock(p->log_mu_);
        p->log_ = seen;
        p->log_lines_ = static_cast<size_t>(std::count(seen.begin(), seen.end(), '\n'));
      }
      p->reader_ = std::thread([raw = p.get()] { raw->ReadStderr(); });
      return p;
    }
  }
  fprintf(stderr, "safe-server did not start; it printed:\n%s\n", seen.c_str());
  return nullptr;  // the destructor kills it
}

std::unique_ptr<ServerProcess> ServerProcess::Restart() const {
  std::vector<std::string> extra(args_.begin() + 1, args_.end());
  auto p = Launch(extra, has_file_limit_ ? &file_limit_ : nullptr);
  if (p) p->own_data_dir_ = own_data_dir_;
  return p;
}

void ServerProcess::ReadStderr() {
  char buf[4096];
  while (true) {
    ssize_t n = read(stderr_fd_, buf, sizeof buf);
    if (n <= 0) return;
    std::lock_guard<std::mutex> lock(log_mu_);
    if (log_.size() < kMaxLogBytes) log_.append(buf, static_cast<size_t>(n));
    log_lines_ += static_cast<size_t>(std::count(buf, buf + n, '\n'));
  }
}

std::string ServerProcess::Log() const {
  std::lock_guard<std::mutex> lock(log_mu_);
  return log_;
}

size_t ServerProcess::LogLines() const {
  std::lock_guard<std::mutex> lock(log_mu_);
  return log_lines_;
}

std::string ServerProcess::BaseUrl() const {
  return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) + "/";
}

void ServerProcess::Signal(int sig) {
  if (pid_ > 0 && exit_status_ < 0) kill(pid_, sig);
}

int ServerProcess::Wait() {
  if (pid_ > 0 && exit_status_ < 0) {
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    exit_status_ = DecodeStatus(status);
  }
  if (reader_.joinable()) reader_.join();
  return exit_status_;
}

void ServerProcess::Kill9() {
  Signal(SIGKILL);
  Wait();
}

int ServerProcess::Terminate() {
  Signal(SIGTERM);
  return Wait();
}

ServerProcess::~ServerProcess() {
  Kill9();
  if (stderr_fd_ >= 0) close(stderr_fd_);
}

std::unique_ptr<ForkedChild> ForkedChild::Start(const std::function<void(int write_fd)>& body) {
  int fds[2];
  if (pipe(fds) != 0) {
    perror("pipe");
    return nullptr;
  }
  const pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    close(fds[0]);
    close(fds[1]);
    return nullptr;
  }
  if (pid == 0) {
    close(fds[0]);
    body(fds[1]);
    _exit(0);
  }
  close(fds[1]);
  return std::unique_ptr<ForkedChild>(new ForkedChild(pid, fds[0]));
}

ForkedChild::~ForkedChild() {
  if (pid_ > 0) KillAndWait();
  close(fd_);
}

bool ForkedChild::ReadExactly(void* out, size_t size) {
  char* bytes = static_cast<char*>(out);
  size_t got = 0;
  while (got < size) {
    ssize_t n = read(fd_, bytes + got, size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    got += static_cast<size_t>(n);
  }
  return true;
}

int ForkedChild::KillAndWait() {
  kill(pid_, SIGKILL);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  return status;
}

int RunCommand(const std::vector<std::string>& argv_in, const std::string& input, std::string* out,
               std::string* err) {
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) || pipe2(out_pipe, O_CLOEXEC) || pipe2(err_pipe, O_CLOEXEC)) {
    return -1;
  }
  pid_t pid = fork();
  if (pid == 0) {
    dup2(in_pipe[0], STDIN_FILENO);
    dup2(out_pipe[1], STDOUT_FILENO);
    dup2(err_pipe[1], STDERR_FILENO);
    auto argv = Argv(argv_in);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  signal(SIGPIPE, SIG_IGN);
  size_t written = 0;
  std::string o, e;
  pollfd fds[3] = {{in_pipe[1], POLLOUT, 0}, {out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  if (input.empty()) {
    close(in_pipe[1]);
    fds[0].fd = -1;
  }
  while (fds[1].fd >= 0 || fds[2].fd >= 0) {
    if (poll(fds, 3, -1) < 0 && errno != EINTR) break;
    if (fds[0].fd >= 0 && (fds[0].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t n = write(in_pipe[1], input.data() + written, input.size() - written);
      if (n > 0) written += n;
      if (n < 0 || written == input.size()) {
        close(in_pipe[1]);
        fds[0].fd = -1;
      }
    }
    for (int i = 1; i < 3; ++i) {
      if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP | POLLERR))) {
        char buf[4096];
        ssize_t n = read(fds[i].fd, buf, sizeof buf);
        if (n <= 0) {
          close(fds[i].fd);
          fds[i].fd = -1;
        } else {
          (i == 1 ? o : e).append(buf, n);
        }
      }
    }
  }
  if (fds[0].fd >= 0) close(in_pipe[1]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (out) *out = o;
  if (err) *err = e;
  return DecodeStatus(status);
}

std::string Field(const std::string& output, const std::string& name) {
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(name + ": ", 0) == 0) return line.substr(name.size() + 2);
  }
  return "";
}

size_t CountOf(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

}  // namespace safe::testing
