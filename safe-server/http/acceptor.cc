#include "safe-server/http/acceptor.h"

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

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <list>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/log.h"

namespace safe::server {

namespace {

using Clock = std::chrono::steady_clock;

// After accept fails for want of descriptors, the listening socket is not watched for this
// long (doubling from the minimum up to the maximum while it keeps failing), so the thread
// neither spins on a socket that stays readable nor leaves the backlog unserved for long.
constexpr std::chrono::milliseconds kMinAcceptPause{10};
constexpr std::chrono::milliseconds kMaxAcceptPause{500};
// One line per this interval, with a count, while accept keeps failing.
constexpr std::chrono::seconds kDescriptorWarningInterval{10};
// Connections accepted per wakeup at most, so that handshakes under way get their turn too.
constexpr size_t kMaxAcceptsPerWakeup = 1024;

// A descriptor held in reserve (the classic spare descriptor): when accept fails with EMFILE,
// it is closed so that one pending connection can be accepted and closed at once (the client
// learns promptly instead of waiting in the backlog), then opened again.
int OpenSpare() { return ::open("/dev/null", O_RDONLY | O_CLOEXEC); }

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
    if (spare_fd_ >= 0) close(spare_fd_);
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
    spare_fd_ = OpenSpare();
    if (spare_fd_ < 0) return Status::IOError(Errno("cannot open /dev/null"));
    return Status::OK();
  }

  void Start(Deliver deliver, Quarantine quarantine, Full full) {
    deliver_ = std::move(deliver);
    quarantine_ = std::move(quarantine);
    full_ = std::move(full);
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
    silent_.clear();
    started_.clear();
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
  // A handshake under way. Every handshake is on one of two lists, each in the order the
  // connections were accepted: silent_ while the client has sent nothing, started_ once its
  // ClientHello has arrived.
  struct Handshake {
    SSL* ssl;
    sockaddr_storage address;
    Clock::time_point deadline;
    bool silent;
    std::list<int>::iterator position;  // in silent_ or started_
  };
  using HandshakeMap = std::unordered_map<int, Handshake>;

  void Watch(int fd, uint32_t events, int op) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    epoll_ctl(epoll_fd_, op, fd, &ev);
  }

  void Loop() {
    std::vector<epoll_event> events(64);
    while (!stopping_.load()) {
      int timeout_ms = 250;
      if (paused_) {
        auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(resume_at_ - Clock::now());
        timeout_ms = static_cast<int>(std::clamp<int64_t>(left.count() + 1, 0, 250));
      }
      int n = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), timeout_ms);
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
      if (paused_ && Clock::now() >= resume_at_) {
        paused_ = false;
        Watch(listen_fd_, EPOLLIN, EPOLL_CTL_MOD);
      }
      if (spare_fd_ < 0) spare_fd_ = OpenSpare();
      descriptor_warning_.Flush();
    }
  }

  void AcceptAll() {
    // A full handshake table makes room by dropping the oldest handshake (see MakeRoom).
    for (size_t accepted = 0; !paused_ && accepted < kMaxAcceptsPerWakeup; ++accepted) {
      AcceptedConnection c;
      socklen_t len = sizeof c.address;
      c.fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&c.address), &len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (c.fd < 0) {
        if (errno == EMFILE || errno == ENFILE) OutOfDescriptors();
        return;  // EAGAIN: all taken; other errors: the peer went away
      }
      pause_ = std::chrono::milliseconds(0);
      if (full_ && full_()) {
        close(c.fd);
        continue;
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
      if (handshakes_.size() >= std::max<size_t>(1, options_.max_handshakes)) MakeRoom();
      silent_.push_back(c.fd);
      handshakes_[c.fd] = Handshake{ssl, c.address, Clock::now() + options_.handshake_timeout,
                                    /*silent=*/true, std::prev(silent_.end())};
      Watch(c.fd, EPOLLIN, EPOLL_CTL_ADD);
      Step(c.fd);
    }
  }

  // accept failed with EMFILE or ENFILE. With the spare descriptor closed, one pending
  // connection is accepted and closed (its client learns at once instead of waiting); then the
  // listening socket is left alone for a while (it stays readable, so watching it would spin),
  // and the warning is counted, not written each time.
  void OutOfDescriptors() {
    descriptor_warning_.Note();
    if (spare_fd_ >= 0) {
      close(spare_fd_);
      spare_fd_ = -1;
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) close(fd);
      spare_fd_ = OpenSpare();  // if another thread took the number, the loop tries again
    }
    pause_ = std::clamp(2 * pause_, kMinAcceptPause, kMaxAcceptPause);
    paused_ = true;
    resume_at_ = Clock::now() + pause_;
    Watch(listen_fd_, 0, EPOLL_CTL_MOD);
  }

  // Drops one handshake to make room for a new connection: the oldest whose client has sent
  // nothing yet, else the oldest of all. A real client sends its ClientHello right after
  // connecting, so connections that never send a byte cannot keep new clients waiting for the
  // handshake timeout (issue 12, item 6).
  void MakeRoom() {
    std::list<int>& from = !silent_.empty() ? silent_ : started_;
    if (from.empty()) return;
    Drop(handshakes_.find(from.front()));
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
      Unlist(it->second);
      handshakes_.erase(it);
      deliver_(c);
      return;
    }
    int err = SSL_get_error(it->second.ssl, rc);
    if (it->second.silent && !SSL_in_before(it->second.ssl)) {
      // The ClientHello has arrived: from now on this is a handshake under way.
      started_.splice(started_.end(), silent_, it->second.position);
      it->second.silent = false;
    }
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

  // Both lists are in accept order and every handshake has the same time limit, so the
  // expired ones are at their fronts.
  void ExpireHandshakes() {
    auto now = Clock::now();
    for (std::list<int>* list : {&silent_, &started_}) {
      while (!list->empty()) {
        auto it = handshakes_.find(list->front());
        if (now < it->second.deadline) break;
        Drop(it);
      }
    }
  }

  void Unlist(const Handshake& h) { (h.silent ? silent_ : started_).erase(h.position); }

  void Drop(HandshakeMap::iterator it) {
    int fd = it->first;
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    SSL_free(it->second.ssl);
    close(fd);
    Unlist(it->second);
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
  Full full_;
  std::vector<std::pair<int, Clock::time_point>> parked_;  // accept thread only
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  // The accept thread only, from here on.
  HandshakeMap handshakes_;
  std::list<int> silent_;   // handshakes whose client has sent nothing, oldest first
  std::list<int> started_;  // the others, oldest first
  int spare_fd_ = -1;       // the spare descriptor (see OpenSpare); -1 while it could not reopen
  bool paused_ = false;     // the listening socket is not watched until resume_at_
  Clock::time_point resume_at_;
  std::chrono::milliseconds pause_{0};  // the last pause; 0 after a successful accept
  RateLimitedLog descriptor_warning_{
      LogLevel::kWarning,
      "accept: out of file descriptors (EMFILE/ENFILE): connections wait or are closed; raise "
      "the open-file limit (LimitNOFILE=) or lower max-connections",
      kDescriptorWarningInterval};
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
void Acceptor::Start(Deliver deliver, Quarantine quarantine, Full full) {
  impl_->Start(std::move(deliver), std::move(quarantine), std::move(full));
}
void Acceptor::Stop() { impl_->Stop(); }
Status Acceptor::ReloadTls() { return impl_->ReloadTls(); }

}  // namespace safe::server
