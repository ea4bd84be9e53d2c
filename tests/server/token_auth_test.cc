#include "safe-server/service/token_auth.h"

#include <gtest/gtest.h>

#include "safe-server/app/request_auth.h"
#include "tests/support/server_process.h"

#include <fstream>

namespace safe::server {
namespace {

TEST(TokenAuthTest, MadeTokenChecksAgainstItsLine) {
  NewToken t = MakeToken();
  EXPECT_EQ(t.token.size(), 43u);
  EXPECT_EQ(t.line.rfind("sha256:", 0), 0u);
  EXPECT_EQ(t.line.find(t.token), std::string::npos);  // the line never holds the token
  auto auth = TokenAuthenticator::Parse("# tokens\n" + t.line + "  device 1\n\n", "tokens");
  ASSERT_TRUE(auth.ok()) << auth.status().ToString();
  EXPECT_TRUE((*auth)->Check("Token " + t.token));
  EXPECT_TRUE((*auth)->Check("token " + t.token));
  EXPECT_FALSE((*auth)->Check("Token " + t.token + "x"));
  EXPECT_FALSE((*auth)->Check("Token "));
  EXPECT_FALSE((*auth)->Check("Basic " + t.token));
  EXPECT_FALSE((*auth)->Check(t.token));
  EXPECT_FALSE((*auth)->Check(""));
}

TEST(TokenAuthTest, KnownAnswer) {
  // sha256("abc") from FIPS 180-2.
  auto auth = TokenAuthenticator::Parse(
      "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n", "t");
  ASSERT_TRUE(auth.ok());
  EXPECT_TRUE((*auth)->Check("Token abc"));
  EXPECT_FALSE((*auth)->Check("Token abd"));
}

TEST(TokenAuthTest, RefusesBadFilesByLineNumber) {
  const std::string good = MakeToken().line;
  struct Case {
    std::string contents;
    std::string expect;
  } cases[] = {
      {"", "no token"},
      {"# only a comment\n", "no token"},
      {"sha256:abc\n", "line 1"},
      {good + "\nplain-token-in-clear\n", "line 2"},
      {"sha256:" + std::string(64, 'G') + "\n", "line 1"},
      {"sha256:" + std::string(64, 'A') + "\n", "line 1"},  // upper case refused
      {good + "\n" + good + "\n", "twice"},
  };
  for (const Case& c : cases) {
    auto auth = TokenAuthenticator::Parse(c.contents, "tokens.txt");
    ASSERT_FALSE(auth.ok()) << c.contents;
    EXPECT_TRUE(auth.status().IsInvalidArgument());
    EXPECT_NE(auth.status().message().find(c.expect), std::string::npos) << auth.status().message();
    EXPECT_EQ(auth.status().message().find("plain-token"), std::string::npos);
  }
}

TEST(TokenAuthTest, MissingFileIsIoError) {
  auto auth = TokenAuthenticator::Load("/nonexistent/tokens");
  ASSERT_FALSE(auth.ok());
  EXPECT_TRUE(auth.status().IsIOError());
}

TEST(RequestAuthTest, BasicAndTokenTogetherAndReload) {
  safe::testing::TempDir dir;
  NewToken t1 = MakeToken(), t2 = MakeToken();
  std::string tokens = dir.path() + "/tokens";
  std::string htpasswd = dir.path() + "/htpasswd";
  std::ofstream(tokens) << t1.line << "\n";
  auto hash = HashPasswordArgon2id("correct horse");
  ASSERT_TRUE(hash.ok());
  std::ofstream(htpasswd) << "alice:" << *hash << "\n";
  auto auth = RequestAuth::Load(AuthFiles{htpasswd, tokens, "Realm"});
  ASSERT_TRUE(auth.ok()) << auth.status().ToString();
  AuthHooks hooks = (*auth)->Hooks();
  ASSERT_TRUE(hooks.check);
  EXPECT_EQ(hooks.challenge, "Basic realm=\"Realm\", charset=\"UTF-8\"");
  EXPECT_TRUE(hooks.check("Token " + t1.token));
  EXPECT_TRUE(hooks.check("Basic YWxpY2U6Y29ycmVjdCBob3JzZQ=="));  // alice:correct horse
  EXPECT_FALSE(hooks.check("Token " + t2.token));
  // Reload: t2 replaces t1.
  std::ofstream(tokens, std::ios::trunc) << t2.line << "\n";
  ASSERT_TRUE((*auth)->Reload().ok());
  EXPECT_TRUE(hooks.check("Token " + t2.token));
  EXPECT_FALSE(hooks.check("Token " + t1.token));
  // A broken file on reload keeps the working one.
  std::ofstream(tokens, std::ios::trunc) << "garbage\n";
  EXPECT_FALSE((*auth)->Reload().ok());
  EXPECT_TRUE(hooks.check("Token " + t2.token));
}

TEST(RequestAuthTest, OffWithoutFiles) {
  auto auth = RequestAuth::Load(AuthFiles{});
  ASSERT_TRUE(auth.ok());
  EXPECT_FALSE((*auth)->Hooks().check);
}

}  // namespace
}  // namespace safe::server
