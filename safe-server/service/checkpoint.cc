#include "safe-server/service/checkpoint.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "common/log.h"
#include "safe-server/service/server_key.h"

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
                                   const std::string& parent, storage::RocksDbAccessStore* access) {
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
  // The copy is made inside a fresh directory of mode 0700 and moved into place once its modes
  // are the owner's only: whatever the umask or the parent's mode, nobody else can open a file of
  // it in between.
  const std::string staging = parent + "/.checkpoint-" + stamp + "-in-progress";
  fs::remove_all(staging, ec);
  if (::mkdir(staging.c_str(), 0700) != 0) {
    return Status::IOError("creating " + staging + ": " + std::strerror(errno));
  }
  if (Status mode = ChmodOrError(staging, 0700); !mode.ok()) return mode;  // umask-proof
  const std::string inner = staging + "/checkpoint";
  Status s = engine.Checkpoint(inner);
  if (s.ok()) {
    fs::copy_file(data_dir + "/" + kKeyCheckFileName, inner + "/" + kKeyCheckFileName, ec);
    if (ec) {
      s = Status::IOError("copying " + std::string(kKeyCheckFileName) + ": " + ec.message());
    }
  }
  if (s.ok() && access != nullptr) s = access->Checkpoint(inner + "/" + storage::kAccessDirName);
  if (s.ok()) s = RestrictToOwner(inner);
  if (s.ok()) {
    fs::rename(inner, dir, ec);
    if (ec) s = Status::IOError("moving the checkpoint to " + dir + ": " + ec.message());
  }
  std::error_code ignored;
  fs::remove_all(staging, ignored);
  if (!s.ok()) return s;
  LogInfo("checkpoint written to " + dir);
  return dir;
}

}  // namespace safe::server
