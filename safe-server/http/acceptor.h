// Acceptor: the listening socket, and TLS handshakes done without blocking.
//
// Why not Pistache's Tcp::Listener: in Debian's Pistache 0.0.5 it runs SSL_accept on its single
// accept thread with a blocking socket and no time limit, so one TCP connection that never sends
// a ClientHello stops every later connection from being accepted. And it gives no access to its
// SSL_CTX, so the protocol versions and ciphers could not be set. Here one thread accepts and
// drives every handshake through epoll, each with a deadline, and hands finished connections
// (plain or TLS) to a callback — HttpServer gives them to Pistache's transports.
//
// Out of file descriptors (accept fails with EMFILE or ENFILE): the acceptor closes a spare
// descriptor it keeps, accepts and closes one pending connection (its client learns at once),
// opens the spare again, and stops watching the listening socket for 10 ms, doubling up to
// 500 ms while the failure lasts, instead of spinning on it; the warning is written once per
// 10 s with a count (issue 13, item 1).
//
// TLS: 1.2 and 1.3 only; for TLS 1.2 only ECDHE key exchange with AEAD ciphers (AES-GCM,
// ChaCha20-Poly1305); no compression, no renegotiation. ReloadTls() swaps in a new certificate
// and key for new connections; established ones keep theirs.
//
// Thread-safety: Start/Stop from one controlling thread; ReloadTls from any thread.

#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/status.h"

namespace safe::server {

struct AcceptorOptions {
  std::string host = "127.0.0.1";  // IPv4, IPv6 (brackets optional) or a name
  uint16_t port = 8080;            // 0: a free port
  int backlog = 1024;
  std::string tls_cert;  // PEM certificate chain; empty: plain TCP
  std::string tls_key;   // PEM private key
  // A TLS handshake must finish within this.
  std::chrono::milliseconds handshake_timeout{10000};
  // Handshakes under way at once (at least 1). When the table is full, a new connection
  // replaces the oldest handshake whose client has sent nothing yet, else the oldest of all:
  // connections that never send a byte cannot make a new client wait (issue 12, item 6).
  size_t max_handshakes = 1024;
};

// A connection ready for HTTP: its socket (non-blocking), the peer's address, and the SSL
// object (SSL*, owned by the receiver from now on) or nullptr.
struct AcceptedConnection {
  int fd = -1;
  sockaddr_storage address{};
  void* ssl = nullptr;
};

class Acceptor {
 public:
  using Deliver = std::function<void(const AcceptedConnection&)>;
  // For a descriptor number, when it is quarantined, the time its quarantine ends (see
  // HttpServer's FdQuarantine): the acceptor then keeps that number open until then and serves
  // the connection on a duplicate.
  using Quarantine = std::function<std::optional<std::chrono::steady_clock::time_point>(int fd)>;

  // Binds and listens (IOError when the address cannot be bound; InvalidArgument when the TLS
  // files cannot be used, with OpenSSL's reason). Nothing is accepted until Start.
  static Result<std::unique_ptr<Acceptor>> Bind(const AcceptorOptions& options);
  ~Acceptor();  // Stop()

  uint16_t port() const;
  bool tls() const;

  // True when no more connections may be served: a new one is then closed at once, before any
  // handshake, instead of holding a descriptor until a network thread gets to it.
  using Full = std::function<bool()>;

  // Starts the accepting thread; `deliver` gets each ready connection on that thread.
  void Start(Deliver deliver, Quarantine quarantine = nullptr, Full full = nullptr);
  // Stops accepting and closes the listening socket and the handshakes under way.
  void Stop();

  // Loads the certificate and key again (same paths) for new connections. On error the old ones
  // stay in use and the error is returned.
  Status ReloadTls();

  class Impl;

 private:
  explicit Acceptor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace safe::server
