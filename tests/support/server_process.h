// Test support: a real safe-server process on a free loopback port, other commands run as child
// processes with what they print, and a forked child running a function.
//
// ServerProcess::Start runs SAFE_BIN_DIR/safe-server with `--listen 127.0.0.1:0` and a fresh data
// directory (unless the arguments name one), and returns once the server has printed its
// "safe-server: listening on HOST:PORT" line: no sleeping, no guessing at ports. Everything the
// server writes to stderr is collected (Log()), so tests can check what it logs.
//
// Thread-safety: one test thread uses an instance.

#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/files.h"

namespace safe::testing {

class ServerProcess {
 public:
  // Starts the server with extra_args. Unless they contain --listen (--admin-listen), listens
  // (serves its admin API) on 127.0.0.1:0; unless they contain --data-dir, uses a fresh
  // temporary directory (kept for restarts; the key file lands beside it, <dir>/data.key).
  // Returns nullptr (after printing why to stderr) when the server exits or does not report its
  // port within 30 seconds.
  static std::unique_ptr<ServerProcess> Start(std::vector<std::string> extra_args = {});
  // The same with the server's open-file limit (RLIMIT_NOFILE) set between fork and exec: soft
  // and hard, as `ulimit -n N` sets both (systemd's default for a service: 1024 soft, 524288
  // hard).
  static std::unique_ptr<ServerProcess> StartWithFileLimit(rlim_t soft, rlim_t hard,
                                                           std::vector<std::string> extra_args);
  // Starts another server on the same data directory, arguments and open-file limit (after
  // Kill9 or Terminate).
  std::unique_ptr<ServerProcess> Restart() const;
  ~ServerProcess();  // SIGKILL if still running

  uint16_t port() const { return port_; }
  // The admin listener's port (/metrics, /healthz, /readyz); 0 if it did not report one.
  uint16_t admin_port() const { return admin_port_; }
  // "http://127.0.0.1:PORT/" (or https:// when --tls-cert was given).
  std::string BaseUrl() const;
  const std::string& data_dir() const { return data_dir_; }
  pid_t pid() const { return pid_; }

  // SIGKILL, then wait for the process.
  void Kill9();
  // SIGTERM, wait; returns the exit status (or 128 + signal).
  int Terminate();
  // Sends a signal without waiting.
  void Signal(int sig);
  // Waits for the process to end; returns the exit status (or 128 + signal).
  int Wait();
  // Everything the server wrote to stderr so far, up to 8 MiB (a flood must not fill memory).
  std::string Log() const;
  // How many lines the server wrote to stderr so far, those beyond Log()'s 8 MiB included.
  size_t LogLines() const;

 private:
  ServerProcess() = default;
  static std::unique_ptr<ServerProcess> Launch(std::vector<std::string> extra_args,
                                               const rlimit* file_limit);
  void ReadStderr();

  pid_t pid_ = -1;
  uint16_t port_ = 0;
  uint16_t admin_port_ = 0;
  bool tls_ = false;
  int stderr_fd_ = -1;
  std::string data_dir_;
  std::shared_ptr<TempDir> own_data_dir_;
  std::vector<std::string> args_;
  bool has_file_limit_ = false;
  rlimit file_limit_{};
  mutable std::mutex log_mu_;
  std::string log_;       // GUARDED_BY(log_mu_)
  size_t log_lines_ = 0;  // GUARDED_BY(log_mu_)
  std::thread reader_;
  int exit_status_ = -1;
};

// A child process forked from the test that runs body(write_fd), write_fd being the write end of
// a pipe the test reads (a ready signal, acknowledgements): a writer to kill mid-stream, a holder
// of a lock. body should not return (it is killed, or ends with _exit); if it does, the child
// exits 0. The child is killed (SIGKILL) and reaped on destruction if still running.
class ForkedChild {
 public:
  // nullptr (after printing why) when the pipe or the fork fails.
  static std::unique_ptr<ForkedChild> Start(const std::function<void(int write_fd)>& body);
  ~ForkedChild();
  ForkedChild(const ForkedChild&) = delete;
  ForkedChild& operator=(const ForkedChild&) = delete;

  pid_t pid() const { return pid_; }
  // Reads exactly size bytes from the pipe; false when the child closed it first (it died).
  bool ReadExactly(void* out, size_t size);
  // SIGKILL, then waits; the raw wait status (WIFSIGNALED, WTERMSIG).
  int KillAndWait();

 private:
  ForkedChild(pid_t pid, int fd) : pid_(pid), fd_(fd) {}
  pid_t pid_;
  int fd_;  // the pipe's read end
};

// Runs a command (argv[0] found on PATH or given as a path), feeding `input` to its stdin.
// Returns its exit status and fills `out`/`err` with what it printed.
int RunCommand(const std::vector<std::string>& argv, const std::string& input, std::string* out,
               std::string* err);

// The value of the first "name: value" line of output (what safe-admin and safe-client print),
// or "" when there is none.
std::string Field(const std::string& output, const std::string& name);

// How often needle occurs in text (overlapping occurrences counted).
size_t CountOf(const std::string& text, const std::string& needle);

}  // namespace safe::testing
