#include "safe-client/server_api.h"

#include <gtest/gtest.h>

#include <string>

namespace safe::client {
namespace {

std::vector<uint8_t> Body(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

TEST(ServerUrlTest, NormalisesToATrailingSlash) {
  EXPECT_EQ(ParseServerUrl("https://safe.example.org")->base, "https://safe.example.org/");
  EXPECT_EQ(ParseServerUrl("https://safe.example.org/threema")->base,
            "https://safe.example.org/threema/");
  EXPECT_EQ(ParseServerUrl("http://127.0.0.1:8080/safe/")->base, "http://127.0.0.1:8080/safe/");
}

TEST(ServerUrlTest, TakesCredentialsOutOfTheUrl) {
  Result<ServerUrl> url = ParseServerUrl("https://alice:p%40ss%3Aword@safe.example.org/x");
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  EXPECT_EQ(url->base, "https://safe.example.org/x/");
  EXPECT_EQ(url->user, "alice");
  EXPECT_EQ(url->password.view(), "p@ss:word");
  EXPECT_TRUE(ParseServerUrl("https://safe.example.org/")->user.empty());
}

TEST(ServerUrlTest, WarnsOnlyForPlainHttpToRemoteHosts) {
  EXPECT_TRUE(ParseServerUrl("http://safe.example.org/")->plaintext_remote);
  EXPECT_TRUE(ParseServerUrl("http://10.0.0.1/")->plaintext_remote);
  EXPECT_FALSE(ParseServerUrl("http://127.0.0.1:1234/")->plaintext_remote);
  EXPECT_FALSE(ParseServerUrl("http://localhost/")->plaintext_remote);
  EXPECT_FALSE(ParseServerUrl("http://[::1]:99/")->plaintext_remote);
  EXPECT_FALSE(ParseServerUrl("https://safe.example.org/")->plaintext_remote);
}

TEST(ServerUrlTest, RefusesOtherSchemesAndQueries) {
  EXPECT_TRUE(ParseServerUrl("ftp://safe.example.org/").status().IsInvalidArgument());
  EXPECT_TRUE(ParseServerUrl("safe.example.org").status().IsInvalidArgument());
  EXPECT_TRUE(ParseServerUrl("https://safe.example.org/?a=b").status().IsInvalidArgument());
  EXPECT_TRUE(ParseServerUrl("https://safe.example.org/#x").status().IsInvalidArgument());
  EXPECT_TRUE(ParseServerUrl("").status().IsInvalidArgument());
}

// Issue 13: "safe.example.org" used to say only "not a valid URL".
TEST(ServerUrlTest, AUrlWithoutSchemeSaysHttpsIsMissing) {
  for (const char* url : {"safe.example.org", "safe.example.org/", "alice:secret@safe.example.org/",
                          "127.0.0.1:8080/safe/"}) {
    Status s = ParseServerUrl(url).status();
    EXPECT_TRUE(s.IsInvalidArgument()) << url;
    EXPECT_NE(s.message().find("https:// is missing"), std::string::npos) << s.message();
    EXPECT_EQ(s.message().find("secret"), std::string::npos) << s.message();
  }
}

TEST(ServerUrlTest, KeepsTheHostForMessages) {
  EXPECT_EQ(ParseServerUrl("https://alice:pw@safe.example.org/x")->host, "safe.example.org");
  EXPECT_EQ(ParseServerUrl("http://127.0.0.1:8080/")->host, "127.0.0.1:8080");
}

TEST(ServerLimitsTest, ParsesConfig) {
  Result<ServerLimits> l =
      ParseServerLimits(Body(R"({"maxBackupBytes":524288,"retentionDays":180,"x":1})"));
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->max_backup_bytes, 524288u);
  EXPECT_EQ(l->retention_days, 180u);
}

TEST(ServerLimitsTest, RefusesBadConfig) {
  for (const char* body :
       {"", "[]", "not json", R"({"retentionDays":180})",
        R"({"maxBackupBytes":0,"retentionDays":1})", R"({"maxBackupBytes":-5,"retentionDays":1})",
        R"({"maxBackupBytes":"5","retentionDays":1})", R"({"maxBackupBytes":5})"}) {
    EXPECT_TRUE(ParseServerLimits(Body(body)).status().IsIOError()) << body;
  }
}

HttpResponse Answer(long status) {
  HttpResponse r;
  r.status = status;
  return r;
}

TEST(HttpErrorTest, EachRefusalHasItsOwnMessage) {
  Status s = ErrorForHttpStatus(Answer(401), "upload", false);
  EXPECT_TRUE(s.IsPermissionDenied());
  EXPECT_NE(s.message().find("asks for a user name and password"), std::string::npos);
  s = ErrorForHttpStatus(Answer(401), "upload", true);
  EXPECT_NE(s.message().find("did not accept the user name and password"), std::string::npos);

  s = ErrorForHttpStatus(Answer(404), "download", false);
  EXPECT_TRUE(s.IsNotFound());
  EXPECT_EQ(s.message(), "no backup found for this ID and password");

  s = ErrorForHttpStatus(Answer(413), "upload", false);
  EXPECT_TRUE(s.IsTooLarge());
  EXPECT_EQ(s.message(), "the server refused the upload as too large (HTTP 413)");

  s = ErrorForHttpStatus(Answer(507), "upload", false);
  EXPECT_TRUE(s.IsNoSpace());

  s = ErrorForHttpStatus(Answer(503), "upload", false);
  EXPECT_TRUE(s.IsUnavailable());
  EXPECT_NE(s.message().find("the server failed (HTTP 503)"), std::string::npos);

  s = ErrorForHttpStatus(Answer(418), "upload", false);
  EXPECT_TRUE(s.IsIOError());
}

TEST(HttpErrorTest, ThrottlingNamesRetryAfter) {
  HttpResponse r = Answer(429);
  EXPECT_NE(ErrorForHttpStatus(r, "upload", false).message().find("try again later"),
            std::string::npos);
  r.headers["retry-after"] = "30";
  Status s = ErrorForHttpStatus(r, "upload", false);
  EXPECT_TRUE(s.IsUnavailable());
  EXPECT_NE(s.message().find("try again in 30 seconds"), std::string::npos);
}

// Issue 13: a wrong path used to end in "no backup found".
TEST(NotASafeServerTest, NamesTheUrlAndTheAnswer) {
  const std::string base = "https://example.org/wrong/";
  Status s = NotASafeServer(base, Answer(404), Status::OK(), false);
  EXPECT_TRUE(s.IsIOError());
  EXPECT_EQ(s.message(),
            "https://example.org/wrong/ is not a Safe server: GET config answered HTTP 404; check "
            "the URL's path");
  HttpResponse html = Answer(200);
  html.body = Body("<html>");
  Status parse = ParseServerLimits(html.body).status();
  s = NotASafeServer(base, html, parse, false);
  EXPECT_EQ(s.message().rfind(base + " is not a Safe server: its config answer is not JSON with "
                                     "maxBackupBytes and retentionDays",
                              0),
            0u)
      << s.message();
  EXPECT_NE(NotASafeServer(base, Answer(301), Status::OK(), false).message().find("redirect"),
            std::string::npos);
  // Refusals of a Safe server keep their own messages.
  EXPECT_TRUE(NotASafeServer(base, Answer(401), Status::OK(), false).IsPermissionDenied());
  EXPECT_TRUE(NotASafeServer(base, Answer(503), Status::OK(), false).IsUnavailable());
  EXPECT_TRUE(NotASafeServer(base, Answer(429), Status::OK(), false).IsUnavailable());
}

TEST(BlobSizeTest, RefusesOnlyBlobsOverTheLimit) {
  ServerLimits limits{1000, 180};
  EXPECT_TRUE(CheckBlobSize(1000, limits).ok());
  Status s = CheckBlobSize(1001, limits);
  EXPECT_TRUE(s.IsTooLarge());
  EXPECT_NE(s.message().find("1001"), std::string::npos);
  EXPECT_NE(s.message().find("1000"), std::string::npos);
}

TEST(ParseVersionsTest, ReadsTheServersListAndRefusesAnythingElse) {
  auto versions = ParseVersions(
      Body(R"({"versions":[{"version":1,"size":10,"uploaded":"2024-10-04","replaced":"2024-10-05",)"
           R"("expires":"2025-04-03"},{"version":2,"size":7,"uploaded":"2024-10-01",)"
           R"("replaced":"2024-10-04","expires":"2025-04-02"}]})"));
  ASSERT_TRUE(versions.ok()) << versions.status().ToString();
  ASSERT_EQ(versions->size(), 2u);
  EXPECT_EQ((*versions)[0].number, 1u);
  EXPECT_EQ((*versions)[0].size, 10u);
  EXPECT_EQ((*versions)[0].replaced, "2024-10-05");
  EXPECT_EQ((*versions)[1].expires, "2025-04-02");
  EXPECT_TRUE(ParseVersions(Body(R"({"versions":[]})"))->empty());
  for (const char* body : {"", "[]", "{}", R"({"versions":{}})", R"({"versions":[{"size":1}]})",
                           R"({"versions":[{"version":-1,"size":1}]})", "<html>"}) {
    EXPECT_TRUE(ParseVersions(Body(body)).status().IsIOError()) << body;
  }
}

}  // namespace
}  // namespace safe::client
