// HttpRequest and HttpResponse: the plain values that pass between the HTTP connection layer
// (http_connection.h) and the application (HttpApp). Nothing here knows of Pistache or sockets.
//
// Thread-safety: value types.

#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace safe::server {

enum class HttpMethod { kGet, kHead, kPut, kDelete, kPost, kOptions, kOther };

// Header fields in arrival order. Names compare case-insensitively.
class HttpHeaders {
 public:
  void Add(std::string name, std::string value) {
    fields_.emplace_back(std::move(name), std::move(value));
  }
  // The value of the first field named `name`, or nullptr.
  const std::string* Find(std::string_view name) const;
  // The values of every field named `name`, in arrival order, joined with ", " (RFC 9110 5.3);
  // nullopt when there is none.
  std::optional<std::string> FindAll(std::string_view name) const;
  // Replaces every field named `name` with one.
  void Set(std::string name, std::string value);
  // Overwrites the value of every field named `name` with zeros in place and empties it: a
  // credential (Authorization) leaves no copy in memory once it has been checked.
  void Wipe(std::string_view name);
  const std::vector<std::pair<std::string, std::string>>& fields() const { return fields_; }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

// What an application decided when a request's headers arrived, handed back to it with the whole
// request (HeadDecision::context -> HttpRequest::context), so that nothing is parsed or decided
// twice. Opaque to the HTTP layer; the application downcasts it.
class RequestContext {
 public:
  virtual ~RequestContext() = default;
};

class BodyFile;  // body_file.h

struct HttpRequest {
  HttpMethod method = HttpMethod::kOther;
  std::string path;   // the request target without its query string, as sent (not decoded)
  std::string query;  // after '?', may be empty
  HttpHeaders headers;
  std::string body;
  // Set instead of `body` when the body waits in a file (body_file.h: the memory budget was
  // full). LoadBody() brings it into `body`; call it on the thread that handles the request.
  std::shared_ptr<BodyFile> body_file;
  // The peer's address, kept in memory only (for throttling); never logged or stored.
  std::string peer_address;
  // From HeadDecision::context; may be null.
  std::shared_ptr<RequestContext> context;

  // Moves a body waiting in body_file into `body` (nothing to do without one). IOError when the
  // file cannot be read back; the request must then be answered 500.
  Status LoadBody();
};

struct HttpResponse {
  int status = 200;
  HttpHeaders headers;  // Content-Length, Connection and Date are added by the connection layer
  std::string body;
  // For HEAD: the Content-Length of the representation a GET would carry. The body is not sent.
  std::optional<uint64_t> head_content_length;
  // Close the connection after this response.
  bool close = false;

  // A short text/plain answer: `message` and a newline.
  static HttpResponse Text(int status, std::string_view message);
};

using Responder = std::function<void(HttpResponse)>;

// What the application says of a request once its headers are in.
struct HeadDecision {
  // Set: answer this now; the body is never read and the connection is closed after it.
  std::optional<HttpResponse> refuse;
  // Largest body accepted for this request (Content-Length or the sum of chunks).
  uint64_t max_body_bytes = 0;
  // True: the body is not read; the request goes to OnRequest at once without it, and the
  // connection is closed after the answer. For an answer that needs slow work first (e.g. a
  // refusal that only a verified credential may see), which OnHeaders must not do.
  bool answer_without_body = false;
  // Carried to OnRequest in HttpRequest::context.
  std::shared_ptr<RequestContext> context;
};

// The application the HTTP layer drives. Implementations must be thread-safe: OnHeaders runs on
// the network threads, OnRequest may run on any thread.
class HttpApp {
 public:
  virtual ~HttpApp() = default;
  // Called once the request line and headers are in, before any body byte is read. Must be
  // cheap: it runs on a network thread. `head.body` is empty.
  virtual HeadDecision OnHeaders(const HttpRequest& head) = 0;
  // Called with the whole request; must call `respond` exactly once, from any thread.
  virtual void OnRequest(HttpRequest request, Responder respond) = 0;
};

// The reason phrase of a status code ("Not Found"), or "Unknown".
const char* ReasonPhrase(int status);

}  // namespace safe::server
