// HttpConnection: one HTTP/1.1 connection's protocol state, independent of sockets and Pistache.
//
// Why not Pistache's own HTTP layer: in Debian's Pistache 0.0.5 it answers `Connection: close` to
// every HTTP/1.1 request without a Connection header, never answers `Expect: 100-continue`, cannot
// send a HEAD answer with the real Content-Length, and reads the whole body before the application
// can refuse it by its Content-Length (see docs/architecture.md). So Pistache carries the bytes
// (listener, epoll reactor, worker threads, TLS) and this class speaks HTTP, with the request
// parsing done by Debian's http-parser (the parser Node.js used for a decade), not by hand.
//
// What it does with a request:
// - parses the request line and headers, refusing more than HttpLimits::max_header_bytes (431);
// - asks the application (HttpApp::OnHeaders) before reading the body; a refusal is answered at
//   once and the connection closed after it (the body is never read); or hands the request over
//   without its body when the app asks (HeadDecision::answer_without_body);
// - answers `Expect: 100-continue` with `100 Continue` once the headers are accepted;
// - reads the body (Content-Length or chunked) up to the application's limit (413 beyond);
// - hands the whole request to HttpApp::OnRequest and writes its answer; a HEAD answer carries
//   the representation's Content-Length and no body;
// - keeps the connection open (HTTP/1.1 default, or HTTP/1.0 keep-alive) unless told otherwise;
// - times out a connection whose headers, body, or next request do not arrive in time (408 when
//   a request was under way; silently when idle), and a peer that does not read its answer.
// One request is handled at a time; pipelined bytes wait, bounded, until the answer is written.
//
// Thread-safety: every public method may be called from any thread; an internal mutex guards the
// state. No callback (ConnectionIo, HttpApp) is called with the mutex held, except
// HttpApp::OnHeaders, which must not call back into the connection.

#pragma once

#include <http_parser.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "safe-server/http/body_file.h"
#include "safe-server/http/http_message.h"

namespace safe::server {

// Bytes of request bodies held in memory by all connections of a server together. Each
// connection buffers a whole body before the app sees it, so without a shared bound
// max-connections x max-backup-bytes (4096 x 512 KiB = 2 GiB) could be held by clients that
// merely start uploads. Thread-safe.
class BodyBudget {
 public:
  explicit BodyBudget(uint64_t limit_bytes) : limit_(limit_bytes) {}
  BodyBudget(const BodyBudget&) = delete;
  BodyBudget& operator=(const BodyBudget&) = delete;

  // Takes n bytes of the budget; false (nothing taken) when fewer than n are left.
  bool TryReserve(uint64_t n);
  // Gives back n bytes taken by TryReserve.
  void Release(uint64_t n);
  uint64_t used() const { return used_.load(); }
  uint64_t limit() const { return limit_; }

 private:
  const uint64_t limit_;
  std::atomic<uint64_t> used_{0};
};

// One holder's part of a BodyBudget (none without a budget), given back when it shrinks, is
// cleared or is destroyed. Not thread-safe: its holder guards it.
class BudgetShare {
 public:
  explicit BudgetShare(BodyBudget* budget) : budget_(budget) {}
  ~BudgetShare() { Clear(); }
  BudgetShare(const BudgetShare&) = delete;
  BudgetShare& operator=(const BudgetShare&) = delete;

  // Makes the share exactly `bytes`, taking more from the budget or giving some back. False (the
  // share unchanged) when the budget has no room for the growth.
  bool Resize(uint64_t bytes);
  void Clear() { Resize(0); }
  uint64_t bytes() const { return bytes_; }

 private:
  BodyBudget* const budget_;
  uint64_t bytes_ = 0;
};

struct HttpLimits {
  // Request line and header fields together, in bytes.
  size_t max_header_bytes = 16 * 1024;
  // Header fields per request.
  size_t max_header_fields = 100;
  // Bytes of a next (pipelined) request buffered while one is being answered. A client may send
  // its next request once it has read an answer, before the write's completion is seen here, so
  // the server sets this to a whole request (headers and the largest body).
  size_t max_pipelined_bytes = 64 * 1024;
  // A request's line and headers must arrive within this from its first byte (or from the
  // connection's start).
  std::chrono::milliseconds header_timeout{10000};
  // Its body must arrive within this from the end of its headers.
  std::chrono::milliseconds body_timeout{60000};
  // A keep-alive connection with no request under way is closed after this.
  std::chrono::milliseconds idle_timeout{60000};
  // An answer must be taken by the peer within this.
  std::chrono::milliseconds write_timeout{60000};
  // After we close our side, the peer has this long to close its own.
  std::chrono::milliseconds linger_timeout{5000};
  // Shared by the server's connections; not owned; null: no bound. A request's share follows the
  // body bytes that have arrived (in 4 KiB steps), so headers that are never followed by a body
  // hold none, and a body that stalls holds what it sent. A request whose body does not fit
  // is answered 503 with Retry-After and the connection closed, before more of its body is read
  // (with `Expect: 100-continue`, instead of the 100). A request holds its share until its
  // answer is queued (or the connection ends; while the app works on it, until the app answers).
  // With spilling on (below), a body that does not fit goes to a file instead of the 503.
  BodyBudget* body_budget = nullptr;
  // Spilling (body_file.h): bodies that do not fit body_budget wait in unlinked, encrypted files
  // in spill_dir, their bytes counted against spill_budget as they arrive (the whole body
  // moves to the file when it no longer fits in memory). Only when spill_budget is full too is
  // the request answered 503. Off when spill_dir is empty or spill_budget null.
  std::string spill_dir;
  BodyBudget* spill_budget = nullptr;
};

// The transport under a connection.
class ConnectionIo {
 public:
  virtual ~ConnectionIo() = default;
  // Queues bytes for the peer, in order. Calls done(true) when all of them were written, or
  // done(false) when the connection failed first. done may run on any thread, possibly before
  // Write returns.
  virtual void Write(std::string bytes, std::function<void(bool ok)> done) = 0;
  // As Write, for an answer in two parts (head, then body); lets a transport send both without
  // joining them. By default joins them and calls Write.
  virtual void WriteParts(std::string head, std::string body, std::function<void(bool ok)> done) {
    head += body;
    Write(std::move(head), std::move(done));
  }
  // The transport is gone: nothing may be written or closed from now on. Called once, by
  // HttpConnection::OnDisconnected.
  virtual void Closed() {}
  // Ends our sending side once what was queued is written; the peer sees end of stream.
  virtual void CloseWrite() = 0;
  // Tears the connection down now, both directions.
  virtual void Abort() = 0;
};

class HttpConnection : public std::enable_shared_from_this<HttpConnection> {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  using NowFn = std::function<TimePoint()>;

  // `app` must outlive the connection. `now` is injectable for tests.
  static std::shared_ptr<HttpConnection> Create(HttpApp& app, const HttpLimits& limits,
                                                std::unique_ptr<ConnectionIo> io,
                                                std::string peer_address, NowFn now = nullptr);
  ~HttpConnection();

  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // Bytes from the peer.
  void OnInput(const char* data, size_t len);
  // The transport saw the connection end; nothing more will be written or read.
  void OnDisconnected();
  // Closes the connection if its current deadline has passed. Returns true if it did.
  bool CheckTimeout(TimePoint now);
  // From now on every answer closes its connection; an idle connection is closed now.
  void BeginDrain();
  // True when no request is under way (nothing received of one, nothing being answered).
  bool Idle() const;

 private:
  enum class State {
    kReading,     // parsing a request (or waiting for one)
    kProcessing,  // the application has the request
    kWriting,     // the answer is queued
    kClosing,     // our side is closed; waiting for the peer to go
    kClosed,      // the transport is gone
  };
  struct Outbox;

  HttpConnection(HttpApp& app, const HttpLimits& limits, std::unique_ptr<ConnectionIo> io,
                 std::string peer_address, NowFn now);

  // REQUIRES: mu_ held, state_ == kReading. Returns a whole request when one is complete.
  std::optional<HttpRequest> ParseLocked(const char* data, size_t len, Outbox& out);
  // REQUIRES: mu_ held. Queues `response` (serialised) and moves to kWriting.
  void QueueResponseLocked(HttpResponse response, bool head, bool close, Outbox& out);
  void ResetParserLocked();
  void Dispatch(HttpRequest request);
  void OnResponse(HttpResponse response);
  void OnWritten(bool ok);
  void Run(Outbox& out);

  // http-parser callbacks.
  static const http_parser_settings& ParserSettings();
  static int OnMessageBegin(http_parser* p);
  static int OnUrl(http_parser* p, const char* at, size_t len);
  static int OnHeaderField(http_parser* p, const char* at, size_t len);
  static int OnHeaderValue(http_parser* p, const char* at, size_t len);
  static int OnHeadersComplete(http_parser* p);
  static int OnBody(http_parser* p, const char* at, size_t len);
  static int OnMessageComplete(http_parser* p);
  int CountHeaderBytes(size_t len);
  // Makes room for the body to grow to `size` bytes (`want` reserved, in steps): in memory while
  // body_budget has room, else in a BodyFile. False (and a 503 refusal set) when neither has.
  bool ReserveBodyLocked(uint64_t size, uint64_t want);
  // Moves the body to a new BodyFile with `want` bytes of spill_budget; false when spilling is
  // off, the spill budget has no room or the file cannot be made.
  bool SpillLocked(uint64_t want);
  // Appends to the body, in memory or in its file; false (and a 500 refusal set) on a write error.
  bool AppendBodyLocked(const char* at, size_t len);
  uint64_t BodySizeLocked() const;
  // Whether bodies may wait in files (HttpLimits::spill_dir and spill_budget are set).
  bool SpillingOn() const;
  // Moves *bytes to a new BodyFile, taking `want` bytes of *disk_share and giving *memory_share
  // back; null (nothing changed) when spilling is off, the disk budget has no room or the file
  // cannot be made or written.
  std::unique_ptr<BodyFile> MoveToFileLocked(std::string* bytes, uint64_t want,
                                             BudgetShare* disk_share, BudgetShare* memory_share);
  // Whether memory or the spill files could take `bytes` now (nothing is taken).
  bool BudgetHasRoomFor(uint64_t bytes) const;
  // Gives back the body's shares of both budgets.
  void ClearBodySharesLocked();
  static HttpResponse BusyResponse();
  // Makes pending_share_ match pending_ beyond a small free allowance: bytes of a next
  // request buffered while one is answered are held in memory too. False (nothing more taken)
  // when the budget has no room for them.
  bool SyncPendingLocked();
  // The pipelined bytes: their size, appending to them (false on a file error), moving them to
  // a BodyFile when memory has no room (false when that cannot be done either), taking them all
  // (read back from the file if there is one) and dropping them.
  uint64_t PendingSizeLocked() const;
  bool AppendPendingLocked(const char* data, size_t len);
  bool SpillPendingLocked();
  std::string TakePendingLocked();
  void ClearPendingLocked();
  void ChargePendingOrAbortLocked(Outbox& out);
  void FinishHeaderField();

  HttpApp& app_;
  const HttpLimits limits_;
  const std::unique_ptr<ConnectionIo> io_;
  const std::string peer_address_;
  const NowFn now_;

  mutable std::mutex mu_;
  State state_ = State::kReading;      // GUARDED_BY(mu_)
  std::optional<TimePoint> deadline_;  // GUARDED_BY(mu_)
  bool request_started_ = false;       // GUARDED_BY(mu_): bytes of a request have arrived
  bool draining_ = false;              // GUARDED_BY(mu_)
  bool close_after_write_ = false;     // GUARDED_BY(mu_)
  std::string pending_;                // GUARDED_BY(mu_): received, not yet parsed
  BudgetShare pending_share_{limits_.body_budget};  // GUARDED_BY(mu_): for pending_
  std::unique_ptr<BodyFile> pending_file_;          // GUARDED_BY(mu_): pending_ when it had no room
  BudgetShare pending_spill_share_{limits_.spill_budget};  // GUARDED_BY(mu_): for pending_file_

  // Parser state, GUARDED_BY(mu_).
  http_parser parser_;
  HttpRequest request_;
  std::string url_;
  std::string field_, value_;
  bool in_value_ = false;
  size_t header_bytes_ = 0;
  uint64_t max_body_ = 0;
  BudgetShare body_share_{limits_.body_budget};    // for request_'s body in memory
  BudgetShare spill_share_{limits_.spill_budget};  // for request_'s body in a file
  bool message_complete_ = false;
  bool keep_alive_ = false;
  std::optional<HttpResponse> refusal_;
  Outbox* outbox_ = nullptr;  // during ParseLocked
  bool head_request_ = false;
  bool answer_without_body_ = false;         // the app asked for the request without its body
  std::optional<uint64_t> declared_length_;  // the request's Content-Length, if any
  bool discard_input_ = false;  // GUARDED_BY(mu_): drop what arrives until the connection closes
};

// Serialises an answer (status line, headers, body) as it goes on the wire. For HEAD, the
// Content-Length is the representation's and no body follows.
std::string SerializeResponse(const HttpResponse& response, bool head, bool close);
// The status line and headers alone (with the blank line); the body, if any, follows them.
std::string SerializeHead(const HttpResponse& response, bool head, bool close);
// Whether the answer carries its body on the wire.
bool HasBodyOnWire(const HttpResponse& response, bool head);

}  // namespace safe::server
