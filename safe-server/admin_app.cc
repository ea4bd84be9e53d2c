#include "safe-server/admin_app.h"

namespace safe::server {

HeadDecision AdminApp::OnHeaders(const HttpRequest& head) {
  HeadDecision d;
  if (head.path == "/admin/checkpoint" && checkpoint_) {
    if (head.method != HttpMethod::kPost) {
      d.refuse = HttpResponse::Text(405, "method not allowed");
      d.refuse->headers.Add("Allow", "POST");
    }
    return d;
  }
  if (head.path != "/metrics" && head.path != "/healthz" && head.path != "/readyz") {
    d.refuse = HttpResponse::Text(404, "not found");
  } else if (head.method != HttpMethod::kGet && head.method != HttpMethod::kHead) {
    d.refuse = HttpResponse::Text(405, "method not allowed");
    d.refuse->headers.Add("Allow", "GET, HEAD");
  }
  return d;
}

void AdminApp::OnRequest(HttpRequest request, Responder respond) {
  if (request.path == "/admin/checkpoint") {
    Result<std::string> dir = checkpoint_();
    respond(dir.ok() ? HttpResponse::Text(201, *dir)
                     : HttpResponse::Text(500, "checkpoint failed: " + dir.status().ToString()));
  } else if (request.path == "/metrics") {
    HttpResponse r;
    r.headers.Add("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    r.body = metrics_.Render();
    respond(std::move(r));
  } else if (request.path == "/healthz") {
    respond(HttpResponse::Text(200, "ok"));
  } else if (ready_()) {
    respond(HttpResponse::Text(200, "ready"));
  } else {
    respond(HttpResponse::Text(503, "storage is not open or not writable"));
  }
}

}  // namespace safe::server
