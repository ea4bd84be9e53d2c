// safe-server: flags and config file -> one ServerConfig; open the store; serve; stop cleanly on
// SIGTERM or SIGINT.

#include <malloc.h>
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
#include "common/log.h"
#include "safe-server/app/admin_app.h"
#include "safe-server/app/handlers.h"
#include "safe-server/app/metrics.h"
#include "safe-server/app/request_auth.h"
#include "safe-server/config.h"
#include "safe-server/http/http_server.h"
#include "safe-server/http/work_pool.h"
#include "safe-server/service/access.h"
#include "safe-server/service/backup_service.h"
#include "safe-server/service/checkpoint.h"
#include "safe-server/service/server_key.h"
#include "safe-server/service/sweeper.h"
#include "safe-server/service/throttle.h"
#include "storage/rocksdb_store.h"
#ifdef SAFE_HAVE_RADOS
#include "storage/rados_access_store.h"
#include "storage/rados_store.h"
#endif
#include "storage/sealed_store.h"

namespace safe::server {
namespace {

// Storage calls run here; enough threads that concurrent synced writes form commit groups.
constexpr int kStorageThreads = 16;
// Body bytes the storage threads work on at once (SafeApp's upload gate): each upload is about
// three copies of its body while it is sealed and written. 16 threads x 512 KiB x 3 was 24 MiB;
// eight 512 KiB uploads at once still keep the disk busy, and 64 KiB uploads never wait.
constexpr uint64_t kUploadGateBytes = 4 << 20;
// How often freed heap memory is handed back to the system (malloc_trim).
constexpr std::chrono::seconds kReturnFreeMemoryInterval{5};
// ... when glibc holds more than this free (a trim walks the arenas under their locks).
constexpr size_t kReturnFreeMemoryAbove = 8 << 20;
// How long requests under way may take to finish after SIGTERM.
constexpr std::chrono::seconds kShutdownGrace{10};

#ifdef SAFE_HAVE_RADOS
// The pool both RADOS stores (backups, access credentials) open.
storage::RadosOptions RadosOptionsOf(const ServerConfig& config) {
  storage::RadosOptions options;
  options.conf_path = config.rados_conf;
  options.pool = config.rados_pool;
  options.user = config.rados_user;
  return options;
}
#endif

Result<std::unique_ptr<storage::AccessStore>> OpenRadosAccessStore(const ServerConfig& config) {
#ifdef SAFE_HAVE_RADOS
  auto store = storage::RadosAccessStore::Open(RadosOptionsOf(config));
  if (!store.ok()) return store.status();
  return std::unique_ptr<storage::AccessStore>(std::move(*store));
#else
  (void)config;
  return Status::InvalidArgument("this build has no RADOS support");
#endif
}

// What safe-server runs for access credentials, made from its settings.
struct AccessSetup {
  std::unique_ptr<storage::AccessStore> store;
  storage::RocksDbAccessStore* local_store = nullptr;  // `store` when it is DATA_DIR/access
  std::unique_ptr<AccessService> service;              // null when access-issuer-key is empty
  std::unique_ptr<AccessSweeper> sweeper;              // destroyed first (declared last)
};

// With config.access_issuer_key set: loads the issuer keys, opens the access store (RocksDB in
// DATA_DIR/access, or the RADOS pool with storage = rados) and starts the sweep (every
// sweep_interval). Otherwise an empty setup. Errors: InvalidArgument for the key list (exit 2),
// IOError and others when the store cannot be opened.
Result<AccessSetup> SetUpAccess(const ServerConfig& config, const storage::ServerKey& key,
                                const Clock& clock) {
  AccessSetup setup;
  if (config.access_issuer_key.empty()) return setup;
  auto keys = LoadIssuerKeys(config.access_issuer_key);
  if (!keys.ok()) return keys.status();
  for (const IssuerKey& k : *keys) {
    if (k.expiry_day < clock.Today()) {
      LogWarning("access: " + config.access_issuer_key + ": an issuer key expired on " +
                 crypto::FormatIsoDay(k.expiry_day) + "; its tokens are refused");
    }
  }
  if (config.storage == "rados") {
    auto rados = OpenRadosAccessStore(config);
    if (!rados.ok()) return rados.status();
    setup.store = std::move(*rados);
  } else {
    auto rocks = storage::RocksDbAccessStore::Open(config.data_dir + "/" + storage::kAccessDirName);
    if (!rocks.ok()) return rocks.status();
    setup.local_store = rocks->get();
    setup.store = std::move(*rocks);
  }
  setup.service =
      std::make_unique<AccessService>(key, *setup.store, clock, config.access_issuer_key,
                                      std::move(*keys), AccessOptions{config.access_days});
  setup.sweeper = std::make_unique<AccessSweeper>(*setup.service, config.sweep_interval);
  return setup;
}

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
    auto rados = storage::RadosBackupStore::Open(RadosOptionsOf(config));
    if (!rados.ok()) {
      std::cerr << "safe-server: storage: cannot open the RADOS pool: " << rados.status().ToString()
                << "\n";
      return 1;
    }
    // The pool's own key check (server_key.h): one server key for every instance on a pool.
    Status pool_check = VerifySharedKeyCheck(*key, [&rados](const std::string& check) {
      return (*rados)->GetOrCreateValue("keycheck", check);
    });
    if (!pool_check.ok()) {
      const bool other_key = pool_check.IsFailedPrecondition();
      std::cerr << (other_key ? "safe-server: key-file: the RADOS pool (rados-pool): "
                              : "safe-server: storage: the RADOS pool: ")
                << pool_check.message() << "\n";
      return other_key ? 2 : 1;
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
    RetentionSweeper sweeper(service, config.sweep_interval);
    // glibc keeps what a burst of uploads freed (bodies, sealed values, write batches of up to
    // 512 KiB) in its arenas: the resident size stayed at a burst's peak long after it (issue 14,
    // docs/performance.md "Memory"). Every few seconds the free pages go back to the system.
    PeriodicTask return_free_memory(kReturnFreeMemoryInterval, [] {
      if (mallinfo2().fordblks > kReturnFreeMemoryAbove) malloc_trim(0);
    });
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
      const SweepFigures swept = sweeper.Figures();
      if (rocks == nullptr) {
        // Without an engine that counts exactly (RocksDB does), the sweep's scan gives the
        // number of backups and their bytes.
        f.backups = swept.backups;
        f.bytes = swept.bytes;
      }
      f.expiring_within_7_days = swept.expiring_within_7_days;
      f.expiring_within_30_days = swept.expiring_within_30_days;
      f.expired_deleted_total = swept.expired_deleted_total;
      return f;
    });

    // Bodies held in memory by all connections together. Declared before the pool: tasks the pool
    // still runs at shutdown give their share back to it.
    BodyBudget body_budget(config.max_body_memory);
    BodyBudget spill_budget(config.max_body_disk);  // and those waiting in files
    // Bodies the pool reads back, seals and writes at once: 8 uploads of 512 KiB, 64 of 64 KiB.
    ByteGate upload_gate(std::max<uint64_t>(kUploadGateBytes, config.max_backup_bytes));
    WorkPool pool(kStorageThreads);
    AppObservers observers;
    observers.metrics = &metrics;
    observers.access_log = config.access_log;
    observers.log_addresses = config.log_addresses;
    WebOptions web;
    web.restore_page = config.restore_page;
    web.cors_origins = config.cors_origins;
    SafeApp app(service, pool, (*auth)->Hooks(), &throttle, observers, web, &upload_gate);

    HttpServerOptions http;
    http.limits.body_budget = &body_budget;
    if (config.max_body_disk > 0) {  // bodies beyond it wait in files on the store's disk
      http.limits.spill_dir = config.data_dir;
      http.limits.spill_budget = &spill_budget;
    }
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
  // glibc gives each thread that allocates at the same time an arena of its own (up to eight per
  // core), and every arena keeps the 512 KiB buffers its threads freed: with the 16 storage
  // threads, peak memory under 256 concurrent 512 KiB uploads was about 18 MiB higher than with
  // two arenas, at the same req/s (docs/performance.md, "Memory"). MALLOC_ARENA_MAX still wins.
  if (getenv("MALLOC_ARENA_MAX") == nullptr) mallopt(M_ARENA_MAX, 2);
  safe::server::ConfigParse parsed =
      safe::server::ParseServerConfig(argc, argv, std::cout, std::cerr);
  if (parsed.action == safe::server::ConfigParse::Action::kExit) return parsed.exit_code;
  return safe::server::Run(parsed.config);
}
