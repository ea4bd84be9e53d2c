// Helpers for the end-to-end tests of safe-server: a small libcurl client (the real HTTP client
// the apps' platforms resemble), the requests and checks the tests build from it, and a raw TCP
// connection for what a well-behaved client never does (torn uploads, idle and slow connections,
// a request cut in half around a signal).
//
// Ownership: CurlClient owns one CURL easy handle, so consecutive requests through one client may
// reuse a connection; RawConnection owns its socket. Both close what they own when destroyed.
// Thread-safety: one thread uses an instance; different instances may be used concurrently.

#pragma once

#include <curl/curl.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/bytes.h"
#include "tests/support/server_process.h"

namespace safe::testing {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// The value of the first header named `name` (case-insensitive), or nullopt.
std::optional<std::string> FindHeader(const HeaderList& headers, std::string_view name);

struct CurlRequest {
  // GET, HEAD (sent with CURLOPT_NOBODY), PUT, DELETE, or any other verb (sent as is).
  std::string method = "GET";
  std::string url;
  // Set: uploaded with a Content-Length (or chunked, when the headers ask for it).
  std::optional<std::string> body;
  // Extra "Name: value" lines; "Name:" removes one libcurl would send.
  std::vector<std::string> headers;
  // Credentials, sent when user is not empty, with the methods in http_auth. CURLAUTH_BASIC sends
  // them up front (Android, Desktop); CURLAUTH_ANY first asks without them and answers the
  // server's challenge (as iOS does).
  std::string user;
  std::string password;
  long http_auth = CURLAUTH_BASIC;
  // The CA file that vouches for the server's certificate (https).
  std::string ca_file;
  // CURLOPT_SSLVERSION.
  long ssl_version = CURL_SSLVERSION_DEFAULT;
  // The whole transfer must end within this.
  std::chrono::milliseconds timeout{30000};
};

struct CurlResponse {
  CURLcode code = CURLE_OK;  // libcurl's verdict on the transfer
  std::string error;         // libcurl's message when code != CURLE_OK
  long status = 0;           // the final status code (0 when none arrived)
  // Every status line received, interim ones ("HTTP/1.1 100 Continue", an auth challenge's 401)
  // included, in order, without their line end.
  std::vector<std::string> status_lines;
  HeaderList headers;  // the final response's headers
  std::string body;
  long num_connects = 0;           // CURLINFO_NUM_CONNECTS: new connections this transfer made
  curl_off_t content_length = -1;  // CURLINFO_CONTENT_LENGTH_DOWNLOAD_T (-1: none)

  bool ok() const { return code == CURLE_OK; }
  std::optional<std::string> Header(std::string_view name) const {
    return FindHeader(headers, name);
  }
};

class CurlClient {
 public:
  CurlClient();
  ~CurlClient();
  CurlClient(const CurlClient&) = delete;
  CurlClient& operator=(const CurlClient&) = delete;

  // Runs one request; never throws. Options of an earlier request do not carry over, but its
  // connection may be reused.
  CurlResponse Perform(const CurlRequest& request);

 private:
  CURL* curl_;
};

// A response as read off a raw connection.
struct RawResponse {
  int status = 0;
  HeaderList headers;
  std::string body;
  std::optional<std::string> Header(std::string_view name) const {
    return FindHeader(headers, name);
  }
};

class RawConnection {
 public:
  // Connects to 127.0.0.1:port, from `source` (another loopback address such as 127.0.0.2, so
  // that a test can be several clients) when it is not empty. Returns nullptr (after printing
  // why) when it cannot.
  static std::unique_ptr<RawConnection> Connect(uint16_t port, const std::string& source = "");
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  // Sends all of bytes. False when the connection failed.
  bool Send(std::string_view bytes);
  // Ends our sending side (shutdown(SHUT_WR)): the server sees the end of the stream.
  void CloseWrite();

  enum class ReadResult { kData, kClosed, kTimeout };
  // Waits up to timeout for bytes and appends them to received(). kClosed when the peer closed
  // (end of stream or reset).
  ReadResult ReadSome(std::chrono::milliseconds timeout);
  // Reads until the peer closes or timeout passes. True when it closed.
  bool ReadUntilClosed(std::chrono::milliseconds timeout);
  // Reads the next response (status line, headers, and the body its Content-Length announces;
  // none for 1xx, 204, or when head is true). nullopt when the peer closed or timeout passed
  // first, or the bytes are not a response.
  std::optional<RawResponse> ReadResponse(std::chrono::milliseconds timeout, bool head = false);
  // True when, without waiting, the peer is seen to have closed or sent something.
  bool PeerActed();

  // Every byte received so far.
  const std::string& received() const { return received_; }
  bool closed_by_peer() const { return closed_by_peer_; }

 private:
  explicit RawConnection(int fd) : fd_(fd) {}

  int fd_;
  std::string received_;
  size_t consumed_ = 0;  // bytes of received_ already returned by ReadResponse
  bool closed_by_peer_ = false;
};

// ---- Requests and checks built on CurlClient ----

// A request of method to url, with body when set (see CurlRequest).
CurlRequest Request(std::string method, std::string url,
                    std::optional<std::string> body = std::nullopt);

// base_url + "backups/" + id, base_url ending in "/" (ServerProcess::BaseUrl()).
std::string BackupUrl(const std::string& base_url, const std::string& id);
std::string BackupUrl(const ServerProcess& server, const std::string& id);
// "http://127.0.0.1:ADMIN_PORT" + path: the server's admin listener.
std::string AdminUrl(const ServerProcess& server, const std::string& path);

// The Authorization value for HTTP Basic: scheme, a space, then user_and_password ("user:pass",
// raw bytes) in base64 with padding.
std::string BasicHeader(std::string_view user_and_password, std::string_view scheme = "Basic");

// libcurl's verdict, the status, every status line and the body's size (and the body when short),
// for failure messages.
std::string Describe(const CurlResponse& r);

// Performs request and checks that it succeeded with status.
::testing::AssertionResult Answers(CurlClient& client, const CurlRequest& request, long status);

// GETs get.url (with get's credentials and headers) and checks that it answers 200 with exactly
// blob.
::testing::AssertionResult HoldsBlob(CurlClient& client, CurlRequest get, const std::string& blob);
::testing::AssertionResult HoldsBlob(CurlClient& client, const std::string& url,
                                     const std::string& blob);
::testing::AssertionResult HoldsBlob(CurlClient& client, const ServerProcess& server,
                                     const std::string& id, const std::string& blob);

}  // namespace safe::testing
