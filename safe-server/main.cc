// safe-server: flags and config file -> one ServerConfig; open the store; serve; stop cleanly on
// SIGTERM or SIGINT.

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/clock.h"
#include "safe-server/auth.h"
#include "safe-server/backup_service.h"
#include "safe-server/config.h"
#include "safe-server/handlers.h"
#include "safe-server/http_server.h"
#include "safe-server/log.h"
#include "safe-server/throttle.h"
#include "safe-server/work_pool.h"
#include "storage/rocksdb_store.h"

namespace safe::server {
namespace {

// Storage calls run here; enough threads that concurrent synced writes form commit groups.
constexpr int kStorageThreads = 16;
// How long requests under way may take to finish after SIGTERM.
constexpr std::chrono::seconds kShutdownGrace{10};

// Runs the retention sweep at start and then every `interval`, until stopped.
class Sweeper {
 public:
  Sweeper(BackupService& service, std::chrono::seconds interval)
      : service_(service), interval_(interval), thread_([this] { Run(); }) {}
  ~Sweeper() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      lock.unlock();
      Result<uint64_t> deleted = service_.ExpireOld();
      if (!deleted.ok()) {
        LogError("retention sweep failed: " + deleted.status().ToString());
      } else if (*deleted > 0) {
        LogInfo("retention sweep deleted " + std::to_string(*deleted) + " expired backups");
      }
      lock.lock();
      cv_.wait_for(lock, interval_, [this] { return stop_; });
    }
  }

  BackupService& service_;
  const std::chrono::seconds interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

int Run(const ServerConfig& config) {
  // Block the signals we wait for in every thread started from here on; ignore SIGPIPE (a peer
  // that goes away mid-answer must not end the server).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  std::unique_ptr<BasicAuthenticator> authenticator;
  AuthHooks auth;
  if (!config.htpasswd.empty()) {
    BasicAuthOptions auth_options;
    auth_options.realm = config.auth_realm;
    auto loaded = BasicAuthenticator::LoadHtpasswd(config.htpasswd, auth_options);
    if (!loaded.ok()) {
      std::cerr << "safe-server: htpasswd: " << loaded.status().message() << "\n";
      return 2;
    }
    authenticator = std::move(loaded.value());
    BasicAuthenticator* a = authenticator.get();
    auth.check = [a](std::string_view header) { return a->Check(header); };
    auth.challenge = a->ChallengeHeaderValue();
  }

  storage::RocksDbOptions store_options;
  store_options.path = config.data_dir;
  auto store = storage::RocksDbStore::Open(store_options);
  if (!store.ok()) {
    std::cerr << "safe-server: data-dir: cannot open the database: " << store.status().ToString()
              << "\n";
    return 1;
  }

  SystemClock clock;
  BackupService service(**store, clock,
                        BackupServiceOptions{config.max_backup_bytes, config.retention_days});
  ThrottleOptions throttle_options;
  throttle_options.guess_burst = config.guess_burst;
  throttle_options.guess_refill_per_day = config.guess_refill_per_day;
  throttle_options.request_burst = config.request_burst;
  throttle_options.request_rate_per_second = config.request_rate;
  throttle_options.ipv4_prefix = config.throttle_ipv4_prefix;
  throttle_options.ipv6_prefix = config.throttle_ipv6_prefix;
  throttle_options.trusted_proxies = *ParseCidrList(config.trusted_proxies);  // validated
  ClientThrottle throttle(throttle_options);

  int exit_code = 0;
  {
    WorkPool pool(kStorageThreads);
    SafeApp app(service, pool, std::move(auth), &throttle);

    HttpServerOptions http;
    http.host = config.listen_host;
    http.port = config.listen_port;
    http.threads = config.threads;
    http.max_connections = config.max_connections;
    http.limits.header_timeout = config.header_timeout;
    http.limits.body_timeout = config.body_timeout;
    http.limits.idle_timeout = config.idle_timeout;
    http.limits.write_timeout = config.body_timeout;
    http.tls_cert = config.tls_cert;
    http.tls_key = config.tls_key;
    auto server = HttpServer::Start(http, app);
    if (!server.ok()) {
      std::cerr << "safe-server: listen: " << server.status().message() << "\n";
      return 1;
    }
    Sweeper sweeper(service, config.sweep_interval);

    // The one line tests and scripts wait for; the port is the real one when 0 was asked.
    std::string host = config.listen_host;
    if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
    std::fprintf(stderr, "safe-server: listening on %s:%u\n", host.c_str(),
                 static_cast<unsigned>((*server)->port()));
    std::fflush(stderr);

    int sig = 0;
    sigwait(&signals, &sig);
    LogInfo(std::string("stopping on ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT"));
    size_t cut = (*server)->Shutdown(kShutdownGrace);
    if (cut > 0) {
      LogWarning(std::to_string(cut) + " requests did not finish in time");
      exit_code = 1;
    }
    server->reset();
    // The pool finishes what was posted before it is destroyed here.
  }
  Status closed = (*store)->Close();
  if (!closed.ok()) {
    LogError("closing the database: " + closed.ToString());
    return 1;
  }
  LogInfo("stopped");
  return exit_code;
}

}  // namespace
}  // namespace safe::server

int main(int argc, char** argv) {
  safe::server::ConfigParse parsed =
      safe::server::ParseServerConfig(argc, argv, std::cout, std::cerr);
  if (parsed.action == safe::server::ConfigParse::Action::kExit) return parsed.exit_code;
  return safe::server::Run(parsed.config);
}
