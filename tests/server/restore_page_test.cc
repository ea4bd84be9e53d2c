// The restore page (issue 17) as safe-server serves it: the embedded files with their types and
// security headers, the off switch, and CORS for other origins, driven in-process over
// HttpConnection against a store that fails the test if it is ever asked anything, with auth on
// and the guess budget spent.

#include "safe-server/app/restore_page.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <regex>
#include <string>

#include "safe-server/app/handlers.h"
#include "safe-server/http/http_connection.h"
#include "tests/support/http_test_util.h"

namespace safe::server {
namespace {

using testing::ParsedResponse;

constexpr char kId[] = "066384d3695fbbd9f31a7d533900fd0cd8d1373beb6a28678522d2a49980c9c3";

// Storage that must never be reached: every call is counted and fails.
class UntouchableStore final : public storage::BackupStore {
 public:
  Result<storage::BackupRecord> Get(const BackupId&) override { return Touched(); }
  Result<storage::BackupInfo> Stat(const BackupId&) override { return Touched(); }
  using storage::BackupStore::Put;
  Result<storage::PutResult> Put(const BackupId&, std::string_view, Day,
                                 const storage::PutOptions&) override {
    return Touched();
  }
  Result<std::vector<storage::VersionInfo>> ListVersions(const BackupId&) override {
    return Touched();
  }
  Result<storage::BackupRecord> GetVersion(const BackupId&, uint32_t) override { return Touched(); }
  Status Delete(const BackupId&) override { return Touched(); }
  Status Scan(const std::function<void(const BackupId&, const storage::BackupInfo&)>&) override {
    return Touched();
  }
  Result<uint64_t> DeleteUploadedBefore(Day) override { return Touched(); }
  std::atomic<int> calls{0};

 private:
  Status Touched() {
    ++calls;
    return Status::IOError("the store was touched");
  }
};

const EmbeddedFile* FindEmbedded(const std::string& name) {
  for (size_t i = 0; i < kRestorePageFileCount; ++i) {
    if (name == kRestorePageFiles[i].name) return &kRestorePageFiles[i];
  }
  return nullptr;
}

std::string Contents(const EmbeddedFile& file) {
  return std::string(reinterpret_cast<const char*>(file.data), file.size);
}

// A build configured with -DSAFE_RESTORE_PAGE=OFF embeds no file.
#define SKIP_WITHOUT_THE_PAGE()                                                \
  if (kRestorePageFileCount == 0) {                                            \
    GTEST_SKIP() << "built with -DSAFE_RESTORE_PAGE=OFF: no page is embedded"; \
  }

class RestorePageTest : public ::testing::Test {
 protected:
  RestorePageTest() : clock_(20000) {
    ThrottleOptions o;
    o.guess_burst = 1;
    o.guess_refill_per_day = 1;
    throttle_ = std::make_unique<ClientThrottle>(o);
    service_ = std::make_unique<BackupService>(store_, clock_, BackupServiceOptions{1000, 180});
    Build(WebOptions{});
  }

  // Auth is on (its checks are counted and fail) and this client's guess budget is spent.
  void Build(WebOptions web) {
    AuthHooks auth;
    auth.check = [this](std::string_view) { return ++auth_checks, false; };
    auth.check_cached = [this](std::string_view) { return ++auth_checks, false; };
    auth.challenge = "Basic realm=\"Safe Server\"";
    app_ = std::make_unique<SafeApp>(*service_, pool_, std::move(auth), throttle_.get(),
                                     AppObservers{}, std::move(web));
    ClientThrottle::ClientKey me = throttle_->KeyFor("192.0.2.7", nullptr);
    GuessTicket ticket;
    while (!throttle_->ReserveGuess(me, &ticket)) ticket = GuessTicket();
  }

  ParsedResponse Do(const std::string& request, bool head = false) {
    return testing::ServeOne(*app_, request, head);
  }

  ParsedResponse Get(const std::string& path, const std::string& extra = "") {
    return Do("GET " + path + " HTTP/1.1\r\nHost: s\r\n" + extra + "\r\n");
  }

  void ExpectSecurityHeaders(const ParsedResponse& r) {
    EXPECT_EQ(r.Header("Content-Security-Policy"), kRestorePageCsp);
    EXPECT_EQ(r.Header("X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(r.Header("Referrer-Policy"), "no-referrer");
    EXPECT_EQ(r.Header("X-Frame-Options"), "DENY");
  }

  UntouchableStore store_;
  FakeClock clock_;
  WorkPool pool_{0};
  std::unique_ptr<ClientThrottle> throttle_;
  std::unique_ptr<BackupService> service_;
  std::unique_ptr<SafeApp> app_;
  std::atomic<int> auth_checks{0};
};

TEST_F(RestorePageTest, ThePageWasBuiltIn) {
  SKIP_WITHOUT_THE_PAGE();
  for (const char* name :
       {"index.html", "app.js", "worker.js", "style.css", "icon.svg", "licenses.txt"}) {
    EXPECT_NE(FindEmbedded(name), nullptr) << name;
  }
}

// Without credentials, with the guess budget spent, and without storage: every file answers.
TEST_F(RestorePageTest, EveryFileIsServedWithItsTypeAndHeadersWithoutAuthBudgetOrStorage) {
  SKIP_WITHOUT_THE_PAGE();
  // The budget is spent indeed: a backup request is refused.
  EXPECT_EQ(Get(std::string("/backups/") + kId, "Authorization: Basic dTpw\r\n").status, 429);
  const int checks_before = auth_checks;
  const std::map<std::string, std::string> kTypes = {
      {"index.html", "text/html; charset=utf-8"},
      {"app.js", "text/javascript; charset=utf-8"},
      {"worker.js", "text/javascript; charset=utf-8"},
      {"style.css", "text/css; charset=utf-8"},
      {"icon.svg", "image/svg+xml"},
      {"licenses.txt", "text/plain; charset=utf-8"}};
  for (size_t i = 0; i < kRestorePageFileCount; ++i) {
    const EmbeddedFile& file = kRestorePageFiles[i];
    ParsedResponse r = Get(std::string("/restore/") + file.name);
    EXPECT_EQ(r.status, 200) << file.name;
    EXPECT_EQ(r.Header("Content-Type"), kTypes.at(file.name)) << file.name;
    EXPECT_EQ(r.body, Contents(file)) << file.name;
    EXPECT_EQ(r.Header("Cache-Control"), "no-cache") << file.name;
    EXPECT_EQ(r.Header("ETag"), file.etag) << file.name;
    ExpectSecurityHeaders(r);
  }
  ParsedResponse index = Get("/restore/");
  EXPECT_EQ(index.status, 200);
  EXPECT_EQ(index.body, Contents(*FindEmbedded("index.html")));
  EXPECT_EQ(store_.calls, 0);
  EXPECT_EQ(auth_checks, checks_before);
}

TEST_F(RestorePageTest, RedirectIsRelativeSoAPathPrefixIsKept) {
  SKIP_WITHOUT_THE_PAGE();
  ParsedResponse r = Get("/restore");
  EXPECT_EQ(r.status, 301);
  EXPECT_EQ(r.Header("Location"), "restore/");
}

TEST_F(RestorePageTest, RevalidationGets304) {
  SKIP_WITHOUT_THE_PAGE();
  const EmbeddedFile& app = *FindEmbedded("app.js");
  ParsedResponse r = Get("/restore/app.js", std::string("If-None-Match: ") + app.etag + "\r\n");
  EXPECT_EQ(r.status, 304);
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(r.Header("ETag"), app.etag);
  EXPECT_EQ(Get("/restore/app.js", "If-None-Match: \"other\"\r\n").status, 200);
}

TEST_F(RestorePageTest, HeadGivesTheLengthWithoutTheBody) {
  SKIP_WITHOUT_THE_PAGE();
  ParsedResponse r = Do("HEAD /restore/app.js HTTP/1.1\r\n\r\n", true);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("Content-Length"), std::to_string(FindEmbedded("app.js")->size));
  EXPECT_EQ(r.body, "");
}

TEST_F(RestorePageTest, UnknownFilesAndOtherMethodsAreRefusedWithTheSameHeaders) {
  for (const char* path : {"/restore/nothing.js", "/restore/../config", "/restore/%2e%2e/config",
                           "/restore/app.js/", "/restore//index.html"}) {
    ParsedResponse r = Get(path);
    EXPECT_EQ(r.status, 404) << path;
    ExpectSecurityHeaders(r);
  }
  ParsedResponse put = Do("PUT /restore/app.js HTTP/1.1\r\nContent-Length: 1\r\n\r\nx");
  EXPECT_EQ(put.status, 405);
  EXPECT_EQ(put.Header("Allow"), "GET, HEAD");
  // Other paths that start alike are not the page.
  EXPECT_EQ(Get("/restored").status, 401);
  EXPECT_EQ(store_.calls, 0);
}

TEST_F(RestorePageTest, OffSwitchRemovesThePage) {
  WebOptions off;
  off.restore_page = false;
  Build(off);
  EXPECT_EQ(Get("/restore/").status, 401);  // auth on: unknown paths ask for credentials
  EXPECT_EQ(Get("/restore/app.js").status, 401);
}

// The page loads only from its own origin, by relative URLs (so it works behind a path prefix),
// and holds no inline script: the CSP forbids it and the page must not need it.
TEST_F(RestorePageTest, ThePageUsesRelativeUrlsAndNoInlineScript) {
  SKIP_WITHOUT_THE_PAGE();
  const std::string html = Contents(*FindEmbedded("index.html"));
  std::regex script("<script([^>]*)>([^<]*)</script>");
  int scripts = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), script);
       it != std::sregex_iterator(); ++it, ++scripts) {
    EXPECT_NE((*it)[1].str().find("src=\""), std::string::npos) << "a script without src";
    EXPECT_EQ((*it)[2].str(), "") << "an inline script";
  }
  EXPECT_GE(scripts, 1);
  std::regex url("(src|href)=\"([^\"]*)\"");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), url); it != std::sregex_iterator();
       ++it) {
    const std::string target = (*it)[2].str();
    EXPECT_NE(target.substr(0, 1), "/") << target;
    EXPECT_EQ(target.find(':'), std::string::npos) << "an absolute URL: " << target;
  }
  EXPECT_FALSE(std::regex_search(html, std::regex(" on[a-z]+=\""))) << "an inline handler";
  EXPECT_EQ(std::string(kRestorePageCsp).find("unsafe"), std::string::npos);
  EXPECT_EQ(html.find("style=\""), std::string::npos) << "inline styles are refused by the CSP";
}

// CORS (issue 17): a listed origin's preflight is answered before auth and without storage.
TEST_F(RestorePageTest, PreflightFromAListedOriginIsAnsweredBeforeAuth) {
  WebOptions web;
  web.cors_origins = {"https://desktop.example"};
  Build(web);
  const int checks_before = auth_checks;
  ParsedResponse r = Do(std::string("OPTIONS /backups/") + kId +
                        " HTTP/1.1\r\nOrigin: https://desktop.example\r\n"
                        "Access-Control-Request-Method: GET\r\n"
                        "Access-Control-Request-Headers: authorization\r\n\r\n");
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.Header("Access-Control-Allow-Origin"), "https://desktop.example");
  EXPECT_EQ(r.Header("Access-Control-Allow-Methods"), "GET, HEAD, PUT, DELETE");
  EXPECT_NE(r.Header("Access-Control-Allow-Headers").find("Authorization"), std::string::npos);
  EXPECT_EQ(r.Header("Access-Control-Max-Age"), "600");
  EXPECT_EQ(r.Header("Vary"), "Origin");
  ParsedResponse config =
      Do("OPTIONS /config HTTP/1.1\r\nOrigin: https://desktop.example\r\n"
         "Access-Control-Request-Method: GET\r\n\r\n");
  EXPECT_EQ(config.status, 204);
  EXPECT_EQ(config.Header("Access-Control-Allow-Methods"), "GET, HEAD");
  EXPECT_EQ(store_.calls, 0);
  EXPECT_EQ(auth_checks, checks_before);
}

// A preflight is answered like a read: the connection stays open for the request it announces.
TEST_F(RestorePageTest, PreflightKeepsTheConnectionOpen) {
  SKIP_WITHOUT_THE_PAGE();
  WebOptions web;
  web.cors_origins = {"https://desktop.example"};
  Build(web);
  const std::string preflight =
      "OPTIONS /config HTTP/1.1\r\nOrigin: https://desktop.example\r\n"
      "Access-Control-Request-Method: GET\r\n\r\n";
  const std::string get = "GET /restore/icon.svg HTTP/1.1\r\n\r\n";
  testing::Wire wire;
  auto conn = HttpConnection::Create(*app_, HttpLimits(), std::make_unique<testing::FakeIo>(&wire),
                                     "192.0.2.7");
  conn->OnInput(preflight.data(), preflight.size());
  conn->OnInput(get.data(), get.size());
  bool complete = false;
  auto responses = testing::ParseResponses(wire.out, {false, false}, &complete);
  ASSERT_EQ(responses.size(), 2u) << wire.out;
  EXPECT_EQ(responses[0].status, 204);
  EXPECT_EQ(responses[1].status, 200);
  EXPECT_FALSE(wire.closed_write);
}

TEST_F(RestorePageTest, PreflightFromAnUnlistedOriginGetsNoCorsHeaders) {
  WebOptions web;
  web.cors_origins = {"https://desktop.example"};
  Build(web);
  for (const char* origin :
       {"https://evil.example", "https://desktop.example.evil", "http://desktop.example", "null"}) {
    ParsedResponse r =
        Do(std::string("OPTIONS /backups/") + kId + " HTTP/1.1\r\nOrigin: " + origin +
           "\r\nAccess-Control-Request-Method: GET\r\n\r\n");
    EXPECT_NE(r.status, 204) << origin;
    EXPECT_FALSE(r.HasHeader("Access-Control-Allow-Origin")) << origin;
    EXPECT_EQ(r.Header("Vary"), "Origin") << origin;
  }
  EXPECT_EQ(store_.calls, 0);
}

// Answers to a listed origin carry Access-Control-Allow-Origin, refusals too (a browser shows
// the page a 401 or a 429 only then); other origins' answers do not.
TEST_F(RestorePageTest, AnswersToAListedOriginAllowIt) {
  WebOptions web;
  web.cors_origins = {"https://desktop.example"};
  Build(web);
  ParsedResponse unauthorized = Get("/config", "Origin: https://desktop.example\r\n");
  EXPECT_EQ(unauthorized.status, 401);
  EXPECT_EQ(unauthorized.Header("Access-Control-Allow-Origin"), "https://desktop.example");
  EXPECT_NE(unauthorized.Header("Access-Control-Expose-Headers").find("Retry-After"),
            std::string::npos);
  ParsedResponse limited = Get(std::string("/backups/") + kId,
                               "Origin: https://desktop.example\r\nAuthorization: Basic dTpw\r\n");
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(limited.Header("Access-Control-Allow-Origin"), "https://desktop.example");
  ParsedResponse other = Get("/config", "Origin: https://evil.example\r\n");
  EXPECT_FALSE(other.HasHeader("Access-Control-Allow-Origin"));
  ParsedResponse none = Get("/config");
  EXPECT_FALSE(none.HasHeader("Access-Control-Allow-Origin"));
}

TEST_F(RestorePageTest, AnyOriginIsAnsweredWithAStarNeverAnEcho) {
  WebOptions web;
  web.cors_origins = {"*"};
  Build(web);
  ParsedResponse r =
      Do("OPTIONS /config HTTP/1.1\r\nOrigin: https://anything.example\r\n"
         "Access-Control-Request-Method: GET\r\n\r\n");
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.Header("Access-Control-Allow-Origin"), "*");
}

TEST_F(RestorePageTest, WithoutAListThereAreNoCorsHeadersAtAll) {
  ParsedResponse r =
      Do("OPTIONS /config HTTP/1.1\r\nOrigin: https://desktop.example\r\n"
         "Access-Control-Request-Method: GET\r\n\r\n");
  EXPECT_NE(r.status, 204);
  EXPECT_FALSE(r.HasHeader("Access-Control-Allow-Origin"));
  EXPECT_FALSE(r.HasHeader("Vary"));
}

}  // namespace
}  // namespace safe::server
