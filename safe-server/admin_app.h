// AdminApp: the admin listener's HTTP API, for operators and monitoring only (loopback by
// default, --admin-listen):
//   GET /metrics  Prometheus text format (Metrics::Render)
//   GET /healthz  200 "ok" while the process serves
//   GET /readyz   200 when storage is open and writable, else 503
//   POST /admin/checkpoint  a consistent hot copy of the database (201, body: its path)
// Everything else: 404; other methods: 405. The listener has no authentication: keep it on
// loopback or a private network (--admin-listen).
//
// Thread-safety: as HttpApp requires.

#pragma once

#include <functional>
#include <string>

#include "common/status.h"

#include "safe-server/http_message.h"
#include "safe-server/metrics.h"

namespace safe::server {

class AdminApp final : public HttpApp {
 public:
  // `metrics` must outlive the app. `ready` says whether storage is open and writable.
  // `checkpoint` makes a checkpoint and returns its directory (empty function: 404).
  AdminApp(const Metrics& metrics, std::function<bool()> ready,
           std::function<Result<std::string>()> checkpoint = nullptr)
      : metrics_(metrics), ready_(std::move(ready)), checkpoint_(std::move(checkpoint)) {}

  HeadDecision OnHeaders(const HttpRequest& head) override;
  void OnRequest(HttpRequest request, Responder respond) override;

 private:
  const Metrics& metrics_;
  const std::function<bool()> ready_;
  const std::function<Result<std::string>()> checkpoint_;
};

}  // namespace safe::server
