#include "safe-client/http_client.h"

#include <curl/curl.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <cstring>

namespace safe::client {
namespace {

using Clock = std::chrono::steady_clock;

struct Sink {
  HttpResponse* response;
  size_t limit;
  bool too_large = false;
  bool answered = false;  // a status line arrived
};

// The progress callback's state: when to tell the caller that the server keeps it waiting.
struct Waiting {
  const Sink* sink;
  Clock::time_point notice_at;
  const std::function<void()>* on_waiting;
  bool told = false;
};

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* w = static_cast<Waiting*>(user);
  if (!w->told && !w->sink->answered && Clock::now() >= w->notice_at) {
    w->told = true;
    (*w->on_waiting)();
  }
  return 0;  // never aborts the transfer
}

size_t WriteBody(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const size_t n = size * count;
  if (sink->response->body.size() + n > sink->limit) {
    sink->too_large = true;
    return 0;  // makes libcurl stop with CURLE_WRITE_ERROR
  }
  sink->response->body.insert(sink->response->body.end(), data, data + n);
  return n;
}

size_t WriteHeader(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const size_t n = size * count;
  std::string line(data, n);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  if (line.rfind("HTTP/", 0) == 0) {
    sink->response->headers.clear();  // a new response (after a 401 retry, say)
    sink->answered = true;
    return n;
  }
  const size_t colon = line.find(':');
  if (colon == std::string::npos) return n;
  std::string name = line.substr(0, colon);
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  size_t start = colon + 1;
  while (start < line.size() && (line[start] == ' ' || line[start] == '\t')) ++start;
  sink->response->headers[name] = line.substr(start);
  return n;
}

Status TransportError(CURLcode code, const char* detail, const HttpOptions& options) {
  std::string what = detail[0] != '\0' ? detail : curl_easy_strerror(code);
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      // The only limit after the connection is the low-speed check ("Operation too slow...").
      if (what.find("too slow") == std::string::npos) {
        return Status::Unavailable("cannot reach the server: no connection within " +
                                   std::to_string(options.connect_timeout.count()) +
                                   " seconds (--connect-timeout)");
      }
      return Status::Unavailable("the server stopped answering: nothing arrived for " +
                                 std::to_string(options.answer_timeout.count()) +
                                 " seconds (--timeout); try again later");
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
      return Status::Unavailable("cannot reach the server: " + what);
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED:
      return Status::IOError("TLS failure (is the certificate trusted? see --cacert): " + what);
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      return Status::InvalidArgument("bad server URL: " + what);
    default:
      return Status::IOError("HTTP request failed: " + what);
  }
}

}  // namespace

const std::string* HttpResponse::Header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? nullptr : &it->second;
}

struct HttpClient::Request {
  const char* method;
  const std::string& url;
  const std::vector<uint8_t>* body;  // PUT and POST only
  std::string content_type;
  std::string accept;
  std::vector<std::string> extra_headers;  // whole header lines
};

HttpClient::HttpClient(HttpOptions options) : options_(std::move(options)) {
  curl_ = curl_easy_init();
  if (curl_ == nullptr) std::abort();  // only out of memory
}

HttpClient::~HttpClient() { curl_easy_cleanup(static_cast<CURL*>(curl_)); }

Result<HttpResponse> HttpClient::Get(const std::string& url, const std::string& accept) {
  return Perform(Request{"GET", url, nullptr, "", accept});
}

Result<HttpResponse> HttpClient::Head(const std::string& url) {
  return Perform(Request{"HEAD", url, nullptr, "", ""});
}

Result<HttpResponse> HttpClient::Put(const std::string& url, const std::vector<uint8_t>& body,
                                     const std::string& content_type,
                                     const std::vector<std::string>& extra_headers) {
  return Perform(Request{"PUT", url, &body, content_type, "", extra_headers});
}

Result<HttpResponse> HttpClient::Post(const std::string& url, const std::vector<uint8_t>& body,
                                      const std::string& content_type) {
  return Perform(Request{"POST", url, &body, content_type, ""});
}

Result<HttpResponse> HttpClient::Delete(const std::string& url) {
  return Perform(Request{"DELETE", url, nullptr, "", ""});
}

Result<HttpResponse> HttpClient::Perform(const Request& request) {
  CURL* curl = static_cast<CURL*>(curl_);
  curl_easy_reset(curl);  // keeps the connection cache, drops the last request's options

  HttpResponse response;
  Sink sink{&response, options_.max_response_bytes};
  char error[CURL_ERROR_SIZE] = {};

  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT,
                   static_cast<long>(options_.connect_timeout.count()));
  // Not CURLOPT_TIMEOUT: a whole-request limit would cut off a slow upload that is still moving.
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME,
                   static_cast<long>(options_.answer_timeout.count()));
  Waiting waiting{&sink, Clock::now() + options_.waiting_notice_after, &options_.on_waiting};
  if (options_.on_waiting) {
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, OnProgress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &waiting);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  }
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, WriteBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, WriteHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &sink);
  if (!options_.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options_.ca_file.c_str());
  if (!options_.user.empty()) {
    const std::string password(options_.password.view());
    curl_easy_setopt(curl, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
    curl_easy_setopt(curl, CURLOPT_USERNAME, options_.user.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, password.c_str());  // libcurl copies it
    safe::Wipe(const_cast<char*>(password.data()), password.size());
  }

  struct curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Expect:");  // never `Expect: 100-continue`
  if (!request.accept.empty()) {
    headers = curl_slist_append(headers, ("Accept: " + request.accept).c_str());
  }
  if (!request.content_type.empty()) {
    headers = curl_slist_append(headers, ("Content-Type: " + request.content_type).c_str());
  }
  for (const std::string& line : request.extra_headers) {
    headers = curl_slist_append(headers, line.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);

  if (std::strcmp(request.method, "HEAD") == 0) {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (std::strcmp(request.method, "PUT") == 0) {
    // A PUT with a known length: POSTFIELDS sends it with Content-Length, not chunked.
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body->size()));
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body->data());
  } else if (std::strcmp(request.method, "POST") == 0) {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body->size()));
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body->data());
  } else if (std::strcmp(request.method, "DELETE") == 0) {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "DELETE");
  }

  const CURLcode rc = curl_easy_perform(curl);
  curl_slist_free_all(headers);
  // Drop the credentials from the handle's options now rather than at the next reset.
  curl_easy_setopt(curl, CURLOPT_PASSWORD, nullptr);
  if (rc != CURLE_OK) {
    if (sink.too_large) return Status::TooLarge("the server's answer is too large");
    return TransportError(rc, error, options_);
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

}  // namespace safe::client
