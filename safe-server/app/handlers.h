// SafeApp: the Safe server's HTTP API, as an HttpApp.
//
//   GET|HEAD /config          -> 200 {"maxBackupBytes": N, "retentionDays": D}
//   GET|HEAD /backups/<id>    -> 200 the blob (HEAD: its headers) | 404
//   PUT      /backups/<id>    -> 201 new | 204 replaced | 400 empty | 413 too large | 507 disk full
//   DELETE   /backups/<id>    -> 204 | 404
//   GET|HEAD /backups/<id>/versions      -> 200 JSON of sizes and days | 404
//   GET|HEAD /backups/<id>/versions/<n>  -> 200 the n-th previous blob | 404 (also n out of range)
// GET/HEAD/PUT answers carry a strong ETag; PUT honours If-Match (412) and If-None-Match: * (412).
//   POST     /access/redeem   -> 200 a new credential | 400 | 401 | 409 spent (AuthHooks::redeem)
//   GET|HEAD /restore/...     -> the restore page's files (restore_page.h): no auth, no guess
//                                budget, no storage; 404 when WebOptions::restore_page is off
//   OPTIONS  /config, /backups/<id> from a WebOptions::cors_origins origin -> 204 preflight,
//                                answered before auth (other origins: as any OPTIONS, 405)
// Answers to a request whose Origin is listed carry Access-Control-Allow-Origin; with a list
// set, every answer carries Vary: Origin.
// Refused before any body byte is read: 429 (request budget), 401 (auth on, no credentials),
// 429 (guess budget spent), 404 (unknown path), 405 with Allow (method), 400 (malformed id;
// storage is never touched), 413 (Content-Length above maxBackupBytes). With auth on, only a
// verified credential learns why a request is refused: such a refusal waits for the credential
// check in the work pool (the body is never read). docs/protocol.md is the full table.
//
// The guess budget (ClientThrottle, see throttle.h for the rules): the decision taken when the
// headers arrive (OnHeaders) is a value, a SafeRequest carried to the handler, holding the
// parsed route and id, the client's key, whether the credential is already known good, and the
// guess ticket reserved before any work that may be a guess (any request for a backup, an
// uncached credential check). The handler settles it once: a hit refunds the ticket; a miss, a
// created backup or a failed credential keeps it; a request that never reaches the handler gives
// it back. No Argon2 ever runs on a network thread: OnHeaders consults only the credential
// cache.
//
// Handlers are thin: parse the request into types, call one BackupService function on the work
// pool, map its Status through HttpStatusFor.
//
// Thread-safety: as HttpApp requires.

#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "safe-server/app/metrics.h"
#include "safe-server/http/http_message.h"
#include "safe-server/http/work_pool.h"
#include "safe-server/service/backup_service.h"
#include "safe-server/service/throttle.h"

namespace safe::server {

// Optional HTTP authentication. `check` gets the Authorization header's value and may be slow
// (Argon2; it runs on the work pool only); `challenge` is the WWW-Authenticate value sent with a
// 401; `check_cached` answers from what is already known without slow work (true only for a
// credential verified recently; may be empty: nothing is ever known in advance). It runs on the
// network threads.
struct AuthHooks {
  std::function<bool(std::string_view authorization)> check;
  std::string challenge;
  std::function<bool(std::string_view authorization)> check_cached;
  // POST /access/redeem (issue 18, safe-server/service/access.h): redeems the body; OK sets *answer
  // to the JSON to send with 200. May do synced writes: runs on the work pool only. Empty: the
  // route does not exist (404). Needs no credential; every call takes a guess-budget token,
  // refunded only on success.
  std::function<Status(std::string_view body, std::string* answer)> redeem;
};

// What SafeApp reports besides its answers. All optional.
struct AppObservers {
  Metrics* metrics = nullptr;  // counts every answer and its time
  bool access_log = false;     // one log line per request (method, route, status, bytes, time)
  bool log_addresses = false;  // the client's address in that line (off: never logged)
};

// The restore page and CORS (issue 17).
struct WebOptions {
  bool restore_page = true;  // serve /restore/ (restore_page.h)
  // Origins (as browsers send them: "https://host[:port]") whose cross-origin requests to
  // /config and /backups/* are allowed; "*" allows any. Empty: no CORS headers at all.
  std::vector<std::string> cors_origins;
};

// The one map from a service Status to an HTTP status code.
int HttpStatusFor(const Status& status);

// A day (days since the epoch) as an IMF-fixdate at midnight UTC ("Sun, 06 Nov 1994 00:00:00 GMT").
std::string HttpDateOfDay(Day day);

struct SafeRequest;  // handlers.cc: the decision taken at the headers

class SafeApp final : public HttpApp {
 public:
  // `service`, `pool`, `throttle` and `upload_gate` (if given) must outlive the app. auth.check
  // empty: no authentication. throttle nullptr: no per-client budgets. upload_gate: bounds the
  // body bytes the pool works on at once (a body is read back, sealed and written: about three
  // copies of it), so memory does not grow with the pool's threads times the body size;
  // nullptr: no bound.
  SafeApp(BackupService& service, WorkPool& pool, AuthHooks auth,
          ClientThrottle* throttle = nullptr, AppObservers observers = {}, WebOptions web = {},
          ByteGate* upload_gate = nullptr);

  HeadDecision OnHeaders(const HttpRequest& head) override;
  void OnRequest(HttpRequest request, Responder respond) override;

 private:
  // Decides from the line and headers, filling in *decided (the route is set even for a
  // refusal): a refusal now, or `decided` as the context the handler gets.
  HeadDecision Decide(const HttpRequest& head, std::shared_ptr<SafeRequest> decided);
  // Answers a whole request; settles its guess ticket.
  HttpResponse Handle(const HttpRequest& request, SafeRequest& decided);
  HttpResponse GetConfig() const;
  HttpResponse GetBackup(const BackupId& id, bool head);
  // *miss: the upload was conditional and there is no backup (a guess, like a 404).
  HttpResponse PutBackup(const BackupId& id, const std::string& body,
                         const UploadConditions& conditions, bool* miss);
  // GET|HEAD /backups/<id>/versions and /backups/<id>/versions/<n> (issue 16).
  HttpResponse GetVersions(const BackupId& id, bool head);
  HttpResponse GetVersion(const BackupId& id, uint32_t n, bool head);
  HttpResponse DeleteBackup(const BackupId& id);
  HttpResponse RedeemAccess(const std::string& body);
  HttpResponse Unauthorized() const;
  // CORS (WebOptions::cors_origins): whether `origin` is listed, the preflight answer, and the
  // headers added to every answer.
  bool CorsAllows(std::string_view origin) const;
  HttpResponse Preflight(const HttpRequest& head, bool config) const;
  void AddCorsHeaders(const std::string* origin, HttpResponse& response) const;
  ClientThrottle::ClientKey ClientOf(const HttpRequest& request) const;
  // Counts and logs an answer; `started` is when the request was whole (or its headers in).
  void Observe(const HttpRequest& request, int route_kind, const HttpResponse& response,
               std::chrono::steady_clock::time_point started) const;

  BackupService& service_;
  WorkPool& pool_;
  const AuthHooks auth_;
  ClientThrottle* const throttle_;
  const AppObservers observers_;
  const std::string config_body_;
  const WebOptions web_;
  ByteGate* const upload_gate_;
};

}  // namespace safe::server
