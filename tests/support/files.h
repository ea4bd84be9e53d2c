// Test support: a temporary directory that removes itself, and whole-file reads and writes.
//
// Thread-safety: a TempDir is used by one thread; the functions may be called from any thread.

#pragma once

#include <sys/types.h>

#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace safe::testing {

// A directory under $TMPDIR (or /tmp), removed with its contents on destruction. Aborts when it
// cannot be made: no test can run without it.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The whole contents of the file at path; "" when it cannot be read.
std::string ReadFile(const std::string& path);

// Writes contents to path, replacing it. False on failure.
[[nodiscard]] bool WriteFile(const std::string& path, std::string_view contents);
// The same, then chmod(path, mode). False on failure.
[[nodiscard]] bool WriteFile(const std::string& path, std::string_view contents, mode_t mode);

// The names in dir, without "." and ".."; empty when dir cannot be read.
std::set<std::string> ListDir(const std::string& dir);

// The paths of the regular files below dir, in every subdirectory (symbolic links are not
// followed).
std::vector<std::string> FilesUnder(const std::string& dir);

}  // namespace safe::testing
