#include "safe-server/http/body_file.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include "common/secret.h"

namespace safe::server {

namespace {

// NoSpace for a full disk (the upload is answered 507, as the store's own), IOError otherwise.
Status Errno(const std::string& what) {
  const std::string message = "request body file: " + what + ": " + strerror(errno);
  return errno == ENOSPC || errno == EDQUOT ? Status::NoSpace(message) : Status::IOError(message);
}

// A file in `dir` that has no name: O_TMPFILE, or mkstemp and unlink where it is not supported
// (EOPNOTSUPP, EISDIR on old kernels, EINVAL on some file systems).
int OpenUnlinked(const std::string& dir) {
  int fd = open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)) return fd;
  std::string path = dir + "/.body-XXXXXX";
  fd = mkostemp(path.data(), O_CLOEXEC);
  if (fd >= 0) unlink(path.c_str());
  return fd;
}

// Bytes encrypted at a time (a stack buffer: no allocation per Append).
constexpr size_t kChunk = 16 * 1024;

}  // namespace

// AES-256-CTR state: one context that encrypts as bytes are appended; reading back starts a new
// one from the same key and IV (CTR decryption is the same operation).
struct BodyFile::Cipher {
  SecretArray<32> key = SecretArray<32>::Random();
  std::array<uint8_t, 16> iv{};
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();

  Cipher() { RandomBytes(iv.data(), iv.size()); }
  ~Cipher() { EVP_CIPHER_CTX_free(ctx); }

  bool Start(EVP_CIPHER_CTX* c) const {
    return c != nullptr &&
           EVP_EncryptInit_ex(c, EVP_aes_256_ctr(), nullptr, key.data(), iv.data()) == 1;
  }
  static bool Xor(EVP_CIPHER_CTX* c, const uint8_t* in, size_t len, uint8_t* out) {
    int produced = 0;
    return EVP_EncryptUpdate(c, out, &produced, in, static_cast<int>(len)) == 1 &&
           static_cast<size_t>(produced) == len;
  }
};

BodyFile::BodyFile(int fd, std::unique_ptr<Cipher> cipher) : fd_(fd), cipher_(std::move(cipher)) {}

BodyFile::~BodyFile() { close(fd_); }

Result<std::unique_ptr<BodyFile>> BodyFile::Create(const std::string& dir) {
  auto cipher = std::make_unique<Cipher>();
  if (!cipher->Start(cipher->ctx)) return Status::IOError("request body file: cipher setup failed");
  const int fd = OpenUnlinked(dir);
  if (fd < 0) return Errno("cannot make one in the data directory");
  return std::unique_ptr<BodyFile>(new BodyFile(fd, std::move(cipher)));
}

Status BodyFile::Append(const char* data, size_t len) {
  uint8_t buffer[kChunk];
  while (len > 0) {
    const size_t n = std::min(len, kChunk);
    if (!Cipher::Xor(cipher_->ctx, reinterpret_cast<const uint8_t*>(data), n, buffer)) {
      return Status::IOError("request body file: encryption failed");
    }
    size_t written = 0;
    while (written < n) {
      ssize_t w = pwrite(fd_, buffer + written, n - written, static_cast<off_t>(size_ + written));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return Errno("write");  // the buffer holds ciphertext only
      written += static_cast<size_t>(w);
    }
    size_ += n;
    data += n;
    len -= n;
  }
  return Status::OK();
}

Result<std::string> BodyFile::ReadAll() {
  std::string body(size_, '\0');
  uint64_t done = 0;
  while (done < size_) {
    ssize_t r = pread(fd_, body.data() + done, size_ - done, static_cast<off_t>(done));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Errno("read");
    if (r == 0) return Status::IOError("request body file: shorter than written");
    done += static_cast<uint64_t>(r);
  }
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  auto* bytes = reinterpret_cast<uint8_t*>(body.data());
  const bool ok = cipher_->Start(ctx) && [&] {
    for (uint64_t at = 0; at < size_; at += kChunk) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(kChunk, size_ - at));
      if (!Cipher::Xor(ctx, bytes + at, n, bytes + at)) return false;
    }
    return true;
  }();
  EVP_CIPHER_CTX_free(ctx);
  if (!ok) return Status::IOError("request body file: decryption failed");
  return body;
}

}  // namespace safe::server
