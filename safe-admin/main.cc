// safe-admin: the operator's tool for a safe-server data directory. Argument parsing only; the
// commands live in commands.cc (see commands.h for what may run while the server runs).
// Exit status: 0 done, 1 failed (verify: a bad record), 2 bad command line.

#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <cstdint>
#include <iostream>
#include <string>

#include "common/clock.h"
#include "safe-admin/access_keys.h"
#include "safe-admin/commands.h"

#ifndef SAFE_VERSION
#define SAFE_VERSION "0.0.0"
#endif

namespace {

constexpr uint32_t kMaxRetentionDays = 3650;  // as safe-server's retention-days

CLI::Option* AddDataDir(CLI::App* cmd, std::string* data_dir) {
  return cmd
      ->add_option("--data-dir", *data_dir,
                   "The server's data directory (the systemd unit uses /var/lib/safe-server/data)")
      ->required();
}

CLI::Option* AddRetention(CLI::App* cmd, uint32_t* days) {
  return cmd
      ->add_option("--retention-days", *days,
                   "The server's retention-days (a backup not uploaded again within this many "
                   "days is deleted)")
      ->check(CLI::Range(1u, kMaxRetentionDays))
      ->capture_default_str();
}

}  // namespace

int main(int argc, char** argv) {
  // What the commands create in a data directory or a copy is private whatever the caller's
  // umask: files 0600, directories 0700, as the unit's UMask=0077 makes the server's own. (Run
  // as root, they are then also given to the data directory's owner: commands.h.)
  ::umask(077);
  CLI::App app{"safe-admin: look after a safe-server data directory"};
  app.set_version_flag("--version", std::string("safe-admin ") + SAFE_VERSION);
  app.require_subcommand(1);
  safe::SystemClock clock;

  safe::admin::StatsOptions stats_options;
  stats_options.clock = &clock;
  CLI::App* stats =
      app.add_subcommand("stats",
                         "Count backups and bytes, backups expiring soon, and RocksDB's figures "
                         "(read-only; works while the server runs)");
  AddDataDir(stats, &stats_options.data_dir);
  stats->add_option("--key-file", stats_options.key_file,
                    "Also check this server key against the data directory");
  AddRetention(stats, &stats_options.retention_days);

  safe::admin::CheckpointOptions checkpoint_options;
  CLI::App* checkpoint =
      app.add_subcommand("checkpoint",
                         "Write a consistent copy of the database to a new directory (server "
                         "stopped; a running server makes one through its admin listener)");
  AddDataDir(checkpoint, &checkpoint_options.data_dir);
  checkpoint->add_option("OUT_DIR", checkpoint_options.out_dir, "The new directory")->required();

  safe::admin::RestoreOptions restore_options;
  CLI::App* restore = app.add_subcommand(
      "restore", "Put a checkpoint in place as the data directory (server stopped)");
  restore->add_option("--from", restore_options.from, "The checkpoint directory")->required();
  AddDataDir(restore, &restore_options.data_dir);
  restore->add_flag("--force", restore_options.force,
                    "Replace a data directory that holds anything (it is kept, renamed)");

  safe::admin::VerifyOptions verify_options;
  CLI::App* verify = app.add_subcommand(
      "verify",
      "Read every record and check it; exit status 1 if any is bad (server stopped, "
      "or run it on a checkpoint)");
  AddDataDir(verify, &verify_options.data_dir);
  verify->add_option("--key-file", verify_options.key_file,
                     "The server key (default: <data-dir>.key, as the server)");

  safe::admin::ExpireOptions expire_options;
  expire_options.clock = &clock;
  CLI::App* expire = app.add_subcommand(
      "expire",
      "Delete the backups whose retention has run out (server stopped; --dry-run "
      "only counts them and works while it runs)");
  AddDataDir(expire, &expire_options.data_dir);
  AddRetention(expire, &expire_options.retention_days);
  expire->add_flag("--dry-run", expire_options.dry_run, "Only count what would be deleted today");

  safe::admin::HashPasswordOptions hash_options;
  CLI::App* hash =
      app.add_subcommand("hash-password",
                         "Print an htpasswd line with an Argon2id hash; the password is typed "
                         "twice without echo, or read as one line from standard input");
  hash->add_option("--user", hash_options.user,
                   "The user name of the line (without it, the hash alone is printed)");

  CLI::App* make_token =
      app.add_subcommand("make-token",
                         "Print a new token for token authentication (Threema OnPrem) and its line "
                         "for the server's tokens file");

  // Anonymous access credentials (issue 18): issuer keys and issuing (safe-admin/access_keys.h).
  safe::admin::AccessKeyOptions access_options;
  access_options.clock = &clock;
  CLI::App* access_key = app.add_subcommand(
      "access-key", "Manage the issuer keys of anonymous access credentials (new, list, retire)");
  access_key->require_subcommand(1);
  auto add_key_dir = [&access_options](CLI::App* cmd) {
    cmd->add_option("--dir", access_options.dir,
                    "The issuer key directory (issuer-keys list, .pem public and .key private "
                    "keys)")
        ->required();
  };
  CLI::App* key_new =
      access_key->add_subcommand("new", "Make a new issuer key and add it to the list");
  add_key_dir(key_new);
  key_new->add_option("--days", access_options.days,
                      "Its tokens are redeemed through today + this many days")
      ->check(CLI::Range(1u, 3650u))
      ->capture_default_str();
  key_new->add_option("--bits", access_options.bits, "RSA modulus size: 2048, 3072 or 4096")
      ->check(CLI::IsMember({2048, 3072, 4096}))
      ->capture_default_str();
  CLI::App* key_list = access_key->add_subcommand("list", "List the issuer keys");
  add_key_dir(key_list);
  CLI::App* key_retire = access_key->add_subcommand(
      "retire", "Delete a key's private key (stop issuing with it); --remove also lists it no more");
  add_key_dir(key_retire);
  key_retire->add_option("ID", access_options.id, "The key's id as list shows it")->required();
  key_retire->add_flag("--remove", access_options.remove,
                       "Also take it off the list: the server refuses its tokens after a reload");
  CLI::App* issue = app.add_subcommand(
      "issue",
      "Blind-sign one issue request read from standard input (for the payment system); prints "
      "the blind signature");
  add_key_dir(issue);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }

  if (stats->parsed()) return safe::admin::RunStats(stats_options, std::cout, std::cerr);
  if (checkpoint->parsed()) {
    return safe::admin::RunCheckpoint(checkpoint_options, std::cout, std::cerr);
  }
  if (restore->parsed()) return safe::admin::RunRestore(restore_options, std::cout, std::cerr);
  if (verify->parsed()) return safe::admin::RunVerify(verify_options, std::cout, std::cerr);
  if (expire->parsed()) return safe::admin::RunExpire(expire_options, std::cout, std::cerr);
  if (hash->parsed()) return safe::admin::RunHashPassword(hash_options, std::cout, std::cerr);
  if (make_token->parsed()) return safe::admin::RunMakeToken(std::cout);
  if (key_new->parsed()) return safe::admin::RunAccessKeyNew(access_options, std::cout, std::cerr);
  if (key_list->parsed()) return safe::admin::RunAccessKeyList(access_options, std::cout, std::cerr);
  if (key_retire->parsed()) {
    return safe::admin::RunAccessKeyRetire(access_options, std::cout, std::cerr);
  }
  if (issue->parsed()) return safe::admin::RunIssue(access_options, std::cin, std::cout, std::cerr);
  return 2;  // require_subcommand(1) makes this unreachable
}
