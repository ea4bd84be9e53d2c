// ParseServerConfig: CLI11 reads the flags and the --config file into strings; every value is
// then checked here, so that each refusal is one line in our own words (CLI11's own conversion
// errors are multi-line and do not follow the `safe-server: <key>: <what>` form).

#include "safe-server/config.h"

#include "safe-server/throttle.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <charconv>
#include <cstring>
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

std::optional<KeyError> ParseRange(const std::string& key, const std::string& text, uint64_t min,
                                   uint64_t max, uint64_t* out) {
  std::optional<uint64_t> value = ParseWholeNumber(text);
  if (!value || *value < min || *value > max) {
    return KeyError{key, "must be a whole number from " + std::to_string(min) + " to " +
                             std::to_string(max) + ", got " + Quote(text)};
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
std::optional<KeyError> ParseListen(const std::string& text, std::string* host, uint16_t* port) {
  const std::string kKey = "listen";
  const std::string kForm =
      "(expected HOST:PORT, e.g. 127.0.0.1:8080, [::1]:8080 or localhost:8080)";
  std::string host_part;
  std::string port_part;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos) {
      return KeyError{kKey, "IPv6 address has no closing ']', got " + Quote(text)};
    }
    host_part = text.substr(1, close - 1);
    if (!IsIPv6(host_part)) {
      return KeyError{kKey, Quote(host_part) + " is not an IPv6 address"};
    }
    if (close + 1 >= text.size() || text[close + 1] != ':') {
      return KeyError{kKey, "the port is missing in " + Quote(text) + " " + kForm};
    }
    port_part = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos) {
      return KeyError{kKey, "the port is missing in " + Quote(text) + " " + kForm};
    }
    host_part = text.substr(0, colon);
    port_part = text.substr(colon + 1);
    if (host_part.find(':') != std::string::npos) {
      return KeyError{kKey,
                      "an IPv6 address goes in brackets (e.g. [::1]:8080), got " + Quote(text)};
    }
    if (host_part.empty()) {
      return KeyError{kKey, "the host is missing in " + Quote(text) +
                                " (0.0.0.0 or [::] listens on every interface)"};
    }
    if (!IsIPv4(host_part) && !IsHostName(host_part)) {
      return KeyError{kKey, Quote(host_part) + " is not an IPv4 address or a host name"};
    }
  }
  std::optional<uint64_t> port_value = ParseWholeNumber(port_part);
  if (!port_value || *port_value > 65535) {
    return KeyError{kKey,
                    "the port must be a whole number from 0 to 65535, got " + Quote(port_part)};
  }
  *host = host_part;
  *port = static_cast<uint16_t>(*port_value);
  return std::nullopt;
}

// Why a file cannot be read, or nullopt when it can (opened and closed again, nothing read).
std::optional<std::string> WhyUnreadable(const std::string& path) {
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

std::optional<KeyError> CheckReadable(const std::string& key, const std::string& path) {
  if (std::optional<std::string> why = WhyUnreadable(path)) return KeyError{key, *why};
  return std::nullopt;
}

// The realm is sent inside a quoted-string of WWW-Authenticate: keep it to plain printable ASCII.
std::optional<KeyError> CheckRealm(const std::string& realm) {
  bool ok = !realm.empty() && realm.size() <= 128;
  for (char c : realm) {
    if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') ok = false;
  }
  if (ok) return std::nullopt;
  return KeyError{
      "auth-realm",
      "must be 1 to 128 printable ASCII characters without '\"' or '\\', got " + Quote(realm)};
}

// Every setting as CLI11 fills it in: strings, checked afterwards.
struct RawValues {
  std::string listen;
  std::string storage;
  std::string data_dir;
  std::string rados_conf;
  std::string rados_pool;
  std::string rados_user;
  std::string max_backup_bytes;
  std::string retention_days;
  std::string keep_versions;
  std::string htpasswd;
  std::string tokens;
  std::string auth_realm;
  std::string access_issuer_key;
  std::string access_days;
  std::string tls_cert;
  std::string tls_key;
  std::string threads;
  std::string header_timeout;
  std::string body_timeout;
  std::string idle_timeout;
  std::string max_connections;
  std::string max_header_bytes;
  std::string max_body_memory;
  std::string sweep_interval;
  std::string key_file;
  std::string guess_burst;
  std::string guess_refill_per_day;
  std::string request_burst;
  std::string request_rate;
  std::string throttle_ipv4_prefix;
  std::string throttle_ipv6_prefix;
  std::string trusted_proxies;
  std::string restore_page;
  std::string cors_origins;
  std::string admin_listen;
  std::string admin_token_file;
  std::string checkpoint_dir;
  std::string access_log;
  std::string log_addresses;
  std::string block_cache_bytes;
  std::string write_buffer_bytes;
};

RawValues DefaultsAsText() {
  ServerConfig d;
  RawValues raw;
  raw.listen =
      (d.listen_host.find(':') != std::string::npos ? "[" + d.listen_host + "]" : d.listen_host) +
      ":" + std::to_string(d.listen_port);
  raw.storage = d.storage;
  raw.data_dir = d.data_dir;
  raw.rados_conf = d.rados_conf;
  raw.rados_pool = d.rados_pool;
  raw.rados_user = d.rados_user;
  raw.max_backup_bytes = std::to_string(d.max_backup_bytes);
  raw.retention_days = std::to_string(d.retention_days);
  raw.keep_versions = std::to_string(d.keep_versions);
  raw.htpasswd = d.htpasswd;
  raw.tokens = d.tokens;
  raw.auth_realm = d.auth_realm;
  raw.access_issuer_key = d.access_issuer_key;
  raw.access_days = std::to_string(d.access_days);
  raw.tls_cert = d.tls_cert;
  raw.tls_key = d.tls_key;
  raw.threads = std::to_string(d.threads);
  raw.header_timeout = std::to_string(d.header_timeout.count());
  raw.body_timeout = std::to_string(d.body_timeout.count());
  raw.idle_timeout = std::to_string(d.idle_timeout.count());
  raw.max_connections = std::to_string(d.max_connections);
  raw.max_header_bytes = std::to_string(d.max_header_bytes);
  raw.max_body_memory = std::to_string(d.max_body_memory);
  raw.sweep_interval = std::to_string(d.sweep_interval.count());
  raw.key_file = d.key_file;
  raw.guess_burst = std::to_string(d.guess_burst);
  raw.guess_refill_per_day = std::to_string(d.guess_refill_per_day);
  raw.request_burst = std::to_string(d.request_burst);
  raw.request_rate = std::to_string(d.request_rate);
  raw.throttle_ipv4_prefix = std::to_string(d.throttle_ipv4_prefix);
  raw.throttle_ipv6_prefix = std::to_string(d.throttle_ipv6_prefix);
  raw.trusted_proxies = d.trusted_proxies;
  raw.restore_page = d.restore_page ? "on" : "off";
  raw.admin_listen = d.admin_listen_host + ":" + std::to_string(d.admin_listen_port);
  raw.admin_token_file = d.admin_token_file;
  raw.checkpoint_dir = d.checkpoint_dir;
  raw.access_log = d.access_log ? "true" : "false";
  raw.log_addresses = d.log_addresses ? "true" : "false";
  raw.block_cache_bytes = std::to_string(d.block_cache_bytes);
  raw.write_buffer_bytes = std::to_string(d.write_buffer_bytes);
  return raw;
}

// true/false (also yes/no, on/off, 1/0).
std::optional<KeyError> ParseBool(const char* key, const std::string& text, bool* out) {
  if (text == "true" || text == "yes" || text == "on" || text == "1") {
    *out = true;
  } else if (text == "false" || text == "no" || text == "off" || text == "0") {
    *out = false;
  } else {
    return KeyError{key, "must be true or false, got " + Quote(text)};
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
std::optional<KeyError> CheckTrustedProxies(const std::string& list) {
  Result<std::vector<Cidr>> parsed = ParseCidrList(list);
  // The list is quoted (control bytes escaped) like every other value: the item ParseCidrList
  // names is raw input and must not reach the one-line error as it is (found by config_fuzz).
  if (!parsed.ok()) {
    return KeyError{"trusted-proxies",
                    "must be comma-separated IP addresses or ranges, got " + Quote(list)};
  }
  return std::nullopt;
}

// cors-origins: comma-separated origins as a browser sends them in Origin (scheme://host[:port],
// no path, no default port), lower-cased; or "*". Empty: none.
std::optional<KeyError> ParseCorsOrigins(const std::string& list, std::vector<std::string>* out) {
  const std::string kKey = "cors-origins";
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
      return KeyError{kKey,
                      "each origin is scheme://host[:port] with no path (e.g. "
                      "https://app.example.org), or *; got " +
                          Quote(item)};
    }
    auto ends_with = [&item](const std::string& tail) {
      return item.size() > tail.size() &&
             item.compare(item.size() - tail.size(), tail.size(), tail) == 0;
    };
    if ((item.compare(0, 8, "https://") == 0 && ends_with(":443")) ||
        (item.compare(0, 7, "http://") == 0 && ends_with(":80"))) {
      return KeyError{kKey, Quote(item) + ": leave out the default port, browsers never send it"};
    }
    out->push_back(item);
  }
  return std::nullopt;
}

// Turns the strings into a ServerConfig, or names the first wrong key.
std::optional<KeyError> Validate(const RawValues& raw, ServerConfig* config) {
  uint64_t n = 0;
  if (auto e = ParseListen(raw.listen, &config->listen_host, &config->listen_port)) return e;

  if (raw.storage != "rocksdb" && raw.storage != "rados") {
    return KeyError{"storage", "must be rocksdb or rados, got " + Quote(raw.storage)};
  }
  config->storage = raw.storage;
  if (raw.data_dir.empty()) return KeyError{"data-dir", "must not be empty"};
  config->data_dir = raw.data_dir;
  if (raw.storage == "rados") {
    if (auto e = CheckReadable("rados-conf", raw.rados_conf)) return e;
    if (raw.rados_pool.empty()) return KeyError{"rados-pool", "must not be empty"};
    if (raw.rados_user.empty()) return KeyError{"rados-user", "must not be empty"};
  }
  config->rados_conf = raw.rados_conf;
  config->rados_pool = raw.rados_pool;
  config->rados_user = raw.rados_user;

  if (auto e = ParseRange("max-backup-bytes", raw.max_backup_bytes, 1, kMaxBackupBytesLimit, &n)) {
    return e;
  }
  config->max_backup_bytes = n;
  if (auto e = ParseRange("retention-days", raw.retention_days, 1, 3650, &n)) return e;
  config->retention_days = static_cast<uint32_t>(n);
  if (auto e = ParseRange("keep-versions", raw.keep_versions, 0, 255, &n)) return e;
  config->keep_versions = static_cast<uint32_t>(n);

  if (!raw.htpasswd.empty()) {
    if (auto e = CheckReadable("htpasswd", raw.htpasswd)) return e;
  }
  config->htpasswd = raw.htpasswd;
  if (!raw.tokens.empty()) {
    if (auto e = CheckReadable("tokens", raw.tokens)) return e;
  }
  config->tokens = raw.tokens;
  if (auto e = CheckRealm(raw.auth_realm)) return e;
  config->auth_realm = raw.auth_realm;
  if (!raw.access_issuer_key.empty()) {
    if (auto e = CheckReadable("access-issuer-key", raw.access_issuer_key)) return e;
  }
  config->access_issuer_key = raw.access_issuer_key;
  if (auto e = ParseRange("access-days", raw.access_days, 1, 3650, &n)) return e;
  config->access_days = static_cast<uint32_t>(n);

  if (raw.tls_cert.empty() != raw.tls_key.empty()) {
    return KeyError{raw.tls_cert.empty() ? "tls-cert" : "tls-key",
                    "--tls-cert and --tls-key go together"};
  }
  if (!raw.tls_cert.empty()) {
    if (auto e = CheckReadable("tls-cert", raw.tls_cert)) return e;
    if (auto e = CheckReadable("tls-key", raw.tls_key)) return e;
  }
  config->tls_cert = raw.tls_cert;
  config->tls_key = raw.tls_key;

  if (auto e = ParseRange("threads", raw.threads, 1, 64, &n)) return e;
  config->threads = static_cast<int>(n);
  if (auto e = ParseRange("header-timeout", raw.header_timeout, 1, 3600, &n)) return e;
  config->header_timeout = std::chrono::seconds(n);
  if (auto e = ParseRange("body-timeout", raw.body_timeout, 1, 3600, &n)) return e;
  config->body_timeout = std::chrono::seconds(n);
  if (auto e = ParseRange("idle-timeout", raw.idle_timeout, 1, 3600, &n)) return e;
  config->idle_timeout = std::chrono::seconds(n);
  if (auto e = ParseRange("max-connections", raw.max_connections, 1, 1000000, &n)) return e;
  config->max_connections = static_cast<uint32_t>(n);
  // Debian's http-parser refuses headers above its HTTP_MAX_HEADER_SIZE (80 KiB) by itself.
  if (auto e = ParseRange("max-header-bytes", raw.max_header_bytes, 1024, 80 * 1024, &n)) return e;
  config->max_header_bytes = static_cast<uint32_t>(n);
  if (auto e = ParseRange("max-body-memory", raw.max_body_memory, 1, 1ull << 40, &n)) return e;
  if (n < config->max_backup_bytes) {
    return KeyError{"max-body-memory", "must be at least max-backup-bytes (" +
                                           std::to_string(config->max_backup_bytes) + "), got " +
                                           std::to_string(n)};
  }
  config->max_body_memory = n;
  if (auto e = ParseRange("sweep-interval", raw.sweep_interval, 60, 86400, &n)) return e;
  config->sweep_interval = std::chrono::seconds(n);
  config->key_file = raw.key_file;
  if (auto e = ParseRange("guess-burst", raw.guess_burst, 0, 1000000, &n)) return e;
  config->guess_burst = static_cast<uint32_t>(n);
  if (auto e = ParseRange("guess-refill-per-day", raw.guess_refill_per_day, 0, 100000000, &n)) {
    return e;
  }
  config->guess_refill_per_day = static_cast<uint32_t>(n);
  if (auto e = ParseRange("request-burst", raw.request_burst, 0, 1000000, &n)) return e;
  config->request_burst = static_cast<uint32_t>(n);
  if (auto e = ParseRange("request-rate", raw.request_rate, 0, 1000000, &n)) return e;
  config->request_rate = static_cast<uint32_t>(n);
  if ((config->request_burst == 0) != (config->request_rate == 0)) {
    return KeyError{config->request_burst == 0 ? "request-burst" : "request-rate",
                    "--request-burst and --request-rate go together (both 0 turns the budget off)"};
  }
  if (auto e = ParseRange("throttle-ipv4-prefix", raw.throttle_ipv4_prefix, 1, 32, &n)) return e;
  config->throttle_ipv4_prefix = static_cast<int>(n);
  if (auto e = ParseRange("throttle-ipv6-prefix", raw.throttle_ipv6_prefix, 1, 128, &n)) return e;
  config->throttle_ipv6_prefix = static_cast<int>(n);
  if (auto e = CheckTrustedProxies(raw.trusted_proxies)) return e;
  config->trusted_proxies = raw.trusted_proxies;
  if (auto e = ParseBool("restore-page", raw.restore_page, &config->restore_page)) return e;
  if (auto e = ParseCorsOrigins(raw.cors_origins, &config->cors_origins)) return e;
  if (auto e =
          ParseListen(raw.admin_listen, &config->admin_listen_host, &config->admin_listen_port)) {
    e->key = "admin-listen";
    return e;
  }
  config->admin_token_file = raw.admin_token_file;
  if (config->admin_token_file.empty() && !IsLoopbackHost(config->admin_listen_host)) {
    return KeyError{"admin-listen",
                    Quote(raw.admin_listen) +
                        " is not a loopback address: the admin listener can make checkpoints "
                        "and shows metrics, so set admin-token-file to protect it"};
  }
  config->checkpoint_dir = raw.checkpoint_dir;
  if (auto e = ParseBool("access-log", raw.access_log, &config->access_log)) return e;
  if (auto e = ParseBool("log-addresses", raw.log_addresses, &config->log_addresses)) return e;
  if (auto e = ParseRange("block-cache-bytes", raw.block_cache_bytes, 1 << 20, 1ull << 40, &n)) {
    return e;
  }
  config->block_cache_bytes = n;
  if (auto e = ParseRange("write-buffer-bytes", raw.write_buffer_bytes, 1 << 20, 1ull << 32, &n)) {
    return e;
  }
  config->write_buffer_bytes = n;
  return std::nullopt;
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
    std::optional<std::string> why = WhyUnreadable(path);
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

  RawValues raw = DefaultsAsText();
  std::vector<const CLI::Option*> value_options;
  auto add = [&app, &value_options](const std::string& key, std::string* value,
                                    const std::string& type, const std::string& help) {
    CLI::Option* option = app.add_option("--" + key, *value, help);
    option->type_name(type);
    option->default_str(value->empty() ? "\"\"" : *value);
    // The last of repeated flags wins, like a flag over the file.
    option->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    value_options.push_back(option);
  };
  add("listen", &raw.listen, "HOST:PORT",
      "Address to listen on: IPv4, [IPv6] or a name; port 0 picks a free port");
  add("storage", &raw.storage, "ENGINE", "Storage engine: rocksdb (embedded) or rados (Ceph)");
  add("data-dir", &raw.data_dir, "DIR", "RocksDB data directory, created on first start");
  add("rados-conf", &raw.rados_conf, "PATH", "RADOS: the cluster's ceph.conf");
  add("rados-pool", &raw.rados_pool, "NAME", "RADOS: the pool that holds the backups");
  add("rados-user", &raw.rados_user, "NAME", "RADOS: the client user (without \"client.\")");
  add("max-backup-bytes", &raw.max_backup_bytes, "N",
      "Largest backup accepted, in bytes (1 to 67108864)");
  add("retention-days", &raw.retention_days, "N",
      "Delete a backup not uploaded again for this many days (1 to 3650)");
  add("keep-versions", &raw.keep_versions, "N",
      "Previous blobs kept per backup, each until retention-days after it was replaced "
      "(0 = off, up to 255)");
  add("htpasswd", &raw.htpasswd, "PATH",
      "Basic auth: file of user:$argon2id$... lines; empty = no auth");
  add("tokens", &raw.tokens, "PATH",
      "Token auth (Threema OnPrem): file of sha256:<hex> lines; empty = no token auth");
  add("auth-realm", &raw.auth_realm, "TEXT", "Realm sent in the Basic auth challenge");
  add("access-issuer-key", &raw.access_issuer_key, "PATH",
      "Anonymous access: list of issuer public keys (<YYYY-MM-DD> <PEM file> lines) whose "
      "tokens POST /access/redeem accepts; empty = off");
  add("access-days", &raw.access_days, "N",
      "Days a credential from POST /access/redeem stays valid (1 to 3650)");
  add("tls-cert", &raw.tls_cert, "PATH", "TLS certificate chain (PEM); with --tls-key");
  add("tls-key", &raw.tls_key, "PATH", "TLS private key (PEM); with --tls-cert");
  add("threads", &raw.threads, "N", "HTTP worker threads (1 to 64)");
  add("header-timeout", &raw.header_timeout, "SECONDS",
      "A request's headers must arrive within this (1 to 3600)");
  add("body-timeout", &raw.body_timeout, "SECONDS",
      "A request's body must arrive within this after its headers (1 to 3600)");
  add("idle-timeout", &raw.idle_timeout, "SECONDS",
      "Close an idle keep-alive connection after this (1 to 3600)");
  add("max-connections", &raw.max_connections, "N", "Most connections open at once (1 to 1000000)");
  add("max-header-bytes", &raw.max_header_bytes, "BYTES",
      "Most bytes of a request line and headers; more is answered 431 (1024 to 81920)");
  add("max-body-memory", &raw.max_body_memory, "BYTES",
      "Most bytes of request bodies in memory at once, all connections together; an upload "
      "beyond it is answered 503 (max-backup-bytes to 1 TiB)");
  add("sweep-interval", &raw.sweep_interval, "SECONDS",
      "How often expired backups are deleted (60 to 86400)");
  add("key-file", &raw.key_file, "PATH",
      "Server key sealing the stored backups; empty = <data-dir>.key, made on first start");
  add("guess-burst", &raw.guess_burst, "N",
      "Requests that may be guesses (misses, creating PUTs, failed credentials) a client may "
      "make at once; 0 = no guess budget");
  add("guess-refill-per-day", &raw.guess_refill_per_day, "N",
      "Guess budget tokens given back to a client per day");
  add("request-burst", &raw.request_burst, "N",
      "General per-client request budget: burst; 0 = off (with request-rate)");
  add("request-rate", &raw.request_rate, "N",
      "General per-client request budget: requests per second; 0 = off");
  add("throttle-ipv4-prefix", &raw.throttle_ipv4_prefix, "BITS",
      "Clients are told apart by this IPv4 prefix (1 to 32)");
  add("throttle-ipv6-prefix", &raw.throttle_ipv6_prefix, "BITS",
      "Clients are told apart by this IPv6 prefix (1 to 128)");
  add("trusted-proxies", &raw.trusted_proxies, "LIST",
      "Comma-separated reverse proxy addresses or ranges whose X-Forwarded-For is used");
  add("restore-page", &raw.restore_page, "BOOL",
      "Serve the restore page at /restore/ (the backup is decrypted in the browser): on or off");
  add("cors-origins", &raw.cors_origins, "LIST",
      "Comma-separated browser origins (https://host[:port], or *) allowed to call /config and "
      "/backups/* from another origin (CORS); empty = none");
  add("admin-listen", &raw.admin_listen, "HOST:PORT",
      "Admin listener for /metrics, /healthz and /readyz (keep it on loopback)");
  add("admin-token-file", &raw.admin_token_file, "PATH",
      "Token the admin listener requires (Authorization: Bearer); needed off loopback");
  add("checkpoint-dir", &raw.checkpoint_dir, "DIR",
      "Where POST /admin/checkpoint puts its copies; empty = <data-dir>.checkpoints");
  add("access-log", &raw.access_log, "BOOL",
      "Log one line per request (never a backup id): true or false");
  add("log-addresses", &raw.log_addresses, "BOOL",
      "Put the client's address in access log lines: true or false");
  add("block-cache-bytes", &raw.block_cache_bytes, "N", "RocksDB block cache size in bytes");
  add("write-buffer-bytes", &raw.write_buffer_bytes, "N",
      "RocksDB memtable size per column family in bytes");

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

  if (std::optional<KeyError> error = Validate(raw, &result.config)) {
    PrintError(err, *error);
    return result;
  }
  result.action = ConfigParse::Action::kRun;
  result.exit_code = 0;
  return result;
}

}  // namespace safe::server
