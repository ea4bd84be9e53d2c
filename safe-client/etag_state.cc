#include "safe-client/etag_state.h"

#include <sodium.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "safe-client/files.h"

namespace safe::client {
namespace {

std::string KeyFor(const std::string& server_base, const BackupId& id) {
  std::string input = server_base;
  input.push_back('\0');
  input.append(id.AsStringView());
  unsigned char hash[16];
  crypto_generichash(hash, sizeof hash, reinterpret_cast<const unsigned char*>(input.data()),
                     input.size(), nullptr, 0);
  char hex[2 * sizeof hash + 1];
  sodium_bin2hex(hex, sizeof hex, hash, sizeof hash);
  return std::string(hex, 2 * sizeof hash);
}

// The file's lines as key -> etag. A missing file is an empty map.
Result<std::map<std::string, std::string>> ReadLines(const std::string& path) {
  std::map<std::string, std::string> lines;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec) && !ec) return lines;
  std::ifstream f(path);
  if (!f) return Status::IOError(path + ": cannot read the ETag file");
  std::string line;
  int number = 0;
  while (std::getline(f, line)) {
    ++number;
    if (line.empty()) continue;
    std::istringstream fields(line);
    std::string key, etag, rest;
    if (!(fields >> key >> etag) || (fields >> rest) || key.size() != 32) {
      return Status::InvalidArgument(path + ": line " + std::to_string(number) +
                                     " is not `<key> <etag>`; delete the file to start afresh "
                                     "(the next backup then needs --force)");
    }
    lines[key] = etag;
  }
  return lines;
}

}  // namespace

std::string EtagStatePath(const std::string& json_path) { return json_path + ".etag"; }

Result<std::optional<std::string>> LoadEtag(const std::string& path, const std::string& server_base,
                                            const BackupId& id) {
  Result<std::map<std::string, std::string>> lines = ReadLines(path);
  if (!lines.ok()) return lines.status();
  auto it = lines->find(KeyFor(server_base, id));
  if (it == lines->end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second);
}

Status SaveEtag(const std::string& path, const std::string& server_base, const BackupId& id,
                const std::string& etag) {
  Result<std::map<std::string, std::string>> lines = ReadLines(path);
  if (!lines.ok()) return lines.status();
  const std::string key = KeyFor(server_base, id);
  if (etag.empty()) {
    lines->erase(key);
  } else {
    (*lines)[key] = etag;
  }
  std::string text;
  for (const auto& [k, v] : *lines) text += k + " " + v + "\n";
  return WriteFileAtomically(path, text.data(), text.size(), 0600);
}

}  // namespace safe::client
