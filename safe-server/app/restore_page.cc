#include "safe-server/app/restore_page.h"

#include <string>

namespace safe::server {
namespace {

constexpr std::string_view kPrefix = "/restore";

void AddSecurityHeaders(HttpResponse& r) {
  r.headers.Add("Content-Security-Policy", std::string(kRestorePageCsp));
  r.headers.Add("X-Content-Type-Options", "nosniff");
  r.headers.Add("Referrer-Policy", "no-referrer");
  r.headers.Add("X-Frame-Options", "DENY");
  r.headers.Add("Cross-Origin-Opener-Policy", "same-origin");
  r.headers.Add("Cross-Origin-Resource-Policy", "same-origin");
}

HttpResponse Plain(int status, std::string_view message) {
  HttpResponse r = HttpResponse::Text(status, message);
  r.headers.Add("Cache-Control", "no-store");
  AddSecurityHeaders(r);
  return r;
}

const EmbeddedFile* FindFile(std::string_view name) {
  for (size_t i = 0; i < kRestorePageFileCount; ++i) {
    if (name == kRestorePageFiles[i].name) return &kRestorePageFiles[i];
  }
  return nullptr;
}

// If-None-Match lists ETags separated by commas, or is "*".
bool Matches(const std::string* if_none_match, std::string_view etag) {
  if (if_none_match == nullptr) return false;
  std::string_view list = *if_none_match;
  if (list == "*") return true;
  size_t at = 0;
  while (at <= list.size()) {
    size_t comma = list.find(',', at);
    std::string_view item =
        list.substr(at, comma == std::string_view::npos ? list.npos : comma - at);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.substr(0, 2) == "W/") item.remove_prefix(2);  // weak comparison (RFC 9110 13.1.2)
    if (item == etag) return true;
    if (comma == std::string_view::npos) break;
    at = comma + 1;
  }
  return false;
}

}  // namespace

bool IsRestorePagePath(std::string_view path) {
  if (path.substr(0, kPrefix.size()) != kPrefix) return false;
  return path.size() == kPrefix.size() || path[kPrefix.size()] == '/';
}

HttpResponse AnswerRestorePage(const HttpRequest& request) {
  if (request.method != HttpMethod::kGet && request.method != HttpMethod::kHead) {
    HttpResponse r = Plain(405, "method not allowed");
    r.headers.Add("Allow", "GET, HEAD");
    return r;
  }
  if (kRestorePageFileCount == 0) {
    return Plain(404, "this server was built without the restore page");
  }
  std::string_view path = request.path;
  if (path == kPrefix) {
    // Relative, so that behind a proxy that adds a path prefix the browser stays under it.
    HttpResponse r = Plain(301, "the restore page is at restore/");
    r.headers.Add("Location", "restore/");
    return r;
  }
  std::string_view name = path.substr(kPrefix.size() + 1);
  if (name.empty()) name = "index.html";
  const EmbeddedFile* file = FindFile(name);
  if (file == nullptr) return Plain(404, "not found");
  HttpResponse r;
  r.headers.Add("Cache-Control", "no-cache");
  r.headers.Add("ETag", file->etag);
  AddSecurityHeaders(r);
  if (Matches(request.headers.Find("If-None-Match"), file->etag)) {
    r.status = 304;
    return r;
  }
  r.status = 200;
  r.headers.Add("Content-Type", file->content_type);
  if (request.method == HttpMethod::kHead) {
    r.head_content_length = file->size;
  } else {
    r.body.assign(reinterpret_cast<const char*>(file->data), file->size);
  }
  return r;
}

}  // namespace safe::server
