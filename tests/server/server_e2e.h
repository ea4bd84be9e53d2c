// What the end-to-end tests of safe-server share. They are one test binary, server_e2e_test, of
// four files: server_e2e_test.cc (the API over a real socket: status codes, keep-alive, torn
// uploads, SIGTERM, the log, configuration errors), server_e2e_auth_test.cc (Basic auth),
// server_e2e_tls_test.cc (TLS) and server_e2e_limits_test.cc (idle and slow connections,
// timeouts, the connection, header and body-memory limits). Acknowledged uploads through a
// kill -9 are tests/faults' (FaultTest.AcknowledgedPutsSurviveKill9UnderConcurrentPuts).
//
// Each test starts the real binary on a free loopback port (ServerProcess) and drives it with a
// real HTTP client (libcurl, CurlClient) and, for what no well-behaved client does, raw TCP
// connections (RawConnection). No test sleeps to synchronise: the server's "listening on" line,
// answers and end-of-stream order everything; every wait is bounded.

#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/server_process.h"

namespace safe::testing {

inline constexpr size_t kDefaultMaxBytes = 524288;       // 512 KiB, the server's maxBackupBytes
inline constexpr std::chrono::seconds kReadTimeout{20};  // bound for every raw read

inline std::unique_ptr<ServerProcess> StartServer(std::vector<std::string> args = {}) {
  return ServerProcess::Start(std::move(args));
}

// The request line and headers of a PUT of content_length bytes to id, extra ("Name: value\r\n"
// lines) before the blank line.
inline std::string RawPutHead(const std::string& id, size_t content_length,
                              const std::string& extra = "") {
  return "PUT /backups/" + id +
         " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " + std::to_string(content_length) +
         "\r\n" + extra + "\r\n";
}

}  // namespace safe::testing
