#include "safe-server/app/admin_app.h"

#include <sodium.h>

#include <fstream>
#include <sstream>

#include "common/secret.h"

namespace safe::server {

namespace {

bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) !=
        std::tolower(static_cast<unsigned char>(prefix[i]))) {
      return false;
    }
  }
  return true;
}

// Equal-length digests compared in constant time: the token's length is not leaked either.
bool SameSecret(std::string_view a, std::string_view b) {
  unsigned char da[crypto_generichash_BYTES];
  unsigned char db[crypto_generichash_BYTES];
  crypto_generichash(da, sizeof da, reinterpret_cast<const unsigned char*>(a.data()), a.size(),
                     nullptr, 0);
  crypto_generichash(db, sizeof db, reinterpret_cast<const unsigned char*>(b.data()), b.size(),
                     nullptr, 0);
  return ConstantTimeEquals(da, db, sizeof da);
}

HttpResponse TooSoon(int seconds, std::string_view why) {
  HttpResponse r = HttpResponse::Text(429, why);
  r.headers.Add("Retry-After", std::to_string(std::max(1, seconds)));
  return r;
}

}  // namespace

Result<std::string> ReadAdminToken(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::IOError("cannot read admin-token-file \"" + path + "\"");
  std::stringstream contents;
  contents << in.rdbuf();
  std::string token = contents.str();
  size_t first = token.find_first_not_of(" \t\r\n");
  size_t last = token.find_last_not_of(" \t\r\n");
  token = first == std::string::npos ? std::string() : token.substr(first, last - first + 1);
  bool printable = true;
  for (char c : token) printable = printable && c > 0x20 && c < 0x7f;
  if (token.size() < 32 || token.size() > 1024 || !printable) {
    Wipe(token.data(), token.size());
    return Status::InvalidArgument("admin-token-file \"" + path +
                                   "\" must hold one token of 32 to 1024 printable characters "
                                   "(e.g. from `openssl rand -hex 32`)");
  }
  return token;
}

AdminApp::AdminApp(const Metrics& metrics, std::function<bool()> ready,
                   std::function<Result<std::string>()> checkpoint, AdminOptions options)
    : metrics_(metrics),
      ready_(std::move(ready)),
      checkpoint_(std::move(checkpoint)),
      options_(std::move(options)) {}

bool AdminApp::Authorized(const HttpRequest& head) const {
  if (options_.token.empty()) return true;
  const std::string* authorization = head.headers.Find("Authorization");
  if (authorization == nullptr || !StartsWithIgnoreCase(*authorization, "Bearer ")) return false;
  return SameSecret(std::string_view(*authorization).substr(7), options_.token);
}

HeadDecision AdminApp::OnHeaders(const HttpRequest& head) {
  HeadDecision d;
  if (!Authorized(head)) {
    d.refuse = HttpResponse::Text(401, "the admin listener needs its token");
    d.refuse->headers.Add("WWW-Authenticate", "Bearer realm=\"safe-server admin\"");
    return d;
  }
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

HttpResponse AdminApp::Checkpoint() {
  auto now = options_.now ? options_.now() : std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (checkpoint_running_) return TooSoon(5, "a checkpoint is being made; try again later");
    if (last_checkpoint_ && now < *last_checkpoint_ + options_.checkpoint_interval) {
      auto left = std::chrono::ceil<std::chrono::seconds>(*last_checkpoint_ +
                                                          options_.checkpoint_interval - now);
      return TooSoon(static_cast<int>(left.count()),
                     "one checkpoint per " + std::to_string(options_.checkpoint_interval.count()) +
                         " s; try again later");
    }
    checkpoint_running_ = true;
    last_checkpoint_ = now;
  }
  Result<std::string> dir = checkpoint_();
  {
    std::lock_guard<std::mutex> lock(mu_);
    checkpoint_running_ = false;
  }
  return dir.ok() ? HttpResponse::Text(201, *dir)
                  : HttpResponse::Text(500, "checkpoint failed: " + dir.status().ToString());
}

void AdminApp::OnRequest(HttpRequest request, Responder respond) {
  if (request.path == "/admin/checkpoint") {
    respond(Checkpoint());
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
