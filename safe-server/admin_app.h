// AdminApp: the admin listener's HTTP API, for operators and monitoring only (loopback by
// default, --admin-listen):
//   GET /metrics  Prometheus text format (Metrics::Render)
//   GET /healthz  200 "ok" while the process serves
//   GET /readyz   200 when storage is open and writable, else 503
// Everything else: 404; other methods: 405.
//
// Thread-safety: as HttpApp requires.

#pragma once

#include <functional>

#include "safe-server/http_message.h"
#include "safe-server/metrics.h"

namespace safe::server {

class AdminApp final : public HttpApp {
 public:
  // `metrics` must outlive the app. `ready` says whether storage is open and writable.
  AdminApp(const Metrics& metrics, std::function<bool()> ready)
      : metrics_(metrics), ready_(std::move(ready)) {}

  HeadDecision OnHeaders(const HttpRequest& head) override;
  void OnRequest(HttpRequest request, Responder respond) override;

 private:
  const Metrics& metrics_;
  const std::function<bool()> ready_;
};

}  // namespace safe::server
