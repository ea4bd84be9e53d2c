// Issue 12 through the real binary, tried as an attacker would: the guess budget across every
// method, simultaneous wrong passwords, X-Forwarded-For forged behind a trusted proxy, headers
// that never send their body, and the admin listener. Every client is a loopback source address
// of its own (127.0.0.x), so one test can be a guesser and its victim at once.

#include <sys/resource.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "safe-server/service/auth.h"
#include "tests/support/e2e_util.h"
#include "tests/support/server_process.h"

namespace safe::testing {
namespace {

using namespace std::chrono_literals;

constexpr auto kReadTimeout = 20s;

// Room for a thousand sockets in this process (the server raises its own limit).
void RaiseDescriptorLimit() {
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  limit.rlim_cur = limit.rlim_max;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &limit), 0);
  ASSERT_GE(limit.rlim_cur, 2048u) << "the hard descriptor limit is too low for this test";
}

std::string IdOf(int n) {
  char id[65];
  std::snprintf(id, sizeof id, "%064x", n);
  return id;
}

// One request on a fresh connection from `source`; the answer's status, or 0.
int Status(uint16_t port, const std::string& source, const std::string& request,
           bool head = false) {
  auto c = RawConnection::Connect(port, source);
  if (c == nullptr || !c->Send(request)) return 0;
  std::optional<RawResponse> r = c->ReadResponse(kReadTimeout, head);
  return r ? r->status : 0;
}

std::string Put(const std::string& id, const std::string& body, const std::string& extra = "") {
  return "PUT /backups/" + id +
         " HTTP/1.1\r\nHost: s\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra +
         "\r\n" + body;
}
std::string Line(const std::string& method, const std::string& path,
                 const std::string& extra = "") {
  return method + " " + path + " HTTP/1.1\r\nHost: s\r\n" + extra + "\r\n";
}

// Item 1: a guesser meets 429 within 40 attempts whatever mix of methods it uses, and is then
// refused alike for an id that exists; the owner's replacing PUT and restore GET are never
// refused.
TEST(AttackE2eTest, EveryMethodSpendsTheGuessBudgetAndTheOwnerIsNeverRefused) {
  auto server = ServerProcess::Start();
  ASSERT_NE(server, nullptr);
  const uint16_t port = server->port();
  const std::string owner = "127.0.0.20", guesser = "127.0.0.21";
  const std::string victim = IdOf(0xbeef);
  ASSERT_EQ(Status(port, owner, Put(victim, "the victim's backup")), 201);

  int first_429 = 0;
  for (int i = 1; i <= 40 && first_429 == 0; ++i) {
    const std::string path = "/backups/" + IdOf(0x10000 + i);
    int status = 0;
    switch (i % 4) {
      case 0:
        status = Status(port, guesser, Line("GET", path));
        break;
      case 1:
        status = Status(port, guesser, Line("HEAD", path), /*head=*/true);
        break;
      case 2:
        status = Status(port, guesser, Put(IdOf(0x10000 + i), "guess"));
        break;
      case 3:
        status = Status(port, guesser, Line("DELETE", path));
        break;
    }
    ASSERT_NE(status, 0) << "attempt " << i;
    if (status == 429) first_429 = i;
  }
  EXPECT_EQ(first_429, 31) << "the default burst is 30";
  // Spent: the right id is refused like any other, and the victim's backup is untouched.
  EXPECT_EQ(Status(port, guesser, Line("GET", "/backups/" + victim)), 429);
  EXPECT_EQ(Status(port, guesser, Put(victim, "overwritten")), 429);
  EXPECT_EQ(Status(port, guesser, Line("DELETE", "/backups/" + victim)), 429);
  // The owner, at another address, replaces and restores as often as the apps ever would.
  for (int day = 0; day < 40; ++day) {
    ASSERT_EQ(Status(port, owner, Line("GET", "/config")), 200);
    ASSERT_EQ(Status(port, owner, Put(victim, "day " + std::to_string(day))), 204) << day;
    ASSERT_EQ(Status(port, owner, Line("GET", "/backups/" + victim)), 200) << day;
  }
}

// Item 2: requests sent at once cannot do more than the budget's work: of 500 simultaneous
// wrong passwords at most the burst are checked (401), the rest are refused before any Argon2
// run, and a legitimate client elsewhere is answered at once.
TEST(AttackE2eTest, SimultaneousWrongPasswordsRunAtMostTheBudgetOfArgon2) {
  RaiseDescriptorLimit();
  TempDir dir;
  Result<std::string> hash = safe::server::HashPasswordArgon2id("the right password");
  ASSERT_TRUE(hash.ok());
  ASSERT_TRUE(WriteFile(dir.path() + "/htpasswd", "alice:" + *hash + "\n"));
  auto server = ServerProcess::Start({"--htpasswd", dir.path() + "/htpasswd"});
  ASSERT_NE(server, nullptr);
  // "alice:wrong password", "alice:the right password"
  const std::string wrong = "Authorization: Basic YWxpY2U6d3JvbmcgcGFzc3dvcmQ=\r\n";
  const std::string right = "Authorization: Basic YWxpY2U6dGhlIHJpZ2h0IHBhc3N3b3Jk\r\n";
  std::vector<std::unique_ptr<RawConnection>> attackers;
  for (int i = 0; i < 500; ++i) {
    attackers.push_back(RawConnection::Connect(server->port(), "127.0.0.22"));
    ASSERT_NE(attackers.back(), nullptr) << i;
    ASSERT_TRUE(attackers.back()->Send(Line("GET", "/backups/" + IdOf(i), wrong)));
  }
  auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(Status(server->port(), "127.0.0.23", Line("GET", "/config", right)), 200);
  auto legit = std::chrono::steady_clock::now() - started;
  int unauthorized = 0, refused = 0;
  for (auto& c : attackers) {
    std::optional<RawResponse> r = c->ReadResponse(kReadTimeout);
    ASSERT_TRUE(r.has_value());
    unauthorized += r->status == 401;
    refused += r->status == 429;
  }
  EXPECT_LE(unauthorized, 30);
  EXPECT_EQ(unauthorized + refused, 500);
  // A bound, not a speed target (the machine may be busy): before the fix it waited 23.5 s behind
  // 2,000 Argon2 runs. That it waits for one turn, not for the attacker's queue, is
  // WorkPoolTest.ClientsTakeTurns; bench/attacks prints the time.
  EXPECT_LT(legit, 20s) << "a legitimate request waited behind the attack";
  std::printf(
      "500 simultaneous wrong passwords: %d checked (401), %d refused (429); "
      "a legitimate request took %.0f ms\n",
      unauthorized, refused, std::chrono::duration<double, std::milli>(legit).count());
}

// Item 5: behind a trusted proxy that adds its own X-Forwarded-For field (HAProxy's
// `option forwardfor`), a client that forges a field of its own still meets its budget.
TEST(AttackE2eTest, ForgedForwardedForFieldsDoNotEscapeTheBudget) {
  auto server = ServerProcess::Start({"--trusted-proxies", "127.0.0.1"});
  ASSERT_NE(server, nullptr);
  int first_429 = 0;
  for (int i = 1; i <= 40 && first_429 == 0; ++i) {
    const std::string forged = "X-Forwarded-For: 10.9." + std::to_string(i) + ".1\r\n";
    const std::string proxy = "X-Forwarded-For: 198.51.100.7:40" + std::to_string(10 + i) + "\r\n";
    int status =
        Status(server->port(), "127.0.0.1", Line("GET", "/backups/" + IdOf(i), forged + proxy));
    ASSERT_NE(status, 0);
    if (status == 429) first_429 = i;
  }
  EXPECT_EQ(first_429, 31);
  // Another client behind the same proxy is its own client.
  EXPECT_EQ(Status(server->port(), "127.0.0.1",
                   Line("GET", "/backups/" + IdOf(99), "X-Forwarded-For: 198.51.100.8\r\n")),
            404);
}

// Item 7: 512 uploads whose headers ask `Expect: 100-continue` and never send a body hold none
// of the body budget; another client's upload goes through at once.
void ExpectHeadersWithoutBodiesDoNotStarveUploads(std::vector<std::string> args,
                                                  int expect_continued) {
  RaiseDescriptorLimit();
  auto server = ServerProcess::Start(std::move(args));
  ASSERT_NE(server, nullptr);
  std::vector<std::unique_ptr<RawConnection>> stalled;
  const std::string big(524288, 'x');
  for (int i = 0; i < 512; ++i) {
    stalled.push_back(RawConnection::Connect(server->port(), "127.0.0.24"));
    ASSERT_NE(stalled.back(), nullptr) << i;
    ASSERT_TRUE(stalled.back()->Send(
        "PUT /backups/" + IdOf(i) +
        " HTTP/1.1\r\nHost: s\r\nContent-Length: 524288\r\nExpect: 100-continue\r\n\r\n"));
  }
  int continued = 0;
  for (auto& c : stalled) {
    std::optional<RawResponse> r = c->ReadResponse(kReadTimeout);
    ASSERT_TRUE(r.has_value());
    continued += r->status == 100;
  }
  EXPECT_EQ(continued, expect_continued);
  for (int i = 0; i < 3; ++i) {
    auto started = std::chrono::steady_clock::now();
    EXPECT_EQ(Status(server->port(), "127.0.0.25", Put(IdOf(0x9000 + i), big)), 201);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  }
}

TEST(AttackE2eTest, HeadersWithoutBodiesDoNotStarveUploads) {
  // The default: one address holds at most its guess budget of uploads in flight.
  ExpectHeadersWithoutBodiesDoNotStarveUploads({}, 30);
}

TEST(AttackE2eTest, HeadersWithoutBodiesHoldNoBodyBudget) {
  // Without a guess budget all 512 are let in: 512 x 512 KiB is the whole default body budget
  // (256 MiB), which headers alone used to take.
  ExpectHeadersWithoutBodiesDoNotStarveUploads({"--guess-burst", "0"}, 512);
}

// Found in review: uploads that send one byte each and stall hold what they sent, not their whole
// Content-Length: 18 addresses x 30 such uploads used to fill the default body budget.
TEST(AttackE2eTest, UploadsThatStallAfterOneByteDoNotStarveUploads) {
  RaiseDescriptorLimit();
  auto server = ServerProcess::Start();
  ASSERT_NE(server, nullptr);
  std::vector<std::unique_ptr<RawConnection>> stalled;
  for (int address = 0; address < 18; ++address) {
    const std::string source = "127.0.1." + std::to_string(10 + address);
    for (int i = 0; i < 30; ++i) {
      stalled.push_back(RawConnection::Connect(server->port(), source));
      ASSERT_NE(stalled.back(), nullptr);
      ASSERT_TRUE(stalled.back()->Send("PUT /backups/" + IdOf(address * 100 + i) +
                                       " HTTP/1.1\r\nHost: s\r\nContent-Length: 524288\r\n\r\nx"));
    }
  }
  std::this_thread::sleep_for(500ms);  // let the server take every first byte in
  const std::string big(524288, 'y');
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(
        Status(server->port(), "127.0.2." + std::to_string(1 + i), Put(IdOf(0x7000 + i), big)),
        201);
  }
}

// Item 8: the admin listener.
TEST(AttackE2eTest, AdminListenOffLoopbackNeedsAToken) {
  TempDir dir;
  auto refused = ServerProcess::Start({"--admin-listen", "0.0.0.0:0"});
  EXPECT_EQ(refused, nullptr) << "started with an unprotected admin listener on every address";
  const std::string token_file = dir.path() + "/admin-token";
  const std::string token = "0123456789abcdef0123456789abcdef01234567";
  ASSERT_TRUE(WriteFile(token_file, token + "\n"));
  auto server =
      ServerProcess::Start({"--admin-listen", "0.0.0.0:0", "--admin-token-file", token_file});
  ASSERT_NE(server, nullptr);
  ASSERT_NE(server->admin_port(), 0);
  CurlClient client;
  CurlRequest get;
  get.url = AdminUrl(*server, "/metrics");
  CurlResponse without = client.Perform(get);
  EXPECT_EQ(without.status, 401);
  get.headers = {"Authorization: Bearer wrong-token-wrong-token-wrong-token-wrong"};
  EXPECT_EQ(client.Perform(get).status, 401);
  get.headers = {"Authorization: Bearer " + token};
  EXPECT_EQ(client.Perform(get).status, 200);
  // The token never reaches the log.
  EXPECT_EQ(server->Log().find(token), std::string::npos);
}

TEST(AttackE2eTest, CheckpointsAreOnePerMinuteAndOwnerOnlyWhateverTheUmask) {
  TempDir dir;
  mode_t old_umask = umask(0);  // the server inherits it
  auto server = ServerProcess::Start({"--checkpoint-dir", dir.path() + "/checkpoints"});
  umask(old_umask);
  ASSERT_NE(server, nullptr);
  ASSERT_EQ(Status(server->port(), "127.0.0.26", Put(IdOf(7), "blob")), 201);
  CurlClient client;
  CurlRequest post;
  post.method = "POST";
  post.url = AdminUrl(*server, "/admin/checkpoint");
  post.body = "";
  CurlResponse first = client.Perform(post);
  ASSERT_EQ(first.status, 201) << first.body;
  CurlResponse second = client.Perform(post);
  EXPECT_EQ(second.status, 429);
  EXPECT_TRUE(second.Header("Retry-After").has_value());
  std::string made = first.body.substr(0, first.body.find('\n'));
  namespace fs = std::filesystem;
  ASSERT_TRUE(fs::is_directory(made));
  auto mode = [](const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(stat(p.c_str(), &st), 0);
    return st.st_mode & 07777;
  };
  EXPECT_EQ(mode(dir.path() + "/checkpoints"), 0700u);
  EXPECT_EQ(mode(made), 0700u);
  int files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(made)) {
    EXPECT_EQ(mode(entry.path()), entry.is_directory() ? 0700u : 0600u) << entry.path();
    ++files;
  }
  EXPECT_GT(files, 3);
}

}  // namespace
}  // namespace safe::testing
