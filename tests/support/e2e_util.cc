#include "tests/support/e2e_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <sstream>

namespace safe::testing {

namespace {

using SteadyClock = std::chrono::steady_clock;

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

// Parses "Name: value" into headers; false when the line has no colon.
bool ParseHeaderLine(std::string_view line, HeaderList& headers) {
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return false;
  headers.emplace_back(std::string(Trim(line.substr(0, colon))),
                       std::string(Trim(line.substr(colon + 1))));
  return true;
}

// State shared with libcurl's callbacks during one transfer.
struct Transfer {
  CurlResponse* response;
  std::string_view upload;
  size_t uploaded = 0;
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  t->response->body.append(data, size * count);
  return size * count;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * count);
  if (line.substr(0, 5) == "HTTP/") {
    t->response->status_lines.emplace_back(Trim(line));
    t->response->headers.clear();  // a new response begins
  } else {
    ParseHeaderLine(line, t->response->headers);  // the blank line ends the block: ignored
  }
  return size * count;
}

size_t OnRead(char* buffer, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = std::min(size * count, t->upload.size() - t->uploaded);
  std::memcpy(buffer, t->upload.data() + t->uploaded, n);
  t->uploaded += n;
  return n;
}

// libcurl rewinds the upload when it must send it again (after an auth challenge).
int OnSeek(void* user, curl_off_t offset, int origin) {
  auto* t = static_cast<Transfer*>(user);
  if (origin != SEEK_SET || offset < 0 || static_cast<size_t>(offset) > t->upload.size()) {
    return CURL_SEEKFUNC_FAIL;
  }
  t->uploaded = static_cast<size_t>(offset);
  return CURL_SEEKFUNC_OK;
}

}  // namespace

std::optional<std::string> FindHeader(const HeaderList& headers, std::string_view name) {
  for (const auto& [n, v] : headers) {
    if (EqualsIgnoreCase(n, name)) return v;
  }
  return std::nullopt;
}

CurlClient::CurlClient() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  curl_ = curl_easy_init();
  if (curl_ == nullptr) {
    std::fprintf(stderr, "curl_easy_init failed\n");
    std::abort();
  }
}

CurlClient::~CurlClient() { curl_easy_cleanup(curl_); }

CurlResponse CurlClient::Perform(const CurlRequest& request) {
  CurlResponse response;
  Transfer transfer{&response, request.body ? std::string_view(*request.body) : std::string_view()};
  char error[CURL_ERROR_SIZE] = {0};

  curl_easy_reset(curl_);  // keeps the connection cache
  curl_easy_setopt(curl_, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &transfer);

  if (request.method == "HEAD") {
    curl_easy_setopt(curl_, CURLOPT_NOBODY, 1L);
  } else if (request.method != "GET" && !(request.method == "PUT" && request.body)) {
    curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  if (request.body) {
    curl_easy_setopt(curl_, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl_, CURLOPT_READFUNCTION, &OnRead);
    curl_easy_setopt(curl_, CURLOPT_READDATA, &transfer);
    curl_easy_setopt(curl_, CURLOPT_SEEKFUNCTION, &OnSeek);
    curl_easy_setopt(curl_, CURLOPT_SEEKDATA, &transfer);
    bool chunked = false;
    for (const auto& h : request.headers) {
      chunked = chunked || EqualsIgnoreCase(h, "Transfer-Encoding: chunked");
    }
    if (!chunked) {
      curl_easy_setopt(curl_, CURLOPT_INFILESIZE_LARGE,
                       static_cast<curl_off_t>(request.body->size()));
    }
  }

  curl_slist* headers = nullptr;
  for (const auto& h : request.headers) headers = curl_slist_append(headers, h.c_str());
  if (headers != nullptr) curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers);

  if (!request.user.empty()) {
    curl_easy_setopt(curl_, CURLOPT_USERNAME, request.user.c_str());
    curl_easy_setopt(curl_, CURLOPT_PASSWORD, request.password.c_str());
    curl_easy_setopt(curl_, CURLOPT_HTTPAUTH, request.http_auth);
  }
  if (!request.ca_file.empty()) curl_easy_setopt(curl_, CURLOPT_CAINFO, request.ca_file.c_str());
  curl_easy_setopt(curl_, CURLOPT_SSLVERSION, request.ssl_version);

  response.code = curl_easy_perform(curl_);
  if (response.code != CURLE_OK) {
    response.error = error[0] != '\0' ? error : curl_easy_strerror(response.code);
  }
  curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &response.status);
  curl_easy_getinfo(curl_, CURLINFO_NUM_CONNECTS, &response.num_connects);
  curl_easy_getinfo(curl_, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &response.content_length);
  curl_slist_free_all(headers);
  // The handle must not keep pointers into this call's frame.
  curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, nullptr);
  return response;
}

std::unique_ptr<RawConnection> RawConnection::Connect(uint16_t port, const std::string& source) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    std::perror("socket");
    return nullptr;
  }
  if (!source.empty()) {
    sockaddr_in from{};
    from.sin_family = AF_INET;
    if (inet_pton(AF_INET, source.c_str(), &from.sin_addr) != 1 ||
        bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) {
      std::perror("bind");
      close(fd);
      return nullptr;
    }
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::perror("connect");
    close(fd);
    return nullptr;
  }
  return std::unique_ptr<RawConnection>(new RawConnection(fd));
}

RawConnection::~RawConnection() { close(fd_); }

bool RawConnection::Send(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

void RawConnection::CloseWrite() { shutdown(fd_, SHUT_WR); }

RawConnection::ReadResult RawConnection::ReadSome(std::chrono::milliseconds timeout) {
  if (closed_by_peer_) return ReadResult::kClosed;
  pollfd pfd{fd_, POLLIN, 0};
  int ready;
  do {
    ready = poll(&pfd, 1, static_cast<int>(timeout.count()));
  } while (ready < 0 && errno == EINTR);
  if (ready == 0) return ReadResult::kTimeout;
  char buf[16384];
  ssize_t n;
  do {
    n = recv(fd_, buf, sizeof buf, 0);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) {
    closed_by_peer_ = true;
    return ReadResult::kClosed;
  }
  received_.append(buf, static_cast<size_t>(n));
  return ReadResult::kData;
}

bool RawConnection::ReadUntilClosed(std::chrono::milliseconds timeout) {
  auto deadline = SteadyClock::now() + timeout;
  while (!closed_by_peer_) {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
    if (left.count() <= 0) return false;
    if (ReadSome(left) == ReadResult::kTimeout) return false;
  }
  return true;
}

std::optional<RawResponse> RawConnection::ReadResponse(std::chrono::milliseconds timeout,
                                                       bool head) {
  auto deadline = SteadyClock::now() + timeout;
  auto read_more = [&]() {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
    return left.count() > 0 && ReadSome(left) == ReadResult::kData;
  };
  size_t end;
  while ((end = received_.find("\r\n\r\n", consumed_)) == std::string::npos) {
    if (!read_more()) return std::nullopt;
  }
  std::string_view block(received_.data() + consumed_, end - consumed_);
  RawResponse response;
  size_t eol = block.find("\r\n");
  std::string_view status_line = block.substr(0, eol);
  if (status_line.substr(0, 5) != "HTTP/" || status_line.size() < 12) return std::nullopt;
  response.status = std::atoi(std::string(status_line.substr(9, 3)).c_str());
  while (eol != std::string_view::npos) {
    size_t start = eol + 2;
    eol = block.find("\r\n", start);
    ParseHeaderLine(block.substr(start, eol == std::string_view::npos ? eol : eol - start),
                    response.headers);
  }
  size_t body_start = end + 4;
  size_t length = 0;
  bool no_body = head || response.status / 100 == 1 || response.status == 204;
  if (!no_body) {
    if (auto cl = response.Header("Content-Length")) length = std::stoull(*cl);
  }
  while (received_.size() < body_start + length) {
    if (!read_more()) return std::nullopt;
  }
  response.body = received_.substr(body_start, length);
  consumed_ = body_start + length;
  return response;
}

bool RawConnection::PeerActed() {
  if (closed_by_peer_) return true;
  pollfd pfd{fd_, POLLIN | POLLRDHUP, 0};
  return poll(&pfd, 1, 0) != 0;
}

CurlRequest Request(std::string method, std::string url, std::optional<std::string> body) {
  CurlRequest r;
  r.method = std::move(method);
  r.url = std::move(url);
  r.body = std::move(body);
  return r;
}

std::string BackupUrl(const std::string& base_url, const std::string& id) {
  return base_url + "backups/" + id;
}

std::string BackupUrl(const ServerProcess& server, const std::string& id) {
  return BackupUrl(server.BaseUrl(), id);
}

std::string AdminUrl(const ServerProcess& server, const std::string& path) {
  return "http://127.0.0.1:" + std::to_string(server.admin_port()) + path;
}

std::string BasicHeader(std::string_view user_and_password, std::string_view scheme) {
  std::string b64(
      sodium_base64_ENCODED_LEN(user_and_password.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(b64.data(), b64.size(),
                    reinterpret_cast<const unsigned char*>(user_and_password.data()),
                    user_and_password.size(), sodium_base64_VARIANT_ORIGINAL);
  b64.resize(b64.size() - 1);  // the terminating NUL
  return std::string(scheme) + " " + b64;
}

std::string Describe(const CurlResponse& r) {
  std::ostringstream out;
  out << "curl code " << r.code;
  if (!r.ok()) out << " (" << r.error << ")";
  out << ", status " << r.status << ", status lines [";
  for (const auto& line : r.status_lines) out << line << "; ";
  out << "], body " << r.body.size() << " bytes";
  if (r.body.size() < 200) out << ": " << r.body;
  return out.str();
}

::testing::AssertionResult Answers(CurlClient& client, const CurlRequest& request, long status) {
  CurlResponse r = client.Perform(request);
  if (r.ok() && r.status == status) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << request.method << " " << request.url << ": expected "
                                       << status << ", got " << Describe(r);
}

::testing::AssertionResult HoldsBlob(CurlClient& client, CurlRequest get, const std::string& blob) {
  get.method = "GET";
  get.body.reset();
  CurlResponse r = client.Perform(get);
  if (!r.ok() || r.status != 200) {
    return ::testing::AssertionFailure() << "GET " << get.url << ": " << Describe(r);
  }
  if (r.body != blob) {
    return ::testing::AssertionFailure()
           << "GET " << get.url << ": " << r.body.size() << " bytes differ from the " << blob.size()
           << " bytes stored";
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult HoldsBlob(CurlClient& client, const std::string& url,
                                     const std::string& blob) {
  return HoldsBlob(client, Request("GET", url), blob);
}

::testing::AssertionResult HoldsBlob(CurlClient& client, const ServerProcess& server,
                                     const std::string& id, const std::string& blob) {
  return HoldsBlob(client, BackupUrl(server, id), blob);
}

}  // namespace safe::testing
