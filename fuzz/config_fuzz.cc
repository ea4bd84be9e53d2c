// Fuzzes safe::server::ParseServerConfig (safe-server/config.h) with the input as the --config
// file: CLI11's file reader, then our validation of every key.
//
// The input is written to one temporary file made at the first call and reused (truncated) for
// every input; it is removed when the process exits. Invariants: never a crash or an exception
// out of ParseServerConfig; the exit code is 0 (run, or help/version) or 2; a 2 comes with exactly
// one line on err (the `safe-server: <key>: <what>` form) and nothing else; a run writes nothing.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>

#include "fuzz/fuzz_check.h"
#include "safe-server/config.h"

namespace {

std::string* config_path = nullptr;

void RemoveConfigFile() {
  if (config_path != nullptr) unlink(config_path->c_str());
}

const std::string& ConfigPath() {
  if (config_path == nullptr) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern =
        std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/safe-config-fuzz-XXXXXX";
    int fd = mkstemp(pattern.data());
    FUZZ_CHECK(fd >= 0, "cannot make the temporary config file");
    close(fd);
    config_path = new std::string(pattern);
    std::atexit(RemoveConfigFile);
  }
  return *config_path;
}

void WriteConfig(const uint8_t* data, size_t size) {
  FILE* f = std::fopen(ConfigPath().c_str(), "wb");
  FUZZ_CHECK(f != nullptr, "cannot open the temporary config file");
  FUZZ_CHECK(size == 0 || std::fwrite(data, 1, size, f) == size, "short write");
  FUZZ_CHECK(std::fclose(f) == 0, "cannot close the temporary config file");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  WriteConfig(data, size);
  const char* argv[] = {"safe-server", "--config", ConfigPath().c_str(), nullptr};
  std::ostringstream out;
  std::ostringstream err;
  safe::server::ConfigParse parse = safe::server::ParseServerConfig(3, argv, out, err);

  using Action = safe::server::ConfigParse::Action;
  const std::string error = err.str();
  FUZZ_CHECK(parse.exit_code == 0 || parse.exit_code == 2, "exit code is 0 or 2");
  if (parse.action == Action::kRun) {
    FUZZ_CHECK(parse.exit_code == 0, "a run exits 0");
    FUZZ_CHECK(error.empty() && out.str().empty(), "a valid config prints nothing");
  }
  if (parse.exit_code == 2) {
    FUZZ_CHECK(parse.action == Action::kExit, "an error stops the server");
    FUZZ_CHECK(!error.empty() && error.back() == '\n', "the error is a whole line");
    FUZZ_CHECK(error.find('\n') == error.size() - 1 && error.find('\r') == std::string::npos,
               "the error is exactly one line");
    FUZZ_CHECK(error.rfind("safe-server: ", 0) == 0, "the error starts with the program name");
    FUZZ_CHECK(out.str().empty(), "an error prints nothing on out");
  } else {
    FUZZ_CHECK(error.empty(), "nothing on err without an error");
  }
  return 0;
}
