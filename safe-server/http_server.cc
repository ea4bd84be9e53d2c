#include "safe-server/http_server.h"

#include <pistache/net.h>
#include <pistache/peer.h>
#include <pistache/reactor.h>
#include <pistache/tcp.h>
#include <pistache/transport.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "safe-server/acceptor.h"
#include "safe-server/log.h"

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

// Writes through Pistache's transport; closes with shutdown(2). The transport closes the file
// descriptor only after Handler::onDisconnection, which marks the connection closed first, so a
// reused descriptor is never shut down by mistake (HttpConnection's mutex orders the two).
class PeerIo final : public ConnectionIo {
 public:
  explicit PeerIo(const std::shared_ptr<Pistache::Tcp::Peer>& peer) : peer_(peer) {}

  void Write(std::string bytes, std::function<void(bool)> done) override {
    auto peer = peer_.lock();
    if (!peer) {
      done(false);
      return;
    }
    size_t size = bytes.size();
    peer->send(Pistache::RawBuffer(std::move(bytes), size))
        .then([done](ssize_t) { done(true); }, [done](std::exception_ptr) { done(false); });
  }
  void CloseWrite() override {
    if (auto peer = peer_.lock()) ::shutdown(peer->fd(), SHUT_WR);
  }
  void Abort() override {
    if (auto peer = peer_.lock()) ::shutdown(peer->fd(), SHUT_RDWR);
  }

 private:
  std::weak_ptr<Pistache::Tcp::Peer> peer_;
};

struct Shared {
  HttpApp* app;
  HttpLimits limits;
  uint32_t max_connections;
  ConnectionRegistry registry;
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
                                       std::make_unique<PeerIo>(peer), peer->address().host());
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
    acceptor_->Start([this](const AcceptedConnection& c) { Dispatch(c); });
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

uint16_t HttpServer::port() const { return impl_->port(); }

size_t HttpServer::Shutdown(std::chrono::milliseconds grace) { return impl_->Shutdown(grace); }

Status HttpServer::ReloadTls() { return impl_->ReloadTls(); }

}  // namespace safe::server
