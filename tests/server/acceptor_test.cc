// The Acceptor when the process runs out of file descriptors (issue 13, item 1): it must not spin
// on the listening socket or write a line per failed accept; with its spare descriptor it
// closes a waiting connection now and then (so clients learn instead of hanging); and once
// descriptors are free again it accepts the connections still waiting.
//
// In-process: the test lowers its own soft RLIMIT_NOFILE just above the descriptors in use, so
// that the acceptor's accept4 fails with EMFILE while the clients (created beforehand) connect.

#include "safe-server/http/acceptor.h"
#include "common/log.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/server_process.h"

namespace safe::server {
namespace {

using safe::testing::CountOf;

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

double ProcessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// The highest descriptor number open in this process.
int HighestOpenFd() {
  int highest = 0;
  for (int fd = 0; fd < 4096; ++fd) {
    if (fcntl(fd, F_GETFD) != -1) highest = fd;
  }
  return highest;
}

// Redirects this process's stderr to a file for its lifetime (the log goes there).
class CapturedStderr {
 public:
  CapturedStderr() {
    char name[] = "/tmp/safe-acceptor-log-XXXXXX";
    int fd = mkstemp(name);
    path_ = name;
    saved_ = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
  }
  ~CapturedStderr() {
    dup2(saved_, STDERR_FILENO);
    close(saved_);
    unlink(path_.c_str());
  }
  std::string Text() const {
    std::ifstream f(path_);
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  }

 private:
  std::string path_;
  int saved_ = -1;
};

TEST(AcceptorTest, OutOfDescriptorsBacksOffClosesWaitersAndLogsOnceIssue13) {
  rlimit original{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &original), 0);
  CapturedStderr captured;

  AcceptorOptions options;
  options.port = 0;
  auto acceptor = Acceptor::Bind(options);
  ASSERT_TRUE(acceptor.ok()) << acceptor.status().ToString();
  std::mutex mu;
  std::vector<int> delivered;  // GUARDED_BY(mu): kept open, so descriptors stay used
  (*acceptor)->Start([&](const AcceptedConnection& c) {
    std::lock_guard<std::mutex> lock(mu);
    delivered.push_back(c.fd);
  });

  // The clients' sockets first (they need descriptors too), then a limit that leaves the
  // acceptor room for 20 connections.
  constexpr int kClients = 200;
  std::vector<int> clients;
  for (int i = 0; i < kClients; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    clients.push_back(fd);
  }
  rlimit lowered = original;
  lowered.rlim_cur = static_cast<rlim_t>(HighestOpenFd() + 1 + 20);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lowered), 0);

  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons((*acceptor)->port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int fd : clients) {
    int rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ASSERT_TRUE(rc == 0 || errno == EINPROGRESS) << strerror(errno);
  }

  // Two seconds out of descriptors.
  const double cpu_before = ProcessCpuSeconds();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const double cpu_used = ProcessCpuSeconds() - cpu_before;

  // Clients whose connection the acceptor closed with its spare descriptor see the end of it.
  int closed_by_server = 0;
  for (int fd : clients) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 0) == 1 && (p.revents & (POLLIN | POLLHUP | POLLERR))) {
      char byte;
      if (recv(fd, &byte, 1, 0) <= 0) ++closed_by_server;
    }
  }
  size_t accepted_while_short;
  {
    std::lock_guard<std::mutex> lock(mu);
    accepted_while_short = delivered.size();
  }

  // Descriptors free again: the limit back, the delivered connections closed.
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &original), 0);
  {
    std::lock_guard<std::mutex> lock(mu);
    for (int fd : delivered) close(fd);
    delivered.clear();
  }
  // The waiting connections are accepted within a second (the longest pause is 500 ms).
  const size_t expected =
      static_cast<size_t>(kClients) - accepted_while_short - static_cast<size_t>(closed_by_server);
  auto deadline = Clock::now() + std::chrono::seconds(3);
  size_t accepted_after = 0;
  auto released = Clock::now();
  while (Clock::now() < deadline) {
    {
      std::lock_guard<std::mutex> lock(mu);
      accepted_after = delivered.size();
    }
    if (accepted_after >= expected) break;
    std::this_thread::sleep_for(milliseconds(10));
  }
  auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - released);
  (*acceptor)->Stop();
  {
    std::lock_guard<std::mutex> lock(mu);
    for (int fd : delivered) close(fd);
  }
  for (int fd : clients) close(fd);

  const std::string log = captured.Text();
  const size_t warnings = CountOf(log, "out of file descriptors");
  std::printf(
      "accepted %zu while short, %d closed by the spare, %zu after %lld ms; CPU %.3f s in "
      "2 s; %zu warning lines\n",
      accepted_while_short, closed_by_server, accepted_after, static_cast<long long>(took.count()),
      cpu_used, warnings);
  // Room for 20 above the highest descriptor, plus the holes below it: far fewer than the clients.
  EXPECT_LT(accepted_while_short, 100u);
  EXPECT_GE(closed_by_server, 1);
  EXPECT_LT(cpu_used, 0.5) << "the accept thread spins";
  EXPECT_EQ(warnings, 1u) << log.substr(0, 2000);
  EXPECT_GE(accepted_after, expected);
  EXPECT_LT(took.count(), 1000);
}

// The warning's rate limit on its own: one line at once, then one line per interval with the
// count of what it held back, written at the next occurrence or at Flush.
TEST(RateLimitedLogTest, OneLinePerIntervalWithACount) {
  CapturedStderr captured;
  RateLimitedLog log(LogLevel::kWarning, "out of something", std::chrono::seconds(10));
  const auto t0 = std::chrono::steady_clock::time_point() + std::chrono::hours(1);
  for (int i = 0; i < 1000; ++i) log.Note(t0 + milliseconds(i));  // a burst within 1 s
  log.Flush(t0 + std::chrono::seconds(5));                        // not yet due
  log.Flush(t0 + std::chrono::seconds(11));                       // due: the 999 held back
  log.Flush(t0 + std::chrono::seconds(30));                       // nothing new: no line
  log.Note(t0 + std::chrono::seconds(31));   // 20 s since the last line: written at once
  log.Note(t0 + std::chrono::seconds(40));   // held (9 s since)
  log.Flush(t0 + std::chrono::seconds(42));  // due: the one held back
  EXPECT_EQ(log.total(), 1002u);
  const std::string text = captured.Text();
  EXPECT_EQ(text,
            "safe-server: warning: out of something\n"
            "safe-server: warning: out of something (999 more in the last 11 s)\n"
            "safe-server: warning: out of something (1 more in the last 20 s)\n"
            "safe-server: warning: out of something (1 more in the last 11 s)\n");
}

}  // namespace
}  // namespace safe::server
