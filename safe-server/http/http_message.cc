#include "safe-server/http/http_message.h"

#include <strings.h>

#include "common/secret.h"
#include "safe-server/http/body_file.h"

namespace safe::server {

namespace {
bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}
}  // namespace

const std::string* HttpHeaders::Find(std::string_view name) const {
  for (const auto& [n, v] : fields_) {
    if (EqualsIgnoreCase(n, name)) return &v;
  }
  return nullptr;
}

std::optional<std::string> HttpHeaders::FindAll(std::string_view name) const {
  std::optional<std::string> joined;
  for (const auto& [n, v] : fields_) {
    if (!EqualsIgnoreCase(n, name)) continue;
    if (joined) {
      *joined += ", ";
      *joined += v;
    } else {
      joined = v;
    }
  }
  return joined;
}

void HttpHeaders::Set(std::string name, std::string value) {
  std::vector<std::pair<std::string, std::string>> kept;
  for (auto& field : fields_) {
    if (!EqualsIgnoreCase(field.first, name)) kept.push_back(std::move(field));
  }
  fields_ = std::move(kept);
  Add(std::move(name), std::move(value));
}

void HttpHeaders::Wipe(std::string_view name) {
  for (auto& [n, v] : fields_) {
    if (!EqualsIgnoreCase(n, name)) continue;
    safe::Wipe(v.data(), v.size());
    v.clear();  // keeps the (now zeroed) block: nothing of the value is freed unwiped
  }
}

HttpResponse HttpResponse::Text(int status, std::string_view message) {
  HttpResponse r;
  r.status = status;
  r.headers.Add("Content-Type", "text/plain; charset=utf-8");
  r.body.reserve(message.size() + 1);
  r.body.append(message);
  r.body.push_back('\n');
  return r;
}

const char* ReasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 415:
      return "Unsupported Media Type";
    case 417:
      return "Expectation Failed";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    case 507:
      return "Insufficient Storage";
    default:
      return "Unknown";
  }
}

Status HttpRequest::LoadBody() {
  if (body_file == nullptr) return Status::OK();
  Result<std::string> loaded = body_file->ReadAll();
  body_file.reset();  // the file is gone with its last holder
  if (!loaded.ok()) return loaded.status();
  body = std::move(*loaded);
  return Status::OK();
}

}  // namespace safe::server
