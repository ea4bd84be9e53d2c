// safe-client: back up, restore and move a Threema identity with any Threema Safe server.
// Argument parsing only; the commands live in commands.cc. See docs/client.md.

#include <curl/curl.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <string>

#include "safe-client/access.h"
#include "safe-client/commands.h"

#ifndef SAFE_VERSION
#define SAFE_VERSION "0.0.0"
#endif

namespace {

using safe::client::CommonOptions;

void AddServerOptions(CLI::App* cmd, CommonOptions* o) {
  cmd->add_option("--server", o->server,
                  "Server base URL with its scheme, e.g. https://safe.example.org/ (may carry "
                  "user:password@)")
      ->required();
  cmd->add_option("--user", o->user,
                  "User name for the server's Basic authentication (its password: "
                  "--auth-password-file, else asked on the terminal)");
  cmd->add_option("--auth-password-file", o->auth_password_file,
                  "File whose first line is the server password for --user");
  cmd->add_option("--cacert", o->cacert, "PEM file of a private CA to trust for https");
  cmd->add_option("--connect-timeout", o->connect_timeout_seconds,
                  "Seconds to wait for a connection to the server")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  cmd->add_option("--timeout", o->timeout_seconds,
                  "Seconds the server may send nothing before the client gives up")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
}

void AddKeyOptions(CLI::App* cmd, CommonOptions* o) {
  cmd->add_option("--id", o->id, "Threema ID (8 characters)")->required();
  cmd->add_option("--kdf", o->kdf,
                  "Key derivation: scrypt (the Threema apps': use it for any backup an app must "
                  "read or that an app made) or argon2id (the default, stronger, but the apps "
                  "cannot read such a backup)")
      ->check(CLI::IsMember({"scrypt", "argon2id"}))
      ->capture_default_str();
  cmd->add_option("--password-file", o->password_file,
                  "File whose first line is the backup password (else asked on the terminal)");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "safe-client: back up, restore and move a Threema identity with a Threema Safe server"};
  app.set_version_flag("--version", std::string("safe-client ") + SAFE_VERSION);
  app.require_subcommand(1);

  CommonOptions o;
  std::string input, output;
  safe::client::ExportOptions export_options;
  std::string export_text;

  CLI::App* config = app.add_subcommand("config", "Show the server's limits");
  AddServerOptions(config, &o);

  CLI::App* derive = app.add_subcommand("derive", "Print the backup id for an ID and password");
  AddKeyOptions(derive, &o);

  CLI::App* backup = app.add_subcommand("backup", "Encrypt a backup JSON file and upload it");
  AddServerOptions(backup, &o);
  AddKeyOptions(backup, &o);
  backup->add_option("--input", input, "The backup JSON file")->required();
  bool force = false;
  backup->add_flag("--force", force,
                   "Replace the server's backup even if it is not the one this device last saw");

  CLI::App* restore = app.add_subcommand("restore", "Download a backup and decrypt it to a file");
  AddServerOptions(restore, &o);
  AddKeyOptions(restore, &o);
  restore->add_option("--output", output, "Where to write the JSON (mode 0600)")->required();
  uint32_t version = 0;
  restore
      ->add_option("--version", version,
                   "Restore this previous version (1 = the most recently replaced)")
      ->check(CLI::Range(1u, 255u));

  CLI::App* versions =
      app.add_subcommand("versions", "List the previous versions the server keeps of the backup");
  AddServerOptions(versions, &o);
  AddKeyOptions(versions, &o);

  CLI::App* remove = app.add_subcommand("delete", "Delete the backup from the server");
  AddServerOptions(remove, &o);
  AddKeyOptions(remove, &o);

  CLI::App* info = app.add_subcommand("info", "Show what the server stores about the backup");
  AddServerOptions(info, &o);
  AddKeyOptions(info, &o);

  CLI::App* export_id =
      app.add_subcommand("export-id", "Print the encrypted ID export (text, QR code)");
  export_id->add_option("--id", export_options.id, "Threema ID (8 characters)")->required();
  export_id->add_option("--input", export_options.input, "A restored backup JSON file")->required();
  export_id->add_option("--password-file", export_options.password_file,
                        "File whose first line is the export password (else asked twice)");
  CLI::Option* qr = export_id->add_flag("--qr", export_options.qr, "Also print a QR code");
  export_id->add_option("--qr-png", export_options.qr_png, "Also write the QR code as a PNG")
      ->excludes(qr);

  CLI::App* import_id =
      app.add_subcommand("import-id", "Check an ID export and print the ID and public key");
  import_id->add_option("--export", export_text, "The export text (80 characters, dashes allowed)")
      ->required();
  import_id->add_option("--password-file", o.password_file,
                        "File whose first line is the export password");

  // Anonymous access credentials (issue 18): safe-client/access.h.
  safe::client::AccessOptions access_options;
  CLI::App* access =
      app.add_subcommand("access", "Get a server credential paid for without an account");
  access->require_subcommand(1);
  CLI::App* access_request = access->add_subcommand(
      "request", "Make a token and print the blinded request to send to the provider");
  CLI::App* access_finalize = access->add_subcommand(
      "finalize", "Unblind the provider's blind signature (argument or standard input)");
  CLI::App* access_redeem = access->add_subcommand(
      "redeem", "Redeem the token at the server; prints the credential for the app");
  for (CLI::App* cmd : {access_request, access_finalize, access_redeem}) {
    cmd->add_option("--state", access_options.state,
                    "The file that keeps this token between the steps (secret until redeemed)")
        ->required();
  }
  access_request
      ->add_option("--issuer-key", access_options.issuer_key,
                   "The provider's issuer public key (PEM)")
      ->required();
  access_finalize->add_option("--blind-signature", access_options.blind_signature,
                              "The provider's answer (else one line on standard input)");
  access_redeem->add_option("--server", access_options.server, "Server base URL")->required();
  access_redeem->add_option("--cacert", access_options.cacert, "PEM file of a private CA");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }

  curl_global_init(CURL_GLOBAL_DEFAULT);
  safe::Status status;
  if (config->parsed()) {
    status = safe::client::RunConfig(o, std::cout, std::cerr);
  } else if (derive->parsed()) {
    status = safe::client::RunDerive(o, std::cout, std::cerr);
  } else if (backup->parsed()) {
    status = safe::client::RunBackup(o, input, std::cout, std::cerr, force);
  } else if (restore->parsed()) {
    status = safe::client::RunRestore(o, output, std::cout, std::cerr, version);
  } else if (versions->parsed()) {
    status = safe::client::RunVersions(o, std::cout, std::cerr);
  } else if (remove->parsed()) {
    status = safe::client::RunDelete(o, std::cout, std::cerr);
  } else if (info->parsed()) {
    status = safe::client::RunInfo(o, std::cout, std::cerr);
  } else if (export_id->parsed()) {
    status = safe::client::RunExportId(export_options, std::cout, std::cerr);
  } else if (access_request->parsed()) {
    status = safe::client::RunAccessRequest(access_options, std::cout, std::cerr);
  } else if (access_finalize->parsed()) {
    status = safe::client::RunAccessFinalize(access_options, std::cin, std::cout, std::cerr);
  } else if (access_redeem->parsed()) {
    status = safe::client::RunAccessRedeem(access_options, std::cout, std::cerr);
  } else if (import_id->parsed()) {
    status = safe::client::RunImportId(export_text, o.password_file, std::cout, std::cerr);
  }
  curl_global_cleanup();
  if (!status.ok()) {
    std::cerr << "safe-client: " << status.message() << std::endl;
    return 1;
  }
  return 0;
}
