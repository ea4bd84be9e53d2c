#include "safe-server/http/http_server.h"

#include <pistache/net.h>
#include <pistache/peer.h>
#include <pistache/reactor.h>
#include <pistache/tcp.h>
#include <pistache/transport.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sys/uio.h>

#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/log.h"
#include "safe-server/http/acceptor.h"

namespace safe::server {

namespace {

using Clock = std::chrono::steady_clock;

// Every live connection, for the reaper and for draining. Shared by the handler clones (one per
// network thread).
class ConnectionRegistry {
 public:
  // Returns false when max_connections are already open.
  bool Add(const std::shared_ptr<HttpConnection>& c, uint32_t max_connections) {
    std::lock_guard<std::mutex> lock(mu_);
    if (connections_.size() >= max_connections) return false;
    connections_.emplace(c.get(), c);
    return true;
  }
  void Remove(HttpConnection* c) {
    std::lock_guard<std::mutex> lock(mu_);
    connections_.erase(c);
  }
  std::vector<std::shared_ptr<HttpConnection>> Snapshot() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::shared_ptr<HttpConnection>> out;
    out.reserve(connections_.size());
    for (auto& [ptr, c] : connections_) out.push_back(c);
    return out;
  }

 private:
  std::mutex mu_;
  std::unordered_map<HttpConnection*, std::shared_ptr<HttpConnection>> connections_;
};

// Descriptor numbers of connections that ended while a write of theirs could still sit in a
// Pistache transport's queue. Pistache keys that queue by descriptor number, so if the kernel
// handed the same number to a new connection at once, the stale write could reach the new
// client: another person's backup. The acceptor parks a quarantined number it gets from accept
// (keeping it open, so the kernel cannot give it out) and serves the connection on a duplicate,
// until the quarantine ends.
class FdQuarantine {
 public:
  static constexpr std::chrono::seconds kLength{2};
  void Add(int fd) {
    std::lock_guard<std::mutex> lock(mu_);
    until_[fd] = Clock::now() + kLength;
  }
  // When fd is quarantined, the time its quarantine ends.
  std::optional<Clock::time_point> Until(int fd) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = until_.find(fd);
    if (it == until_.end()) return std::nullopt;
    if (Clock::now() >= it->second) {
      until_.erase(it);
      return std::nullopt;
    }
    return it->second;
  }

 private:
  std::mutex mu_;
  std::unordered_map<int, Clock::time_point> until_;
};

// Writes to the peer. Plain connections are written directly with sendmsg(2) from the calling
// thread (no copy, no hop to the network thread); what the socket does not take at once, and
// everything on TLS connections (an SSL object must not be used from two threads), goes through
// Pistache's transport. Closes with shutdown(2).
//
// The descriptor stays valid while mu_ is held and closed_ is false: the transport calls
// Handler::onDisconnection (which calls Closed()) before it closes the descriptor.
class PeerIo final : public ConnectionIo {
 public:
  PeerIo(const std::shared_ptr<Pistache::Tcp::Peer>& peer, FdQuarantine* quarantine)
      : peer_(peer), fd_(peer->fd()), tls_(peer->ssl() != nullptr), quarantine_(quarantine) {}

  void Write(std::string bytes, std::function<void(bool)> done) override {
    WriteParts(std::move(bytes), std::string(), std::move(done));
  }

  void WriteParts(std::string head, std::string body, std::function<void(bool)> done) override {
    std::unique_lock<std::mutex> lock(mu_);
    if (closed_) {
      lock.unlock();
      done(false);
      return;
    }
    size_t sent = 0;
    const size_t total = head.size() + body.size();
    if (!tls_ && queued_ == 0) {
      // Nothing of ours is queued in the transport, so a direct write keeps the order.
      iovec iov[2] = {{head.data(), head.size()}, {body.data(), body.size()}};
      msghdr msg{};
      msg.msg_iov = iov;
      msg.msg_iovlen = body.empty() ? 1 : 2;
      ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        lock.unlock();
        done(false);
        return;
      }
      sent = n > 0 ? static_cast<size_t>(n) : 0;
      if (sent == total) {
        lock.unlock();
        done(true);
        return;
      }
    }
    // The rest goes through the transport, which waits for the socket to take it.
    std::string rest;
    rest.reserve(total - sent);
    if (sent < head.size()) {
      rest.append(head, sent, std::string::npos);
      rest.append(body);
    } else {
      rest.append(body, sent - head.size(), std::string::npos);
    }
    auto peer = peer_.lock();
    if (!peer) {
      lock.unlock();
      done(false);
      return;
    }
    ++queued_;
    lock.unlock();
    size_t size = rest.size();
    auto finished = [this, done](bool ok) {
      {
        std::lock_guard<std::mutex> l(mu_);
        --queued_;
      }
      done(ok);
    };
    peer->send(Pistache::RawBuffer(std::move(rest), size))
        .then([finished](ssize_t) { finished(true); },
              [finished](std::exception_ptr) { finished(false); });
  }

  void CloseWrite() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!closed_ && queued_ == 0) ::shutdown(fd_, SHUT_WR);
    // With a write still queued in the transport the shutdown would cut it: the linger timeout
    // of the connection ends it instead.
  }
  void Abort() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!closed_) ::shutdown(fd_, SHUT_RDWR);
  }
  void Closed() override {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    if (queued_ > 0) quarantine_->Add(fd_);
  }

 private:
  const std::weak_ptr<Pistache::Tcp::Peer> peer_;
  const int fd_;
  const bool tls_;
  FdQuarantine* const quarantine_;
  std::mutex mu_;
  bool closed_ = false;  // GUARDED_BY(mu_)
  int queued_ = 0;       // GUARDED_BY(mu_): writes handed to the transport, not yet done
};

struct Shared {
  FdQuarantine quarantine;
  HttpApp* app;
  HttpLimits limits;
  uint32_t max_connections;
  ConnectionRegistry registry;
  // Connections handed to a network thread and not yet disconnected there. Counted from the
  // hand-over, not from onConnection (which runs later, on that thread), so that a burst of
  // connections is refused by the acceptor before their descriptors pile up.
  std::atomic<uint32_t> handed_over{0};
  std::atomic<bool> draining{false};
};

// One clone per network thread; its map is touched only by that thread.
class Handler final : public Pistache::Tcp::Handler {
 public:
  PROTOTYPE_OF(Pistache::Tcp::Handler, Handler)

  explicit Handler(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}
  Handler(const Handler& other) : Pistache::Tcp::Handler(), shared_(other.shared_) {}

  void onConnection(const std::shared_ptr<Pistache::Tcp::Peer>& peer) override {
    auto conn = HttpConnection::Create(*shared_->app, shared_->limits,
                                       std::make_unique<PeerIo>(peer, &shared_->quarantine),
                                       peer->address().host());
    if (shared_->draining.load() || !shared_->registry.Add(conn, shared_->max_connections)) {
      ::shutdown(peer->fd(), SHUT_RDWR);
      return;
    }
    connections_[peer->fd()] = std::move(conn);
  }

  void onInput(const char* buffer, size_t len,
               const std::shared_ptr<Pistache::Tcp::Peer>& peer) override {
    auto it = connections_.find(peer->fd());
    if (it != connections_.end()) it->second->OnInput(buffer, len);
  }

  void onDisconnection(const std::shared_ptr<Pistache::Tcp::Peer>& peer) override {
    shared_->handed_over.fetch_sub(1);  // refused in onConnection or not: the transport closes it
    auto it = connections_.find(peer->fd());
    if (it == connections_.end()) return;
    it->second->OnDisconnected();
    shared_->registry.Remove(it->second.get());
    connections_.erase(it);
  }

 private:
  std::shared_ptr<Shared> shared_;
  std::unordered_map<int, std::shared_ptr<HttpConnection>> connections_;
};

}  // namespace

class HttpServer::Impl {
 public:
  explicit Impl(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}

  Status Start(const HttpServerOptions& options) {
    AcceptorOptions accept;
    accept.host = options.host;
    accept.port = options.port;
    accept.tls_cert = options.tls_cert;
    accept.tls_key = options.tls_key;
    accept.handshake_timeout = options.limits.header_timeout;
    accept.max_handshakes = options.max_handshakes;
    auto acceptor = Acceptor::Bind(accept);
    if (!acceptor.ok()) return acceptor.status();
    acceptor_ = std::move(acceptor.value());
    try {
      // Pistache's reactor runs one transport (epoll loop) per thread; each gets its own clone
      // of the handler.
      reactor_.init(Pistache::Aio::AsyncContext(options.threads, "safe-net"));
      transport_key_ = reactor_.addHandler(
          std::make_shared<Pistache::Tcp::Transport>(std::make_shared<Handler>(shared_)));
      reactor_.run();
    } catch (const std::exception& e) {
      return Status::IOError(std::string("cannot start the network threads: ") + e.what());
    }
    transports_ = reactor_.handlers(transport_key_);
    acceptor_->Start([this](const AcceptedConnection& c) { Dispatch(c); },
                     [this](int fd) { return shared_->quarantine.Until(fd); },
                     [this] { return shared_->handed_over.load() >= shared_->max_connections; });
    reaper_ = std::thread([this] { ReapLoop(); });
    return Status::OK();
  }

  uint16_t port() const { return acceptor_->port(); }

  Status ReloadTls() { return acceptor_->ReloadTls(); }

  size_t Shutdown(std::chrono::milliseconds grace) {
    if (stopped_) return 0;
    stopped_ = true;
    shared_->draining.store(true);
    acceptor_->Stop();
    auto deadline = Clock::now() + grace;
    for (auto& c : shared_->registry.Snapshot()) c->BeginDrain();
    size_t busy = 0;
    {
      std::unique_lock<std::mutex> lock(mu_);
      while (true) {
        busy = 0;
        for (auto& c : shared_->registry.Snapshot()) busy += c->Idle() ? 0 : 1;
        if (busy == 0 || Clock::now() >= deadline) break;
        // Woken by the reaper's tick or the deadline; polling at a short interval keeps the
        // connection layer free of a shutdown callback.
        cv_.wait_for(lock, std::chrono::milliseconds(20));
      }
      stop_reaper_ = true;
    }
    cv_.notify_all();
    if (reaper_.joinable()) reaper_.join();
    reactor_.shutdown();
    return busy;
  }

 private:
  // Hands a ready connection to a transport (spread by descriptor, as Pistache's listener does).
  void Dispatch(const AcceptedConnection& c) {
    Pistache::Address address = Pistache::Address::fromUnix(
        reinterpret_cast<sockaddr*>(const_cast<sockaddr_storage*>(&c.address)));
    std::shared_ptr<Pistache::Tcp::Peer> peer =
        c.ssl != nullptr ? Pistache::Tcp::Peer::CreateSSL(c.fd, address, c.ssl)
                         : Pistache::Tcp::Peer::Create(c.fd, address);
    auto transport = std::static_pointer_cast<Pistache::Tcp::Transport>(
        transports_[static_cast<size_t>(c.fd) % transports_.size()]);
    shared_->handed_over.fetch_add(1);
    transport->handleNewPeer(peer);
  }

  void ReapLoop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_reaper_) {
      cv_.wait_for(lock, std::chrono::milliseconds(250));
      if (stop_reaper_) break;
      lock.unlock();
      auto now = Clock::now();
      for (auto& c : shared_->registry.Snapshot()) c->CheckTimeout(now);
      lock.lock();
    }
  }

  std::shared_ptr<Shared> shared_;
  std::unique_ptr<Acceptor> acceptor_;
  Pistache::Aio::Reactor reactor_;
  Pistache::Aio::Reactor::Key transport_key_;
  std::vector<std::shared_ptr<Pistache::Aio::Handler>> transports_;
  std::thread reaper_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_reaper_ = false;  // GUARDED_BY(mu_)
  bool stopped_ = false;
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { impl_->Shutdown(std::chrono::milliseconds(0)); }

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options,
                                                      HttpApp& app) {
  auto shared = std::make_shared<Shared>();
  shared->app = &app;
  shared->limits = options.limits;
  shared->max_connections = options.max_connections;
  auto impl = std::make_unique<Impl>(shared);
  Status s = impl->Start(options);
  if (!s.ok()) return s;
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

uint64_t HttpServer::DescriptorsNeeded(const HttpServerOptions& options) {
  // The listening socket, the acceptor's epoll, eventfd and spare descriptor; an epoll and an
  // eventfd per network thread and for the reactor; connections whose number is quarantined
  // are held twice for a moment (a few, counted generously).
  constexpr uint64_t kFixed = 16;
  const uint64_t handshakes = options.tls_cert.empty() ? 0 : options.max_handshakes;
  return kFixed + 2 * static_cast<uint64_t>(options.threads) + options.max_connections + handshakes;
}

uint16_t HttpServer::port() const { return impl_->port(); }

size_t HttpServer::Shutdown(std::chrono::milliseconds grace) { return impl_->Shutdown(grace); }

Status HttpServer::ReloadTls() { return impl_->ReloadTls(); }

}  // namespace safe::server
