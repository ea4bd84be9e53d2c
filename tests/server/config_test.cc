#include "safe-server/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/files.h"

namespace safe::server {
namespace {

struct Outcome {
  ConfigParse parse;
  std::string out;
  std::string err;
};

Outcome Parse(const std::vector<std::string>& args) {
  std::vector<const char*> argv = {"safe-server"};
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  std::ostringstream out;
  std::ostringstream err;
  Outcome outcome;
  outcome.parse = ParseServerConfig(static_cast<int>(argv.size()), argv.data(), out, err);
  outcome.out = out.str();
  outcome.err = err.str();
  return outcome;
}

// Every key of the config file, in the order of --help: each flag --help lists but --config,
// --help and --version. Read from --help, so that it is the table of config.cc and never a list
// kept by hand here; conf/safe-server.conf and the man pages are checked against it.
std::vector<std::string> AllKeys() {
  std::istringstream help(Parse({"--help"}).out);
  std::vector<std::string> keys;
  std::string line;
  while (std::getline(help, line)) {
    // "  --listen HOST:PORT=127.0.0.1:8080   Address to listen on: ..."
    const std::string kIndent = "  --";
    if (line.compare(0, kIndent.size(), kIndent) != 0) continue;
    std::string key =
        line.substr(kIndent.size(), line.find_first_of(" =", kIndent.size()) - kIndent.size());
    if (key != "config" && key != "version") keys.push_back(key);
  }
  return keys;
}

// A man page of docs/man as text, with troff's "\-" read as "-".
std::string ManPage(const std::string& name) {
  std::ifstream file(std::string(SAFE_SOURCE_DIR) + "/docs/man/" + name);
  EXPECT_TRUE(file.good()) << name;
  std::ostringstream text;
  text << file.rdbuf();
  std::string page = text.str();
  for (size_t at = page.find("\\-"); at != std::string::npos; at = page.find("\\-", at)) {
    page.erase(at, 1);
  }
  return page;
}

void ExpectSameConfig(const ServerConfig& a, const ServerConfig& b) {
  EXPECT_EQ(a.listen_host, b.listen_host);
  EXPECT_EQ(a.listen_port, b.listen_port);
  EXPECT_EQ(a.data_dir, b.data_dir);
  EXPECT_EQ(a.storage, b.storage);
  EXPECT_EQ(a.rados_conf, b.rados_conf);
  EXPECT_EQ(a.rados_pool, b.rados_pool);
  EXPECT_EQ(a.rados_user, b.rados_user);
  EXPECT_EQ(a.max_backup_bytes, b.max_backup_bytes);
  EXPECT_EQ(a.retention_days, b.retention_days);
  EXPECT_EQ(a.keep_versions, b.keep_versions);
  EXPECT_EQ(a.htpasswd, b.htpasswd);
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_EQ(a.auth_realm, b.auth_realm);
  EXPECT_EQ(a.access_issuer_key, b.access_issuer_key);
  EXPECT_EQ(a.access_days, b.access_days);
  EXPECT_EQ(a.tls_cert, b.tls_cert);
  EXPECT_EQ(a.tls_key, b.tls_key);
  EXPECT_EQ(a.threads, b.threads);
  EXPECT_EQ(a.header_timeout, b.header_timeout);
  EXPECT_EQ(a.body_timeout, b.body_timeout);
  EXPECT_EQ(a.idle_timeout, b.idle_timeout);
  EXPECT_EQ(a.max_connections, b.max_connections);
  EXPECT_EQ(a.max_header_bytes, b.max_header_bytes);
  EXPECT_EQ(a.max_body_memory, b.max_body_memory);
  EXPECT_EQ(a.sweep_interval, b.sweep_interval);
  EXPECT_EQ(a.key_file, b.key_file);
  EXPECT_EQ(a.guess_burst, b.guess_burst);
  EXPECT_EQ(a.guess_refill_per_day, b.guess_refill_per_day);
  EXPECT_EQ(a.request_burst, b.request_burst);
  EXPECT_EQ(a.request_rate, b.request_rate);
  EXPECT_EQ(a.throttle_ipv4_prefix, b.throttle_ipv4_prefix);
  EXPECT_EQ(a.throttle_ipv6_prefix, b.throttle_ipv6_prefix);
  EXPECT_EQ(a.trusted_proxies, b.trusted_proxies);
  EXPECT_EQ(a.restore_page, b.restore_page);
  EXPECT_EQ(a.cors_origins, b.cors_origins);
  EXPECT_EQ(a.admin_listen_host, b.admin_listen_host);
  EXPECT_EQ(a.admin_listen_port, b.admin_listen_port);
  EXPECT_EQ(a.admin_token_file, b.admin_token_file);
  EXPECT_EQ(a.checkpoint_dir, b.checkpoint_dir);
  EXPECT_EQ(a.access_log, b.access_log);
  EXPECT_EQ(a.log_addresses, b.log_addresses);
  EXPECT_EQ(a.block_cache_bytes, b.block_cache_bytes);
  EXPECT_EQ(a.write_buffer_bytes, b.write_buffer_bytes);
}

// Asserts that outcome is a refusal: exit 2, nothing on out, and exactly one line on err that
// names key.
void ExpectRefused(const Outcome& outcome, const std::string& key) {
  EXPECT_EQ(outcome.parse.action, ConfigParse::Action::kExit);
  EXPECT_EQ(outcome.parse.exit_code, 2);
  EXPECT_EQ(outcome.out, "");
  const std::string prefix = "safe-server: " + key + ": ";
  EXPECT_EQ(outcome.err.compare(0, prefix.size(), prefix), 0) << outcome.err;
  ASSERT_FALSE(outcome.err.empty());
  EXPECT_EQ(outcome.err.back(), '\n');
  EXPECT_EQ(outcome.err.find('\n'), outcome.err.size() - 1)
      << "more than one line: " << outcome.err;
  EXPECT_GT(outcome.err.size(), prefix.size() + 1) << "says nothing about what is wrong";
}

class ConfigTest : public ::testing::Test {
 protected:
  // Writes contents to a file in the temporary directory and returns its path.
  std::string WriteFile(const std::string& name, const std::string& contents) {
    std::string path = dir_ + "/" + name;
    std::ofstream file(path, std::ios::binary);
    file << contents;
    file.close();
    EXPECT_TRUE(file.good());
    return path;
  }

  safe::testing::TempDir tmp_;
  const std::string dir_ = tmp_.path();
};

// Found by fuzz/config_fuzz: the bad item of trusted-proxies reached the error line raw.
TEST_F(ConfigTest, TrustedProxiesErrorEscapesControlBytes) {
  Outcome o = Parse({"--trusted-proxies", std::string("x\ny\r\x1b[2J")});
  EXPECT_EQ(o.parse.exit_code, 2);
  EXPECT_EQ(o.err.find('\n'), o.err.size() - 1) << o.err;  // one line
  EXPECT_EQ(o.err.find('\r'), std::string::npos);
  EXPECT_EQ(o.err.find('\x1b'), std::string::npos);
  EXPECT_EQ(o.err.rfind("safe-server: trusted-proxies: ", 0), 0u) << o.err;
}

TEST_F(ConfigTest, NoArgumentsGiveTheDefaults) {
  Outcome outcome = Parse({});
  EXPECT_EQ(outcome.parse.action, ConfigParse::Action::kRun);
  EXPECT_EQ(outcome.parse.exit_code, 0);
  EXPECT_EQ(outcome.out, "");
  EXPECT_EQ(outcome.err, "");
  ExpectSameConfig(outcome.parse.config, ServerConfig{});
  // The defaults the issue names.
  EXPECT_EQ(outcome.parse.config.listen_host, "127.0.0.1");
  EXPECT_EQ(outcome.parse.config.max_backup_bytes, 524288u);
  EXPECT_EQ(outcome.parse.config.retention_days, 180u);
  EXPECT_EQ(outcome.parse.config.threads, 4);
}

TEST_F(ConfigTest, ReadsEveryKeyFromTheFile) {
  std::string cert = WriteFile("cert.pem", "cert");
  std::string key = WriteFile("key.pem", "key");
  std::string htpasswd = WriteFile("htpasswd", "");
  std::string conf = WriteFile("safe-server.conf",
                               "# a comment\n"
                               "\n"
                               "listen = 0.0.0.0:9443\n"
                               "data-dir = /srv/safe data\n"
                               "max-backup-bytes = 1000\n"
                               "retention-days = 30   # a trailing comment\n"
                               "htpasswd = " +
                                   htpasswd +
                                   "\n"
                                   "auth-realm = \"My Safe, at home\"\n"
                                   "tls-cert = " +
                                   cert +
                                   "\n"
                                   "tls-key = " +
                                   key +
                                   "\n"
                                   "threads = 8\n"
                                   "header-timeout = 5\n"
                                   "body-timeout = 20\n"
                                   "idle-timeout = 30\n"
                                   "max-connections = 100\n"
                                   "max-header-bytes = 4096\n"
                                   "max-body-memory = 1000000\n"
                                   "sweep-interval = 600\n");
  Outcome outcome = Parse({"--config", conf});
  ASSERT_EQ(outcome.parse.action, ConfigParse::Action::kRun) << outcome.err;
  EXPECT_EQ(outcome.err, "");
  const ServerConfig& c = outcome.parse.config;
  EXPECT_EQ(c.listen_host, "0.0.0.0");
  EXPECT_EQ(c.listen_port, 9443);
  EXPECT_EQ(c.data_dir, "/srv/safe data");
  EXPECT_EQ(c.max_backup_bytes, 1000u);
  EXPECT_EQ(c.retention_days, 30u);
  EXPECT_EQ(c.htpasswd, htpasswd);
  EXPECT_EQ(c.auth_realm, "My Safe, at home");
  EXPECT_EQ(c.tls_cert, cert);
  EXPECT_EQ(c.tls_key, key);
  EXPECT_EQ(c.threads, 8);
  EXPECT_EQ(c.header_timeout, std::chrono::seconds(5));
  EXPECT_EQ(c.body_timeout, std::chrono::seconds(20));
  EXPECT_EQ(c.idle_timeout, std::chrono::seconds(30));
  EXPECT_EQ(c.max_connections, 100u);
  EXPECT_EQ(c.max_header_bytes, 4096u);
  EXPECT_EQ(c.max_body_memory, 1000000u);
  EXPECT_EQ(c.sweep_interval, std::chrono::seconds(600));
}

// Issue 17: the restore page is on unless turned off; CORS origins are kept as browsers send
// them, and a path or a default port (which no Origin header carries) is refused.
TEST_F(ConfigTest, RestorePageAndCorsOrigins) {
  Outcome defaults = Parse({});
  ASSERT_EQ(defaults.parse.action, ConfigParse::Action::kRun) << defaults.err;
  EXPECT_TRUE(defaults.parse.config.restore_page);
  EXPECT_TRUE(defaults.parse.config.cors_origins.empty());

  Outcome set = Parse({"--restore-page", "off", "--cors-origins",
                       "https://App.Example.org, http://localhost:5173/,*"});
  ASSERT_EQ(set.parse.action, ConfigParse::Action::kRun) << set.err;
  EXPECT_FALSE(set.parse.config.restore_page);
  EXPECT_EQ(set.parse.config.cors_origins,
            (std::vector<std::string>{"https://app.example.org", "http://localhost:5173", "*"}));

  ExpectRefused(Parse({"--restore-page", "maybe"}), "restore-page");
  ExpectRefused(Parse({"--cors-origins", "https://a.example/path"}), "cors-origins");
  ExpectRefused(Parse({"--cors-origins", "a.example"}), "cors-origins");
  ExpectRefused(Parse({"--cors-origins", "https://a.example:443"}), "cors-origins");
  ExpectRefused(Parse({"--cors-origins", "https://a.example\r\nX: y"}), "cors-origins");
}

TEST_F(ConfigTest, KeepsUnquotedValuesWhole) {
  // CLI11's TOML reader would split these at ',' or ' ' or read '[' as an array.
  std::string conf = WriteFile("c.conf",
                               "listen = [::1]:9000\n"
                               "auth-realm = My Safe, at home\n"
                               "threads = 2\n");
  Outcome outcome = Parse({"--config", conf});
  ASSERT_EQ(outcome.parse.action, ConfigParse::Action::kRun) << outcome.err;
  EXPECT_EQ(outcome.parse.config.listen_host, "::1");
  EXPECT_EQ(outcome.parse.config.listen_port, 9000);
  EXPECT_EQ(outcome.parse.config.auth_realm, "My Safe, at home");
  EXPECT_EQ(outcome.parse.config.threads, 2);
}

TEST_F(ConfigTest, FlagsOverrideTheFile) {
  std::string conf = WriteFile("c.conf",
                               "threads = 8\n"
                               "retention-days = 30\n"
                               "data-dir = from-file\n");
  Outcome outcome =
      Parse({"--threads", "2", "--config", conf, "--data-dir=from-flag", "--listen", "[::]:0"});
  ASSERT_EQ(outcome.parse.action, ConfigParse::Action::kRun) << outcome.err;
  EXPECT_EQ(outcome.parse.config.threads, 2);
  EXPECT_EQ(outcome.parse.config.data_dir, "from-flag");
  EXPECT_EQ(outcome.parse.config.retention_days, 30u);  // not overridden
  EXPECT_EQ(outcome.parse.config.listen_host, "::");
  EXPECT_EQ(outcome.parse.config.listen_port, 0);
}

TEST_F(ConfigTest, AnEmptyFlagClearsAFileSetting) {
  std::string htpasswd = WriteFile("htpasswd", "");
  std::string conf = WriteFile("c.conf", "htpasswd = " + htpasswd + "\n");
  Outcome outcome = Parse({"--config", conf, "--htpasswd", ""});
  ASSERT_EQ(outcome.parse.action, ConfigParse::Action::kRun) << outcome.err;
  EXPECT_EQ(outcome.parse.config.htpasswd, "");
}

TEST_F(ConfigTest, TheLastOfRepeatedFlagsWins) {
  Outcome outcome = Parse({"--threads", "2", "--threads", "3"});
  ASSERT_EQ(outcome.parse.action, ConfigParse::Action::kRun) << outcome.err;
  EXPECT_EQ(outcome.parse.config.threads, 3);
}

TEST_F(ConfigTest, AcceptsTheListenForms) {
  struct Case {
    std::string listen;
    std::string host;
    uint16_t port;
  };
  const std::vector<Case> cases = {
      {"127.0.0.1:8080", "127.0.0.1", 8080},
      {"0.0.0.0:65535", "0.0.0.0", 65535},
      {"[::1]:8080", "::1", 8080},
      {"[::]:443", "::", 443},
      {"[2001:db8::7]:1", "2001:db8::7", 1},
      {"localhost:0", "localhost", 0},
      {"safe.example.org:8443", "safe.example.org", 8443},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.listen);
    Outcome outcome = Parse({"--listen", c.listen});
    ASSERT_EQ(outcome.parse.action, ConfigParse::Action::kRun) << outcome.err;
    EXPECT_EQ(outcome.parse.config.listen_host, c.host);
    EXPECT_EQ(outcome.parse.config.listen_port, c.port);
  }
}

TEST_F(ConfigTest, AcceptsTheBoundsOfEveryNumber) {
  Outcome low = Parse({"--max-backup-bytes", "1", "--retention-days", "1", "--threads", "1",
                       "--header-timeout", "1", "--body-timeout", "1", "--idle-timeout", "1",
                       "--max-connections", "1", "--sweep-interval", "60"});
  ASSERT_EQ(low.parse.action, ConfigParse::Action::kRun) << low.err;
  EXPECT_EQ(low.parse.config.max_backup_bytes, 1u);
  EXPECT_EQ(low.parse.config.sweep_interval, std::chrono::seconds(60));
  Outcome high =
      // max-body-memory must hold one upload of the largest size (16 MiB by default).
      Parse({"--max-backup-bytes", "67108864", "--max-body-memory", "67108864", "--retention-days",
             "3650", "--threads", "64", "--header-timeout", "3600", "--body-timeout", "3600",
             "--idle-timeout", "3600", "--max-connections", "1000000", "--sweep-interval",
             "86400"});
  ASSERT_EQ(high.parse.action, ConfigParse::Action::kRun) << high.err;
  EXPECT_EQ(high.parse.config.max_backup_bytes, 67108864u);
  EXPECT_EQ(high.parse.config.retention_days, 3650u);
  EXPECT_EQ(high.parse.config.threads, 64);
  EXPECT_EQ(high.parse.config.max_connections, 1000000u);
  EXPECT_EQ(high.parse.config.sweep_interval, std::chrono::seconds(86400));
}

TEST_F(ConfigTest, RefusesEveryBadValueWithOneLineNamingTheKey) {
  std::string cert = WriteFile("cert.pem", "cert");
  std::string key = WriteFile("key.pem", "key");
  std::string missing = dir_ + "/missing.pem";
  struct Case {
    std::vector<std::string> args;
    std::string key;
  };
  const std::vector<Case> cases = {
      // Numbers: not a number, out of range, signs, spaces, suffixes, overflow.
      {{"--max-backup-bytes", "abc"}, "max-backup-bytes"},
      {{"--max-backup-bytes", "0"}, "max-backup-bytes"},
      {{"--max-backup-bytes", "67108865"}, "max-backup-bytes"},
      {{"--max-backup-bytes", "-5"}, "max-backup-bytes"},
      {{"--max-backup-bytes", "+5"}, "max-backup-bytes"},
      {{"--max-backup-bytes", " 5"}, "max-backup-bytes"},
      {{"--max-backup-bytes", "5k"}, "max-backup-bytes"},
      {{"--max-backup-bytes", "1e3"}, "max-backup-bytes"},
      {{"--max-backup-bytes", ""}, "max-backup-bytes"},
      {{"--max-backup-bytes", "18446744073709551616"}, "max-backup-bytes"},
      {{"--retention-days", "0"}, "retention-days"},
      {{"--retention-days", "3651"}, "retention-days"},
      {{"--threads", "0"}, "threads"},
      {{"--threads", "65"}, "threads"},
      {{"--threads", "4.5"}, "threads"},
      {{"--header-timeout", "0"}, "header-timeout"},
      {{"--header-timeout", "3601"}, "header-timeout"},
      {{"--body-timeout", "0"}, "body-timeout"},
      {{"--body-timeout", "10s"}, "body-timeout"},
      {{"--idle-timeout", "3601"}, "idle-timeout"},
      {{"--max-connections", "0"}, "max-connections"},
      {{"--max-connections", "1000001"}, "max-connections"},
      {{"--max-header-bytes", "1023"}, "max-header-bytes"},
      {{"--max-header-bytes", "81921"}, "max-header-bytes"},
      {{"--max-header-bytes", "16k"}, "max-header-bytes"},
      {{"--max-body-memory", "0"}, "max-body-memory"},
      {{"--max-body-memory", "524287"}, "max-body-memory"},  // below max-backup-bytes
      {{"--max-backup-bytes", "2000", "--max-body-memory", "1999"}, "max-body-memory"},
      {{"--max-body-memory", "1099511627777"}, "max-body-memory"},
      // Budgets, prefixes, proxies, switches, engine sizes.
      {{"--guess-burst", "-1"}, "guess-burst"},
      {{"--guess-burst", "1000001"}, "guess-burst"},
      {{"--guess-refill-per-day", "100000001"}, "guess-refill-per-day"},
      {{"--guess-refill-per-day", "ten"}, "guess-refill-per-day"},
      {{"--request-burst", "10"}, "request-rate"},
      {{"--request-rate", "10"}, "request-burst"},
      {{"--request-burst", "1000001", "--request-rate", "1"}, "request-burst"},
      {{"--request-burst", "1", "--request-rate", "1000001"}, "request-rate"},
      {{"--throttle-ipv4-prefix", "0"}, "throttle-ipv4-prefix"},
      {{"--throttle-ipv4-prefix", "33"}, "throttle-ipv4-prefix"},
      {{"--throttle-ipv6-prefix", "0"}, "throttle-ipv6-prefix"},
      {{"--throttle-ipv6-prefix", "129"}, "throttle-ipv6-prefix"},
      {{"--trusted-proxies", "10.0.0.0/33"}, "trusted-proxies"},
      {{"--trusted-proxies", "proxy.example"}, "trusted-proxies"},
      {{"--trusted-proxies", "10.0.0.1,junk"}, "trusted-proxies"},
      {{"--access-log", "maybe"}, "access-log"},
      {{"--log-addresses", "2"}, "log-addresses"},
      {{"--block-cache-bytes", "1048575"}, "block-cache-bytes"},
      {{"--write-buffer-bytes", "1048575"}, "write-buffer-bytes"},
      {{"--write-buffer-bytes", "4294967297"}, "write-buffer-bytes"},
      {{"--storage", "leveldb"}, "storage"},
      {{"--storage", "rados"}, "rados-conf"},
      {{"--admin-listen", "127.0.0.1"}, "admin-listen"},
      {{"--sweep-interval", "59"}, "sweep-interval"},
      {{"--sweep-interval", "86401"}, "sweep-interval"},
      // Listen forms.
      {{"--listen", "127.0.0.1"}, "listen"},
      {{"--listen", "127.0.0.1:"}, "listen"},
      {{"--listen", "127.0.0.1:65536"}, "listen"},
      {{"--listen", "127.0.0.1:99999999999999999999"}, "listen"},
      {{"--listen", "127.0.0.1:-1"}, "listen"},
      {{"--listen", "127.0.0.1:80x"}, "listen"},
      {{"--listen", ":8080"}, "listen"},
      {{"--listen", "::1:8080"}, "listen"},
      {{"--listen", "[::1]"}, "listen"},
      {{"--listen", "[::1]8080"}, "listen"},
      {{"--listen", "[::1:8080"}, "listen"},
      {{"--listen", "[zz]:8080"}, "listen"},
      {{"--listen", "[127.0.0.1]:8080"}, "listen"},
      {{"--listen", "bad_host:8080"}, "listen"},
      {{"--listen", "-bad.example:8080"}, "listen"},
      {{"--listen", "a..b:8080"}, "listen"},
      {{"--listen", ""}, "listen"},
      // Paths and text.
      {{"--data-dir", ""}, "data-dir"},
      {{"--auth-realm", ""}, "auth-realm"},
      {{"--auth-realm", "say \"hi\""}, "auth-realm"},
      {{"--auth-realm", "back\\slash"}, "auth-realm"},
      {{"--auth-realm", "new\nline"}, "auth-realm"},
      {{"--htpasswd", missing}, "htpasswd"},
      {{"--htpasswd", dir_}, "htpasswd"},
      // TLS: both or neither, and both readable files.
      {{"--tls-cert", cert}, "tls-key"},
      {{"--tls-key", key}, "tls-cert"},
      {{"--tls-cert", missing, "--tls-key", key}, "tls-cert"},
      {{"--tls-cert", cert, "--tls-key", missing}, "tls-key"},
      {{"--tls-cert", dir_, "--tls-key", key}, "tls-cert"},
      // Unknown flags and arguments, missing values.
      {{"--frobnicate"}, "frobnicate"},
      {{"--frobnicate=3"}, "frobnicate"},
      {{"--frobnicate", "3"}, "frobnicate"},
      {{"-x"}, "x"},
      {{"extra"}, "command-line"},
      {{"--threads"}, "threads"},
      {{"--listen", "--threads", "2"}, "listen"},
      {{"--data-dir", "--threads", "2"}, "data-dir"},
      {{"--config"}, "config"},
      {{"--config", missing}, "config"},
      {{"--config", dir_}, "config"},
  };
  for (const Case& c : cases) {
    std::string trace;
    for (const std::string& arg : c.args) trace += "[" + arg + "] ";
    SCOPED_TRACE(trace);
    ExpectRefused(Parse(c.args), c.key);
  }
}

TEST_F(ConfigTest, RefusesEveryBadFileWithOneLineNamingTheKey) {
  struct Case {
    std::string contents;
    std::string key;
  };
  const std::vector<Case> cases = {
      {"frobnicate = 3\n", "frobnicate"},
      {"threads = 4\nfrobnicate = 3\n", "frobnicate"},
      {"just some words\n", "just some words"},
      {"threads = many\n", "threads"},
      {"max-backup-bytes = 67108865\n", "max-backup-bytes"},
      {"listen = 127.0.0.1\n", "listen"},
      {"tls-cert = cert.pem\n", "tls-key"},
      {"[server]\nthreads = 4\n", "server"},
      {"server.threads = 4\n", "server.threads"},
      {"config = other.conf\n", "config"},
      {"version = true\n", "version"},
      {"help = true\n", "help"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.contents);
    std::string conf = WriteFile("bad.conf", c.contents);
    ExpectRefused(Parse({"--config", conf}), c.key);
  }
}

TEST_F(ConfigTest, WritesTheExactMessagesOfTheIssue) {
  EXPECT_EQ(Parse({"--max-backup-bytes", "abc"}).err,
            "safe-server: max-backup-bytes: must be a whole number from 1 to 67108864, got "
            "\"abc\"\n");
  std::string missing = dir_ + "/nonexistent.conf";
  EXPECT_EQ(Parse({"--config", missing}).err,
            "safe-server: config: cannot read \"" + missing + "\": No such file or directory\n");
  std::string cert = WriteFile("cert.pem", "cert");
  EXPECT_EQ(Parse({"--tls-cert", cert}).err,
            "safe-server: tls-key: --tls-cert and --tls-key go together\n");
  std::string conf = WriteFile("c.conf", "frobnicate = 1\n");
  EXPECT_EQ(Parse({"--config", conf}).err, "safe-server: frobnicate: unknown key\n");
  EXPECT_EQ(Parse({"--frobnicate"}).err, "safe-server: frobnicate: unknown flag\n");
  EXPECT_EQ(Parse({"--listen", "127.0.0.1:65536"}).err,
            "safe-server: listen: the port must be a whole number from 0 to 65535, got "
            "\"65536\"\n");
}

TEST_F(ConfigTest, NeverTouchesTheDataDirectory) {
  std::string data_dir = dir_ + "/data";
  Outcome outcome = Parse({"--data-dir", data_dir});
  ASSERT_EQ(outcome.parse.action, ConfigParse::Action::kRun) << outcome.err;
  EXPECT_FALSE(std::filesystem::exists(data_dir));
}

TEST_F(ConfigTest, HelpListsEveryFlagWithItsDefault) {
  Outcome outcome = Parse({"--help"});
  EXPECT_EQ(outcome.parse.action, ConfigParse::Action::kExit);
  EXPECT_EQ(outcome.parse.exit_code, 0);
  EXPECT_EQ(outcome.err, "");
  const std::vector<std::string> keys = AllKeys();
  // Spot checks that AllKeys reads --help as it is laid out: first, last and a middle key.
  ASSERT_FALSE(keys.empty());
  EXPECT_EQ(keys.front(), "listen");
  EXPECT_EQ(keys.back(), "write-buffer-bytes");
  EXPECT_NE(std::find(keys.begin(), keys.end(), "max-backup-bytes"), keys.end());
  for (const std::string& key : keys) {
    // "--key TYPE=default": every setting shows its default ("" for an empty one).
    size_t at = outcome.out.find("--" + key + " ");
    ASSERT_NE(at, std::string::npos) << key;
    std::string line = outcome.out.substr(at, outcome.out.find('\n', at) - at);
    EXPECT_NE(line.find('='), std::string::npos) << key << " shows no default: " << line;
  }
  for (const char* flag : {"--config", "--help", "--version"}) {
    EXPECT_NE(outcome.out.find(flag), std::string::npos) << flag;
  }
  for (const char* default_value : {"127.0.0.1:8080", "=data", "=524288", "=180", "=Safe Server",
                                    "=4", "=10", "=60", "=4096", "=3600"}) {
    EXPECT_NE(outcome.out.find(default_value), std::string::npos) << default_value;
  }
  EXPECT_EQ(Parse({"-h"}).out, outcome.out);
}

TEST_F(ConfigTest, VersionPrintsTheProjectVersion) {
  Outcome outcome = Parse({"--version"});
  EXPECT_EQ(outcome.parse.action, ConfigParse::Action::kExit);
  EXPECT_EQ(outcome.parse.exit_code, 0);
  EXPECT_EQ(outcome.out, std::string("safe-server ") + SAFE_PROJECT_VERSION + "\n");
  EXPECT_EQ(outcome.err, "");
}

// Issue 18: access-days is a bounded number, access-issuer-key a readable file.
TEST_F(ConfigTest, AccessSettingsAreChecked) {
  Outcome days = Parse({"--access-days", "0"});
  EXPECT_EQ(days.parse.exit_code, 2);
  EXPECT_EQ(days.err,
            "safe-server: access-days: must be a whole number from 1 to 3650, got \"0\"\n");
  EXPECT_EQ(Parse({"--access-days", "30"}).parse.config.access_days, 30u);
  Outcome missing = Parse({"--access-issuer-key", "/nonexistent/issuer-keys"});
  EXPECT_EQ(missing.parse.exit_code, 2);
  EXPECT_EQ(missing.err.rfind("safe-server: access-issuer-key: cannot read", 0), 0u) << missing.err;
}

// conf/safe-server.conf is the documented example: it must set every key, to its default, so
// that it can never drift from ServerConfig.
TEST_F(ConfigTest, TheExampleConfigHoldsExactlyTheDefaults) {
  const std::string path = std::string(SAFE_SOURCE_DIR) + "/conf/safe-server.conf";
  Outcome outcome = Parse({"--config", path});
  ASSERT_EQ(outcome.parse.action, ConfigParse::Action::kRun) << outcome.err;
  ExpectSameConfig(outcome.parse.config, ServerConfig{});

  std::ifstream file(path);
  std::string line;
  std::vector<std::string> set_keys;
  while (std::getline(file, line)) {
    size_t eq = line.find('=');
    if (line.empty() || line[0] == '#' || eq == std::string::npos) continue;
    std::string key = line.substr(0, eq);
    while (!key.empty() && key.back() == ' ') key.pop_back();
    set_keys.push_back(key);
  }
  const std::vector<std::string> keys = AllKeys();
  for (const std::string& key : keys) {
    EXPECT_NE(std::find(set_keys.begin(), set_keys.end(), key), set_keys.end())
        << "conf/safe-server.conf does not set " << key;
  }
  EXPECT_EQ(set_keys, keys) << "every key, once, in the order of --help";
}

// A setting is one row of the table in config.cc, plus its documentation: this fails while
// safe-server.conf(5) or safe-server(8) misses a key of the table, or safe-server.conf(5) still
// describes one that is gone. (conf/safe-server.conf: TheExampleConfigHoldsExactlyTheDefaults.)
TEST_F(ConfigTest, EverySettingIsDocumented) {
  const std::vector<std::string> keys = AllKeys();
  ASSERT_FALSE(keys.empty());

  // safe-server.conf(5): an entry per key, the line `.BI key " = VALUE"`.
  std::istringstream conf_page(ManPage("safe-server.conf.5"));
  std::vector<std::string> described;
  std::string line;
  while (std::getline(conf_page, line)) {
    const std::string kEntry = ".BI ";
    size_t end = line.find(" \" = ");
    if (line.compare(0, kEntry.size(), kEntry) != 0 || end == std::string::npos) continue;
    described.push_back(line.substr(kEntry.size(), end - kEntry.size()));
  }
  for (const std::string& key : keys) {
    EXPECT_NE(std::find(described.begin(), described.end(), key), described.end())
        << "docs/man/safe-server.conf.5 has no .BI entry for the key " << key;
  }
  for (const std::string& key : described) {
    EXPECT_NE(std::find(keys.begin(), keys.end(), key), keys.end())
        << "docs/man/safe-server.conf.5 describes " << key << ", which is no setting";
  }

  // safe-server(8): each flag --key, as a whole word (not the start of a longer flag).
  const std::string server_page = ManPage("safe-server.8");
  auto names = [&server_page](const std::string& flag) {
    for (size_t at = server_page.find(flag); at != std::string::npos;
         at = server_page.find(flag, at + 1)) {
      size_t next = at + flag.size();
      char c = next < server_page.size() ? server_page[next] : ' ';
      if (!(isalnum(static_cast<unsigned char>(c)) || c == '-')) return true;
    }
    return false;
  };
  for (const std::string& key : keys) {
    EXPECT_TRUE(names("--" + key)) << "docs/man/safe-server.8 does not document --" << key;
  }
}

}  // namespace
}  // namespace safe::server
