#include "safe-server/app/handlers.h"

#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "common/log.h"
#include "crypto/access_token.h"
#include "safe-server/app/restore_page.h"
#include "safe-server/http/body_file.h"

namespace safe::server {

namespace {

constexpr std::string_view kBackupsPrefix = "/backups/";

enum class RouteKind {
  kConfig,
  kBackup,
  kUnknown,
  kVersions,
  kVersion,
  kAccessRedeem,
  kRestorePage,
  kPreflight  // a CORS preflight from a listed origin
};

struct Route {
  RouteKind kind = RouteKind::kUnknown;
  std::string_view id_text;       // for kBackup, kVersions, kVersion
  std::string_view version_text;  // for kVersion: the n of /backups/<id>/versions/<n>
};

bool IsBackupRoute(RouteKind kind) {
  return kind == RouteKind::kBackup || kind == RouteKind::kVersions || kind == RouteKind::kVersion;
}

Route ParseRoute(std::string_view path) {
  if (path == "/config") return {RouteKind::kConfig, {}, {}};
  if (path == "/access/redeem") {
    Route route;
    route.kind = RouteKind::kAccessRedeem;
    return route;
  }
  if (path.substr(0, kBackupsPrefix.size()) == kBackupsPrefix) {
    std::string_view rest = path.substr(kBackupsPrefix.size());
    const size_t slash = rest.find('/');
    if (slash == std::string_view::npos) return {RouteKind::kBackup, rest, {}};
    const std::string_view tail = rest.substr(slash);
    constexpr std::string_view kVersionPrefix = "/versions/";
    if (tail == "/versions") return {RouteKind::kVersions, rest.substr(0, slash), {}};
    if (tail.substr(0, kVersionPrefix.size()) == kVersionPrefix) {
      return {RouteKind::kVersion, rest.substr(0, slash), tail.substr(kVersionPrefix.size())};
    }
  }
  return {RouteKind::kUnknown, {}, {}};
}

bool Allowed(RouteKind kind, HttpMethod m) {
  switch (kind) {
    case RouteKind::kConfig:
      return m == HttpMethod::kGet || m == HttpMethod::kHead;
    case RouteKind::kBackup:
      return m == HttpMethod::kGet || m == HttpMethod::kHead || m == HttpMethod::kPut ||
             m == HttpMethod::kDelete;
    case RouteKind::kAccessRedeem:
      return m == HttpMethod::kPost;
    case RouteKind::kVersions:
    case RouteKind::kVersion:
      return m == HttpMethod::kGet || m == HttpMethod::kHead;
    case RouteKind::kRestorePage:  // restore_page.h decides
      return m == HttpMethod::kGet || m == HttpMethod::kHead;
    case RouteKind::kPreflight:
      return m == HttpMethod::kOptions;
    case RouteKind::kUnknown:
      return false;
  }
  return false;
}

HttpResponse TooManyRequests(int retry_after_seconds) {
  HttpResponse r = HttpResponse::Text(429, "too many requests; try again later");
  r.headers.Add("Retry-After", std::to_string(retry_after_seconds));
  return r;
}

HttpResponse MethodNotAllowed(RouteKind kind) {
  HttpResponse r = HttpResponse::Text(405, "method not allowed");
  if (kind == RouteKind::kVersions || kind == RouteKind::kVersion) {
    r.headers.Add("Allow", "GET, HEAD");
    return r;
  }
  r.headers.Add("Allow", kind == RouteKind::kConfig         ? "GET, HEAD"
                         : kind == RouteKind::kAccessRedeem ? "POST"
                                                            : "GET, HEAD, PUT, DELETE");
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

// A tag as a strong entity-tag: 32 lowercase hex digits in double quotes.
std::string ETagOf(const storage::Tag& tag) {
  static const char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (uint8_t b : tag) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  out.push_back('"');
  return out;
}

std::string_view TrimOws(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

// One entity-tag (RFC 9110 8.8.3): [W/] DQUOTE *etagc DQUOTE. Sets *tag to our tag when it is a
// strong one of ours, to the all-zero tag (which matches nothing: see BackupService) otherwise.
bool ParseEntityTag(std::string_view v, storage::Tag* tag) {
  bool weak = false;
  if (v.substr(0, 2) == "W/") {
    weak = true;
    v.remove_prefix(2);
  }
  if (v.size() < 2 || v.front() != '"' || v.back() != '"') return false;
  v = v.substr(1, v.size() - 2);
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (!(u == 0x21 || (u >= 0x23 && u != 0x7f))) return false;  // etagc
  }
  *tag = storage::Tag{};
  if (weak || v.size() != 2 * tag->size()) return true;  // never equal to one of ours
  for (size_t i = 0; i < tag->size(); ++i) {
    int hi = std::string_view("0123456789abcdef").find(v[2 * i]);
    int lo = std::string_view("0123456789abcdef").find(v[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      *tag = storage::Tag{};
      return true;
    }
    (*tag)[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return true;
}

// If-Match and If-None-Match of a PUT into *out. A 400 answer when one is malformed or asks for
// what this server does not do (an entity-tag list: one tag or * is enough for a backup).
std::optional<HttpResponse> ParseConditions(const HttpRequest& head, UploadConditions* out) {
  if (std::optional<std::string> value = head.headers.FindAll("If-Match")) {
    std::string_view v = TrimOws(*value);
    if (v == "*") {
      out->if_exists = true;
    } else {
      storage::Tag tag;
      if (v.find(',') != std::string_view::npos) {
        return HttpResponse::Text(400,
                                  "If-Match: give one entity-tag (an ETag of this server) or *");
      }
      if (!ParseEntityTag(v, &tag)) {
        return HttpResponse::Text(
            400, "If-Match: malformed; expected * or one entity-tag in double quotes");
      }
      out->if_match = tag;
    }
  }
  if (std::optional<std::string> value = head.headers.FindAll("If-None-Match")) {
    std::string_view v = TrimOws(*value);
    if (v != "*") {
      storage::Tag tag;
      if (v.find(',') == std::string_view::npos && ParseEntityTag(v, &tag)) {
        return HttpResponse::Text(400, "If-None-Match: only * is supported on PUT");
      }
      return HttpResponse::Text(400, "If-None-Match: malformed; expected *");
    }
    out->if_absent = true;
  }
  return std::nullopt;
}

// The n of /backups/<id>/versions/<n>: 1 to 9 decimal digits. 0 is well-formed (and not found).
std::optional<uint32_t> ParseVersionNumber(std::string_view text) {
  if (text.empty() || text.size() > 9) return std::nullopt;
  uint32_t n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<uint32_t>(c - '0');
  }
  return n;
}

std::string IsoDate(Day day) {
  time_t t = static_cast<time_t>(day) * 86400;
  struct tm tm_utc;
  gmtime_r(&t, &tm_utc);
  char buf[16];
  strftime(buf, sizeof buf, "%Y-%m-%d", &tm_utc);
  return buf;
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
    case Status::Code::kAlreadyExists:
      return 409;
    case Status::Code::kFailedPrecondition:
      return 412;
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
                 AppObservers observers, WebOptions web, ByteGate* upload_gate)
    : service_(service),
      pool_(pool),
      auth_(std::move(auth)),
      throttle_(throttle),
      observers_(observers),
      config_body_(ConfigBody(service.options())),
      web_(std::move(web)),
      upload_gate_(upload_gate) {}

// The decision taken when a request's headers arrived, carried to its handler.
struct SafeRequest final : public RequestContext {
  Route route;
  std::optional<BackupId> id;                       // kBackup with a well-formed id
  std::optional<ClientThrottle::ClientKey> client;  // set when there is a throttle
  // True when auth is off or the credential is known good without slow work (the cache).
  bool credential_ok = false;
  // A refusal only a verified credential may see: answered once the check in the pool passes.
  std::optional<HttpResponse> refusal;
  // Reserved before any work on a backup (or an uncached credential); settled by the handler.
  GuessTicket ticket;
  // Set when the handler took the request. A request that dies before (a 503 or 408 from the
  // HTTP layer, a client that hangs up) looked nothing up and verified nothing, so it is no
  // guess: its token goes back.
  bool handled = false;
  ~SafeRequest() override {
    if (!handled) ticket.Refund();
  }
  UploadConditions conditions;       // a PUT's If-Match / If-None-Match
  uint32_t version = 0;              // kVersion: n
  bool preflight_of_config = false;  // kPreflight: for /config (else for a backup)
};

ClientThrottle::ClientKey SafeApp::ClientOf(const HttpRequest& request) const {
  std::optional<std::string> forwarded = request.headers.FindAll("X-Forwarded-For");
  return throttle_->KeyFor(request.peer_address, forwarded ? &*forwarded : nullptr);
}

HttpResponse SafeApp::Unauthorized() const {
  HttpResponse r = HttpResponse::Text(401, "authentication required");
  r.headers.Add("WWW-Authenticate", auth_.challenge);
  return r;
}

void SafeApp::Observe(const HttpRequest& request, int route_kind, const HttpResponse& response,
                      std::chrono::steady_clock::time_point started) const {
  if (observers_.metrics == nullptr && !observers_.access_log) return;
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  auto kind = static_cast<RouteKind>(route_kind);
  MetricRoute route = kind == RouteKind::kConfig ? MetricRoute::kConfig
                      : IsBackupRoute(kind)      ? MetricRoute::kBackup
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
  auto decided = std::make_shared<SafeRequest>();
  HeadDecision d = Decide(head, decided);
  if (d.refuse) {
    Observe(head, static_cast<int>(decided->route.kind), *d.refuse,
            std::chrono::steady_clock::now());
    AddCorsHeaders(head.headers.Find("Origin"), *d.refuse);
  }
  return d;
}

bool SafeApp::CorsAllows(std::string_view origin) const {
  for (const std::string& allowed : web_.cors_origins) {
    if (allowed == "*" || allowed == origin) return true;
  }
  return false;
}

HttpResponse SafeApp::Preflight(const HttpRequest& head, bool config) const {
  HttpResponse r;
  r.status = 204;
  r.headers.Add("Access-Control-Allow-Methods", config ? "GET, HEAD" : "GET, HEAD, PUT, DELETE");
  r.headers.Add("Access-Control-Allow-Headers", "Authorization, Content-Type, Accept");
  r.headers.Add("Access-Control-Max-Age", "600");
  return r;  // Access-Control-Allow-Origin: AddCorsHeaders
}

void SafeApp::AddCorsHeaders(const std::string* origin, HttpResponse& response) const {
  if (web_.cors_origins.empty()) return;
  response.headers.Add("Vary", "Origin");
  if (origin == nullptr || !CorsAllows(*origin)) return;
  // A listed origin is sent back as it came; under "*" alone, "*" (never an unchecked value).
  bool listed = false;
  for (const std::string& allowed : web_.cors_origins) listed = listed || allowed == *origin;
  response.headers.Add("Access-Control-Allow-Origin", listed ? *origin : "*");
  response.headers.Add("Access-Control-Expose-Headers", "Retry-After, WWW-Authenticate");
}

namespace {
// Why a request is refused from its line and headers alone, or nothing. The upload's declared
// size is judged by the service's own rule (BackupService::CheckUploadSize), not a copy of it.
std::optional<HttpResponse> Refusal(const HttpRequest& head, const Route& route,
                                    const Result<BackupId>* id, const BackupService& service) {
  if (route.kind == RouteKind::kUnknown) return HttpResponse::Text(404, "not found");
  if (!Allowed(route.kind, head.method)) return MethodNotAllowed(route.kind);
  if (!IsBackupRoute(route.kind)) return std::nullopt;
  if (!id->ok()) return HttpResponse::Text(400, id->status().message());
  if (head.method == HttpMethod::kPut) {
    if (const std::string* length = head.headers.Find("Content-Length")) {
      // http-parser has checked that it is a number.
      Status size = service.CheckUploadSize(strtoull(length->c_str(), nullptr, 10));
      if (!size.ok()) return ErrorResponse(size);
    }
  }
  return std::nullopt;
}
}  // namespace

HeadDecision SafeApp::Decide(const HttpRequest& head, std::shared_ptr<SafeRequest> decided) {
  HeadDecision d;
  decided->route = ParseRoute(head.path);
  const bool redeem = decided->route.kind == RouteKind::kAccessRedeem;
  if (redeem && !auth_.redeem) decided->route.kind = RouteKind::kUnknown;
  if (throttle_ != nullptr) {
    decided->client = ClientOf(head);
    if (std::optional<int> wait = throttle_->TakeRequest(*decided->client)) {
      d.refuse = TooManyRequests(*wait);
      return d;
    }
  }
  // The restore page's files hold no secret: no auth, no guess budget, no storage (issue 17).
  if (web_.restore_page && IsRestorePagePath(head.path)) {
    decided->route.kind = RouteKind::kRestorePage;
    if (head.method != HttpMethod::kGet && head.method != HttpMethod::kHead) {
      d.refuse = AnswerRestorePage(head);
      return d;
    }
    decided->credential_ok = true;
    d.context = std::move(decided);
    return d;
  }
  // A CORS preflight from a listed origin, before auth: browsers send it without credentials.
  const bool config_route = decided->route.kind == RouteKind::kConfig;
  if (head.method == HttpMethod::kOptions && (config_route || IsBackupRoute(decided->route.kind))) {
    const std::string* origin = head.headers.Find("Origin");
    if (origin != nullptr && CorsAllows(*origin) &&
        head.headers.Find("Access-Control-Request-Method") != nullptr) {
      // Answered on the network thread like a read; the connection stays open.
      decided->preflight_of_config = config_route;
      decided->route.kind = RouteKind::kPreflight;
      decided->credential_ok = true;
      d.context = std::move(decided);
      return d;
    }
  }
  const bool auth_on = static_cast<bool>(auth_.check);
  const std::string* authorization = head.headers.Find("Authorization");
  if (auth_on && authorization == nullptr && !redeem) {
    d.refuse = Unauthorized();  // iOS sends credentials only after this challenge
    return d;
  }
  const bool backup = IsBackupRoute(decided->route.kind);
  // A spent budget refuses every request for a backup (every request when auth is on) alike,
  // before anything else is looked at, so the refusal tells nothing.
  if (decided->client && (auth_on || backup || redeem)) {
    if (std::optional<int> wait = throttle_->GuessRetryAfter(*decided->client)) {
      d.refuse = TooManyRequests(*wait);
      return d;
    }
  }
  Result<BackupId> id = backup ? BackupId::Parse(decided->route.id_text)
                               : Result<BackupId>(Status::InvalidArgument("no id"));
  if (backup && id.ok()) decided->id = *id;
  decided->route.id_text = {};  // it points into head.path, which moves on (version_text below)
  std::optional<HttpResponse> refusal = Refusal(head, decided->route, &id, service_);
  if (!refusal && decided->route.kind == RouteKind::kVersion) {
    std::optional<uint32_t> n = ParseVersionNumber(decided->route.version_text);
    if (!n) refusal = HttpResponse::Text(400, "the version number must be a decimal number");
    decided->version = n.value_or(0);
  }
  decided->route.version_text = {};
  if (!refusal && backup && head.method == HttpMethod::kPut) {
    refusal = ParseConditions(head, &decided->conditions);
  }
  // Only the credential cache is consulted here: Argon2 never runs on a network thread.
  // A redeem needs no credential: it is how a customer gets one.
  decided->credential_ok =
      !auth_on || redeem || (auth_.check_cached && auth_.check_cached(*authorization));
  if (refusal && decided->credential_ok) {
    d.refuse = std::move(refusal);
    return d;
  }
  // Work that may be a guess takes its token before it starts: an Argon2 verification, and any
  // lookup, write or delete of a backup. Deciding a read only after its lookup would let a
  // client with one token left hold many reads past this point and tell hits from misses by how
  // fast their 429 came (found in review).
  const bool may_guess = backup || redeem;
  if (decided->client && (!decided->credential_ok || may_guess)) {
    if (std::optional<int> wait = throttle_->ReserveGuess(*decided->client, &decided->ticket)) {
      d.refuse = TooManyRequests(*wait);
      return d;
    }
  }
  if (refusal) {
    // Only a client with valid credentials learns what is wrong with its request: the check
    // runs in the pool, the body is never read.
    decided->refusal = std::move(refusal);
    d.answer_without_body = true;
  } else if (backup && head.method == HttpMethod::kPut) {
    d.max_body_bytes = service_.options().max_backup_bytes;
  } else if (redeem) {
    d.max_body_bytes = crypto::kAccessRedeemMaxBodyBytes;
  }
  d.context = std::move(decided);
  return d;
}

void SafeApp::OnRequest(HttpRequest request, Responder respond) {
  auto started = std::chrono::steady_clock::now();
  if (!web_.cors_origins.empty()) {
    const std::string* found = request.headers.Find("Origin");
    respond = [this, origin = found ? std::optional<std::string>(*found) : std::nullopt,
               respond = std::move(respond)](HttpResponse response) {
      AddCorsHeaders(origin ? &*origin : nullptr, response);
      respond(std::move(response));
    };
  }
  std::shared_ptr<SafeRequest> decided = std::static_pointer_cast<SafeRequest>(request.context);
  if (decided == nullptr) {
    // Not through OnHeaders (an in-process caller): decide now.
    decided = std::make_shared<SafeRequest>();
    HeadDecision d = Decide(request, decided);
    if (d.refuse) {
      request.headers.Wipe("Authorization");
      Observe(request, static_cast<int>(decided->route.kind), *d.refuse, started);
      respond(std::move(*d.refuse));
      return;
    }
  }
  // Reads of a known-good client are answered on the network thread: a hop to the pool and back
  // cost about as much as the read itself (a block-cache or page-cache hit and one decryption).
  // Writes wait for a synced commit, and credential checks run Argon2: those go to the pool.
  if (decided->credential_ok && !decided->refusal &&
      (request.method == HttpMethod::kGet || request.method == HttpMethod::kHead ||
       decided->route.kind == RouteKind::kPreflight)) {
    request.headers.Wipe("Authorization");  // checked at header time: not needed any more
    HttpResponse response = Handle(request, *decided);
    Observe(request, static_cast<int>(decided->route.kind), response, started);
    respond(std::move(response));
    return;
  }
  // Fair between clients: one client's queue of Argon2 runs or writes does not hold up another's.
  const uint64_t client = decided->client.value_or(0);
  pool_.Post(client, [this, request = std::move(request), decided = std::move(decided),
                      respond = std::move(respond), started]() mutable {
    // A body that waited in a file (the memory budget was full) is read back here, on the pool,
    // once the gate lets it: the bodies being read back, sealed and written at once are bounded.
    const uint64_t body_bytes = request.body_file ? request.body_file->size() : request.body.size();
    ByteGate::Pass pass = upload_gate_ != nullptr && body_bytes > 0
                              ? upload_gate_->Acquire(body_bytes)
                              : ByteGate::Pass();
    Status loaded = request.LoadBody();
    if (!loaded.ok()) LogError(loaded.ToString());
    HttpResponse response =
        loaded.ok() ? Handle(request, *decided) : HttpResponse::Text(500, "internal server error");
    request.headers.Wipe("Authorization");  // checked (or refused) by Handle
    Observe(request, static_cast<int>(decided->route.kind), response, started);
    respond(std::move(response));
  });
}

HttpResponse SafeApp::Handle(const HttpRequest& request, SafeRequest& decided) {
  decided.handled = true;
  if (decided.route.kind == RouteKind::kRestorePage) return AnswerRestorePage(request);
  if (decided.route.kind == RouteKind::kPreflight) {
    return Preflight(request, decided.preflight_of_config);
  }
  if (!decided.credential_ok) {
    const std::string* authorization = request.headers.Find("Authorization");
    if (authorization == nullptr || !auth_.check(*authorization)) {
      return Unauthorized();  // the ticket's charge stands: a failed credential is a guess
    }
  }
  if (decided.refusal) {
    decided.ticket.Refund();
    return std::move(*decided.refusal);
  }
  if (decided.route.kind == RouteKind::kConfig) {
    decided.ticket.Refund();
    return GetConfig();
  }
  if (decided.route.kind == RouteKind::kAccessRedeem) {
    // A failed redeem keeps its charge (a forged or spent token is a guess); a success refunds.
    HttpResponse response = RedeemAccess(request.body);
    if (response.status == 200) decided.ticket.Refund();
    return response;
  }
  const BackupId& id = *decided.id;  // Decide refused a malformed one
  HttpResponse response;
  bool miss = false;  // a conditional PUT that found no backup: a lookup that found nothing
  const bool head = request.method == HttpMethod::kHead;
  if (decided.route.kind == RouteKind::kVersions) {
    response = GetVersions(id, head);
  } else if (decided.route.kind == RouteKind::kVersion) {
    response = GetVersion(id, decided.version, head);
  } else {
    switch (request.method) {
      case HttpMethod::kGet:
      case HttpMethod::kHead:
        response = GetBackup(id, head);
        break;
      case HttpMethod::kPut:
        response = PutBackup(id, request.body, decided.conditions, &miss);
        break;
      case HttpMethod::kDelete:
        response = DeleteBackup(id);
        break;
      default:
        decided.ticket.Refund();
        return MethodNotAllowed(decided.route.kind);
    }
  }
  // The one place the guess budget is settled. A guess is a lookup that found nothing (a 404,
  // also for a versions listing or a version, or a conditional PUT answered 412 because there
  // is no backup) or an upload that created a backup; anything else gives a reserved token back
  // (a 412 over an existing backup tells only what a 200 would: docs/protocol.md).
  const bool guess = response.status == 404 || response.status == 201 || miss;
  if (!guess) decided.ticket.Refund();
  return response;
}

HttpResponse SafeApp::RedeemAccess(const std::string& body) {
  std::string answer;
  Status s = auth_.redeem(body, &answer);
  if (!s.ok()) {
    HttpResponse r = ErrorResponse(s);
    if (r.status == 401) r.headers.Add("WWW-Authenticate", auth_.challenge);
    return r;
  }
  HttpResponse r;
  r.status = 200;
  r.headers.Add("Content-Type", "application/json");
  r.headers.Add("Cache-Control", "no-store");
  r.body = std::move(answer);
  return r;
}

HttpResponse SafeApp::GetConfig() const {
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
  if (info.tag != storage::Tag{}) r.headers.Add("ETag", ETagOf(info.tag));
  return r;
}

HttpResponse SafeApp::PutBackup(const BackupId& id, const std::string& body,
                                const UploadConditions& conditions, bool* miss) {
  Result<storage::PutResult> result = service_.Upload(id, body, conditions);
  if (!result.ok()) {
    if (result.status().IsNotFound() || result.status().IsFailedPrecondition()) {
      // The same answer whether the backup is absent or another one: see docs/protocol.md.
      *miss = result.status().IsNotFound();
      return HttpResponse::Text(412, conditions.if_absent && !*miss
                                         ? "precondition failed: the backup exists"
                                         : "precondition failed: the backup is not the one "
                                           "If-Match names");
    }
    return ErrorResponse(result.status());
  }
  HttpResponse r;
  r.status = result->outcome == storage::PutOutcome::kCreated ? 201 : 204;
  r.headers.Add("ETag", ETagOf(result->tag));
  return r;
}

HttpResponse SafeApp::GetVersions(const BackupId& id, bool head) {
  Result<std::vector<storage::VersionInfo>> versions = service_.ListVersions(id);
  if (!versions.ok()) return ErrorResponse(versions.status());
  nlohmann::json list = nlohmann::json::array();
  uint32_t n = 0;
  for (const storage::VersionInfo& v : *versions) {
    list.push_back({{"version", ++n},
                    {"size", v.size},
                    {"uploaded", IsoDate(v.upload_day)},
                    {"replaced", IsoDate(v.replaced_day)},
                    {"expires", IsoDate(service_.VersionDeletionDay(v))}});
  }
  HttpResponse r;
  r.status = 200;
  r.headers.Add("Content-Type", "application/json");
  r.headers.Add("Cache-Control", "no-store");
  r.body = nlohmann::json{{"versions", list}}.dump();
  if (head) {
    r.head_content_length = r.body.size();
    r.body.clear();
  }
  return r;
}

HttpResponse SafeApp::GetVersion(const BackupId& id, uint32_t n, bool head) {
  Result<storage::BackupRecord> record = service_.DownloadVersion(id, n);
  if (!record.ok()) return ErrorResponse(record.status());
  HttpResponse r;
  r.status = 200;
  r.headers.Add("Content-Type", "application/octet-stream");
  r.headers.Add("Cache-Control", "no-store");
  r.headers.Add("Last-Modified", HttpDateOfDay(record->info.upload_day));
  if (head) {
    r.head_content_length = record->blob.size();
  } else {
    r.body = std::move(record->blob);
  }
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
