// safe-server: flags and config file -> one ServerConfig; open the store; serve; stop cleanly on
// SIGTERM or SIGINT.

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/clock.h"
#include "safe-server/access.h"
#include "safe-server/admin_app.h"
#include "safe-server/backup_service.h"
#include "safe-server/checkpoint.h"
#include "safe-server/config.h"
#include "safe-server/handlers.h"
#include "safe-server/http_server.h"
#include "safe-server/log.h"
#include "safe-server/metrics.h"
#include "safe-server/request_auth.h"
#include "safe-server/server_key.h"
#include "safe-server/throttle.h"
#include "safe-server/work_pool.h"
#include "storage/rocksdb_store.h"
#ifdef SAFE_HAVE_RADOS
#include "storage/rados_store.h"
#endif
#include "storage/sealed_store.h"

namespace safe::server {
namespace {

// Storage calls run here; enough threads that concurrent synced writes form commit groups.
constexpr int kStorageThreads = 16;
// How long requests under way may take to finish after SIGTERM.
constexpr std::chrono::seconds kShutdownGrace{10};

// Runs the retention sweep at start and then every `interval`, until stopped; also counts the
// backups expiring soon, for the metrics.
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

  // Fills in the figures of the last sweep. Without an engine that counts exactly (RocksDB
  // does), the sweep's scan gives the number of backups and their bytes too.
  void Figures(StoreFigures* f, bool with_totals) const {
    if (with_totals) {
      f->backups = backups_.load();
      f->bytes = bytes_.load();
    }
    f->expiring_within_7_days = expiring_7_.load();
    f->expiring_within_30_days = expiring_30_.load();
    f->expired_deleted_total = deleted_total_.load();
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      lock.unlock();
      Result<uint64_t> deleted = service_.ExpireOld();
      if (!deleted.ok()) {
        LogError("retention sweep failed: " + deleted.status().ToString());
      } else {
        deleted_total_ += *deleted;
        if (*deleted > 0) {
          LogInfo("retention sweep deleted " + std::to_string(*deleted) + " expired backups");
        }
      }
      Result<BackupService::ExpiryCounts> counts = service_.CountExpiring();
      if (counts.ok()) {
        backups_ = counts->backups;
        bytes_ = counts->bytes;
        expiring_7_ = counts->within_7_days;
        expiring_30_ = counts->within_30_days;
      }
      lock.lock();
      cv_.wait_for(lock, interval_, [this] { return stop_; });
    }
  }

  BackupService& service_;
  const std::chrono::seconds interval_;
  std::atomic<uint64_t> backups_{0}, bytes_{0}, expiring_7_{0}, expiring_30_{0}, deleted_total_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

// Descriptors that neither listener counts: stdio, the store's files beyond those already there
// (new SST, blob and WAL files, compactions, checkpoints), the key and auth files, a RADOS
// client's sockets.
constexpr uint64_t kOtherDescriptors = 64;

// Files the store holds open: RocksDB keeps every SST and blob file open, so about one per
// file already in the data directory.
uint64_t StoreDescriptors(const ServerConfig& config) {
  if (config.storage == "rados") return 0;
  std::error_code ec;
  uint64_t files = 0;
  for (std::filesystem::directory_iterator it(config.data_dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    ++files;
  }
  return files;
}

// The start-up check of max-connections against the open-file limit (issue 13, item 1): when
// the soft limit (RLIMIT_NOFILE) is below what the connections, handshakes and store need, it
// is raised to the hard limit; when even that is too low, max-connections is lowered to fit,
// and one line says so. Returns the max-connections to use, or 0 when not even a few
// connections fit.
uint32_t FitConnectionsToDescriptorLimit(const ServerConfig& config,
                                         const HttpServerOptions& admin) {
  const uint64_t fixed =
      HttpServer::DescriptorsNeeded(admin) + StoreDescriptors(config) + kOtherDescriptors;
  auto needed = [&](uint32_t max_connections) {
    HttpServerOptions http;
    http.threads = config.threads;
    http.tls_cert = config.tls_cert;
    http.max_connections = max_connections;
    http.max_handshakes = std::min<uint32_t>(http.max_handshakes, max_connections);
    return fixed + HttpServer::DescriptorsNeeded(http);
  };
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return config.max_connections;
  const uint64_t wanted = needed(config.max_connections);
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < wanted) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;  // RLIM_INFINITY included
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  if (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= wanted) return config.max_connections;
  // The most connections that fit, found by halving the range.
  uint32_t low = 0;
  uint32_t high = config.max_connections;
  while (low < high) {
    uint32_t mid = low + (high - low + 1) / 2;
    if (needed(mid) <= limit.rlim_cur) {
      low = mid;
    } else {
      high = mid - 1;
    }
  }
  constexpr uint32_t kFewestConnections = 8;
  if (low < kFewestConnections) return 0;
  LogWarning("max-connections lowered from " + std::to_string(config.max_connections) + " to " +
             std::to_string(low) + ": the open-file limit (RLIMIT_NOFILE) is " +
             std::to_string(limit.rlim_cur) + " and " + std::to_string(wanted) +
             " would be needed; raise LimitNOFILE= in the unit (or ulimit -n)");
  return low;
}

std::string ShowHostPort(std::string host, uint16_t port) {
  if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
  return host + ":" + std::to_string(port);
}

int Run(const ServerConfig& config) {
  // Block the signals we wait for in every thread started from here on; ignore SIGPIPE (a peer
  // that goes away mid-answer must not end the server).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  // The admin listener's options, here because the descriptor check counts them.
  HttpServerOptions admin;
  admin.host = config.admin_listen_host;
  admin.port = config.admin_listen_port;
  admin.threads = 1;
  admin.max_connections = 64;
  // Before anything opens files: the store's must fit under the limit as well.
  const uint32_t max_connections = FitConnectionsToDescriptorLimit(config, admin);
  if (max_connections == 0) {
    rlimit limit{};
    getrlimit(RLIMIT_NOFILE, &limit);
    std::cerr << "safe-server: max-connections: the open-file limit (RLIMIT_NOFILE) of "
              << limit.rlim_cur << " leaves room for almost no connections; raise LimitNOFILE= "
              << "in the unit (or ulimit -n)\n";
    return 2;
  }

  auto auth = RequestAuth::Load(AuthFiles{config.htpasswd, config.tokens, config.auth_realm});
  if (!auth.ok()) {
    std::cerr << "safe-server: " << (config.htpasswd.empty() ? "tokens" : "htpasswd") << ": "
              << auth.status().message() << "\n";
    return 2;
  }
  // The issuer key list is checked before anything is created: a bad list leaves no new key.
  if (!config.access_issuer_key.empty()) {
    auto issuer_keys = LoadIssuerKeys(config.access_issuer_key);
    if (!issuer_keys.ok()) {
      std::cerr << "safe-server: access-issuer-key: " << issuer_keys.status().message() << "\n";
      return 2;
    }
  }

  // The server key comes first: it refuses to be created over existing data.
  ServerKeyOptions key_options;
  key_options.key_file =
      config.key_file.empty() ? DefaultKeyFilePath(config.data_dir) : config.key_file;
  const char* credentials = getenv("CREDENTIALS_DIRECTORY");
  key_options.credentials_directory = credentials != nullptr ? credentials : "";
  key_options.data_dir = config.data_dir;
  key_options.store_in_data_dir = config.storage != "rados";
  KeyStartup key_startup;
  auto key = LoadOrCreateServerKey(key_options, &key_startup);
  if (!key.ok()) {
    // A missing or wrong key does not fix itself: exit 2, like a bad setting (the unit's
    // RestartPreventExitStatus=2 then stops restarting).
    std::cerr << "safe-server: key-file: " << key.status().message() << "\n";
    return 2;
  }
  // Loud, once: an operator who expected existing backups must see this.
  if (key_startup.created_key) {
    LogWarning("created a new server key at " + key_options.key_file +
               " and a new, empty store in " + config.data_dir +
               ": keep a copy of the key apart from the data (without it every backup is lost)");
  } else if (key_startup.new_store) {
    LogWarning("starting a new, empty store in " + config.data_dir);
  }

  // The engine: RocksDB (embedded, the default) or a RADOS pool shared by several servers.
  std::unique_ptr<storage::BackupStore> engine;
  storage::RocksDbStore* rocks = nullptr;  // set for RocksDB: exact stats, checkpoints
  if (config.storage == "rados") {
#ifdef SAFE_HAVE_RADOS
    storage::RadosOptions rados_options;
    rados_options.conf_path = config.rados_conf;
    rados_options.pool = config.rados_pool;
    rados_options.user = config.rados_user;
    auto rados = storage::RadosBackupStore::Open(rados_options);
    if (!rados.ok()) {
      std::cerr << "safe-server: storage: cannot open the RADOS pool: " << rados.status().ToString()
                << "\n";
      return 1;
    }
    // The pool's own key check: every instance over one pool must seal with one server key, or
    // each would answer 500 for the others' backups. The first instance to start records
    // KeyCheck(key) in the pool; one with another key refuses to start (the local KEYCHECK beside
    // a fresh data-dir cannot tell).
    const std::string check = storage::SealedStore::KeyCheck(*key);
    auto pool_check = (*rados)->GetOrCreateValue("keycheck", check);
    if (!pool_check.ok()) {
      std::cerr << "safe-server: storage: cannot read the RADOS pool's key check: "
                << pool_check.status().ToString() << "\n";
      return 1;
    }
    if (*pool_check != check) {
      std::cerr << "safe-server: key-file: the RADOS pool (rados-pool) was sealed with another "
                   "server key (its keycheck differs): refusing to start\n";
      return 2;
    }
    engine = std::move(rados.value());
#else
    std::cerr << "safe-server: storage: this build has no RADOS support (build it with Debian's "
                 "librados-dev and libradospp-dev installed)\n";
    return 2;
#endif
  } else {
    storage::RocksDbOptions store_options;
    store_options.path = config.data_dir;
    store_options.block_cache_bytes = config.block_cache_bytes;
    store_options.write_buffer_bytes = config.write_buffer_bytes;
    // Every blob is authenticated by SealedStore's AES-GCM tag: RocksDB's (software) CRC32C of
    // blob reads would only check it twice.
    store_options.verify_blob_checksums = false;
    auto opened = storage::RocksDbStore::Open(store_options);
    if (!opened.ok()) {
      std::cerr << "safe-server: data-dir: cannot open the database: " << opened.status().ToString()
                << "\n";
      return 1;
    }
    rocks = opened->get();
    engine = std::move(opened.value());
  }
  // Every backup is sealed at rest: keyed storage keys and AEAD, under the server key.
  storage::SealedStore store(*key, *engine);

  SystemClock clock;
  BackupService service(
      store, clock,
      BackupServiceOptions{config.max_backup_bytes, config.retention_days, config.keep_versions});
  // Anonymous access credentials (issue 18), when access-issuer-key is set.
  auto access = SetUpAccess(config, *key, clock);
  if (!access.ok()) {
    std::cerr << "safe-server: access-issuer-key: " << access.status().message() << "\n";
    return access.status().IsInvalidArgument() ? 2 : 1;
  }
  if (access->service) (*auth)->AttachAccess(access->service.get());

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
    Sweeper sweeper(service, config.sweep_interval);
    Metrics metrics;
    metrics.SetStoreSource([rocks, &sweeper] {
      StoreFigures f;
      if (rocks != nullptr) {
        Result<storage::StoreStats> stats = rocks->Stats();
        if (!stats.ok()) return f;
        f.backups = stats->backups;
        f.bytes = stats->bytes;
        f.pending_compaction_bytes = stats->pending_compaction_bytes;
        f.wal_bytes = stats->wal_bytes;
        f.blob_file_bytes = stats->blob_file_bytes;
        f.blob_garbage_bytes = stats->blob_garbage_bytes;
        f.blob_collections_total = stats->blob_collections;
      }
      f.ok = true;
      sweeper.Figures(&f, /*with_totals=*/rocks == nullptr);
      return f;
    });

    // Bodies held in memory by all connections together. Declared before the pool: tasks the pool
    // still runs at shutdown give their share back to it.
    BodyBudget body_budget(config.max_body_memory);
    WorkPool pool(kStorageThreads);
    AppObservers observers;
    observers.metrics = &metrics;
    observers.access_log = config.access_log;
    observers.log_addresses = config.log_addresses;
    WebOptions web;
    web.restore_page = config.restore_page;
    web.cors_origins = config.cors_origins;
    SafeApp app(service, pool, (*auth)->Hooks(), &throttle, observers, web);

    HttpServerOptions http;
    http.limits.body_budget = &body_budget;
    http.host = config.listen_host;
    http.port = config.listen_port;
    http.threads = config.threads;
    http.max_connections = max_connections;
    http.max_handshakes = std::min<uint32_t>(http.max_handshakes, max_connections);
    http.limits.header_timeout = config.header_timeout;
    http.limits.body_timeout = config.body_timeout;
    http.limits.idle_timeout = config.idle_timeout;
    http.limits.max_header_bytes = config.max_header_bytes;
    http.limits.write_timeout = config.body_timeout;
    // A client may send its next request as soon as it has read an answer, which can be before
    // this side has seen its write complete: a whole request must fit in the pipeline buffer.
    http.limits.max_pipelined_bytes = config.max_backup_bytes + http.limits.max_header_bytes;
    http.tls_cert = config.tls_cert;
    http.tls_key = config.tls_key;
    auto server = HttpServer::Start(http, app);
    if (!server.ok()) {
      std::cerr << "safe-server: listen: " << server.status().message() << "\n";
      return 1;
    }

    const std::string checkpoint_dir =
        config.checkpoint_dir.empty() ? config.data_dir + ".checkpoints" : config.checkpoint_dir;
    std::function<Result<std::string>()> checkpoint;
    if (rocks != nullptr) {
      storage::RocksDbAccessStore* access_store = access->local_store;
      checkpoint = [rocks, access_store, &config, &checkpoint_dir]() -> Result<std::string> {
        return MakeCheckpoint(*rocks, config.data_dir, checkpoint_dir, access_store);
      };
    }
    AdminOptions admin_options;
    if (!config.admin_token_file.empty()) {
      Result<std::string> token = ReadAdminToken(config.admin_token_file);
      if (!token.ok()) {
        std::cerr << "safe-server: " << token.status().message() << "\n";
        return 2;
      }
      admin_options.token = std::move(*token);
    }
    AdminApp admin_app(
        metrics,
        [rocks, &service] {
          if (rocks == nullptr) return service.writable();
          // Stats() recovers the store first when the cause of a failed write has gone, so
          // readiness comes back by itself, without waiting for a PUT that a load balancer
          // would not send to a server it sees as not ready.
          return rocks->Stats().ok() && !rocks->Recovering();
        },
        std::move(checkpoint), std::move(admin_options));
    auto admin_server = HttpServer::Start(admin, admin_app);
    if (!admin_server.ok()) {
      std::cerr << "safe-server: admin-listen: " << admin_server.status().message() << "\n";
      return 1;
    }

    // The lines tests and scripts wait for; the ports are the real ones when 0 was asked.
    std::fprintf(stderr, "safe-server: admin listening on %s\n",
                 ShowHostPort(config.admin_listen_host, (*admin_server)->port()).c_str());
    LogInfo(std::string("serving with TLS ") + (config.tls_cert.empty() ? "off" : "on") +
            ", authentication " +
            (!config.htpasswd.empty() ? "on (htpasswd)"
             : !config.tokens.empty() ? "on (tokens)"
             : access->service        ? "on (access credentials)"
                                      : "off: anyone who reaches the port may store backups") +
            ", max-connections " + std::to_string(max_connections));
    std::fprintf(stderr, "safe-server: listening on %s\n",
                 ShowHostPort(config.listen_host, (*server)->port()).c_str());
    std::fflush(stderr);

    int sig = 0;
    while (sigwait(&signals, &sig) == 0 && sig == SIGHUP) {
      // Reload credentials and the TLS certificate; connections stay open. What fails to load
      // keeps what was loaded before, and the log says so instead of "reloaded".
      bool all_reloaded = true;
      Status reloaded = (*auth)->Reload();
      if (!reloaded.ok()) {
        LogError("reload: auth files: " + reloaded.message());
        all_reloaded = false;
      }
      if (access->service) {
        Status keys = access->service->ReloadKeys();
        if (!keys.ok()) {
          LogError("reload: access-issuer-key: " + keys.message());
          all_reloaded = false;
        }
      }
      if (!config.tls_cert.empty()) {
        Status tls = (*server)->ReloadTls();
        if (!tls.ok()) {
          LogError("reload: " + tls.message());
          all_reloaded = false;
        }
      }
      if (all_reloaded) {
        LogInfo("reloaded on SIGHUP");
      } else {
        LogWarning("reload on SIGHUP failed: what could not be loaded stays as it was");
      }
    }
    LogInfo(std::string("stopping on ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT"));
    size_t cut = (*server)->Shutdown(kShutdownGrace);
    if (cut > 0) {
      LogWarning(std::to_string(cut) + " requests did not finish in time");
      exit_code = 1;
    }
    server->reset();
    (*admin_server)->Shutdown(std::chrono::milliseconds(0));
    // The pool finishes what was posted before it is destroyed here.
  }
  if (rocks != nullptr) {
    Status closed = rocks->Close();
    if (!closed.ok()) {
      LogError("closing the database: " + closed.ToString());
      return 1;
    }
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
