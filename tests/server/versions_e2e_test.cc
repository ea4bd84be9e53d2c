// Issue 16 through the real binary: kill -9 while a client replaces one backup again and again.
// After each kill the restarted server holds either the last acknowledged upload with its
// history, or the one in flight with the acknowledged one as version 1, never neither; and a
// stale conditional PUT is refused while a plain one works.

#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <string>

#include "tests/support/crash.h"
#include "tests/support/e2e_util.h"
#include "tests/support/server_process.h"

namespace safe::testing {
namespace {

std::string BlobFor(int n) {
  std::mt19937_64 rng(static_cast<uint64_t>(n) * 977 + 3);
  std::string blob(1000 + rng() % 60000, '\0');
  for (auto& c : blob) c = static_cast<char>(rng());
  return blob;
}

CurlResponse Do(CurlClient& curl, const std::string& method, const std::string& url,
                const std::string& body = "", std::vector<std::string> headers = {}) {
  CurlRequest request = Request(method, url);
  if (method == "PUT") request.body = body;
  request.headers = std::move(headers);
  return curl.Perform(request);
}

TEST(VersionsE2eTest, KillNineDuringReplacingPutsKeepsTheHistoryWhole) {
  auto server = ServerProcess::Start({"--keep-versions", "3"});
  ASSERT_NE(server, nullptr);
  const std::string id(64, 'a');
  int next = 0;  // the next blob number to upload
  for (int round = 0; round < 4; ++round) {
    const std::string url = server->BaseUrl() + "backups/" + id;
    std::atomic<int> acked{-1};  // the last blob number acknowledged
    // Puts until the kill ends the server: a put is under way when it comes.
    auto writer = [&](int, UploadStream& stream) {
      CurlClient curl;
      for (int n = next;; ++n) {
        CurlResponse r = Do(curl, "PUT", url, BlobFor(n));
        if (!r.ok() || (r.status != 201 && r.status != 204)) return;  // the server died
        acked.store(n);
        stream.Acknowledged();
      }
    };
    // Killed once blob next + 20 + 7 * round is acknowledged.
    const UploadStreamCut cut =
        StopDuringUploads(1, 21 + 7 * round, writer, [&] { server->Kill9(); });
    ASSERT_TRUE(cut.reached) << "round " << round << ": only " << cut.acknowledged
                             << " uploads were acknowledged";
    const int last = acked.load();
    server = server->Restart();
    ASSERT_NE(server, nullptr);

    CurlClient curl;
    CurlResponse current = Do(curl, "GET", server->BaseUrl() + "backups/" + id);
    ASSERT_EQ(current.status, 200);
    int now = last;
    if (current.body != BlobFor(last)) {
      ASSERT_EQ(current.body, BlobFor(last + 1)) << "round " << round << ": neither blob";
      now = last + 1;
    }
    for (int v = 1; v <= 3 && now - v >= 0; ++v) {
      CurlResponse version =
          Do(curl, "GET", server->BaseUrl() + "backups/" + id + "/versions/" + std::to_string(v));
      ASSERT_EQ(version.status, 200) << "round " << round << " version " << v;
      EXPECT_TRUE(version.body == BlobFor(now - v)) << "round " << round << " version " << v;
    }
    next = now + 1;
  }
}

TEST(VersionsE2eTest, AStaleConditionalPutIsRefusedWhileThePlainPutWorks) {
  auto server = ServerProcess::Start();
  ASSERT_NE(server, nullptr);
  const std::string url = server->BaseUrl() + "backups/" + std::string(64, 'b');
  CurlClient curl;
  CurlResponse first = Do(curl, "PUT", url, "device one", {"If-None-Match: *"});
  ASSERT_EQ(first.status, 201);
  const std::string seen = first.Header("ETag").value_or("");
  ASSERT_FALSE(seen.empty());
  ASSERT_EQ(Do(curl, "PUT", url, "the app").status, 204);  // the apps' plain PUT
  CurlResponse stale = Do(curl, "PUT", url, "stale", {"If-Match: " + seen});
  EXPECT_EQ(stale.status, 412);
  EXPECT_EQ(Do(curl, "GET", url).body, "the app");
  CurlResponse bad = Do(curl, "PUT", url, "x", {"If-Match: nonsense"});
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("If-Match"), std::string::npos);
  CurlResponse list = Do(curl, "GET", url + "/versions");
  EXPECT_EQ(list.status, 200);
  EXPECT_NE(list.body.find("\"version\":1"), std::string::npos) << list.body;
  EXPECT_EQ(Do(curl, "GET", url + "/versions/1").body, "device one");
  EXPECT_EQ(Do(curl, "DELETE", url).status, 204);
  EXPECT_EQ(Do(curl, "GET", url + "/versions/1").status, 404);
}

// docs/privacy.md: with the access log on, version requests are logged as "/backups/<id>" with no
// id, no version number and nothing of the ETag.
TEST(VersionsE2eTest, TheAccessLogHoldsNoIdVersionNumberOrEtag) {
  auto server = ServerProcess::Start({"--access-log", "true"});
  ASSERT_NE(server, nullptr);
  const std::string id = "0123456789abcdef" + std::string(48, 'c');
  const std::string url = server->BaseUrl() + "backups/" + id;
  CurlClient curl;
  CurlResponse first = Do(curl, "PUT", url, "one");
  ASSERT_EQ(first.status, 201);
  const std::string etag = first.Header("ETag").value_or("\"none\"");
  ASSERT_EQ(Do(curl, "PUT", url, "two", {"If-Match: " + etag}).status, 204);
  ASSERT_EQ(Do(curl, "PUT", url, "three", {"If-Match: " + etag}).status, 412);
  ASSERT_EQ(Do(curl, "GET", url + "/versions").status, 200);
  ASSERT_EQ(Do(curl, "GET", url + "/versions/1").status, 200);
  ASSERT_EQ(Do(curl, "GET", url + "/versions/918273").status, 404);
  EXPECT_EQ(server->Terminate(), 0);
  const std::string log = server->Log();
  EXPECT_NE(log.find("access: GET /backups/<id> 200"), std::string::npos) << log;
  EXPECT_NE(log.find("access: PUT /backups/<id> 412"), std::string::npos) << log;
  EXPECT_EQ(log.find(id.substr(0, 16)), std::string::npos) << log;
  EXPECT_EQ(log.find("versions"), std::string::npos) << log;
  EXPECT_EQ(log.find("918273"), std::string::npos) << log;
  EXPECT_EQ(log.find(etag.substr(1, 12)), std::string::npos) << log;
}

}  // namespace
}  // namespace safe::testing
