// BodyFile: a request body kept in an unlinked temporary file instead of memory (issue 14).
//
// When the bodies held in memory by all connections together reach HttpLimits::body_budget, a
// further body goes to a BodyFile (HttpLimits::spill_dir, bounded by HttpLimits::spill_budget),
// as nginx's client_body_temp_path does. So the server's memory does not grow with the number
// of connections times the body size, and an upload is not refused while there is disk.
//
// - The file never has a name: O_TMPFILE (a file made with mkstemp and unlinked at once where the
//   file system lacks it), mode 0600, closed on exec. It is gone when the BodyFile is destroyed
//   or the process dies.
// - Its bytes are encrypted with AES-256-CTR under a random key and IV that live only in this
//   object's memory (wiped on destruction). The blob at rest is sealed by SealedStore; a body
//   waiting here is no easier to read: blocks a crash or a deletion leaves on the disk hold
//   nothing readable without the key, which never left memory. Not authenticated: the file lives
//   as long as one request, only the server's user may open it, and what is stored is sealed
//   (AEAD) from the bytes read back.
//
// Thread-safety: none; one request owns it (the network thread while the body arrives, then the
// thread that handles the request).

#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"

namespace safe::server {

class BodyFile {
 public:
  // A new, empty body file in `dir`. IOError when the file cannot be made.
  static Result<std::unique_ptr<BodyFile>> Create(const std::string& dir);
  ~BodyFile();
  BodyFile(const BodyFile&) = delete;
  BodyFile& operator=(const BodyFile&) = delete;

  // Appends `len` bytes (encrypted on the way). NoSpace (a full disk) or IOError leaves the file
  // unusable.
  Status Append(const char* data, size_t len);
  // The whole body, decrypted. IOError when the file cannot be read back.
  Result<std::string> ReadAll();
  uint64_t size() const { return size_; }

 private:
  struct Cipher;
  BodyFile(int fd, std::unique_ptr<Cipher> cipher);

  const int fd_;
  const std::unique_ptr<Cipher> cipher_;
  uint64_t size_ = 0;
};

}  // namespace safe::server
