// End-to-end tests of safe-server (issues 2 and 12), the limits: idle and slow connections
// (header and body timeouts), the connection limit, the header size limit and the memory all
// upload bodies may hold at once. What the files of this binary share: server_e2e.h.

#include <chrono>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/server/server_e2e.h"
#include "tests/support/e2e_util.h"
#include "tests/support/server_process.h"

namespace safe::testing {
namespace {

using namespace std::chrono_literals;

// ---- Idle and slow connections ----

TEST(ServerE2eTest, ServesWhileThreeHundredIdleConnectionsAreOpen) {
  // Timeouts far beyond the test's length: the idle connections stay open throughout.
  auto server = StartServer({"--header-timeout", "300", "--idle-timeout", "300"});
  ASSERT_NE(server, nullptr);
  auto rng = SeededRng();
  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < 300; ++i) {
    idle.push_back(RawConnection::Connect(server->port()));
    ASSERT_NE(idle.back(), nullptr) << "connection " << i;
  }
  for (int i = 0; i < 50; ++i) {
    idle.push_back(RawConnection::Connect(server->port()));
    ASSERT_NE(idle.back(), nullptr) << "half-request connection " << i;
    ASSERT_TRUE(idle.back()->Send("GET /conf"));
  }

  CurlClient client;
  CurlRequest config = Request("GET", server->BaseUrl() + "config");
  config.timeout = 10s;  // far below the header timeout: no idle connection was reaped for it
  EXPECT_TRUE(Answers(client, config, 200));
  const std::string id = RandomBackupId(rng);
  const std::string blob = RandomBytes(10000, rng);
  CurlRequest put = Request("PUT", BackupUrl(*server, id), blob);
  put.timeout = 10s;
  EXPECT_TRUE(Answers(client, put, 201));
  EXPECT_TRUE(HoldsBlob(client, *server, id, blob));

  // Every idle connection was still held open (nothing answered, nothing closed) meanwhile.
  int acted = 0;
  for (auto& conn : idle) acted += conn->PeerActed() ? 1 : 0;
  EXPECT_EQ(acted, 0);
}

TEST(ServerE2eTest, SilentConnectionIsClosedAfterHeaderTimeout) {
  auto server = StartServer({"--header-timeout", "1"});
  ASSERT_NE(server, nullptr);
  auto conn = RawConnection::Connect(server->port());
  ASSERT_NE(conn, nullptr);
  EXPECT_TRUE(conn->ReadUntilClosed(kReadTimeout));
  EXPECT_EQ(conn->received(), "") << "a connection with no request under way gets no answer";
}

TEST(ServerE2eTest, SlowHeadersAreAnswered408AndClosed) {
  auto server = StartServer({"--header-timeout", "1"});
  ASSERT_NE(server, nullptr);
  auto conn = RawConnection::Connect(server->port());
  ASSERT_NE(conn, nullptr);
  ASSERT_TRUE(conn->Send("GET /config HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
  // A slowloris: one more header line whenever the server stays silent for 100 ms, never the
  // blank line that ends them. Bounded: at most 200 rounds.
  int sent_lines = 0;
  for (int round = 0; round < 200 && !conn->closed_by_peer(); ++round) {
    if (conn->ReadSome(100ms) == RawConnection::ReadResult::kTimeout) {
      if (!conn->Send("X-Slow-" + std::to_string(sent_lines++) + ": 1\r\n")) break;
    }
  }
  EXPECT_TRUE(conn->ReadUntilClosed(kReadTimeout)) << "the server kept the slow connection";
  EXPECT_EQ(conn->received().substr(0, 12), "HTTP/1.1 408") << conn->received();
  EXPECT_GT(sent_lines, 0);
}

TEST(ServerE2eTest, SlowBodyIsAnswered408AndStoresNothing) {
  auto server = StartServer({"--body-timeout", "1"});
  ASSERT_NE(server, nullptr);
  auto rng = SeededRng();
  const std::string id = RandomBackupId(rng);
  auto conn = RawConnection::Connect(server->port());
  ASSERT_NE(conn, nullptr);
  ASSERT_TRUE(conn->Send(RawPutHead(id, 100) + RandomBytes(10, rng)));
  std::optional<RawResponse> r = conn->ReadResponse(kReadTimeout);
  ASSERT_TRUE(r.has_value()) << conn->received();
  EXPECT_EQ(r->status, 408);
  EXPECT_TRUE(conn->ReadUntilClosed(kReadTimeout));
  CurlClient client;
  EXPECT_TRUE(Answers(client, Request("GET", BackupUrl(*server, id)), 404));
}

// ---- Connection, header and body-memory limits ----

constexpr char kRawGetConfig[] = "GET /config HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

// Sends GET /config on conn and reads the answer, waiting at most kReadTimeout. nullopt when none
// came; conn.closed_by_peer() then tells whether the server closed the connection.
std::optional<RawResponse> GetConfigOn(RawConnection& conn) {
  if (!conn.Send(kRawGetConfig)) {
    // The server closed the connection before the request went out: take in that close.
    conn.ReadUntilClosed(kReadTimeout);
    return std::nullopt;
  }
  return conn.ReadResponse(kReadTimeout);
}

// GET /config on conn answers 200 and leaves the connection open.
::testing::AssertionResult ServesConfig(RawConnection& conn) {
  std::optional<RawResponse> r = GetConfigOn(conn);
  if (!r.has_value()) {
    return ::testing::AssertionFailure()
           << "GET /config: no answer, "
           << (conn.closed_by_peer() ? "the server closed the connection" : "none within 20 s")
           << "; received: " << conn.received();
  }
  if (r->status != 200) return ::testing::AssertionFailure() << "GET /config: " << r->status;
  if (conn.closed_by_peer()) {
    return ::testing::AssertionFailure() << "GET /config: the server closed the connection";
  }
  return ::testing::AssertionSuccess();
}

// A connection beyond max-connections is accepted and at once shut (shutdown(2), the client reads
// end of stream): its request is never parsed and gets no answer, not even an error status. The
// connections within the limit are untouched, and a slot freed by a close is used again.
TEST(ServerE2eTest, ConnectionBeyondMaxConnectionsIsClosedAtOnce) {
  constexpr int kMax = 4;
  // Timeouts far beyond the test's length: no connection is closed for them, so every close seen
  // here is the limit's.
  auto server = StartServer({"--max-connections", std::to_string(kMax), "--header-timeout", "300",
                             "--idle-timeout", "300"});
  ASSERT_NE(server, nullptr);

  // kMax connections, each with one request answered: all established and counted by the server.
  std::vector<std::unique_ptr<RawConnection>> held;
  for (int i = 0; i < kMax; ++i) {
    held.push_back(RawConnection::Connect(server->port()));
    ASSERT_NE(held.back(), nullptr) << "connection " << i;
    ASSERT_TRUE(ServesConfig(*held.back())) << "connection " << i;
  }

  // One more: connect succeeds (the kernel completes the TCP handshake), then the server closes
  // the connection without answering its request.
  auto extra = RawConnection::Connect(server->port());
  ASSERT_NE(extra, nullptr);
  std::optional<RawResponse> refused = GetConfigOn(*extra);
  ASSERT_FALSE(refused.has_value())
      << "the connection beyond the limit was served: " << extra->received();
  EXPECT_TRUE(extra->closed_by_peer())
      << "the connection beyond the limit was neither answered nor closed within 20 s";
  EXPECT_EQ(extra->received(), "");

  // The connections within the limit still serve requests.
  for (int i = 0; i < kMax; ++i) EXPECT_TRUE(ServesConfig(*held[i])) << "connection " << i;

  // Closing one frees its slot once the server has seen the close, which it learns
  // asynchronously: try new connections (each refused one is closed at once) until one is
  // served, for at most 20 s.
  held.erase(held.begin());
  const auto deadline = std::chrono::steady_clock::now() + kReadTimeout;
  int refused_after_close = 0;
  while (true) {
    auto conn = RawConnection::Connect(server->port());
    ASSERT_NE(conn, nullptr);
    std::optional<RawResponse> r = GetConfigOn(*conn);
    if (r.has_value()) {
      ASSERT_EQ(r->status, 200) << conn->received();
      held.push_back(std::move(conn));
      break;
    }
    ASSERT_TRUE(conn->closed_by_peer()) << "a new connection was neither answered nor closed";
    ++refused_after_close;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline)
        << "no new connection was served within 20 s of closing one (" << refused_after_close
        << " refused)";
    std::this_thread::sleep_for(10ms);  // a short pause between attempts
  }
  std::printf("new connections refused before the freed slot was seen: %d\n", refused_after_close);

  // The limit holds again with the new connection counted in it.
  auto another = RawConnection::Connect(server->port());
  ASSERT_NE(another, nullptr);
  EXPECT_FALSE(GetConfigOn(*another).has_value())
      << "a connection beyond the limit was served after the slot was reused: "
      << another->received();
  EXPECT_TRUE(another->closed_by_peer())
      << "a connection beyond the limit was neither answered nor closed within 20 s";
  for (auto& conn : held) EXPECT_TRUE(ServesConfig(*conn));
}

// --max-header-bytes bounds the request line and headers: a request just under it is served, one
// over it is answered 431 and the connection closed.
TEST(ServerE2eTest, MaxHeaderBytesIsHonoured) {
  auto server = StartServer({"--max-header-bytes", "2048"});
  ASSERT_NE(server, nullptr);
  auto request_with_header_of = [](size_t bytes) {
    std::string request = "GET /config HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ";
    const size_t fixed = request.size() + 4;  // and the closing "\r\n\r\n"
    request.append(bytes > fixed ? bytes - fixed : 0, 'a');
    return request + "\r\n\r\n";
  };
  auto small = RawConnection::Connect(server->port());
  ASSERT_NE(small, nullptr);
  ASSERT_TRUE(small->Send(request_with_header_of(1900)));
  std::optional<RawResponse> ok = small->ReadResponse(kReadTimeout);
  ASSERT_TRUE(ok.has_value()) << small->received();
  EXPECT_EQ(ok->status, 200);

  auto large = RawConnection::Connect(server->port());
  ASSERT_NE(large, nullptr);
  ASSERT_TRUE(large->Send(request_with_header_of(3000)));
  std::optional<RawResponse> refused = large->ReadResponse(kReadTimeout);
  ASSERT_TRUE(refused.has_value()) << large->received();
  EXPECT_EQ(refused->status, 431);
  EXPECT_TRUE(large->ReadUntilClosed(kReadTimeout));
  EXPECT_TRUE(ServesConfig(*small));  // the other connection is unaffected
}

// --max-body-memory bounds the bodies held in memory by all connections together; with no files
// to wait in (--max-body-disk 0; spill_e2e_test has them), while one
// upload holds the whole budget, another is answered 503 with Retry-After before its body is
// read; once the first is stored, the second goes through. No waits but bounded reads.
TEST(ServerE2eTest, UploadsBeyondMaxBodyMemoryAre503UntilThereIsRoom) {
  auto server = StartServer(
      {"--max-backup-bytes", "1000", "--max-body-memory", "1000", "--max-body-disk", "0"});
  ASSERT_NE(server, nullptr);
  std::mt19937_64 rng(std::random_device{}());
  const std::string id_a = RandomBackupId(rng);
  const std::string id_b = RandomBackupId(rng);
  auto put_head = [](const std::string& id, const std::string& extra = "") {
    return "PUT /backups/" + id + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n" +
           extra + "\r\n";
  };
  // A's headers alone take nothing (issue 12 item 7); its first body byte takes its whole
  // Content-Length, which is the whole budget.
  auto a = RawConnection::Connect(server->port());
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(a->Send(put_head(id_a, "Expect: 100-continue\r\n")));
  std::optional<RawResponse> go_on = a->ReadResponse(kReadTimeout);
  ASSERT_TRUE(go_on.has_value()) << a->received();
  ASSERT_EQ(go_on->status, 100);
  ASSERT_TRUE(a->Send("a"));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let the server take it in

  auto b = RawConnection::Connect(server->port());
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(b->Send(put_head(id_b) + "b"));  // its first body byte finds no room
  std::optional<RawResponse> refused = b->ReadResponse(kReadTimeout);
  ASSERT_TRUE(refused.has_value()) << b->received();
  EXPECT_EQ(refused->status, 503);
  EXPECT_EQ(refused->Header("Retry-After").value_or(""), "5");
  EXPECT_TRUE(b->ReadUntilClosed(kReadTimeout));

  ASSERT_TRUE(a->Send(std::string(999, 'a')));
  std::optional<RawResponse> stored = a->ReadResponse(kReadTimeout);
  ASSERT_TRUE(stored.has_value()) << a->received();
  EXPECT_EQ(stored->status, 201);

  // A's share is free again (given back when its answer was queued): B goes through.
  auto b2 = RawConnection::Connect(server->port());
  ASSERT_NE(b2, nullptr);
  ASSERT_TRUE(b2->Send(put_head(id_b) + std::string(1000, 'b')));
  std::optional<RawResponse> second = b2->ReadResponse(kReadTimeout);
  ASSERT_TRUE(second.has_value()) << b2->received();
  EXPECT_EQ(second->status, 201);
  CurlClient client;
  EXPECT_TRUE(Answers(client, Request("GET", BackupUrl(*server, id_a)), 200));
}

}  // namespace
}  // namespace safe::testing
