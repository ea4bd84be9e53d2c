#include "safe-client/server_api.h"

#include <curl/curl.h>

#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>

namespace safe::client {
namespace {

bool IsSuccess(long status) { return status >= 200 && status < 300; }

bool IsLoopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "[::1]" || host == "::1";
}

struct UrlDeleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};
struct CurlStringDeleter {
  void operator()(char* s) const { curl_free(s); }
};
using CurlString = std::unique_ptr<char, CurlStringDeleter>;

CurlString GetPart(CURLU* url, CURLUPart part, unsigned flags) {
  char* value = nullptr;
  if (curl_url_get(url, part, &value, flags) != CURLUE_OK) return nullptr;
  return CurlString(value);
}

}  // namespace

Result<ServerUrl> ParseServerUrl(const std::string& text) {
  std::unique_ptr<CURLU, UrlDeleter> url(curl_url());
  if (!url) std::abort();
  if (text.empty()) return Status::InvalidArgument("the server URL is empty");
  if (text.find("://") == std::string::npos) {
    return Status::InvalidArgument(
        "the server URL has no scheme: https:// is missing (write https://safe.example.org/, "
        "not safe.example.org/)");
  }
  if (curl_url_set(url.get(), CURLUPART_URL, text.c_str(), 0) != CURLUE_OK) {
    return Status::InvalidArgument("the server URL is not a valid URL");
  }
  CurlString scheme = GetPart(url.get(), CURLUPART_SCHEME, 0);
  const std::string s = scheme ? scheme.get() : "";
  if (s != "http" && s != "https") {
    return Status::InvalidArgument("the server URL must start with https:// (or http://)");
  }
  if (GetPart(url.get(), CURLUPART_QUERY, 0) || GetPart(url.get(), CURLUPART_FRAGMENT, 0)) {
    return Status::InvalidArgument("the server URL must not have a query or fragment");
  }
  CurlString host = GetPart(url.get(), CURLUPART_HOST, 0);
  if (!host || host.get()[0] == '\0') {
    return Status::InvalidArgument("the server URL has no host");
  }

  ServerUrl out;
  out.host = host.get();
  if (CurlString port = GetPart(url.get(), CURLUPART_PORT, 0)) {
    out.host += std::string(":") + port.get();
  }
  if (CurlString user = GetPart(url.get(), CURLUPART_USER, CURLU_URLDECODE)) out.user = user.get();
  if (CurlString password = GetPart(url.get(), CURLUPART_PASSWORD, CURLU_URLDECODE)) {
    out.password = safe::SecretBytes::FromString(password.get());
    safe::Wipe(password.get(), std::strlen(password.get()));
  }
  curl_url_set(url.get(), CURLUPART_USER, nullptr, 0);
  curl_url_set(url.get(), CURLUPART_PASSWORD, nullptr, 0);
  CurlString path = GetPart(url.get(), CURLUPART_PATH, 0);
  std::string p = path ? path.get() : "/";
  if (p.empty() || p.back() != '/') p += '/';
  curl_url_set(url.get(), CURLUPART_PATH, p.c_str(), 0);
  CurlString base = GetPart(url.get(), CURLUPART_URL, 0);
  if (!base) return Status::InvalidArgument("the server URL is not a valid URL");
  out.base = base.get();
  out.plaintext_remote = s == "http" && !IsLoopback(host.get());
  return out;
}

Result<ServerLimits> ParseServerLimits(const std::vector<uint8_t>& body) {
  const nlohmann::json j = nlohmann::json::parse(body.begin(), body.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::IOError("the server's /config is not a JSON object");
  }
  auto max = j.find("maxBackupBytes");
  auto days = j.find("retentionDays");
  if (max == j.end() || !max->is_number_unsigned() || max->get<uint64_t>() == 0) {
    return Status::IOError("the server's /config has no positive integer \"maxBackupBytes\"");
  }
  if (days == j.end() || !days->is_number_unsigned()) {
    return Status::IOError("the server's /config has no integer \"retentionDays\"");
  }
  return ServerLimits{max->get<uint64_t>(), days->get<uint64_t>()};
}

Status ErrorForHttpStatus(const HttpResponse& response, const std::string& what,
                          bool has_credentials) {
  const long code = response.status;
  const std::string http = " (HTTP " + std::to_string(code) + ")";
  switch (code) {
    case 401:
      return Status::PermissionDenied(
          has_credentials
              ? "the server did not accept the user name and password" + http
              : "the server asks for a user name and password" + http +
                    ": give --user and --auth-password-file, or https://user:password@host/");
    case 403:
      return Status::PermissionDenied("the server refused access" + http);
    case 404:
      return Status::NotFound(kNoBackupMessage);
    case 413:
      return Status::TooLarge("the server refused the " + what + " as too large" + http);
    case 429: {
      const std::string* retry = response.Header("retry-after");
      std::string when = retry ? "; try again in " + *retry + " seconds" : "; try again later";
      if (retry && retry->find_first_not_of("0123456789") != std::string::npos) {
        when = "; try again after " + *retry;
      }
      return Status::Unavailable("the server is limiting requests" + http + when);
    }
    case 507:
      return Status::NoSpace("the server's disk is full" + http + "; nothing was stored");
    default:
      break;
  }
  if (code >= 500 && code < 600) {
    return Status::Unavailable("the server failed" + http + "; try again later");
  }
  return Status::IOError("unexpected answer from the server to the " + what + http);
}

Status CheckBlobSize(size_t blob_bytes, const ServerLimits& limits) {
  if (blob_bytes <= limits.max_backup_bytes) return Status::OK();
  return Status::TooLarge(
      "the backup is " + std::to_string(blob_bytes) + " bytes; the server accepts at most " +
      std::to_string(limits.max_backup_bytes) + " bytes (maxBackupBytes), so it was not uploaded");
}

Status NotASafeServer(const std::string& base, const HttpResponse& response,
                      const Status& parse_error, bool has_credentials) {
  const long code = response.status;
  if (code == 401 || code == 403 || code == 429 || (code >= 500 && code < 600)) {
    return ErrorForHttpStatus(response, "config request", has_credentials);
  }
  const std::string start = base + " is not a Safe server: ";
  if (IsSuccess(code)) {
    return Status::IOError(start +
                           "its config answer is not JSON with maxBackupBytes and "
                           "retentionDays (" +
                           parse_error.message() + "); check the URL's path");
  }
  if (code >= 300 && code < 400) {
    return Status::IOError(start + "GET config answered with a redirect (HTTP " +
                           std::to_string(code) +
                           "), which safe-client does not follow; check the URL's scheme and path");
  }
  return Status::IOError(start + "GET config answered HTTP " + std::to_string(code) +
                         "; check the URL's path");
}

Result<ServerLimits> SafeServerApi::GetConfig() {
  Result<HttpResponse> r = http_.Get(base_ + "config", "application/json");
  if (!r.ok()) return r.status();
  if (!IsSuccess(r->status)) {
    return NotASafeServer(base_, *r, Status::OK(), http_.has_credentials());
  }
  Result<ServerLimits> limits = ParseServerLimits(r->body);
  if (!limits.ok()) return NotASafeServer(base_, *r, limits.status(), http_.has_credentials());
  return limits;
}

Result<bool> SafeServerApi::PutBackup(const BackupId& id, const std::vector<uint8_t>& blob) {
  Result<PutAnswer> answer = PutBackup(id, blob, PutCondition{});
  if (!answer.ok()) return answer.status();
  return answer->replaced;
}

Result<PutAnswer> SafeServerApi::PutBackup(const BackupId& id, const std::vector<uint8_t>& blob,
                                           const PutCondition& condition) {
  std::vector<std::string> headers;
  if (!condition.if_match.empty()) headers.push_back("If-Match: " + condition.if_match);
  if (condition.if_none_match) headers.push_back("If-None-Match: *");
  Result<HttpResponse> r = http_.Put(BackupUrl(id), blob, "application/octet-stream", headers);
  if (!r.ok()) return r.status();
  if (r->status == 412) {
    return Status::FailedPrecondition(
        condition.if_none_match
            ? "the server already has a backup for this ID and password that this device has "
              "not seen"
            : "the backup on the server has changed since this device last saw it (another "
              "device or the app uploaded since)");
  }
  if (!IsSuccess(r->status)) {
    if (r->status == 404) return Status::IOError("the server has no backup API at this URL");
    return ErrorForHttpStatus(*r, "upload", http_.has_credentials());
  }
  PutAnswer answer;
  answer.replaced = r->status == 204;
  if (const std::string* v = r->Header("etag")) answer.etag = *v;
  return answer;
}

Result<std::vector<uint8_t>> SafeServerApi::GetBackup(const BackupId& id, std::string* etag) {
  Result<HttpResponse> r = http_.Get(BackupUrl(id), "application/octet-stream");
  if (!r.ok()) return r.status();
  if (!IsSuccess(r->status)) return ErrorForHttpStatus(*r, "download", http_.has_credentials());
  if (etag != nullptr) {
    const std::string* v = r->Header("etag");
    *etag = v != nullptr ? *v : "";
  }
  return std::move(r->body);
}

Result<std::vector<VersionEntry>> ParseVersions(const std::vector<uint8_t>& body) {
  const Status bad =
      Status::IOError("the server's list of versions is not what a Safe server sends");
  nlohmann::json j = nlohmann::json::parse(body.begin(), body.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("versions") || !j["versions"].is_array()) {
    return bad;
  }
  std::vector<VersionEntry> out;
  for (const auto& v : j["versions"]) {
    if (!v.is_object() || !v.value("version", nlohmann::json()).is_number_unsigned() ||
        !v.value("size", nlohmann::json()).is_number_unsigned()) {
      return bad;
    }
    VersionEntry e;
    e.number = v["version"].get<uint32_t>();
    e.size = v["size"].get<uint64_t>();
    for (auto [key, field] :
         {std::pair{"uploaded", &e.uploaded}, std::pair{"replaced", &e.replaced},
          std::pair{"expires", &e.expires}}) {
      if (v.contains(key) && v[key].is_string()) *field = v[key].get<std::string>();
    }
    out.push_back(std::move(e));
  }
  return out;
}

Result<std::vector<VersionEntry>> SafeServerApi::ListVersions(const BackupId& id) {
  Result<HttpResponse> r = http_.Get(BackupUrl(id) + "/versions", "application/json");
  if (!r.ok()) return r.status();
  if (!IsSuccess(r->status)) {
    return ErrorForHttpStatus(*r, "versions request", http_.has_credentials());
  }
  return ParseVersions(r->body);
}

Result<std::vector<uint8_t>> SafeServerApi::GetVersion(const BackupId& id, uint32_t n) {
  Result<HttpResponse> r =
      http_.Get(BackupUrl(id) + "/versions/" + std::to_string(n), "application/octet-stream");
  if (!r.ok()) return r.status();
  if (r->status == 404) {
    return Status::NotFound("the server has no version " + std::to_string(n) +
                            " of this backup (or no backup for this ID and password); "
                            "`safe-client versions` lists what it keeps");
  }
  if (!IsSuccess(r->status)) return ErrorForHttpStatus(*r, "download", http_.has_credentials());
  return std::move(r->body);
}

Result<BackupInfo> SafeServerApi::HeadBackup(const BackupId& id) {
  Result<HttpResponse> r = http_.Head(BackupUrl(id));
  if (!r.ok()) return r.status();
  if (!IsSuccess(r->status)) return ErrorForHttpStatus(*r, "request", http_.has_credentials());
  BackupInfo info;
  if (const std::string* v = r->Header("content-length")) info.content_length = *v;
  if (const std::string* v = r->Header("last-modified")) info.last_modified = *v;
  if (const std::string* v = r->Header("expires")) info.expires = *v;
  if (const std::string* v = r->Header("etag")) info.etag = *v;
  return info;
}

Status SafeServerApi::DeleteBackup(const BackupId& id) {
  Result<HttpResponse> r = http_.Delete(BackupUrl(id));
  if (!r.ok()) return r.status();
  if (!IsSuccess(r->status)) return ErrorForHttpStatus(*r, "deletion", http_.has_credentials());
  return Status::OK();
}

}  // namespace safe::client
