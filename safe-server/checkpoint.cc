#include "safe-server/checkpoint.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "safe-server/log.h"
#include "safe-server/server_key.h"

namespace safe::server {

namespace {
namespace fs = std::filesystem;

Status ChmodOrError(const fs::path& path, mode_t mode) {
  if (::chmod(path.c_str(), mode) != 0) {
    return Status::IOError("chmod " + path.string() + ": " + std::strerror(errno));
  }
  return Status::OK();
}
}  // namespace

Status RestrictToOwner(const std::string& root) {
  std::error_code ec;
  if (Status s = ChmodOrError(root, 0700); !s.ok()) return s;
  for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    const bool dir = it->is_directory(ec) && !it->is_symlink(ec);
    if (Status s = ChmodOrError(it->path(), dir ? 0700 : 0600); !s.ok()) return s;
  }
  if (ec) return Status::IOError("listing " + root + ": " + ec.message());
  return Status::OK();
}

Result<std::string> MakeCheckpoint(storage::RocksDbStore& engine, const std::string& data_dir,
                                   const std::string& parent) {
  std::error_code ec;
  if (!fs::exists(parent, ec)) {
    fs::create_directories(parent, ec);
    if (ec) return Status::IOError("creating " + parent + ": " + ec.message());
    if (Status s = ChmodOrError(parent, 0700); !s.ok()) return s;
  }
  char stamp[32];
  time_t now = time(nullptr);
  struct tm tm_utc;
  gmtime_r(&now, &tm_utc);
  strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm_utc);
  std::string dir = parent + "/checkpoint-" + stamp;
  for (int n = 2; fs::exists(dir); ++n) {
    dir = parent + "/checkpoint-" + stamp + "-" + std::to_string(n);
  }
  Status s = engine.Checkpoint(dir);
  if (!s.ok()) return s;
  fs::copy_file(data_dir + "/" + kKeyCheckFileName, dir + "/" + kKeyCheckFileName, ec);
  if (ec) return Status::IOError("copying " + std::string(kKeyCheckFileName) + ": " + ec.message());
  if (Status modes = RestrictToOwner(dir); !modes.ok()) return modes;
  LogInfo("checkpoint written to " + dir);
  return dir;
}

}  // namespace safe::server
