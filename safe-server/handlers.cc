#include "safe-server/handlers.h"

#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "safe-server/log.h"

namespace safe::server {

namespace {

constexpr std::string_view kBackupsPrefix = "/backups/";

enum class RouteKind { kConfig, kBackup, kUnknown };

struct Route {
  RouteKind kind = RouteKind::kUnknown;
  std::string_view id_text;  // for kBackup
};

Route ParseRoute(std::string_view path) {
  if (path == "/config") return {RouteKind::kConfig, {}};
  if (path.substr(0, kBackupsPrefix.size()) == kBackupsPrefix) {
    std::string_view rest = path.substr(kBackupsPrefix.size());
    if (rest.find('/') == std::string_view::npos) return {RouteKind::kBackup, rest};
  }
  return {RouteKind::kUnknown, {}};
}

bool Allowed(RouteKind kind, HttpMethod m) {
  switch (kind) {
    case RouteKind::kConfig:
      return m == HttpMethod::kGet || m == HttpMethod::kHead;
    case RouteKind::kBackup:
      return m == HttpMethod::kGet || m == HttpMethod::kHead || m == HttpMethod::kPut ||
             m == HttpMethod::kDelete;
    case RouteKind::kUnknown:
      return false;
  }
  return false;
}

bool IsLookup(HttpMethod m) {
  return m == HttpMethod::kGet || m == HttpMethod::kHead || m == HttpMethod::kDelete;
}

HttpResponse TooManyRequests(int retry_after_seconds) {
  HttpResponse r = HttpResponse::Text(429, "too many requests; try again later");
  r.headers.Add("Retry-After", std::to_string(retry_after_seconds));
  return r;
}

HttpResponse MethodNotAllowed(RouteKind kind) {
  HttpResponse r = HttpResponse::Text(405, "method not allowed");
  r.headers.Add("Allow", kind == RouteKind::kConfig ? "GET, HEAD" : "GET, HEAD, PUT, DELETE");
  return r;
}

HttpResponse ErrorResponse(const Status& status) {
  int code = HttpStatusFor(status);
  if (code >= 500) {
    // The status message names no backup; the answer says nothing of the server's insides.
    LogError("storage: " + status.ToString());
    HttpResponse r = HttpResponse::Text(
        code, code == 507 ? "the server's storage is full" : "internal server error");
    return r;
  }
  return HttpResponse::Text(code, status.message());
}

std::string ConfigBody(const BackupServiceOptions& options) {
  nlohmann::json j = {{"maxBackupBytes", options.max_backup_bytes},
                      {"retentionDays", options.retention_days}};
  return j.dump();
}

}  // namespace

int HttpStatusFor(const Status& status) {
  switch (status.code()) {
    case Status::Code::kOk:
      return 200;
    case Status::Code::kNotFound:
      return 404;
    case Status::Code::kInvalidArgument:
      return 400;
    case Status::Code::kTooLarge:
      return 413;
    case Status::Code::kNoSpace:
      return 507;
    case Status::Code::kPermissionDenied:
      return 401;
    case Status::Code::kUnavailable:
      return 503;
    case Status::Code::kCorruption:
    case Status::Code::kIOError:
      return 500;
  }
  return 500;
}

std::string HttpDateOfDay(Day day) {
  time_t t = static_cast<time_t>(day) * 86400;
  struct tm tm_utc;
  gmtime_r(&t, &tm_utc);
  char buf[40];
  strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm_utc);
  return buf;
}

SafeApp::SafeApp(BackupService& service, WorkPool& pool, AuthHooks auth, ClientThrottle* throttle,
                 AppObservers observers)
    : service_(service),
      pool_(pool),
      auth_(std::move(auth)),
      throttle_(throttle),
      observers_(observers),
      config_body_(ConfigBody(service.options())) {}

ClientThrottle::ClientKey SafeApp::ClientOf(const HttpRequest& request) const {
  return throttle_->KeyFor(request.peer_address, request.headers.Find("X-Forwarded-For"));
}

HttpResponse SafeApp::Unauthorized() const {
  HttpResponse r = HttpResponse::Text(401, "authentication required");
  r.headers.Add("WWW-Authenticate", auth_.challenge);
  return r;
}

void SafeApp::Observe(const HttpRequest& request, const HttpResponse& response,
                      std::chrono::steady_clock::time_point started) const {
  if (observers_.metrics == nullptr && !observers_.access_log) return;
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  RouteKind kind = ParseRoute(request.path).kind;
  MetricRoute route = kind == RouteKind::kConfig   ? MetricRoute::kConfig
                      : kind == RouteKind::kBackup ? MetricRoute::kBackup
                                                   : MetricRoute::kOther;
  if (observers_.metrics != nullptr) {
    observers_.metrics->RecordRequest(route, request.method, response.status, seconds);
  }
  if (observers_.access_log) {
    // The route's kind stands for the path: a backup id never reaches the log.
    static const char* const kMethods[] = {"GET",  "HEAD",    "PUT",  "DELETE",
                                           "POST", "OPTIONS", "OTHER"};
    static const char* const kRoutes[] = {"/config", "/backups/<id>", "<other>"};
    char line[256];
    snprintf(line, sizeof line, "access: %s %s %d %zu bytes in, %zu out, %.1f ms%s%s",
             kMethods[static_cast<int>(request.method)], kRoutes[static_cast<int>(route)],
             response.status, request.body.size(),
             response.head_content_length ? static_cast<size_t>(*response.head_content_length)
                                          : response.body.size(),
             seconds * 1000, observers_.log_addresses ? " from " : "",
             observers_.log_addresses ? request.peer_address.c_str() : "");
    LogInfo(line);
  }
}

HeadDecision SafeApp::OnHeaders(const HttpRequest& head) {
  HeadDecision d = Decide(head);
  if (d.refuse) Observe(head, *d.refuse, std::chrono::steady_clock::now());
  return d;
}

namespace {
// Why a request is refused from its line and headers alone, or nothing.
std::optional<HttpResponse> Refusal(const HttpRequest& head, const Route& route,
                                    uint64_t max_backup_bytes) {
  if (route.kind == RouteKind::kUnknown) return HttpResponse::Text(404, "not found");
  if (!Allowed(route.kind, head.method)) return MethodNotAllowed(route.kind);
  if (route.kind != RouteKind::kBackup) return std::nullopt;
  Result<BackupId> id = BackupId::Parse(route.id_text);
  if (!id.ok()) return HttpResponse::Text(400, id.status().message());
  if (head.method == HttpMethod::kPut) {
    if (const std::string* length = head.headers.Find("Content-Length")) {
      // http-parser has checked that it is a number.
      uint64_t bytes = strtoull(length->c_str(), nullptr, 10);
      if (bytes == 0) return HttpResponse::Text(400, "the backup is empty");
      if (bytes > max_backup_bytes) {
        return HttpResponse::Text(413, "the backup is larger than maxBackupBytes");
      }
    }
  }
  return std::nullopt;
}
}  // namespace

HeadDecision SafeApp::Decide(const HttpRequest& head) {
  HeadDecision d;
  std::optional<ClientThrottle::ClientKey> client;
  if (throttle_ != nullptr) {
    client = ClientOf(head);
    if (std::optional<int> wait = throttle_->TakeRequest(*client)) {
      d.refuse = TooManyRequests(*wait);
      return d;
    }
  }
  const std::string* authorization = head.headers.Find("Authorization");
  if (auth_.check && authorization == nullptr) {
    d.refuse = Unauthorized();  // iOS sends credentials only after this challenge
    return d;
  }
  Route route = ParseRoute(head.path);
  if (client && (auth_.check || (route.kind == RouteKind::kBackup && IsLookup(head.method)))) {
    if (std::optional<int> wait = throttle_->GuessRetryAfter(*client)) {
      d.refuse = TooManyRequests(*wait);
      return d;
    }
  }
  d.refuse = Refusal(head, route, service_.options().max_backup_bytes);
  if (d.refuse && auth_.check && !auth_.check(*authorization)) {
    // Only a client with valid credentials learns what is wrong with its request. This runs the
    // credential check on a network thread; a cache hit is cheap, and each failure takes a token
    // of the guess budget, so a client cannot make the server run Argon2 without bound.
    if (client) throttle_->CountMiss(*client);
    d.refuse = Unauthorized();
  }
  if (!d.refuse && route.kind == RouteKind::kBackup && head.method == HttpMethod::kPut) {
    d.max_body_bytes = service_.options().max_backup_bytes;
  }
  return d;
}

void SafeApp::OnRequest(HttpRequest request, Responder respond) {
  auto started = std::chrono::steady_clock::now();
  // Reads are answered on the network thread: a hop to the pool and back cost about as much as
  // the read itself (a block-cache or page-cache hit and one decryption). Writes wait for a
  // synced commit, and credential checks may run Argon2: those go to the pool.
  if (!auth_.check && (request.method == HttpMethod::kGet || request.method == HttpMethod::kHead)) {
    HttpResponse response = Handle(request);
    Observe(request, response, started);
    respond(std::move(response));
    return;
  }
  pool_.Post([this, request = std::move(request), respond = std::move(respond), started]() {
    HttpResponse response = Handle(request);
    Observe(request, response, started);
    respond(std::move(response));
  });
}

HttpResponse SafeApp::Handle(const HttpRequest& request) {
  if (auth_.check) {
    const std::string* authorization = request.headers.Find("Authorization");
    if (authorization == nullptr || !auth_.check(*authorization)) {
      if (throttle_ != nullptr) throttle_->CountMiss(ClientOf(request));
      return Unauthorized();
    }
  }
  Route route = ParseRoute(request.path);
  if (route.kind == RouteKind::kConfig) return GetConfig(request);
  Result<BackupId> id = BackupId::Parse(route.id_text);
  if (!id.ok()) return HttpResponse::Text(400, id.status().message());  // OnHeaders checked
  HttpResponse response;
  switch (request.method) {
    case HttpMethod::kGet:
      response = GetBackup(*id, /*head=*/false);
      break;
    case HttpMethod::kHead:
      response = GetBackup(*id, /*head=*/true);
      break;
    case HttpMethod::kPut:
      return PutBackup(*id, request.body);
    case HttpMethod::kDelete:
      response = DeleteBackup(*id);
      break;
    default:
      return MethodNotAllowed(route.kind);
  }
  // A lookup that found nothing may be a wrong password's guess: it costs a token.
  if (response.status == 404 && throttle_ != nullptr) throttle_->CountMiss(ClientOf(request));
  return response;
}

HttpResponse SafeApp::GetConfig(const HttpRequest& request) const {
  HttpResponse r;
  r.status = 200;
  r.headers.Add("Content-Type", "application/json");
  r.headers.Add("Cache-Control", "no-store");
  r.body = config_body_;
  return r;
}

HttpResponse SafeApp::GetBackup(const BackupId& id, bool head) {
  HttpResponse r;
  storage::BackupInfo info;
  if (head) {
    Result<storage::BackupInfo> stat = service_.Stat(id);
    if (!stat.ok()) return ErrorResponse(stat.status());
    info = *stat;
    r.head_content_length = info.size;
  } else {
    Result<storage::BackupRecord> record = service_.Download(id);
    if (!record.ok()) return ErrorResponse(record.status());
    info = record->info;
    r.body = std::move(record->blob);
  }
  r.status = 200;
  r.headers.Add("Content-Type", "application/octet-stream");
  r.headers.Add("Cache-Control", "no-store");
  r.headers.Add("Last-Modified", HttpDateOfDay(info.upload_day));
  r.headers.Add("Expires", HttpDateOfDay(service_.DeletionDay(info)));
  return r;
}

HttpResponse SafeApp::PutBackup(const BackupId& id, const std::string& body) {
  Result<storage::PutOutcome> outcome = service_.Upload(id, body);
  if (!outcome.ok()) return ErrorResponse(outcome.status());
  HttpResponse r;
  r.status = *outcome == storage::PutOutcome::kCreated ? 201 : 204;
  return r;
}

HttpResponse SafeApp::DeleteBackup(const BackupId& id) {
  Status s = service_.Remove(id);
  if (!s.ok()) return ErrorResponse(s);
  HttpResponse r;
  r.status = 204;
  return r;
}

}  // namespace safe::server
