// In-process HTTP test helpers (library safe_test_http_support): a ConnectionIo that records what
// the connection writes, a parser (Debian's http-parser in response mode) that splits those
// bytes into answers, and one request served on a fresh connection.
//
// Thread-safety: FakeIo writes into its Wire from whichever thread calls it; the test reads the
// Wire once the connection is done. ParseResponses is pure.

#pragma once

#include <strings.h>

#include <string>
#include <vector>

#include "safe-server/http/http_connection.h"

namespace safe::server::testing {

struct Wire {
  std::string out;
  bool closed_write = false;
  bool aborted = false;
  int writes = 0;
};

// Completes every write at once (ConnectionIo allows done() before Write returns).
class FakeIo final : public ConnectionIo {
 public:
  explicit FakeIo(Wire* wire) : wire_(wire) {}
  void Write(std::string bytes, std::function<void(bool)> done) override {
    wire_->out += bytes;
    ++wire_->writes;
    done(!wire_->aborted);
  }
  void CloseWrite() override { wire_->closed_write = true; }
  void Abort() override { wire_->aborted = true; }

 private:
  Wire* wire_;
};

struct ParsedResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string Header(const std::string& name) const {
    for (const auto& [n, v] : headers) {
      if (strcasecmp(n.c_str(), name.c_str()) == 0) return v;
    }
    return "";
  }
  bool HasHeader(const std::string& name) const {
    for (const auto& [n, v] : headers) {
      if (strcasecmp(n.c_str(), name.c_str()) == 0) return true;
    }
    return false;
  }
};

// Splits `wire` into answers. head[i] says whether answer i answers a HEAD (no body follows
// its headers); answers past head's end are taken as not HEAD. 1xx answers are included.
// Stops at the first malformed byte (`*complete` false then).
std::vector<ParsedResponse> ParseResponses(const std::string& wire,
                                           const std::vector<bool>& head = {},
                                           bool* complete = nullptr);

// Sends request on a fresh HttpConnection to app (default HttpLimits) from peer, and returns its
// one answer; head says whether it answers a HEAD. A test failure when the bytes written are not
// exactly one whole answer (an empty ParsedResponse is returned when there is none).
ParsedResponse ServeOne(HttpApp& app, const std::string& request, bool head = false,
                        const std::string& peer = "192.0.2.7");

}  // namespace safe::server::testing
