// Fuzzes the request handling layer in-process: safe::server::HttpConnection (http-parser, limits,
// keep-alive, pipelining, 100-continue, timeouts) driving the real SafeApp over a BackupService
// over a storage::MemoryStore, with a FakeClock and WorkPool(0) (each request runs inline).
//
// Input layout: byte 0 and byte 3 choose the set-up (see Setup), bytes 1 and 2 where the rest is
// cut into three chunks handed to OnInput one by one. Then CheckTimeout far in the future (an
// unfinished request must get its 408), then OnDisconnected.
//
// The transport (RecordingIo) completes writes later, when the harness pumps them, as a socket
// does; a completion may be made to fail. That also keeps pipelined requests from recursing
// (with writes completing inside Write, every pipelined answer nests one level deeper).
//
// Invariants on what the connection writes:
// - every write is one whole HTTP/1.1 answer (parsed by Debian's http-parser in response mode;
//   a HEAD answer carries a Content-Length and no body) or exactly "100 Continue";
// - its status is one the API documents, never a 5xx other than 505 and the body budget's 503
//   (the MemoryStore never fails), with a Connection header;
// - once the connection is gone, every byte it took from the body budget is given back;
// - nothing is written after an answer with `Connection: close`, after CloseWrite or Abort.

#include <http_parser.h>
#include <strings.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "common/backup_id.h"
#include "common/clock.h"
#include "fuzz/fuzz_check.h"
#include "safe-server/app/handlers.h"
#include "safe-server/http/http_connection.h"
#include "safe-server/http/work_pool.h"
#include "safe-server/service/backup_service.h"
#include "safe-server/service/throttle.h"
#include "storage/memory_store.h"

namespace {

using namespace safe;
using namespace safe::server;

constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr char kStoredId[] = "066384d3695fbbd9f31a7d533900fd0cd8d1373beb6a28678522d2a49980c9c3";
constexpr Day kToday = 20000;
// "fuzz:pw"; the auth hook is a stub so that no Argon2 runs here (htpasswd_fuzz covers that).
constexpr std::string_view kGoodAuthorization = "Basic ZnV6ejpwdw==";

// ---- Checking what goes on the wire ----

struct ParsedAnswer {
  bool complete = false;
  int status = 0;
  std::string connection;  // the Connection header's value
  std::string field;
  bool field_is_connection = false;
  bool skip_body = false;  // parse as the answer to a HEAD
};

// Parses `bytes` as one whole answer. True when it is exactly one complete message.
bool ParseOneAnswer(std::string_view bytes, bool head, ParsedAnswer* answer) {
  *answer = ParsedAnswer();
  answer->skip_body = head;
  http_parser_settings s;
  http_parser_settings_init(&s);
  s.on_header_field = [](http_parser* p, const char* at, size_t len) {
    auto* a = static_cast<ParsedAnswer*>(p->data);
    a->field.assign(at, len);
    a->field_is_connection = strncasecmp(at, "Connection", len) == 0 && len == 10;
    return 0;
  };
  s.on_header_value = [](http_parser* p, const char* at, size_t len) {
    auto* a = static_cast<ParsedAnswer*>(p->data);
    if (a->field_is_connection) a->connection.append(at, len);
    return 0;
  };
  s.on_headers_complete = [](http_parser* p) {
    auto* a = static_cast<ParsedAnswer*>(p->data);
    a->status = static_cast<int>(p->status_code);
    return a->skip_body ? 1 : 0;
  };
  s.on_message_complete = [](http_parser* p) {
    auto* a = static_cast<ParsedAnswer*>(p->data);
    if (a->complete) return -1;  // a second message in one write
    a->complete = true;
    return 0;
  };
  http_parser parser;
  http_parser_init(&parser, HTTP_RESPONSE);
  parser.data = answer;
  size_t n = http_parser_execute(&parser, &s, bytes.data(), bytes.size());
  return HTTP_PARSER_ERRNO(&parser) == HPE_OK && n == bytes.size() && answer->complete;
}

const std::set<int>& DocumentedStatuses() {
  // 301 and 304: the restore page (issue 17: /restore moves to /restore/, a revalidated file is
  // not modified); 409: a spent access token (issue 18); 412: a failed If-Match / If-None-Match
  // (issue 16).
  static const std::set<int> statuses = {200, 201, 204, 301, 304, 400, 401, 404, 405,
                                         408, 409, 412, 413, 417, 429, 431, 503, 505};
  return statuses;
}

// A transport that records every write and completes them when pumped.
class RecordingIo final : public ConnectionIo {
 public:
  struct Wire {
    std::deque<std::function<void()>> pending;  // completions not yet delivered
    bool closed_write = false;
    bool aborted = false;
    bool answered_close = false;  // an answer with Connection: close was written
    int answers = 0;
    int fail_write = -1;  // the index of the write whose completion fails (-1: none)
    int writes = 0;
  };

  explicit RecordingIo(Wire* wire) : wire_(wire) {}

  void Write(std::string bytes, std::function<void(bool)> done) override {
    FUZZ_CHECK(!wire_->closed_write && !wire_->aborted, "no write after CloseWrite or Abort");
    FUZZ_CHECK(!wire_->answered_close, "no write after an answer with Connection: close");
    if (bytes != kContinue) CheckAnswer(bytes);
    const bool ok = wire_->writes++ != wire_->fail_write;
    wire_->pending.push_back([done = std::move(done), ok] { done(ok); });
  }
  void CloseWrite() override { wire_->closed_write = true; }
  void Abort() override { wire_->aborted = true; }

 private:
  void CheckAnswer(const std::string& bytes) {
    ParsedAnswer answer;
    bool whole = ParseOneAnswer(bytes, /*head=*/false, &answer) ||
                 ParseOneAnswer(bytes, /*head=*/true, &answer);
    FUZZ_CHECK(whole, "each write is one whole HTTP answer");
    FUZZ_CHECK(bytes.rfind("HTTP/1.1 ", 0) == 0, "answers are HTTP/1.1");
    FUZZ_CHECK(DocumentedStatuses().count(answer.status) == 1, "a documented status");
    FUZZ_CHECK(answer.connection == "close" || answer.connection == "keep-alive",
               "every answer says whether the connection stays");
    if (answer.connection == "close") wire_->answered_close = true;
    ++wire_->answers;
  }

  Wire* wire_;
};

void Pump(RecordingIo::Wire& wire) {
  while (!wire.pending.empty()) {
    auto done = std::move(wire.pending.front());
    wire.pending.pop_front();
    done();
  }
}

// ---- The server under test ----

struct Setup {
  bool auth = false;
  bool throttle = false;
  bool request_budget = false;
  bool pump_between_chunks = true;
  bool stored_backup = false;
  bool small_limits = false;
  bool small_body_budget = false;  // 12 bytes: most uploads do not fit (503)
  uint64_t max_backup_bytes = 1000;
  std::string peer;
  int fail_write = -1;
};

Setup ReadSetup(uint8_t a, uint8_t b) {
  static const char* const kPeers[] = {"192.0.2.7", "127.0.0.1", "2001:db8::1", "not-an-address"};
  Setup s;
  s.auth = a & 0x01;
  s.throttle = a & 0x02;
  s.request_budget = a & 0x04;
  s.pump_between_chunks = !(a & 0x08);
  s.stored_backup = a & 0x10;
  s.small_limits = a & 0x20;
  s.max_backup_bytes = (a & 0x40) ? 16 : 1000;
  s.peer = kPeers[(a >> 7) | ((b & 0x01) << 1)];
  s.fail_write = (b & 0x02) ? (b >> 2) & 0x07 : -1;
  s.small_body_budget = b & 0x20;
  return s;
}

ThrottleOptions MakeThrottleOptions(bool request_budget) {
  ThrottleOptions o;
  o.guess_burst = 2;
  o.guess_refill_per_day = 288;
  if (request_budget) {
    o.request_burst = 3;
    o.request_rate_per_second = 1;
  }
  o.ipv4_prefix = 24;
  o.ipv6_prefix = 48;
  auto proxies = ParseCidrList("127.0.0.1, ::1");
  FUZZ_CHECK(proxies.ok(), "trusted proxies parse");
  o.trusted_proxies = *proxies;
  o.max_clients = 8;
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  const Setup setup = ReadSetup(data[0], data[3]);
  const char* request = reinterpret_cast<const char*>(data + 4);
  const size_t length = size - 4;
  size_t cut1 = length == 0 ? 0 : data[1] % (length + 1);
  size_t cut2 = length == 0 ? 0 : data[2] % (length + 1);
  if (cut2 < cut1) std::swap(cut1, cut2);

  const auto start = std::chrono::steady_clock::time_point() + std::chrono::hours(1000);
  auto now = [start] { return start; };

  storage::MemoryStore store;
  FakeClock clock(kToday);
  WorkPool pool(0);
  BackupService service(store, clock, BackupServiceOptions{setup.max_backup_bytes, 180});
  if (setup.stored_backup) {
    auto id = BackupId::Parse(kStoredId);
    FUZZ_CHECK(id.ok() && service.Upload(*id, "stored blob").ok(), "pre-store a backup");
  }
  std::unique_ptr<ClientThrottle> throttle;
  if (setup.throttle) {
    throttle = std::make_unique<ClientThrottle>(MakeThrottleOptions(setup.request_budget), now);
  }
  AuthHooks auth;
  if (setup.auth) {
    auth.check = [](std::string_view authorization) { return authorization == kGoodAuthorization; };
    auth.challenge = "Basic realm=\"Safe Server\", charset=\"UTF-8\"";
  }
  SafeApp app(service, pool, std::move(auth), throttle.get());

  BodyBudget body_budget(setup.small_body_budget ? 12 : 1 << 20);
  HttpLimits limits;
  limits.body_budget = &body_budget;
  if (setup.small_limits) {
    limits.max_header_bytes = 256;
    limits.max_header_fields = 8;
    limits.max_pipelined_bytes = 512;
  }
  RecordingIo::Wire wire;
  wire.fail_write = setup.fail_write;
  {
    auto connection =
        HttpConnection::Create(app, limits, std::make_unique<RecordingIo>(&wire), setup.peer, now);
    const size_t cuts[] = {0, cut1, cut2, length};
    for (int i = 0; i < 3; ++i) {
      if (cuts[i + 1] > cuts[i]) connection->OnInput(request + cuts[i], cuts[i + 1] - cuts[i]);
      if (setup.pump_between_chunks) Pump(wire);
    }
    Pump(wire);
    connection->CheckTimeout(start + std::chrono::hours(24 * 365));
    Pump(wire);
    // Every deadline has passed: whatever arrived, the connection has been answered and closed,
    // closed while idle, or aborted. None stays open.
    FUZZ_CHECK(wire.closed_write || wire.aborted, "no connection outlives its deadlines");
    // A connection left waiting for the peer to close (linger) is aborted by a second timeout.
    connection->CheckTimeout(start + std::chrono::hours(24 * 366));
    Pump(wire);
    connection->OnDisconnected();
    FUZZ_CHECK(connection->Idle(), "a disconnected connection is idle");
    Pump(wire);
    FUZZ_CHECK(body_budget.used() == 0, "a disconnected connection holds no body budget");
  }
  FUZZ_CHECK(body_budget.used() == 0, "every body share is given back");
  return 0;
}
