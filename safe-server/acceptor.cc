#include "safe-server/acceptor.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "safe-server/log.h"

namespace safe::server {

namespace {

using Clock = std::chrono::steady_clock;

// OpenSSL's error queue as one line, emptied. Translated here, once, at the layer's edge.
std::string OpenSslErrors() {
  std::string out;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

std::string Errno(const char* what) { return std::string(what) + ": " + strerror(errno); }

struct SslCtxDeleter {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;

Result<std::shared_ptr<SSL_CTX>> MakeTlsContext(const std::string& cert, const std::string& key) {
  ERR_clear_error();
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) return Status::InvalidArgument("TLS: " + OpenSslErrors());
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_options(
      ctx.get(), SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // TLS 1.2: forward secrecy and AEAD only. TLS 1.3's suites are all AEAD.
  if (SSL_CTX_set_cipher_list(ctx.get(),
                              "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                              "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                              "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305") != 1) {
    return Status::InvalidArgument("TLS ciphers: " + OpenSslErrors());
  }
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert.c_str()) != 1) {
    return Status::InvalidArgument("tls-cert: cannot use \"" + cert + "\": " + OpenSslErrors());
  }
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), key.c_str(), SSL_FILETYPE_PEM) != 1) {
    return Status::InvalidArgument("tls-key: cannot use \"" + key + "\": " + OpenSslErrors());
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1) {
    return Status::InvalidArgument("tls-key: the key does not match the certificate");
  }
  return std::shared_ptr<SSL_CTX>(ctx.release(), SslCtxDeleter());
}

std::string StripBrackets(const std::string& host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    return host.substr(1, host.size() - 2);
  }
  return host;
}

}  // namespace

class Acceptor::Impl {
 public:
  explicit Impl(AcceptorOptions options) : options_(std::move(options)) {}

  ~Impl() {
    Stop();
    if (listen_fd_ >= 0) close(listen_fd_);
    if (epoll_fd_ >= 0) close(epoll_fd_);
    if (wake_fd_ >= 0) close(wake_fd_);
  }

  Status Bind() {
    if (!options_.tls_cert.empty()) {
      auto ctx = MakeTlsContext(options_.tls_cert, options_.tls_key);
      if (!ctx.ok()) return ctx.status();
      tls_ctx_ = *ctx;
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    std::string host = StripBrackets(options_.host);
    std::string port = std::to_string(options_.port);
    int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found);
    if (rc != 0) {
      return Status::IOError("cannot resolve \"" + options_.host + "\": " + gai_strerror(rc));
    }
    std::string last_error = "no address";
    for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
      int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
      if (fd < 0) {
        last_error = Errno("socket");
        continue;
      }
      int one = 1;
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      if (bind(fd, a->ai_addr, a->ai_addrlen) != 0 || listen(fd, options_.backlog) != 0) {
        last_error = Errno("bind");
        close(fd);
        continue;
      }
      listen_fd_ = fd;
      break;
    }
    freeaddrinfo(found);
    if (listen_fd_ < 0) {
      return Status::IOError("cannot listen on " + options_.host + ":" + port + ": " + last_error);
    }
    sockaddr_storage bound{};
    socklen_t len = sizeof bound;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&bound), &len);
    port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                              : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (epoll_fd_ < 0 || wake_fd_ < 0) return Status::IOError(Errno("epoll"));
    Watch(listen_fd_, EPOLLIN, EPOLL_CTL_ADD);
    Watch(wake_fd_, EPOLLIN, EPOLL_CTL_ADD);
    return Status::OK();
  }

  void Start(Deliver deliver, Quarantine quarantine) {
    deliver_ = std::move(deliver);
    quarantine_ = std::move(quarantine);
    thread_ = std::thread([this] { Loop(); });
  }

  void Stop() {
    if (!thread_.joinable()) return;
    stopping_.store(true);
    uint64_t one = 1;
    ssize_t ignored = write(wake_fd_, &one, sizeof one);
    (void)ignored;  // the thread also checks stopping_ on its next tick
    thread_.join();
    for (auto& [fd, h] : handshakes_) {
      SSL_free(h.ssl);
      close(fd);
    }
    handshakes_.clear();
    for (auto& [fd, until] : parked_) close(fd);
    parked_.clear();
    close(listen_fd_);
    listen_fd_ = -1;
  }

  Status ReloadTls() {
    if (!tls_ctx_) return Status::InvalidArgument("TLS is not configured");
    auto ctx = MakeTlsContext(options_.tls_cert, options_.tls_key);
    if (!ctx.ok()) return ctx.status();
    std::lock_guard<std::mutex> lock(ctx_mu_);
    tls_ctx_ = *ctx;
    return Status::OK();
  }

  uint16_t port() const { return port_; }
  bool tls() const { return !options_.tls_cert.empty(); }

 private:
  struct Handshake {
    SSL* ssl;
    sockaddr_storage address;
    Clock::time_point deadline;
  };

  void Watch(int fd, uint32_t events, int op) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    epoll_ctl(epoll_fd_, op, fd, &ev);
  }

  void Loop() {
    std::vector<epoll_event> events(64);
    bool accepting = true;
    while (!stopping_.load()) {
      int n = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), 250);
      for (int i = 0; i < n; ++i) {
        int fd = events[i].data.fd;
        if (fd == wake_fd_) continue;
        if (fd == listen_fd_) {
          AcceptAll();
        } else {
          Step(fd);
        }
      }
      ExpireHandshakes();
      ReleaseParked();
      // With the handshake table full, stop watching the listening socket until one ends.
      bool want = handshakes_.size() < options_.max_handshakes;
      if (want != accepting) {
        Watch(listen_fd_, want ? EPOLLIN : 0, EPOLL_CTL_MOD);
        accepting = want;
      }
    }
  }

  void AcceptAll() {
    while (handshakes_.size() < options_.max_handshakes) {
      AcceptedConnection c;
      socklen_t len = sizeof c.address;
      c.fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&c.address), &len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (c.fd < 0) {
        if (errno == EMFILE || errno == ENFILE) {
          LogWarning("accept: out of file descriptors");
        }
        return;  // EAGAIN: all taken; other errors: the peer went away
      }
      if (quarantine_) {
        if (std::optional<Clock::time_point> until = quarantine_(c.fd)) {
          // Keep the number out of use; serve the connection on a duplicate.
          int dup = fcntl(c.fd, F_DUPFD_CLOEXEC, 0);
          if (dup < 0) {
            close(c.fd);
            continue;
          }
          parked_.emplace_back(c.fd, *until);
          c.fd = dup;
        }
      }
      int one = 1;
      setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (!tls()) {
        deliver_(c);
        continue;
      }
      SSL* ssl = nullptr;
      {
        std::lock_guard<std::mutex> lock(ctx_mu_);
        ssl = SSL_new(tls_ctx_.get());
      }
      if (ssl == nullptr || SSL_set_fd(ssl, c.fd) != 1) {
        SSL_free(ssl);
        close(c.fd);
        continue;
      }
      SSL_set_accept_state(ssl);
      handshakes_[c.fd] = Handshake{ssl, c.address, Clock::now() + options_.handshake_timeout};
      Watch(c.fd, EPOLLIN, EPOLL_CTL_ADD);
      Step(c.fd);
    }
  }

  // Drives one handshake as far as its socket allows.
  void Step(int fd) {
    auto it = handshakes_.find(fd);
    if (it == handshakes_.end()) return;
    ERR_clear_error();
    int rc = SSL_do_handshake(it->second.ssl);
    if (rc == 1) {
      epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
      AcceptedConnection c;
      c.fd = fd;
      c.address = it->second.address;
      c.ssl = it->second.ssl;
      handshakes_.erase(it);
      deliver_(c);
      return;
    }
    int err = SSL_get_error(it->second.ssl, rc);
    if (err == SSL_ERROR_WANT_READ) {
      Watch(fd, EPOLLIN, EPOLL_CTL_MOD);
    } else if (err == SSL_ERROR_WANT_WRITE) {
      Watch(fd, EPOLLOUT, EPOLL_CTL_MOD);
    } else {
      ERR_clear_error();  // a failed handshake is the client's business, not the log's
      Drop(it);
    }
  }

  void ReleaseParked() {
    auto now = Clock::now();
    for (auto it = parked_.begin(); it != parked_.end();) {
      if (now >= it->second) {
        close(it->first);
        it = parked_.erase(it);
      } else {
        ++it;
      }
    }
  }

  void ExpireHandshakes() {
    auto now = Clock::now();
    for (auto it = handshakes_.begin(); it != handshakes_.end();) {
      auto next = std::next(it);
      if (now >= it->second.deadline) Drop(it);
      it = next;
    }
  }

  void Drop(std::unordered_map<int, Handshake>::iterator it) {
    int fd = it->first;
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    SSL_free(it->second.ssl);
    close(fd);
    handshakes_.erase(it);
  }

  const AcceptorOptions options_;
  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  uint16_t port_ = 0;
  std::mutex ctx_mu_;
  std::shared_ptr<SSL_CTX> tls_ctx_;  // GUARDED_BY(ctx_mu_) once started
  Deliver deliver_;
  Quarantine quarantine_;
  std::vector<std::pair<int, Clock::time_point>> parked_;  // accept thread only
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::unordered_map<int, Handshake> handshakes_;  // accept thread only
};

Acceptor::Acceptor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Acceptor::~Acceptor() = default;

Result<std::unique_ptr<Acceptor>> Acceptor::Bind(const AcceptorOptions& options) {
  auto impl = std::make_unique<Impl>(options);
  Status s = impl->Bind();
  if (!s.ok()) return s;
  return std::unique_ptr<Acceptor>(new Acceptor(std::move(impl)));
}

uint16_t Acceptor::port() const { return impl_->port(); }
bool Acceptor::tls() const { return impl_->tls(); }
void Acceptor::Start(Deliver deliver, Quarantine quarantine) {
  impl_->Start(std::move(deliver), std::move(quarantine));
}
void Acceptor::Stop() { impl_->Stop(); }
Status Acceptor::ReloadTls() { return impl_->ReloadTls(); }

}  // namespace safe::server
