// ParseServerConfig: one table (Settings() below) names every setting once, and the flags, the
// config-file keys, the defaults --help shows and the checks all come from it. CLI11 reads the
// flags and the --config file into strings, one per row; every value is then checked here, so
// that each refusal is one line in our own words (CLI11's own conversion errors are multi-line
// and do not follow the `safe-server: <key>: <what>` form).

#include "safe-server/config.h"

#include "safe-server/service/throttle.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace safe::server {
namespace {

// The one place the version lives unless the build passes it in (the top-level project version).
#ifdef SAFE_SERVER_VERSION
constexpr char kVersion[] = SAFE_SERVER_VERSION;
#else
constexpr char kVersion[] = "0.1.0";
#endif

constexpr uint64_t kMaxBackupBytesLimit = 64ull * 1024 * 1024;

// A key whose value was wrong: the message becomes `safe-server: <key>: <what>`.
struct KeyError {
  std::string key;
  std::string what;
};

// What is wrong with one value (the <what> of a KeyError, the caller knows the key); nullopt
// when nothing is.
using Problem = std::optional<std::string>;

// Values as quoted in error messages: control bytes escaped, long values cut short.
std::string Quote(const std::string& value) {
  constexpr size_t kMaxShown = 80;
  std::string out = "\"";
  for (size_t i = 0; i < value.size() && i < kMaxShown; ++i) {
    unsigned char c = static_cast<unsigned char>(value[i]);
    if (c < 0x20 || c == 0x7f) {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else {
      out += static_cast<char>(c);
    }
  }
  if (value.size() > kMaxShown) out += "...";
  out += '"';
  return out;
}

// Digits only: no sign, no spaces, no suffix.
std::optional<uint64_t> ParseWholeNumber(const std::string& text) {
  if (text.empty()) return std::nullopt;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

Problem ParseRange(const std::string& text, uint64_t min, uint64_t max, uint64_t* out) {
  std::optional<uint64_t> value = ParseWholeNumber(text);
  if (!value || *value < min || *value > max) {
    return "must be a whole number from " + std::to_string(min) + " to " + std::to_string(max) +
           ", got " + Quote(text);
  }
  *out = *value;
  return std::nullopt;
}

// RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens.
bool IsHostName(const std::string& host) {
  if (host.empty() || host.size() > 253) return false;
  size_t label_start = 0;
  for (size_t i = 0; i <= host.size(); ++i) {
    if (i == host.size() || host[i] == '.') {
      size_t len = i - label_start;
      if (len == 0 || len > 63) return false;
      if (host[label_start] == '-' || host[i - 1] == '-') return false;
      label_start = i + 1;
      continue;
    }
    char c = host[i];
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool IsIPv4(const std::string& host) {
  in_addr addr;
  return inet_pton(AF_INET, host.c_str(), &addr) == 1;
}

bool IsIPv6(const std::string& host) {
  in6_addr addr;
  return inet_pton(AF_INET6, host.c_str(), &addr) == 1;
}

// "127.0.0.1:8080", "[::1]:8080", "localhost:8080". IPv6 hosts are stored without brackets.
Problem ParseHostPort(const std::string& text, std::string* host, uint16_t* port) {
  const std::string kForm =
      "(expected HOST:PORT, e.g. 127.0.0.1:8080, [::1]:8080 or localhost:8080)";
  std::string host_part;
  std::string port_part;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos) {
      return "IPv6 address has no closing ']', got " + Quote(text);
    }
    host_part = text.substr(1, close - 1);
    if (!IsIPv6(host_part)) return Quote(host_part) + " is not an IPv6 address";
    if (close + 1 >= text.size() || text[close + 1] != ':') {
      return "the port is missing in " + Quote(text) + " " + kForm;
    }
    port_part = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos) return "the port is missing in " + Quote(text) + " " + kForm;
    host_part = text.substr(0, colon);
    port_part = text.substr(colon + 1);
    if (host_part.find(':') != std::string::npos) {
      return "an IPv6 address goes in brackets (e.g. [::1]:8080), got " + Quote(text);
    }
    if (host_part.empty()) {
      return "the host is missing in " + Quote(text) +
             " (0.0.0.0 or [::] listens on every interface)";
    }
    if (!IsIPv4(host_part) && !IsHostName(host_part)) {
      return Quote(host_part) + " is not an IPv4 address or a host name";
    }
  }
  std::optional<uint64_t> port_value = ParseWholeNumber(port_part);
  if (!port_value || *port_value > 65535) {
    return "the port must be a whole number from 0 to 65535, got " + Quote(port_part);
  }
  *host = host_part;
  *port = static_cast<uint16_t>(*port_value);
  return std::nullopt;
}

// The text ParseHostPort reads back as host and port.
std::string FormatHostPort(const std::string& host, uint16_t port) {
  bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

// Why a file cannot be read, or nullopt when it can (opened and closed again, nothing read).
Problem WhyUnreadable(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    int error = errno;
    return "cannot read " + Quote(path) + ": " + std::strerror(error);
  }
  struct stat st;
  int stat_result = fstat(fd, &st);
  int error = errno;
  close(fd);
  if (stat_result != 0) return "cannot read " + Quote(path) + ": " + std::strerror(error);
  if (!S_ISREG(st.st_mode)) return "cannot read " + Quote(path) + ": not a regular file";
  return std::nullopt;
}

// Empty (the setting is off), or a file that can be read.
Problem CheckReadableIfSet(const std::string& path) {
  if (path.empty()) return std::nullopt;
  return WhyUnreadable(path);
}

Problem CheckNotEmpty(const std::string& text) {
  if (text.empty()) return "must not be empty";
  return std::nullopt;
}

Problem CheckStorage(const std::string& engine) {
  if (engine == "rocksdb" || engine == "rados") return std::nullopt;
  return "must be rocksdb or rados, got " + Quote(engine);
}

// The realm is sent inside a quoted-string of WWW-Authenticate: keep it to plain printable ASCII.
Problem CheckRealm(const std::string& realm) {
  bool ok = !realm.empty() && realm.size() <= 128;
  for (char c : realm) {
    if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') ok = false;
  }
  if (ok) return std::nullopt;
  return "must be 1 to 128 printable ASCII characters without '\"' or '\\', got " + Quote(realm);
}

// true/false (also yes/no, on/off, 1/0).
Problem ParseBool(const std::string& text, bool* out) {
  if (text == "true" || text == "yes" || text == "on" || text == "1") {
    *out = true;
  } else if (text == "false" || text == "no" || text == "off" || text == "0") {
    *out = false;
  } else {
    return "must be true or false, got " + Quote(text);
  }
  return std::nullopt;
}

// 127.0.0.0/8, ::1 and "localhost": reachable from this machine only.
bool IsLoopbackHost(const std::string& host) {
  if (host == "localhost") return true;
  Result<Cidr> address = Cidr::Parse(host);
  if (!address.ok()) return false;
  static const Cidr kV4 = *Cidr::Parse("127.0.0.0/8");
  static const Cidr kV6 = *Cidr::Parse("::1/128");
  return kV4.Contains(address->family, address->bytes.data()) ||
         kV6.Contains(address->family, address->bytes.data());
}

// Every item of the comma-separated list must be an address or a range.
Problem CheckTrustedProxies(const std::string& list) {
  Result<std::vector<Cidr>> parsed = ParseCidrList(list);
  // The list is quoted (control bytes escaped) like every other value: the item ParseCidrList
  // names is raw input and must not reach the one-line error as it is (found by config_fuzz).
  if (!parsed.ok()) return "must be comma-separated IP addresses or ranges, got " + Quote(list);
  return std::nullopt;
}

// cors-origins: comma-separated origins as a browser sends them in Origin (scheme://host[:port],
// no path, no default port), lower-cased; or "*". Empty: none.
Problem ParseCorsOrigins(const std::string& list, std::vector<std::string>* out) {
  out->clear();
  size_t at = 0;
  while (at < list.size()) {
    size_t comma = list.find(',', at);
    if (comma == std::string::npos) comma = list.size();
    std::string item = list.substr(at, comma - at);
    at = comma + 1;
    while (!item.empty() && item.front() == ' ') item.erase(0, 1);
    while (!item.empty() && item.back() == ' ') item.pop_back();
    if (item.empty()) continue;
    if (item == "*") {
      out->push_back(item);
      continue;
    }
    for (char& c : item) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
    if (!item.empty() && item.back() == '/') item.pop_back();
    size_t scheme_end = item.find("://");
    bool ok = scheme_end != std::string::npos && scheme_end > 0 && item.size() > scheme_end + 3 &&
              isalpha(static_cast<unsigned char>(item[0]));
    for (size_t i = 0; ok && i < scheme_end; ++i) {
      char c = item[i];
      ok = isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
    }
    for (size_t i = ok ? scheme_end + 3 : item.size(); ok && i < item.size(); ++i) {
      char c = item[i];
      ok = isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' || c == '[' ||
           c == ']' || c == '_';
    }
    if (!ok) {
      return "each origin is scheme://host[:port] with no path (e.g. https://app.example.org), "
             "or *; got " +
             Quote(item);
    }
    auto ends_with = [&item](const std::string& tail) {
      return item.size() > tail.size() &&
             item.compare(item.size() - tail.size(), tail.size(), tail) == 0;
    };
    if ((item.compare(0, 8, "https://") == 0 && ends_with(":443")) ||
        (item.compare(0, 7, "http://") == 0 && ends_with(":80"))) {
      return Quote(item) + ": leave out the default port, browsers never send it";
    }
    out->push_back(item);
  }
  return std::nullopt;
}

// How one setting's text becomes a ServerConfig field, and the field text again.
struct Binding {
  // Sets the field(s) from text, or says what is wrong with text.
  std::function<Problem(const std::string& text, ServerConfig* config)> parse;
  // The field's value as text parse accepts: ServerConfig{}'s is the default --help shows and
  // the value a setting has when neither the file nor a flag sets it.
  std::function<std::string(const ServerConfig& config)> format;
};

// A whole number from min to max, into an integer field.
template <typename Int>
Binding Number(Int ServerConfig::*field, uint64_t min, uint64_t max) {
  // A range the field cannot hold is a bug in the table; the first parse builds the table, so
  // any test finds it.
  if (max > static_cast<uint64_t>(std::numeric_limits<Int>::max())) std::abort();
  return {[field, min, max](const std::string& text, ServerConfig* config) -> Problem {
            uint64_t value = 0;
            if (Problem problem = ParseRange(text, min, max, &value)) return problem;
            config->*field = static_cast<Int>(value);
            return std::nullopt;
          },
          [field](const ServerConfig& config) { return std::to_string(config.*field); }};
}

// A whole number of seconds from min to max.
Binding Seconds(std::chrono::seconds ServerConfig::*field, uint64_t min, uint64_t max) {
  return {[field, min, max](const std::string& text, ServerConfig* config) -> Problem {
            uint64_t value = 0;
            if (Problem problem = ParseRange(text, min, max, &value)) return problem;
            config->*field = std::chrono::seconds(value);
            return std::nullopt;
          },
          [field](const ServerConfig& config) { return std::to_string((config.*field).count()); }};
}

// Text kept as it is, once check (if any) has nothing against it.
Binding Text(std::string ServerConfig::*field, Problem (*check)(const std::string&) = nullptr) {
  return {[field, check](const std::string& text, ServerConfig* config) -> Problem {
            if (check != nullptr) {
              if (Problem problem = check(text)) return problem;
            }
            config->*field = text;
            return std::nullopt;
          },
          [field](const ServerConfig& config) { return config.*field; }};
}

// A switch; its default is shown as true_word or false_word.
Binding Bool(bool ServerConfig::*field, const char* true_word, const char* false_word) {
  return {[field](const std::string& text, ServerConfig* config) {
            return ParseBool(text, &(config->*field));
          },
          [field, true_word, false_word](const ServerConfig& config) {
            return std::string(config.*field ? true_word : false_word);
          }};
}

// A comma-separated list, each item checked and normalised by parse.
Binding List(std::vector<std::string> ServerConfig::*field,
             Problem (*parse)(const std::string&, std::vector<std::string>*)) {
  return {[field, parse](const std::string& text, ServerConfig* config) {
            return parse(text, &(config->*field));
          },
          [field](const ServerConfig& config) {
            std::string text;
            for (const std::string& item : config.*field) text += (text.empty() ? "" : ",") + item;
            return text;
          }};
}

// HOST:PORT, into a host and a port field.
Binding HostPort(std::string ServerConfig::*host, uint16_t ServerConfig::*port) {
  return {[host, port](const std::string& text, ServerConfig* config) {
            return ParseHostPort(text, &(config->*host), &(config->*port));
          },
          [host, port](const ServerConfig& config) {
            return FormatHostPort(config.*host, config.*port);
          }};
}

// One setting: the config-file key, which is also the flag --<key>; the name of its value in
// --help; its binding to a ServerConfig field; and its line in --help.
struct Setting {
  const char* key;
  const char* type_name;
  Binding binding;
  const char* help;
};

// Every setting, in the order of --help and of conf/safe-server.conf. To add one:
//   1. a field with its default (a default member initialiser) in ServerConfig, config.h;
//   2. a row here: key, value name, the binding that ties the text to the field (Number,
//      Seconds, Text with an optional check, Bool, List, HostPort) and the help line. The flag,
//      the config-file key, the default in --help and the check of a value all come from the
//      row; a rule between two settings goes in CheckTogether below;
//   3. its documentation: a `key = default` line at the same place in conf/safe-server.conf, an
//      entry in docs/man/safe-server.conf.5 and one in docs/man/safe-server.8. config_test
//      (ConfigTest.EverySettingIsDocumented) fails while one is missing;
//   4. pass the field on to the layer that uses it (main.cc).
const std::vector<Setting>& Settings() {
  using C = ServerConfig;
  static const auto* settings = new std::vector<Setting>{
      {"listen", "HOST:PORT", HostPort(&C::listen_host, &C::listen_port),
       "Address to listen on: IPv4, [IPv6] or a name; port 0 picks a free port"},
      {"storage", "ENGINE", Text(&C::storage, CheckStorage),
       "Storage engine: rocksdb (embedded) or rados (Ceph)"},
      {"data-dir", "DIR", Text(&C::data_dir, CheckNotEmpty),
       "RocksDB data directory, created on first start"},
      {"rados-conf", "PATH", Text(&C::rados_conf), "RADOS: the cluster's ceph.conf"},
      {"rados-pool", "NAME", Text(&C::rados_pool), "RADOS: the pool that holds the backups"},
      {"rados-user", "NAME", Text(&C::rados_user), "RADOS: the client user (without \"client.\")"},
      {"max-backup-bytes", "N", Number(&C::max_backup_bytes, 1, kMaxBackupBytesLimit),
       "Largest backup accepted, in bytes (1 to 67108864)"},
      {"retention-days", "N", Number(&C::retention_days, 1, 3650),
       "Delete a backup not uploaded again for this many days (1 to 3650)"},
      {"keep-versions", "N", Number(&C::keep_versions, 0, 255),
       "Previous blobs kept per backup, each until retention-days after it was replaced "
       "(0 = off, up to 255)"},
      {"htpasswd", "PATH", Text(&C::htpasswd, CheckReadableIfSet),
       "Basic auth: file of user:$argon2id$... lines; empty = no auth"},
      {"tokens", "PATH", Text(&C::tokens, CheckReadableIfSet),
       "Token auth (Threema OnPrem): file of sha256:<hex> lines; empty = no token auth"},
      {"auth-realm", "TEXT", Text(&C::auth_realm, CheckRealm),
       "Realm sent in the Basic auth challenge"},
      {"access-issuer-key", "PATH", Text(&C::access_issuer_key, CheckReadableIfSet),
       "Anonymous access: list of issuer public keys (<YYYY-MM-DD> <PEM file> lines) whose "
       "tokens POST /access/redeem accepts; empty = off"},
      {"access-days", "N", Number(&C::access_days, 1, 3650),
       "Days a credential from POST /access/redeem stays valid (1 to 3650)"},
      // Both or neither, and then readable: CheckTogether.
      {"tls-cert", "PATH", Text(&C::tls_cert), "TLS certificate chain (PEM); with --tls-key"},
      {"tls-key", "PATH", Text(&C::tls_key), "TLS private key (PEM); with --tls-cert"},
      {"threads", "N", Number(&C::threads, 1, 64), "HTTP worker threads (1 to 64)"},
      {"header-timeout", "SECONDS", Seconds(&C::header_timeout, 1, 3600),
       "A request's headers must arrive within this (1 to 3600)"},
      {"body-timeout", "SECONDS", Seconds(&C::body_timeout, 1, 3600),
       "A request's body must arrive within this after its headers (1 to 3600)"},
      {"idle-timeout", "SECONDS", Seconds(&C::idle_timeout, 1, 3600),
       "Close an idle keep-alive connection after this (1 to 3600)"},
      {"max-connections", "N", Number(&C::max_connections, 1, 1000000),
       "Most connections open at once (1 to 1000000)"},
      // Debian's http-parser refuses headers above its HTTP_MAX_HEADER_SIZE (80 KiB) by itself.
      {"max-header-bytes", "BYTES", Number(&C::max_header_bytes, 1024, 80 * 1024),
       "Most bytes of a request line and headers; more is answered 431 (1024 to 81920)"},
      // At least max-backup-bytes: CheckTogether.
      {"max-body-memory", "BYTES", Number(&C::max_body_memory, 1, 1ull << 40),
       "Most bytes of request bodies in memory at once, all connections together; an upload "
       "beyond it waits in an encrypted, unlinked file in data-dir (max-body-disk) "
       "(max-backup-bytes to 1 TiB)"},
      {"max-body-disk", "BYTES", Number(&C::max_body_disk, 0, 1ull << 40),
       "Most bytes of request bodies waiting in files when max-body-memory is full; an upload "
       "beyond both is answered 503 (0 = no files: 503 at once; up to 1 TiB)"},
      {"sweep-interval", "SECONDS", Seconds(&C::sweep_interval, 60, 86400),
       "How often expired backups are deleted (60 to 86400)"},
      {"key-file", "PATH", Text(&C::key_file),
       "Server key sealing the stored backups; empty = <data-dir>.key, made on first start"},
      {"guess-burst", "N", Number(&C::guess_burst, 0, 1000000),
       "Requests that may be guesses (misses, creating PUTs, failed credentials) a client may "
       "make at once; 0 = no guess budget"},
      {"guess-refill-per-day", "N", Number(&C::guess_refill_per_day, 0, 100000000),
       "Guess budget tokens given back to a client per day"},
      {"request-burst", "N", Number(&C::request_burst, 0, 1000000),
       "General per-client request budget: burst; 0 = off (with request-rate)"},
      {"request-rate", "N", Number(&C::request_rate, 0, 1000000),
       "General per-client request budget: requests per second; 0 = off"},
      {"throttle-ipv4-prefix", "BITS", Number(&C::throttle_ipv4_prefix, 1, 32),
       "Clients are told apart by this IPv4 prefix (1 to 32)"},
      {"throttle-ipv6-prefix", "BITS", Number(&C::throttle_ipv6_prefix, 1, 128),
       "Clients are told apart by this IPv6 prefix (1 to 128)"},
      {"trusted-proxies", "LIST", Text(&C::trusted_proxies, CheckTrustedProxies),
       "Comma-separated reverse proxy addresses or ranges whose X-Forwarded-For is used"},
      {"restore-page", "BOOL", Bool(&C::restore_page, "on", "off"),
       "Serve the restore page at /restore/ (the backup is decrypted in the browser): on or off"},
      {"cors-origins", "LIST", List(&C::cors_origins, ParseCorsOrigins),
       "Comma-separated browser origins (https://host[:port], or *) allowed to call /config and "
       "/backups/* from another origin (CORS); empty = none"},
      // Off loopback only with admin-token-file: CheckTogether.
      {"admin-listen", "HOST:PORT", HostPort(&C::admin_listen_host, &C::admin_listen_port),
       "Admin listener for /metrics, /healthz and /readyz (keep it on loopback)"},
      {"admin-token-file", "PATH", Text(&C::admin_token_file),
       "Token the admin listener requires (Authorization: Bearer); needed off loopback"},
      {"checkpoint-dir", "DIR", Text(&C::checkpoint_dir),
       "Where POST /admin/checkpoint puts its copies; empty = <data-dir>.checkpoints"},
      {"access-log", "BOOL", Bool(&C::access_log, "true", "false"),
       "Log one line per request (never a backup id): true or false"},
      {"log-addresses", "BOOL", Bool(&C::log_addresses, "true", "false"),
       "Put the client's address in access log lines: true or false"},
      {"block-cache-bytes", "N", Number(&C::block_cache_bytes, 1 << 20, 1ull << 40),
       "RocksDB block cache size in bytes"},
      {"write-buffer-bytes", "N", Number(&C::write_buffer_bytes, 1 << 20, 1ull << 32),
       "RocksDB memtable size per column family in bytes"},
  };
  return *settings;
}

// The rules between settings, once every row has been read (the first broken one is named).
std::optional<KeyError> CheckTogether(const ServerConfig& config) {
  if (config.storage == "rados") {
    if (Problem problem = WhyUnreadable(config.rados_conf)) return KeyError{"rados-conf", *problem};
    if (config.rados_pool.empty()) return KeyError{"rados-pool", "must not be empty"};
    if (config.rados_user.empty()) return KeyError{"rados-user", "must not be empty"};
  }
  if (config.tls_cert.empty() != config.tls_key.empty()) {
    return KeyError{config.tls_cert.empty() ? "tls-cert" : "tls-key",
                    "--tls-cert and --tls-key go together"};
  }
  if (!config.tls_cert.empty()) {
    if (Problem problem = WhyUnreadable(config.tls_cert)) return KeyError{"tls-cert", *problem};
    if (Problem problem = WhyUnreadable(config.tls_key)) return KeyError{"tls-key", *problem};
  }
  if (config.max_body_memory < config.max_backup_bytes) {
    return KeyError{"max-body-memory", "must be at least max-backup-bytes (" +
                                           std::to_string(config.max_backup_bytes) + "), got " +
                                           std::to_string(config.max_body_memory)};
  }
  if ((config.request_burst == 0) != (config.request_rate == 0)) {
    return KeyError{config.request_burst == 0 ? "request-burst" : "request-rate",
                    "--request-burst and --request-rate go together (both 0 turns the budget off)"};
  }
  if (config.admin_token_file.empty() && !IsLoopbackHost(config.admin_listen_host)) {
    return KeyError{"admin-listen",
                    Quote(FormatHostPort(config.admin_listen_host, config.admin_listen_port)) +
                        " is not a loopback address: the admin listener can make checkpoints "
                        "and shows metrics, so set admin-token-file to protect it"};
  }
  return std::nullopt;
}

// Reads texts (one per row of Settings(), in its order) into config, or names the first wrong
// key: first each row, then the rules between rows.
std::optional<KeyError> Validate(const std::vector<std::string>& texts, ServerConfig* config) {
  const std::vector<Setting>& settings = Settings();
  for (size_t i = 0; i < settings.size(); ++i) {
    if (Problem problem = settings[i].binding.parse(texts[i], config)) {
      return KeyError{settings[i].key, *problem};
    }
  }
  return CheckTogether(*config);
}

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// CLI11's exceptions, in our one-line form. The texts matched here are CLI11 2.1's; anything
// unexpected still becomes one line under the key "command-line".
KeyError FromCliError(const CLI::ParseError& error, const CLI::Option* config_option) {
  std::string message = error.what();
  // Keep it to one line whatever CLI11 wrote.
  for (char& c : message) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  if (dynamic_cast<const CLI::FileError*>(&error) != nullptr) {
    std::string path = config_option->as<std::string>();
    Problem why = WhyUnreadable(path);
    return KeyError{"config", why ? *why : "cannot read " + Quote(path)};
  }
  if (dynamic_cast<const CLI::ConfigError*>(&error) != nullptr) {
    const std::string kExtra = "INI was not able to parse ";
    const std::string kNotConfigurable = ": This option is not allowed in a configuration file";
    if (StartsWith(message, kExtra)) {
      std::string key = message.substr(kExtra.size());
      // CLI11 reports a [section] header as the item "<section>.++" (its opening).
      if (EndsWith(key, ".++")) return KeyError{key.substr(0, key.size() - 3), "unknown section"};
      return KeyError{key, "unknown key"};
    }
    if (EndsWith(message, kNotConfigurable)) {
      return KeyError{message.substr(0, message.size() - kNotConfigurable.size()),
                      "is only allowed on the command line, not in the config file"};
    }
    return KeyError{"config", message};
  }
  if (dynamic_cast<const CLI::ArgumentMismatch*>(&error) != nullptr && StartsWith(message, "--")) {
    size_t colon = message.find(':');
    if (colon != std::string::npos) return KeyError{message.substr(2, colon - 2), "needs a value"};
  }
  return KeyError{"command-line", message};
}

void PrintError(std::ostream& err, const KeyError& error) {
  err << "safe-server: " << error.key << ": " << error.what << "\n";
}

}  // namespace

ConfigParse ParseServerConfig(int argc, const char* const* argv, std::ostream& out,
                              std::ostream& err) {
  ConfigParse result;
  result.action = ConfigParse::Action::kExit;
  result.exit_code = 2;

  CLI::App app{
      "Safe Server: a self-hosted Threema Safe backup server.\n"
      "Settings come from the defaults, then the --config file (`key = value` lines, "
      "`#` comments),\nthen these flags; every flag is also a key of the same name.",
      "safe-server"};
  app.set_help_flag("-h,--help", "Print this help and exit");
  app.get_formatter()->column_width(34);

  // The config file reader: one value per key, kept whole. CLI11's TOML reader would otherwise
  // split "Safe Server" at the space and "[::1]:8080" as an array; a newline never occurs within
  // a line, so these bounds switch arrays off.
  auto file_format = std::make_shared<CLI::ConfigTOML>();
  file_format->arrayBounds('\n', '\n');
  file_format->arrayDelimiter('\n');
  app.config_formatter(file_format);
  CLI::Option* config_option =
      app.set_config("--config", "", "Read settings from this file (format of safe-server.conf)");
  config_option->type_name("PATH");
  config_option->configurable(false);
  app.allow_config_extras(CLI::config_extras_mode::error);
  // Unknown flags are collected and refused below, in our own words.
  app.allow_extras(true);

  CLI::Option* version_option = app.add_flag("--version", "Print the version and exit");
  version_option->configurable(false);

  // One string per setting, CLI11 fills it from the file and the flags; it starts as the
  // default. Sized once: CLI11 keeps a pointer to each.
  const std::vector<Setting>& settings = Settings();
  const ServerConfig defaults;
  std::vector<std::string> texts(settings.size());
  std::vector<const CLI::Option*> value_options;
  for (size_t i = 0; i < settings.size(); ++i) {
    texts[i] = settings[i].binding.format(defaults);
    CLI::Option* option =
        app.add_option(std::string("--") + settings[i].key, texts[i], settings[i].help);
    option->type_name(settings[i].type_name);
    option->default_str(texts[i].empty() ? "\"\"" : texts[i]);
    // The last of repeated flags wins, like a flag over the file.
    option->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    value_options.push_back(option);
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    out << app.help();
    result.exit_code = 0;
    return result;
  } catch (const CLI::ParseError& e) {
    PrintError(err, FromCliError(e, config_option));
    return result;
  }

  if (version_option->count() > 0) {
    out << "safe-server " << kVersion << "\n";
    result.exit_code = 0;
    return result;
  }
  // CLI11 gives an option its value even when that looks like a flag: `--listen --threads 2` sets
  // listen to "--threads". A value starting with "--" is always such a mistake.
  for (const CLI::Option* option : value_options) {
    for (const std::string& value : option->results()) {
      if (StartsWith(value, "--")) {
        PrintError(err, KeyError{option->get_name().substr(2),
                                 "needs a value, got the flag " + Quote(value)});
        return result;
      }
    }
  }
  std::vector<std::string> extras = app.remaining();
  if (!extras.empty()) {
    const std::string& first = extras.front();
    if (first.size() > 1 && first[0] == '-') {
      std::string name = first.substr(first[1] == '-' ? 2 : 1);
      name = name.substr(0, name.find('='));
      PrintError(err, KeyError{name.empty() ? first : name, "unknown flag"});
    } else {
      PrintError(err, KeyError{"command-line", "unexpected argument " + Quote(first)});
    }
    return result;
  }

  if (std::optional<KeyError> error = Validate(texts, &result.config)) {
    PrintError(err, *error);
    return result;
  }
  result.action = ConfigParse::Action::kRun;
  result.exit_code = 0;
  return result;
}

}  // namespace safe::server
