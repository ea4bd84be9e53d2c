// HttpClient: the one place that speaks HTTP, on libcurl. Knows nothing of backups.
//
// One HttpClient owns one curl easy handle (reused, so keep-alive and TLS sessions are shared
// between the calls of one command). Every request:
//   - sends Basic credentials up front when a user is set (CURLAUTH_BASIC only: libcurl then sends
//     them with the first request, as the Android and Desktop apps do, which also answers a server
//     that only challenges);
//   - sends no `Expect: 100-continue` (the server's HTTP layer stalls on it), a User-Agent of
//     "safe-client/<version>", and follows no redirects (credentials must not travel elsewhere);
//   - speaks http and https only; trusts the system CAs, or only ca_file when set;
//   - gives up when no connection is made within connect_timeout, or when no byte moves in either
//     direction for answer_timeout (a slow but moving transfer is never cut off);
//   - calls on_waiting once when the server has not begun to answer after waiting_notice_after,
//     so that the command can tell the person at the terminal that it is waiting.
// A transport failure (no connection, TLS, timeout) is a non-OK Status; any HTTP answer, 4xx and
// 5xx included, is an OK Result for the caller to interpret.
//
// libcurl keeps its own copy of the user name and password (CURLOPT_USERNAME/PASSWORD) and frees it
// without wiping; that copy is outside our control.
//
// Thread-safety: not thread-safe; use one client per thread. curl_global_init must have been called
// (main does it once).

#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/secret.h"
#include "common/status.h"

namespace safe::client {

struct HttpOptions {
  std::string user;            // empty: send no credentials
  safe::SecretBytes password;  // the Basic password for user
  std::string ca_file;         // empty: the system trust store
  std::string user_agent = "safe-client/0.1";
  std::chrono::seconds connect_timeout{15};  // Android's connect timeout
  std::chrono::seconds answer_timeout{30};   // Android's read timeout: no byte moved this long
  // Called (at most once per request) when the server has sent nothing after this long.
  std::chrono::milliseconds waiting_notice_after{2000};
  std::function<void()> on_waiting;  // empty: no notice
  size_t max_response_bytes = 64 * 1024 * 1024;
};

struct HttpResponse {
  long status = 0;
  std::vector<uint8_t> body;
  std::map<std::string, std::string> headers;  // names in lower case; the last value wins

  // The header's value, or nullptr. name in lower case.
  const std::string* Header(const std::string& name) const;
};

class HttpClient {
 public:
  explicit HttpClient(HttpOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  bool has_credentials() const { return !options_.user.empty(); }

  // Each returns the answer, or: Unavailable when the server cannot be reached (name, connection,
  // connect_timeout, with a message naming --connect-timeout) or stops answering (answer_timeout,
  // naming --timeout), IOError for a TLS failure or another transport error, TooLarge when the
  // answer's body exceeds max_response_bytes.
  Result<HttpResponse> Get(const std::string& url, const std::string& accept);
  Result<HttpResponse> Head(const std::string& url);
  // extra_headers: whole header lines ("If-Match: \"...\""), e.g. the conditions of issue 16.
  Result<HttpResponse> Put(const std::string& url, const std::vector<uint8_t>& body,
                           const std::string& content_type,
                           const std::vector<std::string>& extra_headers = {});
  Result<HttpResponse> Delete(const std::string& url);
  // A POST with a known-length body (POST /access/redeem).
  Result<HttpResponse> Post(const std::string& url, const std::vector<uint8_t>& body,
                            const std::string& content_type);

 private:
  struct Request;
  Result<HttpResponse> Perform(const Request& request);

  HttpOptions options_;
  void* curl_;  // CURL*, kept out of this header
};

}  // namespace safe::client
