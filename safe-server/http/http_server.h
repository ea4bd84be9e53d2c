// HttpServer: the listening endpoint. Our Acceptor takes connections and does TLS handshakes
// without blocking; Pistache's TCP layer (epoll reactor, one transport per network thread, TLS
// reads and writes) carries the bytes; HttpConnection speaks HTTP on each connection.
//
// Also owns the reaper: a thread that closes connections whose header, body, idle or write time
// ran out, so idle or slow peers cannot hold the server.
//
// Thread-safety: Start and Shutdown from one controlling thread; the server runs on its own.

#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"
#include "safe-server/http/http_connection.h"
#include "safe-server/http/http_message.h"

namespace safe::server {

struct HttpServerOptions {
  std::string host = "127.0.0.1";   // IPv4, IPv6 (with or without brackets) or a name
  uint16_t port = 8080;             // 0: any free port (see HttpServer::port)
  int threads = 4;                  // network (reactor) threads
  uint32_t max_connections = 4096;  // further connections are closed at once
  // TLS handshakes under way at once; when full, a new connection replaces the oldest
  // handshake whose client has sent nothing (see Acceptor).
  uint32_t max_handshakes = 1024;
  HttpLimits limits;
  std::string tls_cert;  // PEM files; both empty: plain HTTP
  std::string tls_key;
};

class HttpServer {
 public:
  // Binds and starts serving `app` (which must outlive the server). Returns IOError when the
  // address cannot be bound, InvalidArgument when the TLS files cannot be used.
  static Result<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options, HttpApp& app);
  ~HttpServer();  // Shutdown(0) if not yet done

  // The most file descriptors a server with these options holds at once: a descriptor per
  // connection and per handshake, plus the listener's and the network threads' own.
  static uint64_t DescriptorsNeeded(const HttpServerOptions& options);

  // The port actually bound.
  uint16_t port() const;

  // Stops taking requests: idle connections are closed, every answer from now on closes its
  // connection, and requests already under way have up to `grace` to finish. Then stops the
  // listener and the network threads. Returns the number of connections cut short.
  size_t Shutdown(std::chrono::milliseconds grace);

  // Loads the TLS certificate and key again for new connections (for renewals, on SIGHUP).
  Status ReloadTls();

  class Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace safe::server
