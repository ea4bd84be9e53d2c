// ServerConfig: every setting of safe-server, read in one place and validated into one immutable
// struct, then narrowed into the options each layer needs.
//
// Sources, later overriding earlier: built-in defaults, the file named by --config (the format
// of conf/safe-server.conf: `key = value` lines, `#` comments), then command-line flags. Every key
// is also a flag of the same name (`max-backup-bytes = 1000` in the file, `--max-backup-bytes 1000`
// on the command line).
//
// Each field below is filled by one row of the settings table in config.cc, which gives the
// key, the flag, the check and the --help line; the field's default member initialiser is the
// default. Adding a setting: see the recipe above that table.
//
// Thread-safety: a value type; parsing touches no global state.

#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace safe::server {

struct ServerConfig {
  // Where to listen: host (IPv4, IPv6 in brackets, or a name) and port. Loopback by default.
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 8080;
  // The storage engine: "rocksdb" (embedded, the default) or "rados" (a Ceph cluster).
  std::string storage = "rocksdb";
  // The RocksDB data directory; created on first start. With rados it holds only KEYCHECK.
  std::string data_dir = "data";
  // RADOS: the cluster's ceph.conf, the pool, and the client user (its keyring as ceph.conf says).
  std::string rados_conf = "/etc/ceph/ceph.conf";
  std::string rados_pool = "safe";
  std::string rados_user = "admin";
  // Largest blob accepted, in bytes; announced in /config. The apps send at most this.
  uint64_t max_backup_bytes = 524288;
  // A backup not uploaded again within this many days is deleted; announced in /config.
  uint32_t retention_days = 180;
  // Previous blobs kept per backup (issue 16), each deleted retention_days after it was
  // replaced; 0 turns versions off. At most 255.
  uint32_t keep_versions = 3;
  // Basic auth: an htpasswd file of `user:$argon2id$...` lines. Empty = no auth.
  std::string htpasswd;
  // Token auth (Threema OnPrem): a file of `sha256:<hex>` lines. Empty = no token auth.
  std::string tokens;
  // The realm sent in WWW-Authenticate.
  std::string auth_realm = "Safe Server";
  // Anonymous access credentials (issue 18): the list of issuer public keys whose blind-signed
  // tokens POST /access/redeem accepts (lines `<YYYY-MM-DD> <PEM file>`). Empty = no access
  // credentials. A redeemed credential is valid for access_days days.
  std::string access_issuer_key;
  uint32_t access_days = 365;
  // TLS: both set, or neither.
  std::string tls_cert;
  std::string tls_key;
  // HTTP worker threads.
  int threads = 4;
  // A request's headers must arrive within this; its body within body_timeout after them.
  std::chrono::seconds header_timeout{10};
  std::chrono::seconds body_timeout{60};
  // An idle keep-alive connection is closed after this.
  std::chrono::seconds idle_timeout{60};
  // Most connections open at once; further ones are closed at once.
  uint32_t max_connections = 4096;
  // Most bytes of a request line and its headers; more is answered 431.
  uint32_t max_header_bytes = 16384;
  // Most bytes of request bodies held in memory by all connections together; a body that does
  // not fit waits in a file (max_body_disk). At least max_backup_bytes.
  uint64_t max_body_memory = 16 << 20;
  // Most bytes of request bodies waiting in unlinked, encrypted files in data_dir (issue 14); an
  // upload that fits neither is answered 503 with Retry-After. 0: no files.
  uint64_t max_body_disk = 1ull << 30;
  // How often the retention sweep runs.
  std::chrono::seconds sweep_interval{3600};
  // The server key (32 bytes) that seals stored backups. Empty: "<data-dir>.key", a file beside
  // the data directory. A systemd credential "server-key" takes precedence.
  std::string key_file;
  // Guess budget: requests that may be guesses (lookups that find nothing, PUTs that create,
  // failed credentials) a client may make at once, and how
  // many it gets back per day. 0 turns it off.
  uint32_t guess_burst = 30;
  uint32_t guess_refill_per_day = 288;
  // General request budget per client: burst and requests per second. 0 = off (default).
  uint32_t request_burst = 0;
  uint32_t request_rate = 0;
  // Clients are told apart by this many leading bits of their address.
  int throttle_ipv4_prefix = 32;
  int throttle_ipv6_prefix = 64;
  // Comma-separated addresses or ranges of reverse proxies whose X-Forwarded-For is believed.
  std::string trusted_proxies;
  // The restore page at /restore/ (issue 17, docs/client.md): on by default.
  bool restore_page = true;
  // Browser origins ("https://host[:port]", or "*" for any) whose cross-origin calls to /config
  // and /backups/* get CORS answers (a preflight before auth, Access-Control-Allow-Origin).
  // Empty: none (the restore page is same-origin and needs none).
  std::vector<std::string> cors_origins;
  // The admin listener (/metrics, /healthz, /readyz). Loopback by default; port 0 picks one.
  std::string admin_listen_host = "127.0.0.1";
  uint16_t admin_listen_port = 9180;
  // A file holding the admin listener's token (one line, at least 32 characters); requests to it
  // must then carry `Authorization: Bearer <token>`. Required when admin_listen_host is not a
  // loopback address. Empty: no token (loopback only).
  std::string admin_token_file;
  // Where POST /admin/checkpoint writes its copies. Empty: "<data-dir>.checkpoints". On the data
  // directory's file system the copy hard-links its files and is cheap.
  std::string checkpoint_dir;
  // One log line per request (never with a backup id), and the client's address in it.
  bool access_log = false;
  bool log_addresses = false;
  // RocksDB's block cache and memtable sizes, in bytes.
  // 32 MiB: with 1,000,000 backups stored, GET ran 0.56x of its 10,000-stored rate with it and
  // 0.38x with 8 MiB (docs/performance.md, "Growth").
  uint64_t block_cache_bytes = 32 << 20;
  // The blobs' memtables (two, while one flushes) hold whole blobs, the largest part of the memory
  // under uploads (issue 14). 8 MiB took 8 to 10 MiB off that peak, but on a full disk a failed
  // flush of the smaller memtable freed its partial file and let the store recover, and ready
  // again, while the disk stayed full (FullDiskTest failed one run in two): 16 MiB it stays.
  uint64_t write_buffer_bytes = 16 << 20;
};

// What ParseServerConfig decided.
struct ConfigParse {
  enum class Action {
    kRun,   // config is valid: start the server
    kExit,  // help or version was printed, or an error was: exit with exit_code
  };
  Action action = Action::kRun;
  int exit_code = 0;  // 0 after --help/--version, 2 after an error
  ServerConfig config;
};

// Parses argv (and the --config file it names). On an error writes exactly one line to err that
// names the key (or flag) and what is wrong, and returns kExit with exit_code 2. --help writes the
// list of flags with their defaults to out; --version writes the version. Never binds a port or
// touches the data directory.
ConfigParse ParseServerConfig(int argc, const char* const* argv, std::ostream& out,
                              std::ostream& err);

}  // namespace safe::server
