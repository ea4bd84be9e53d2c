// AdminApp: the admin listener's HTTP API, for operators and monitoring only (loopback by
// default, --admin-listen):
//   GET /metrics  Prometheus text format (Metrics::Render)
//   GET /healthz  200 "ok" while the process serves
//   GET /readyz   200 when storage is open and writable, else 503
//   POST /admin/checkpoint  a consistent hot copy of the database (201, body: its path); one at a
//                 time and at most one per checkpoint_interval (429 with Retry-After otherwise)
// Everything else: 404; other methods: 405. With a token (admin-token-file), every request must
// carry `Authorization: Bearer <token>` (401 otherwise); config refuses a non-loopback
// admin-listen without one.
//
// Thread-safety: as HttpApp requires.

#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <string>

#include "common/status.h"

#include "safe-server/app/metrics.h"
#include "safe-server/http/http_message.h"

namespace safe::server {

struct AdminOptions {
  // Required as `Authorization: Bearer <token>` when not empty.
  std::string token;
  // Least time between the starts of two checkpoints.
  std::chrono::seconds checkpoint_interval{60};
  // The clock of that limit; tests inject their own. Empty: steady_clock::now.
  std::function<std::chrono::steady_clock::time_point()> now;
};

// Reads the admin token file: one line (surrounding white space ignored) of 32 to 1024 printable
// ASCII characters. InvalidArgument or IOError naming the path, never the token.
Result<std::string> ReadAdminToken(const std::string& path);

class AdminApp final : public HttpApp {
 public:
  // `metrics` must outlive the app. `ready` says whether storage is open and writable.
  // `checkpoint` makes a checkpoint and returns its directory (empty function: 404).
  AdminApp(const Metrics& metrics, std::function<bool()> ready,
           std::function<Result<std::string>()> checkpoint = nullptr, AdminOptions options = {});

  HeadDecision OnHeaders(const HttpRequest& head) override;
  void OnRequest(HttpRequest request, Responder respond) override;

 private:
  bool Authorized(const HttpRequest& head) const;
  HttpResponse Checkpoint();

  const Metrics& metrics_;
  const std::function<bool()> ready_;
  const std::function<Result<std::string>()> checkpoint_;
  const AdminOptions options_;

  std::mutex mu_;
  bool checkpoint_running_ = false;                                       // GUARDED_BY(mu_)
  std::optional<std::chrono::steady_clock::time_point> last_checkpoint_;  // GUARDED_BY(mu_)
};

}  // namespace safe::server
