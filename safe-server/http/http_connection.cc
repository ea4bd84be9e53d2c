#include "safe-server/http/http_connection.h"

#include <strings.h>

#include <cstdio>
#include <ctime>
#include <utility>
#include <vector>

#include "common/log.h"
#include "safe-server/http/body_file.h"

namespace safe::server {

namespace {

constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";

// A body (or bytes sent ahead) that could not be written to its file: a full disk or an I/O
// error. Logged once per interval however many uploads meet it (a full disk meets them all).
// The error's text (a path of ours and an errno) is the same for every upload: not repeated.
void NoteSpillFailure() {
  static RateLimitedLog log(LogLevel::kError,
                            "request bodies beyond max-body-memory could not wait in files in "
                            "the data directory (full disk or I/O error); such uploads are "
                            "refused",
                            std::chrono::seconds(10));
  log.Note();
}

// A body above HeadDecision::max_body_bytes, declared or counted as it arrives.
HttpResponse BodyTooLarge() {
  return HttpResponse::Text(413, "the body is larger than this server accepts");
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

HttpMethod MethodOf(unsigned int m) {
  switch (static_cast<http_method>(m)) {
    case HTTP_GET:
      return HttpMethod::kGet;
    case HTTP_HEAD:
      return HttpMethod::kHead;
    case HTTP_PUT:
      return HttpMethod::kPut;
    case HTTP_DELETE:
      return HttpMethod::kDelete;
    case HTTP_POST:
      return HttpMethod::kPost;
    case HTTP_OPTIONS:
      return HttpMethod::kOptions;
    default:
      return HttpMethod::kOther;
  }
}

// The IMF-fixdate of the current second, formatted once per second per thread.
std::string_view HttpDate() {
  thread_local time_t cached_second = 0;
  thread_local char cached[40];
  time_t now = time(nullptr);
  if (now != cached_second) {
    struct tm tm_utc;
    gmtime_r(&now, &tm_utc);
    strftime(cached, sizeof cached, "%a, %d %b %Y %H:%M:%S GMT", &tm_utc);
    cached_second = now;
  }
  return cached;
}

}  // namespace

// What a locked section decided to do once the lock is released.
struct HttpConnection::Outbox {
  struct Write {
    std::string bytes;
    bool notify;       // call OnWritten when done
    std::string body;  // sent after bytes, without joining them
  };
  std::vector<Write> writes;
  bool close_write = false;
  bool abort = false;
  std::optional<HttpRequest> dispatch;
};

bool HasBodyOnWire(const HttpResponse& response, bool head) {
  const bool no_body_allowed = response.status == 204 || response.status == 304 ||
                               (response.status >= 100 && response.status < 200);
  return !head && !no_body_allowed && !response.body.empty();
}

std::string SerializeHead(const HttpResponse& response, bool head, bool close) {
  const bool no_body_allowed = response.status == 204 || response.status == 304 ||
                               (response.status >= 100 && response.status < 200);
  std::string out;
  out.reserve(256);
  char line[64];
  snprintf(line, sizeof line, "HTTP/1.1 %d ", response.status);
  out += line;
  out += ReasonPhrase(response.status);
  out += "\r\nDate: ";
  out += HttpDate();
  out += "\r\n";
  if (!no_body_allowed) {
    uint64_t length = response.body.size();
    if (head && response.head_content_length) length = *response.head_content_length;
    out += "Content-Length: ";
    out += std::to_string(length);
    out += "\r\n";
  }
  out += close ? "Connection: close\r\n" : "Connection: keep-alive\r\n";
  for (const auto& [name, value] : response.headers.fields()) {
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  out += "\r\n";
  return out;
}

std::string SerializeResponse(const HttpResponse& response, bool head, bool close) {
  std::string out = SerializeHead(response, head, close);
  if (HasBodyOnWire(response, head)) out.append(response.body);
  return out;
}

std::shared_ptr<HttpConnection> HttpConnection::Create(HttpApp& app, const HttpLimits& limits,
                                                       std::unique_ptr<ConnectionIo> io,
                                                       std::string peer_address, NowFn now) {
  return std::shared_ptr<HttpConnection>(
      new HttpConnection(app, limits, std::move(io), std::move(peer_address), std::move(now)));
}

HttpConnection::HttpConnection(HttpApp& app, const HttpLimits& limits,
                               std::unique_ptr<ConnectionIo> io, std::string peer_address,
                               NowFn now)
    : app_(app),
      limits_(limits),
      io_(std::move(io)),
      peer_address_(std::move(peer_address)),
      now_(now ? std::move(now) : NowFn([] { return std::chrono::steady_clock::now(); })) {
  ResetParserLocked();
  deadline_ = now_() + limits_.header_timeout;
}

HttpConnection::~HttpConnection() = default;

bool BodyBudget::TryReserve(uint64_t n) {
  uint64_t used = used_.load();
  do {
    if (n > limit_ || used > limit_ - n) return false;
  } while (!used_.compare_exchange_weak(used, used + n));
  return true;
}

void BodyBudget::Release(uint64_t n) { used_.fetch_sub(n); }

bool BudgetShare::Resize(uint64_t bytes) {
  if (budget_ != nullptr) {
    if (bytes > bytes_) {
      if (!budget_->TryReserve(bytes - bytes_)) return false;
    } else if (bytes < bytes_) {
      budget_->Release(bytes_ - bytes);
    }
  }
  bytes_ = bytes;
  return true;
}

// Bodies take the budget in steps of this as they arrive, so that a body of many small reads does
// not touch the shared counter for each, and a stalled upload holds at most one step more than it
// sent.
constexpr uint64_t kBodyReserveStep = 4 * 1024;

HttpResponse HttpConnection::BusyResponse() {
  HttpResponse busy =
      HttpResponse::Text(503, "too many uploads in progress on this server; try again later");
  busy.headers.Add("Retry-After", "5");
  return busy;
}

namespace {
bool HasRoom(const BodyBudget* budget, uint64_t bytes) {
  return bytes <= budget->limit() && budget->used() <= budget->limit() - bytes;
}
}  // namespace

bool HttpConnection::SpillingOn() const {
  return !limits_.spill_dir.empty() && limits_.spill_budget != nullptr;
}

bool HttpConnection::BudgetHasRoomFor(uint64_t bytes) const {
  if (limits_.body_budget == nullptr || HasRoom(limits_.body_budget, bytes)) return true;
  return SpillingOn() && HasRoom(limits_.spill_budget, bytes);
}

std::unique_ptr<BodyFile> HttpConnection::MoveToFileLocked(std::string* bytes, uint64_t want,
                                                           BudgetShare* disk_share,
                                                           BudgetShare* memory_share) {
  if (!SpillingOn() || !disk_share->Resize(want)) return nullptr;
  Result<std::unique_ptr<BodyFile>> file = BodyFile::Create(limits_.spill_dir);
  Status written = file.ok() ? (*file)->Append(bytes->data(), bytes->size()) : file.status();
  if (!written.ok()) {
    disk_share->Clear();
    NoteSpillFailure();
    return nullptr;
  }
  std::string().swap(*bytes);  // its memory goes back now
  memory_share->Clear();
  return std::move(*file);
}

void HttpConnection::ClearBodySharesLocked() {
  body_share_.Clear();
  spill_share_.Clear();
}

uint64_t HttpConnection::BodySizeLocked() const {
  return request_.body_file ? request_.body_file->size() : request_.body.size();
}

bool HttpConnection::ReserveBodyLocked(uint64_t size, uint64_t want) {
  if (request_.body_file) {
    if (size <= spill_share_.bytes() || spill_share_.Resize(want)) return true;
  } else if (size <= body_share_.bytes() || body_share_.Resize(want) || SpillLocked(want)) {
    return true;
  }
  refusal_ = BusyResponse();
  return false;
}

bool HttpConnection::SpillLocked(uint64_t want) {
  request_.body_file = MoveToFileLocked(&request_.body, want, &spill_share_, &body_share_);
  return request_.body_file != nullptr;
}

bool HttpConnection::AppendBodyLocked(const char* at, size_t len) {
  if (!request_.body_file) {
    request_.body.append(at, len);
    return true;
  }
  Status s = request_.body_file->Append(at, len);
  if (s.ok()) return true;
  NoteSpillFailure();
  refusal_ = s.IsNoSpace() ? HttpResponse::Text(507, "the server's storage is full")
                           : HttpResponse::Text(500, "internal server error");
  return false;
}

// Pipelined bytes up to this much are not counted against the budget: a next request's line and
// headers, which every keep-alive client may send early.
constexpr uint64_t kFreePendingBytes = 16 * 1024;

bool HttpConnection::SyncPendingLocked() {
  if (pending_file_) return pending_spill_share_.Resize(pending_file_->size());
  const uint64_t size = pending_.size();
  return pending_share_.Resize(size > kFreePendingBytes ? size - kFreePendingBytes : 0);
}

uint64_t HttpConnection::PendingSizeLocked() const {
  return pending_file_ ? pending_file_->size() : pending_.size();
}

bool HttpConnection::AppendPendingLocked(const char* data, size_t len) {
  if (!pending_file_) {
    pending_.append(data, len);
    return true;
  }
  Status s = pending_file_->Append(data, len);
  if (!s.ok()) NoteSpillFailure();
  return s.ok();
}

bool HttpConnection::SpillPendingLocked() {
  if (pending_file_) return false;
  pending_file_ =
      MoveToFileLocked(&pending_, pending_.size(), &pending_spill_share_, &pending_share_);
  return pending_file_ != nullptr;
}

std::string HttpConnection::TakePendingLocked() {
  std::string taken;
  if (pending_file_) {
    // Read back on this thread: at most one such buffer per network thread at a time, and the
    // body bytes in it go through OnBody's budget (and to a file again) as they are parsed.
    Result<std::string> loaded = pending_file_->ReadAll();
    if (loaded.ok()) taken = std::move(*loaded);
    if (!loaded.ok()) LogError(loaded.status().ToString());
  } else {
    taken = std::move(pending_);
  }
  ClearPendingLocked();
  return taken;
}

void HttpConnection::ClearPendingLocked() {
  pending_.clear();
  pending_file_.reset();
  pending_share_.Clear();
  pending_spill_share_.Clear();
}

void HttpConnection::ResetParserLocked() {
  http_parser_init(&parser_, HTTP_REQUEST);
  parser_.data = this;
  request_ = HttpRequest();
  url_.clear();
  field_.clear();
  value_.clear();
  in_value_ = false;
  header_bytes_ = 0;
  max_body_ = 0;
  message_complete_ = false;
  keep_alive_ = false;
  refusal_.reset();
  request_started_ = false;
  head_request_ = false;
  answer_without_body_ = false;
  declared_length_.reset();
}

void HttpConnection::OnInput(const char* data, size_t len) {
  Outbox out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    switch (state_) {
      case State::kClosed:
      case State::kClosing:
        return;  // after we closed our side, whatever still arrives is dropped
      case State::kProcessing:
      case State::kWriting:
        if (discard_input_) {
          // The body of a request answered without it: never read, never buffered.
        } else if (PendingSizeLocked() + len > limits_.max_pipelined_bytes ||
                   !AppendPendingLocked(data, len)) {
          out.abort = true;
          state_ = State::kClosing;
        }
        break;
      case State::kReading:
        if (PendingSizeLocked() == 0) {
          out.dispatch = ParseLocked(data, len, out);
        } else {
          std::string buffered = TakePendingLocked();
          buffered.append(data, len);
          out.dispatch = ParseLocked(buffered.data(), buffered.size(), out);
        }
        break;
    }
    ChargePendingOrAbortLocked(out);
  }
  Run(out);
}

void HttpConnection::ChargePendingOrAbortLocked(Outbox& out) {
  if (SyncPendingLocked()) return;
  // No room in memory for what this client sent ahead of its answer (a keep-alive client sends
  // its next upload as soon as it has read the answer, often before the write's completion is
  // seen here): it waits in a file, as a body would.
  if (SpillPendingLocked()) return;
  // No room there either: drop the connection (as when it sends more than max_pipelined_bytes
  // ahead).
  ClearPendingLocked();
  out.dispatch.reset();
  out.abort = true;
  state_ = State::kClosing;
}

std::optional<HttpRequest> HttpConnection::ParseLocked(const char* data, size_t len, Outbox& out) {
  outbox_ = &out;
  size_t parsed = http_parser_execute(&parser_, &ParserSettings(), data, len);
  outbox_ = nullptr;
  if (message_complete_) {
    http_parser_pause(&parser_, 0);
    pending_.assign(data + parsed, len - parsed);
    state_ = State::kProcessing;
    deadline_.reset();
    return std::move(request_);
  }
  if (answer_without_body_) {
    // The app wants the request without its body (HeadDecision::answer_without_body): whatever
    // follows the headers is dropped, and the connection closes after the answer.
    ClearPendingLocked();
    discard_input_ = true;
    keep_alive_ = false;
    state_ = State::kProcessing;
    deadline_.reset();
    return std::move(request_);
  }
  http_errno err = HTTP_PARSER_ERRNO(&parser_);
  if (err != HPE_OK) {
    HttpResponse answer =
        refusal_
            ? std::move(*refusal_)
            : HttpResponse::Text(400, std::string("bad request: ") + http_errno_description(err));
    ClearPendingLocked();
    QueueResponseLocked(std::move(answer), head_request_, /*close=*/true, out);
  }
  return std::nullopt;
}

void HttpConnection::QueueResponseLocked(HttpResponse response, bool head, bool close,
                                         Outbox& out) {
  ClearBodySharesLocked();  // the app is done with the body (or it was refused)
  close = close || response.close || draining_;
  close_after_write_ = close;
  state_ = State::kWriting;
  deadline_ = now_() + limits_.write_timeout;
  // The body goes out as it is, after the head: no copy of it is made here.
  std::string wire_head = SerializeHead(response, head, close);
  std::string body = HasBodyOnWire(response, head) ? std::move(response.body) : std::string();
  out.writes.push_back({std::move(wire_head), /*notify=*/true, std::move(body)});
}

void HttpConnection::Run(Outbox& out) {
  for (auto& w : out.writes) {
    if (w.notify) {
      std::weak_ptr<HttpConnection> weak = weak_from_this();
      io_->WriteParts(std::move(w.bytes), std::move(w.body), [weak](bool ok) {
        if (auto self = weak.lock()) self->OnWritten(ok);
      });
    } else {
      io_->Write(std::move(w.bytes), [](bool) {});
    }
  }
  if (out.abort) io_->Abort();
  if (out.close_write) io_->CloseWrite();
  if (out.dispatch) Dispatch(std::move(*out.dispatch));
}

void HttpConnection::Dispatch(HttpRequest request) {
  std::shared_ptr<HttpConnection> self = shared_from_this();
  app_.OnRequest(std::move(request),
                 [self](HttpResponse response) { self->OnResponse(std::move(response)); });
}

void HttpConnection::OnResponse(HttpResponse response) {
  Outbox out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (state_ != State::kProcessing) {  // the connection went away meanwhile
      ClearBodySharesLocked();           // the app is done with the body
      return;
    }
    QueueResponseLocked(std::move(response), head_request_, !keep_alive_, out);
  }
  Run(out);
}

void HttpConnection::OnWritten(bool ok) {
  Outbox out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (state_ != State::kWriting) return;
    if (!ok) {
      state_ = State::kClosing;
      out.abort = true;
    } else if (close_after_write_) {
      state_ = State::kClosing;
      deadline_ = now_() + limits_.linger_timeout;
      out.close_write = true;
    } else {
      ResetParserLocked();
      state_ = State::kReading;
      deadline_ = now_() + limits_.idle_timeout;
      if (PendingSizeLocked() > 0) {
        std::string buffered = TakePendingLocked();
        out.dispatch = ParseLocked(buffered.data(), buffered.size(), out);
      }
      ChargePendingOrAbortLocked(out);
    }
  }
  Run(out);
}

void HttpConnection::OnDisconnected() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    // While the app works on the request its body is still in memory: its share goes back when
    // the app answers (OnResponse) or the connection is freed, not now.
    if (state_ != State::kProcessing) ClearBodySharesLocked();
    state_ = State::kClosed;
    deadline_.reset();
    ClearPendingLocked();
  }
  io_->Closed();
}

bool HttpConnection::CheckTimeout(TimePoint now) {
  Outbox out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!deadline_ || now < *deadline_) return false;
    switch (state_) {
      case State::kReading:
        if (request_started_) {
          QueueResponseLocked(HttpResponse::Text(408, "request timeout"), head_request_,
                              /*close=*/true, out);
        } else {
          state_ = State::kClosing;
          deadline_ = now + limits_.linger_timeout;
          out.close_write = true;
        }
        break;
      case State::kWriting:
      case State::kClosing:
        state_ = State::kClosing;
        deadline_.reset();
        out.abort = true;
        break;
      case State::kProcessing:
      case State::kClosed:
        return false;
    }
  }
  Run(out);
  return true;
}

void HttpConnection::BeginDrain() {
  Outbox out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    draining_ = true;
    if (state_ == State::kReading && !request_started_) {
      state_ = State::kClosing;
      deadline_ = now_() + limits_.linger_timeout;
      out.close_write = true;
    }
  }
  Run(out);
}

bool HttpConnection::Idle() const {
  std::lock_guard<std::mutex> lock(mu_);
  switch (state_) {
    case State::kReading:
      return !request_started_;
    case State::kProcessing:
    case State::kWriting:
      return false;
    case State::kClosing:
    case State::kClosed:
      return true;
  }
  return true;
}

// ---- http-parser callbacks (mu_ is held: they run inside ParseLocked) ----

int HttpConnection::CountHeaderBytes(size_t len) {
  header_bytes_ += len;
  if (header_bytes_ > limits_.max_header_bytes) {
    refusal_ = HttpResponse::Text(431, "request header fields too large");
    return -1;
  }
  return 0;
}

void HttpConnection::FinishHeaderField() {
  if (in_value_ || !field_.empty()) {
    request_.headers.Add(std::move(field_), std::move(value_));
    field_.clear();
    value_.clear();
  }
  in_value_ = false;
}

int HttpConnection::OnMessageBegin(http_parser* p) {
  auto* c = static_cast<HttpConnection*>(p->data);
  c->request_started_ = true;
  c->deadline_ = c->now_() + c->limits_.header_timeout;
  return 0;
}

int HttpConnection::OnUrl(http_parser* p, const char* at, size_t len) {
  auto* c = static_cast<HttpConnection*>(p->data);
  if (c->CountHeaderBytes(len) != 0) return -1;
  c->url_.append(at, len);
  return 0;
}

int HttpConnection::OnHeaderField(http_parser* p, const char* at, size_t len) {
  auto* c = static_cast<HttpConnection*>(p->data);
  if (c->CountHeaderBytes(len) != 0) return -1;
  if (c->in_value_) {
    c->FinishHeaderField();
    if (c->request_.headers.fields().size() >= c->limits_.max_header_fields) {
      c->refusal_ = HttpResponse::Text(431, "too many header fields");
      return -1;
    }
  }
  c->field_.append(at, len);
  return 0;
}

int HttpConnection::OnHeaderValue(http_parser* p, const char* at, size_t len) {
  auto* c = static_cast<HttpConnection*>(p->data);
  if (c->CountHeaderBytes(len) != 0) return -1;
  c->in_value_ = true;
  c->value_.append(at, len);
  return 0;
}

int HttpConnection::OnHeadersComplete(http_parser* p) {
  auto* c = static_cast<HttpConnection*>(p->data);
  c->FinishHeaderField();
  HttpRequest& r = c->request_;
  r.peer_address = c->peer_address_;
  r.method = MethodOf(p->method);
  c->head_request_ = r.method == HttpMethod::kHead;
  size_t q = c->url_.find('?');
  r.path = c->url_.substr(0, q);
  r.query = q == std::string::npos ? std::string() : c->url_.substr(q + 1);

  if (p->http_major != 1) {
    c->refusal_ = HttpResponse::Text(505, "only HTTP/1.x is spoken here");
    return -1;
  }
  bool expect_continue = false;
  if (const std::string* expect = r.headers.Find("Expect")) {
    if (!EqualsIgnoreCase(*expect, "100-continue")) {
      c->refusal_ = HttpResponse::Text(417, "unsupported Expect header");
      return -1;
    }
    expect_continue = p->http_minor >= 1;
  }

  HeadDecision decision = c->app_.OnHeaders(r);
  if (decision.refuse) {
    c->refusal_ = std::move(*decision.refuse);
    return -1;
  }
  r.context = std::move(decision.context);
  if (decision.answer_without_body) {
    c->answer_without_body_ = true;
    return -1;  // stops the parser: no body byte is read; ParseLocked hands the request over
  }
  const bool chunked = (p->flags & F_CHUNKED) != 0;
  const bool has_length = r.headers.Find("Content-Length") != nullptr;
  if (has_length && p->content_length > decision.max_body_bytes) {
    c->refusal_ = BodyTooLarge();
    return -1;
  }
  c->max_body_ = decision.max_body_bytes;
  if (has_length) c->declared_length_ = p->content_length;
  // The body budget is taken when the first body byte arrives, not now: headers that are never
  // followed by a body (say, Expect: 100-continue left unanswered by the client) hold nothing of
  // it. A client that asks before sending learns now whether there is room.
  if (expect_continue && has_length && !c->BudgetHasRoomFor(p->content_length)) {
    c->refusal_ = BusyResponse();
    return -1;
  }
  if (expect_continue && (chunked || p->content_length > 0)) {
    c->outbox_->writes.push_back({std::string(kContinue, sizeof kContinue - 1), false, {}});
  }
  c->deadline_ = c->now_() + c->limits_.body_timeout;
  return 0;
}

int HttpConnection::OnBody(http_parser* p, const char* at, size_t len) {
  auto* c = static_cast<HttpConnection*>(p->data);
  const uint64_t size = c->BodySizeLocked() + len;
  if (size > c->max_body_) {
    c->refusal_ = BodyTooLarge();
    return -1;
  }
  if (size > (c->request_.body_file ? c->spill_share_ : c->body_share_).bytes()) {
    // The share follows the bytes that really arrived (in steps), never the length a client
    // merely declares: uploads that send one byte and stall hold one step each, not their whole
    // Content-Length (found in review: 18 addresses x 30 such uploads held the default budget).
    const uint64_t step_end = (size + kBodyReserveStep - 1) / kBodyReserveStep * kBodyReserveStep;
    const uint64_t want = std::min<uint64_t>(c->declared_length_.value_or(c->max_body_), step_end);
    if (!c->ReserveBodyLocked(size, want)) return -1;
    if (c->declared_length_ && c->request_.body.empty() && !c->request_.body_file) {
      c->request_.body.reserve(*c->declared_length_);  // address space; pages come as bytes do
    }
  }
  return c->AppendBodyLocked(at, len) ? 0 : -1;
}

int HttpConnection::OnMessageComplete(http_parser* p) {
  auto* c = static_cast<HttpConnection*>(p->data);
  c->message_complete_ = true;
  c->keep_alive_ = http_should_keep_alive(p) != 0 && !p->upgrade;
  http_parser_pause(p, 1);
  return 0;
}

const http_parser_settings& HttpConnection::ParserSettings() {
  static const http_parser_settings settings = [] {
    http_parser_settings s;
    http_parser_settings_init(&s);
    s.on_message_begin = &HttpConnection::OnMessageBegin;
    s.on_url = &HttpConnection::OnUrl;
    s.on_header_field = &HttpConnection::OnHeaderField;
    s.on_header_value = &HttpConnection::OnHeaderValue;
    s.on_headers_complete = &HttpConnection::OnHeadersComplete;
    s.on_body = &HttpConnection::OnBody;
    s.on_message_complete = &HttpConnection::OnMessageComplete;
    return s;
  }();
  return settings;
}

}  // namespace safe::server
