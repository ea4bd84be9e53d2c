// End-to-end tests of safe-server (issue 2), the API: every status code over a real socket,
// keep-alive and Expect: 100-continue, torn uploads, SIGTERM, what the log holds, configuration
// errors through the real binary. The other files of this binary and what they share:
// server_e2e.h.

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/server/server_e2e.h"
#include "tests/support/e2e_util.h"
#include "tests/support/server_process.h"

namespace safe::testing {
namespace {

using namespace std::chrono_literals;

// ---- Every status code over a real socket ----

TEST(ServerE2eTest, ConfigAnswersExactJson) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  CurlClient client;
  CurlResponse r = client.Perform(Request("GET", server->BaseUrl() + "config"));
  ASSERT_TRUE(r.ok()) << Describe(r);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"maxBackupBytes":524288,"retentionDays":180})");
  EXPECT_EQ(r.Header("Content-Type"), "application/json");

  auto small = StartServer({"--max-backup-bytes", "1000", "--retention-days", "7"});
  ASSERT_NE(small, nullptr);
  r = client.Perform(Request("GET", small->BaseUrl() + "config"));
  EXPECT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(r.body, R"({"maxBackupBytes":1000,"retentionDays":7})");
}

TEST(ServerE2eTest, PutGetHeadDeleteAnswerEveryStatus) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto rng = SeededRng();
  CurlClient client;
  const std::string id = RandomBackupId(rng);
  const std::string url = BackupUrl(*server, id);
  const std::string first = RandomBytes(1000, rng);
  const std::string second = RandomBytes(kDefaultMaxBytes, rng);  // exactly the maximum

  EXPECT_TRUE(Answers(client, Request("GET", url), 404));
  EXPECT_TRUE(Answers(client, Request("HEAD", url), 404));
  EXPECT_TRUE(Answers(client, Request("PUT", url, first), 201));
  EXPECT_TRUE(HoldsBlob(client, *server, id, first));
  EXPECT_TRUE(Answers(client, Request("PUT", url, second), 204));

  CurlResponse get = client.Perform(Request("GET", url));
  ASSERT_TRUE(get.ok()) << Describe(get);
  EXPECT_EQ(get.status, 200);
  EXPECT_TRUE(get.body == second) << "GET returned " << get.body.size() << " bytes, not the "
                                  << second.size() << " stored";
  EXPECT_EQ(get.Header("Content-Type"), "application/octet-stream");
  EXPECT_EQ(get.Header("Content-Length"), std::to_string(kDefaultMaxBytes));

  CurlResponse head = client.Perform(Request("HEAD", url));
  ASSERT_TRUE(head.ok()) << Describe(head);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.content_length, static_cast<curl_off_t>(kDefaultMaxBytes));
  EXPECT_EQ(head.Header("Content-Type"), "application/octet-stream");
  EXPECT_TRUE(head.body.empty());
  // A HEAD answer that carried a body would corrupt the next answer on this connection.
  CurlResponse after_head = client.Perform(Request("GET", server->BaseUrl() + "config"));
  EXPECT_EQ(after_head.status, 200) << Describe(after_head);
  EXPECT_EQ(after_head.num_connects, 0) << "the connection was not kept after HEAD";

  EXPECT_TRUE(Answers(client, Request("DELETE", url), 204));
  EXPECT_TRUE(Answers(client, Request("DELETE", url), 404));
  EXPECT_TRUE(Answers(client, Request("GET", url), 404));
  EXPECT_TRUE(Answers(client, Request("HEAD", url), 404));
}

TEST(ServerE2eTest, HeadSendsHeadersButNoBodyOnTheWire) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto rng = SeededRng();
  CurlClient client;
  const std::string id = RandomBackupId(rng);
  ASSERT_TRUE(Answers(client, Request("PUT", BackupUrl(*server, id), RandomBytes(3000, rng)), 201));

  auto conn = RawConnection::Connect(server->port());
  ASSERT_NE(conn, nullptr);
  ASSERT_TRUE(conn->Send("HEAD /backups/" + id +
                         " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"));
  ASSERT_TRUE(conn->ReadUntilClosed(kReadTimeout));
  const std::string& wire = conn->received();
  size_t end = wire.find("\r\n\r\n");
  ASSERT_NE(end, std::string::npos) << wire;
  EXPECT_EQ(wire.substr(0, 15), "HTTP/1.1 200 OK");
  EXPECT_NE(wire.find("Content-Length: 3000\r\n"), std::string::npos) << wire;
  EXPECT_EQ(wire.size(), end + 4) << "bytes after the HEAD answer's headers";
}

TEST(ServerE2eTest, MalformedIdsAre400AndTouchNothing) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto rng = SeededRng();
  CurlClient client;
  const std::string id = RandomBackupId(rng);
  const std::string blob = RandomBytes(5000, rng);
  ASSERT_TRUE(Answers(client, Request("PUT", BackupUrl(*server, id), blob), 201));

  std::string upper = id;
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  if (upper == id) upper[0] = 'A';  // an id of digits only: still not lowercase hex
  const std::vector<std::string> malformed = {
      upper,                 // the stored id in upper case
      id.substr(0, 63),      // one short
      id + "0",              // one long
      "g" + id.substr(1),    // not hex
      "",                    // no id at all
      "%30" + id.substr(1),  // percent-encoded: ids are never decoded
      id.substr(0, 32),      // half
      "0x" + id.substr(2),   // a prefix
  };
  for (const std::string& bad : malformed) {
    SCOPED_TRACE("id \"" + bad + "\"");
    const std::string url = BackupUrl(*server, bad);
    EXPECT_TRUE(Answers(client, Request("GET", url), 400));
    EXPECT_TRUE(Answers(client, Request("HEAD", url), 400));
    EXPECT_TRUE(Answers(client, Request("PUT", url, RandomBytes(100, rng)), 400));
    EXPECT_TRUE(Answers(client, Request("DELETE", url), 400));
    EXPECT_TRUE(HoldsBlob(client, *server, id, blob));
  }
}

TEST(ServerE2eTest, BodyOverMaxIs413AndStoresNothing) {
  auto server = StartServer({"--max-backup-bytes", "1000"});
  ASSERT_NE(server, nullptr);
  auto rng = SeededRng();
  CurlClient client;
  const std::string id = RandomBackupId(rng);
  const std::string blob = RandomBytes(1000, rng);  // exactly the maximum: accepted
  ASSERT_TRUE(Answers(client, Request("PUT", BackupUrl(*server, id), blob), 201));

  EXPECT_TRUE(Answers(client, Request("PUT", BackupUrl(*server, id), RandomBytes(2000, rng)), 413));
  EXPECT_TRUE(HoldsBlob(client, *server, id, blob));
  EXPECT_TRUE(Answers(client, Request("PUT", BackupUrl(*server, id), RandomBytes(1001, rng)), 413));
  EXPECT_TRUE(HoldsBlob(client, *server, id, blob));

  const std::string other = RandomBackupId(rng);
  EXPECT_TRUE(
      Answers(client, Request("PUT", BackupUrl(*server, other), RandomBytes(2000, rng)), 413));
  EXPECT_TRUE(Answers(client, Request("GET", BackupUrl(*server, other)), 404));
  EXPECT_TRUE(HoldsBlob(client, *server, id, blob));
}

TEST(ServerE2eTest, BodyOverMaxIsRefusedByContentLengthBeforeItIsSent) {
  auto server = StartServer({"--max-backup-bytes", "1000"});
  ASSERT_NE(server, nullptr);
  auto rng = SeededRng();
  auto conn = RawConnection::Connect(server->port());
  ASSERT_NE(conn, nullptr);
  // Headers only, no Expect: the answer must come without a single body byte sent.
  ASSERT_TRUE(conn->Send(RawPutHead(RandomBackupId(rng), 2000)));
  std::optional<RawResponse> r = conn->ReadResponse(kReadTimeout);
  ASSERT_TRUE(r.has_value()) << conn->received();
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(r->Header("Connection"), "close");
}

TEST(ServerE2eTest, ChunkedBodyOverMaxIs413) {
  auto server = StartServer({"--max-backup-bytes", "1000"});
  ASSERT_NE(server, nullptr);
  auto rng = SeededRng();
  CurlClient client;
  const std::string id = RandomBackupId(rng);
  const std::string blob = RandomBytes(999, rng);
  CurlRequest put = Request("PUT", BackupUrl(*server, id), blob);
  put.headers = {"Transfer-Encoding: chunked"};
  EXPECT_TRUE(Answers(client, put, 201));

  put.body = RandomBytes(2000, rng);
  EXPECT_TRUE(Answers(client, put, 413));
  EXPECT_TRUE(HoldsBlob(client, *server, id, blob));
}

TEST(ServerE2eTest, EmptyBodyIs400AndKeepsTheOldBlob) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto rng = SeededRng();
  CurlClient client;
  const std::string id = RandomBackupId(rng);
  const std::string blob = RandomBytes(700, rng);
  ASSERT_TRUE(Answers(client, Request("PUT", BackupUrl(*server, id), blob), 201));

  EXPECT_TRUE(Answers(client, Request("PUT", BackupUrl(*server, id), std::string()), 400));
  EXPECT_TRUE(HoldsBlob(client, *server, id, blob));

  CurlRequest chunked = Request("PUT", BackupUrl(*server, id), std::string());
  chunked.headers = {"Transfer-Encoding: chunked"};
  EXPECT_TRUE(Answers(client, chunked, 400));
  EXPECT_TRUE(HoldsBlob(client, *server, id, blob));

  const std::string fresh = RandomBackupId(rng);
  EXPECT_TRUE(Answers(client, Request("PUT", BackupUrl(*server, fresh), std::string()), 400));
  EXPECT_TRUE(Answers(client, Request("GET", BackupUrl(*server, fresh)), 404));
}

TEST(ServerE2eTest, UnsupportedMethodIs405WithAllow) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto rng = SeededRng();
  CurlClient client;
  const std::string id = RandomBackupId(rng);
  const std::string blob = RandomBytes(900, rng);
  ASSERT_TRUE(Answers(client, Request("PUT", BackupUrl(*server, id), blob), 201));

  struct Case {
    std::string method;
    std::string path;
    std::optional<std::string> body;
    std::vector<std::string> allowed;
    std::vector<std::string> not_allowed;
  };
  const std::vector<std::string> backup_methods = {"GET", "HEAD", "PUT", "DELETE"};
  const std::vector<Case> cases = {
      {"POST", "backups/" + id, std::string("x"), backup_methods, {"POST"}},
      {"POST", "backups/" + id, std::nullopt, backup_methods, {"POST"}},
      {"PROPFIND", "backups/" + id, std::nullopt, backup_methods, {"PROPFIND"}},
      {"OPTIONS", "backups/" + id, std::nullopt, backup_methods, {"OPTIONS"}},
      {"MKCOL", "backups/" + id, std::nullopt, backup_methods, {"MKCOL"}},
      {"PATCH", "backups/" + id, std::string("x"), backup_methods, {"PATCH"}},
      {"POST", "config", std::string("{}"), {"GET", "HEAD"}, {"PUT", "DELETE", "POST"}},
      {"PUT", "config", std::string("{}"), {"GET", "HEAD"}, {"PUT", "DELETE", "POST"}},
      {"DELETE", "config", std::nullopt, {"GET", "HEAD"}, {"PUT", "DELETE", "POST"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.method + " /" + c.path);
    CurlResponse r = client.Perform(Request(c.method, server->BaseUrl() + c.path, c.body));
    ASSERT_TRUE(r.ok()) << Describe(r);
    EXPECT_EQ(r.status, 405) << Describe(r);
    std::optional<std::string> allow = r.Header("Allow");
    ASSERT_TRUE(allow.has_value()) << "no Allow header";
    for (const auto& m : c.allowed) EXPECT_NE(allow->find(m), std::string::npos) << *allow;
    for (const auto& m : c.not_allowed) EXPECT_EQ(allow->find(m), std::string::npos) << *allow;
    EXPECT_TRUE(HoldsBlob(client, *server, id, blob));
  }
}

TEST(ServerE2eTest, UnknownPathIs404) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto rng = SeededRng();
  CurlClient client;
  const std::string id = RandomBackupId(rng);
  const std::string blob = RandomBytes(1234, rng);
  ASSERT_TRUE(Answers(client, Request("PUT", BackupUrl(*server, id), blob), 201));

  const std::vector<std::string> paths = {
      "", "backups", "backups/" + id + "/x", "config/", "Config", "favicon.ico", "backup/" + id,
  };
  for (const std::string& path : paths) {
    SCOPED_TRACE("/" + path);
    const std::string url = server->BaseUrl() + path;
    EXPECT_TRUE(Answers(client, Request("GET", url), 404));
    EXPECT_TRUE(Answers(client, Request("PUT", url, RandomBytes(50, rng)), 404));
    EXPECT_TRUE(Answers(client, Request("DELETE", url), 404));
    EXPECT_TRUE(HoldsBlob(client, *server, id, blob));
  }
}

// ---- Keep-alive and Expect: 100-continue ----

TEST(ServerE2eTest, KeepAliveReusesTheConnection) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto rng = SeededRng();
  CurlClient client;
  CurlResponse first = client.Perform(Request("GET", server->BaseUrl() + "config"));
  ASSERT_EQ(first.status, 200) << Describe(first);
  EXPECT_EQ(first.num_connects, 1);
  CurlResponse second = client.Perform(Request("GET", server->BaseUrl() + "config"));
  ASSERT_EQ(second.status, 200) << Describe(second);
  EXPECT_EQ(second.num_connects, 0) << "the second request opened a new connection";

  const std::string id = RandomBackupId(rng);
  CurlResponse put = client.Perform(Request("PUT", BackupUrl(*server, id), RandomBytes(4096, rng)));
  ASSERT_EQ(put.status, 201) << Describe(put);
  EXPECT_EQ(put.num_connects, 0);
  CurlResponse get = client.Perform(Request("GET", BackupUrl(*server, id)));
  ASSERT_EQ(get.status, 200) << Describe(get);
  EXPECT_EQ(get.num_connects, 0);
}

TEST(ServerE2eTest, AnswersExpect100Continue) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto rng = SeededRng();
  CurlClient client;
  // libcurl sends "Expect: 100-continue" with a PUT body by default.
  CurlResponse r = client.Perform(
      Request("PUT", BackupUrl(*server, RandomBackupId(rng)), RandomBytes(kDefaultMaxBytes, rng)));
  ASSERT_TRUE(r.ok()) << Describe(r);
  EXPECT_EQ(r.status, 201);
  ASSERT_EQ(r.status_lines.size(), 2u) << Describe(r);
  EXPECT_EQ(r.status_lines[0], "HTTP/1.1 100 Continue");
  EXPECT_EQ(r.status_lines[1], "HTTP/1.1 201 Created");
}

// ---- Torn uploads ----

TEST(ServerE2eTest, TornUploadStoresNothing) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto rng = SeededRng();
  const std::string id = RandomBackupId(rng);
  {
    auto conn = RawConnection::Connect(server->port());
    ASSERT_NE(conn, nullptr);
    ASSERT_TRUE(conn->Send(RawPutHead(id, 1000) + RandomBytes(500, rng)));
    conn->CloseWrite();
    // The server has seen the end of the stream once it closes its side.
    EXPECT_TRUE(conn->ReadUntilClosed(kReadTimeout));
  }
  CurlClient client;
  EXPECT_TRUE(Answers(client, Request("GET", BackupUrl(*server, id)), 404));
  EXPECT_TRUE(Answers(client, Request("HEAD", BackupUrl(*server, id)), 404));
}

TEST(ServerE2eTest, TornUploadOnKeptAliveConnectionKeepsTheOldBlob) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto rng = SeededRng();
  const std::string id = RandomBackupId(rng);
  const std::string blob = RandomBytes(1000, rng);
  {
    auto conn = RawConnection::Connect(server->port());
    ASSERT_NE(conn, nullptr);
    ASSERT_TRUE(conn->Send(RawPutHead(id, blob.size()) + blob));
    std::optional<RawResponse> created = conn->ReadResponse(kReadTimeout);
    ASSERT_TRUE(created.has_value()) << conn->received();
    EXPECT_EQ(created->status, 201);
    EXPECT_EQ(created->Header("Connection"), "keep-alive");

    ASSERT_TRUE(conn->Send(RawPutHead(id, 1000) + RandomBytes(500, rng)));
    conn->CloseWrite();
    EXPECT_TRUE(conn->ReadUntilClosed(kReadTimeout));
  }
  CurlClient client;
  EXPECT_TRUE(HoldsBlob(client, *server, id, blob));
}

// ---- SIGTERM ----

TEST(ServerE2eTest, SigtermExitsZeroAndKeepsData) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto rng = SeededRng();
  CurlClient client;
  std::vector<std::pair<std::string, std::string>> blobs;
  for (int i = 0; i < 10; ++i) {
    blobs.emplace_back(RandomBackupId(rng), RandomBytes(1 + rng() % 50000, rng));
    ASSERT_TRUE(Answers(
        client, Request("PUT", BackupUrl(*server, blobs.back().first), blobs.back().second), 201));
  }
  EXPECT_EQ(server->Terminate(), 0) << server->Log();
  server = server->Restart();
  ASSERT_NE(server, nullptr);
  CurlClient after;
  for (const auto& [id, blob] : blobs) EXPECT_TRUE(HoldsBlob(after, *server, id, blob));
}

TEST(ServerE2eTest, SigtermFinishesAnUploadInFlight) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto rng = SeededRng();
  const std::string id = RandomBackupId(rng);
  const std::string blob = RandomBytes(64 * 1024, rng);

  // A kept-alive idle connection: the server closes it once it begins to drain.
  auto idle = RawConnection::Connect(server->port());
  ASSERT_NE(idle, nullptr);
  ASSERT_TRUE(idle->Send("GET /config HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  std::optional<RawResponse> config = idle->ReadResponse(kReadTimeout);
  ASSERT_TRUE(config.has_value()) << idle->received();
  ASSERT_EQ(config->status, 200);

  // The upload: "100 Continue" proves the server has its headers; then half the body.
  auto upload = RawConnection::Connect(server->port());
  ASSERT_NE(upload, nullptr);
  ASSERT_TRUE(upload->Send(RawPutHead(id, blob.size(), "Expect: 100-continue\r\n")));
  std::optional<RawResponse> go_on = upload->ReadResponse(kReadTimeout);
  ASSERT_TRUE(go_on.has_value()) << upload->received();
  ASSERT_EQ(go_on->status, 100);
  ASSERT_TRUE(upload->Send(std::string_view(blob).substr(0, blob.size() / 2)));

  server->Signal(SIGTERM);
  // Draining has begun once the idle connection is closed.
  ASSERT_TRUE(idle->ReadUntilClosed(kReadTimeout)) << "the server did not begin to drain";

  ASSERT_TRUE(upload->Send(std::string_view(blob).substr(blob.size() / 2)));
  std::optional<RawResponse> created = upload->ReadResponse(kReadTimeout);
  ASSERT_TRUE(created.has_value()) << upload->received();
  EXPECT_EQ(created->status, 201);
  EXPECT_EQ(created->Header("Connection"), "close");
  EXPECT_TRUE(upload->ReadUntilClosed(kReadTimeout));

  EXPECT_EQ(server->Wait(), 0) << server->Log();
  server = server->Restart();
  ASSERT_NE(server, nullptr);
  CurlClient client;
  EXPECT_TRUE(HoldsBlob(client, *server, id, blob));
}

// ---- Privacy ----

TEST(ServerE2eTest, LogHoldsNoBackupIdAndNoAddress) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto rng = SeededRng();
  CurlClient client;
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(RandomBackupId(rng));
    const std::string url = BackupUrl(*server, ids.back());
    EXPECT_TRUE(Answers(client, Request("GET", url), 404));
    EXPECT_TRUE(Answers(client, Request("PUT", url, RandomBytes(2000, rng)), 201));
    EXPECT_TRUE(Answers(client, Request("PUT", url, RandomBytes(2000, rng)), 204));
    EXPECT_TRUE(Answers(client, Request("GET", url), 200));
    EXPECT_TRUE(Answers(client, Request("HEAD", url), 200));
    EXPECT_TRUE(Answers(client, Request("POST", url, std::string("x")), 405));
    EXPECT_TRUE(Answers(client, Request("DELETE", url), 204));
    EXPECT_TRUE(Answers(client, Request("DELETE", url), 404));
  }
  ids.push_back(RandomBackupId(rng).substr(0, 63));
  EXPECT_TRUE(Answers(client, Request("GET", BackupUrl(*server, ids.back())), 400));
  EXPECT_EQ(server->Terminate(), 0);

  const std::string log = server->Log();
  for (const std::string& id : ids) {
    EXPECT_EQ(log.find(id.substr(0, 16)), std::string::npos) << "a backup id in the log:\n" << log;
  }
  // The server's own listening addresses are the only addresses it may print.
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("127.0.0.1") != std::string::npos) {
      EXPECT_NE(line.find("listening on"), std::string::npos) << "an address in the log: " << line;
    }
  }
  EXPECT_NE(log.find("safe-server: listening on 127.0.0.1:"), std::string::npos) << log;

  // Nor does anything the server wrote to its data directory hold the client's address.
  for (const auto& entry : std::filesystem::recursive_directory_iterator(server->data_dir())) {
    if (!entry.is_regular_file()) continue;
    std::ifstream file(entry.path(), std::ios::binary);
    std::string contents((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    EXPECT_EQ(contents.find("127.0.0.1"), std::string::npos) << entry.path().filename();
  }
}

// ---- Configuration errors through the real binary ----

class ServerE2eConfigTest : public ::testing::Test {
 protected:
  std::string Binary() const { return std::string(SAFE_BIN_DIR) + "/safe-server"; }
  std::string DataDir() const { return dir_.path() + "/data"; }

  // Runs the server with args (and --data-dir DataDir(), --listen 127.0.0.1:0).
  int Run(std::vector<std::string> args, std::string* out, std::string* err) {
    std::vector<std::string> argv = {Binary(), "--listen", "127.0.0.1:0", "--data-dir", DataDir()};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, "", out, err);
  }

  TempDir dir_;
};

TEST_F(ServerE2eConfigTest, BadNumberExitsTwoWithOneLineAndTouchesNothing) {
  std::string out, err;
  EXPECT_EQ(Run({"--max-backup-bytes", "abc"}, &out, &err), 2);
  EXPECT_EQ(CountOf(err, "\n"), 1u) << err;
  EXPECT_EQ(err.back(), '\n');
  EXPECT_NE(err.find("max-backup-bytes"), std::string::npos) << err;
  EXPECT_FALSE(std::filesystem::exists(DataDir())) << "the data directory was made";
}

TEST_F(ServerE2eConfigTest, TlsCertWithoutKeyExitsTwo) {
  const std::string cert = dir_.path() + "/cert.pem";
  ASSERT_TRUE(WriteFile(cert, "not a certificate\n"));
  std::string out, err;
  EXPECT_EQ(Run({"--tls-cert", cert}, &out, &err), 2);
  EXPECT_EQ(CountOf(err, "\n"), 1u) << err;
  EXPECT_NE(err.find("tls-"), std::string::npos) << err;
  EXPECT_FALSE(std::filesystem::exists(DataDir()));
}

TEST_F(ServerE2eConfigTest, UnknownConfigKeyExitsTwo) {
  const std::string conf = dir_.path() + "/safe-server.conf";
  ASSERT_TRUE(WriteFile(conf, "# a test config\nretention-days = 30\nno-such-key = 1\n"));
  std::string out, err;
  EXPECT_EQ(Run({"--config", conf}, &out, &err), 2);
  EXPECT_EQ(CountOf(err, "\n"), 1u) << err;
  EXPECT_NE(err.find("no-such-key"), std::string::npos) << err;
  EXPECT_FALSE(std::filesystem::exists(DataDir()));
}

TEST_F(ServerE2eConfigTest, HelpExitsZeroAndListsTheFlags) {
  std::string out, err;
  EXPECT_EQ(RunCommand({Binary(), "--help"}, "", &out, &err), 0) << err;
  for (const char* flag : {"--listen", "--data-dir", "--max-backup-bytes", "--retention-days",
                           "--htpasswd", "--tls-cert", "--tls-key", "--threads", "--config"}) {
    EXPECT_NE(out.find(flag), std::string::npos) << flag << " missing from --help:\n" << out;
  }
}

// Regression (issue 5's benchmark): back-to-back keep-alive PUTs, each sent as soon as the
// previous answer was read. The server used to drop the connection when a next
// request arrived before it had seen its own write complete.
TEST(ServerE2eKeepAliveTest, BackToBackPutsOnOneConnectionAreAllAnswered) {
  auto server = ServerProcess::Start({"--guess-burst", "0"});  // 200 new backups from one client
  ASSERT_NE(server, nullptr);
  auto conn = RawConnection::Connect(server->port());
  ASSERT_NE(conn, nullptr);
  std::mt19937_64 rng(20261126);
  const std::string body = RandomBytes(65536, rng);
  for (int i = 0; i < 200; ++i) {
    std::string id = RandomBackupId(rng);
    std::string request = "PUT /backups/" + id +
                          " HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(body.size()) +
                          "\r\n\r\n" + body;
    ASSERT_TRUE(conn->Send(request)) << "request " << i;
    auto response = conn->ReadResponse(std::chrono::seconds(20));
    ASSERT_TRUE(response.has_value()) << "no answer to request " << i;
    EXPECT_EQ(response->status, 201) << "request " << i;
  }
}

}  // namespace
}  // namespace safe::testing
