// Issue 18: the access stores (create-once spends, durability across reopen, expiry), the redeem
// rules of AccessService, and POST /access/redeem through SafeApp with the guess budget.

#include "safe-server/service/access.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <atomic>
#include <fstream>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "crypto/access_token.h"
#include "crypto/blind_rsa.h"
#include "safe-server/app/handlers.h"
#include "safe-server/app/request_auth.h"
#include "safe-server/http/http_connection.h"
#include "safe-server/service/auth.h"
#include "safe-server/service/token_auth.h"
#include "storage/access_store.h"
#include "storage/memory_store.h"
#include "tests/storage/store_test_util.h"
#include "tests/support/e2e_util.h"
#include "tests/support/http_test_util.h"
#include "tests/support/server_process.h"

namespace safe::server {
namespace {

using safe::SecretBytes;
using storage::AccessHash;
using storage::testing::HashOf;

constexpr Day kToday = 20000;

// ---- the stores ----

// Eight threads spend the same 50 tokens in one store: one winner each.
void ExpectCreateOnceUnderRace(storage::AccessStore& store) {
  storage::testing::ExpectOneWinnerPerToken(std::vector<storage::AccessStore*>(8, &store), 50,
                                            kToday + 10);
}

void ExpectStoreRules(storage::AccessStore& store) {
  ASSERT_TRUE(store.MarkSpent(HashOf(1), kToday + 5).ok());
  EXPECT_TRUE(store.MarkSpent(HashOf(1), kToday + 5).IsAlreadyExists());
  EXPECT_TRUE(store.MarkSpent(HashOf(1), kToday + 99).IsAlreadyExists());
  storage::AccessCredentialRecord record;
  record.secret_hash = HashOf(7);
  record.expiry_day = kToday + 1;
  ASSERT_TRUE(store.PutCredential(HashOf(2), record).ok());
  auto got = store.GetCredential(HashOf(2));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->secret_hash, record.secret_hash);
  EXPECT_EQ(got->expiry_day, kToday + 1);
  EXPECT_TRUE(store.GetCredential(HashOf(3)).status().IsNotFound());
  // Nothing has passed its day yet.
  auto none = store.DeleteExpired(kToday + 1);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, 0u);
  // The credential's day has passed; the spent token's has not.
  auto one = store.DeleteExpired(kToday + 2);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(*one, 1u);
  EXPECT_TRUE(store.GetCredential(HashOf(2)).status().IsNotFound());
  EXPECT_TRUE(store.MarkSpent(HashOf(1), kToday + 5).IsAlreadyExists());
  auto spent = store.DeleteExpired(kToday + 6);
  ASSERT_TRUE(spent.ok());
  EXPECT_EQ(*spent, 1u);
  EXPECT_TRUE(store.MarkSpent(HashOf(1), kToday + 5).ok());  // gone with its key's last day
  EXPECT_TRUE(store.DeleteCredential(HashOf(2)).IsNotFound());
}

TEST(AccessStoreTest, MemoryStoreKeepsTheRules) {
  storage::MemoryAccessStore store;
  ExpectStoreRules(store);
}

TEST(AccessStoreTest, RocksDbStoreKeepsTheRules) {
  safe::testing::TempDir dir;
  auto store = storage::RocksDbAccessStore::Open(dir.path() + "/access");
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ExpectStoreRules(**store);
}

TEST(AccessStoreTest, MemoryStoreConcurrentDoubleSpendHasExactlyOneWinner) {
  storage::MemoryAccessStore store;
  ExpectCreateOnceUnderRace(store);
}

TEST(AccessStoreTest, RocksDbStoreConcurrentDoubleSpendHasExactlyOneWinner) {
  safe::testing::TempDir dir;
  auto store = storage::RocksDbAccessStore::Open(dir.path() + "/access");
  ASSERT_TRUE(store.ok());
  ExpectCreateOnceUnderRace(**store);
}

TEST(AccessStoreTest, RocksDbSpentTokensAndCredentialsSurviveReopen) {
  safe::testing::TempDir dir;
  const std::string path = dir.path() + "/access";
  {
    auto store = storage::RocksDbAccessStore::Open(path);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->MarkSpent(HashOf(9), kToday + 3).ok());
    storage::AccessCredentialRecord record{HashOf(8), kToday + 3};
    ASSERT_TRUE((*store)->PutCredential(HashOf(4), record).ok());
  }
  auto reopened = storage::RocksDbAccessStore::Open(path);
  ASSERT_TRUE(reopened.ok());
  EXPECT_TRUE((*reopened)->MarkSpent(HashOf(9), kToday + 3).IsAlreadyExists());
  auto got = (*reopened)->GetCredential(HashOf(4));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->secret_hash, HashOf(8));
}

TEST(AccessStoreTest, RocksDbSecondOpenOfOneDirectoryIsRefused) {
  safe::testing::TempDir dir;
  auto first = storage::RocksDbAccessStore::Open(dir.path() + "/access");
  ASSERT_TRUE(first.ok());
  auto second = storage::RocksDbAccessStore::Open(dir.path() + "/access");
  EXPECT_FALSE(second.ok());  // RocksDB's LOCK: the create-once cannot be split across processes
}

// ---- the formats ----

TEST(AccessTokenTest, IsoDaysRoundTripAndRefuseNonsense) {
  auto day = crypto::ParseIsoDay("2024-10-04");
  ASSERT_TRUE(day.ok());
  EXPECT_EQ(*day, 20000);
  EXPECT_EQ(crypto::FormatIsoDay(20000), "2024-10-04");
  EXPECT_EQ(crypto::FormatIsoDay(*crypto::ParseIsoDay("2028-02-29")), "2028-02-29");
  for (const char* bad : {"2027-02-29", "2024-13-01", "2024-1-01", "24-10-04", "2024-10-04x", ""}) {
    EXPECT_FALSE(crypto::ParseIsoDay(bad).ok()) << bad;
  }
}

TEST(AccessTokenTest, IssuerKeyListNamesTheBadLine) {
  auto ok = crypto::ParseIssuerKeyList("# c\n\n2027-01-01 a.pem\n2028-01-01  /abs/b.pem \n", "L");
  ASSERT_TRUE(ok.ok());
  ASSERT_EQ(ok->size(), 2u);
  EXPECT_EQ((*ok)[1].pem_path, "/abs/b.pem");
  EXPECT_EQ(crypto::ResolveBeside("/etc/k/list", "a.pem"), "/etc/k/a.pem");
  EXPECT_EQ(crypto::ResolveBeside("/etc/k/list", "/abs/b.pem"), "/abs/b.pem");
  auto bad = crypto::ParseIssuerKeyList("2027-01-01 a.pem\nnot-a-date b.pem\n", "L");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("L line 2"), std::string::npos);
  EXPECT_FALSE(crypto::ParseIssuerKeyList("2027-01-01\n", "L").ok());
}

// ---- AccessService ----

// One issuer key for the whole file: generating one takes about half a second.
const crypto::BlindRsaPrivateKey& IssuerPrivateKey() {
  static const crypto::BlindRsaPrivateKey* key = [] {
    auto k = crypto::BlindRsaPrivateKey::Generate(2048);
    if (!k.ok()) std::abort();
    return new crypto::BlindRsaPrivateKey(std::move(*k));
  }();
  return *key;
}

IssuerKey Issuer(Day expiry) {
  const crypto::BlindRsaPublicKey& pub = IssuerPrivateKey().PublicKey();
  return IssuerKey{pub, *pub.KeyId(), expiry};
}

// A token signed by the issuer through the blind protocol, as the redeem body.
std::string SignedRedeemBody(SecretBytes* token_out = nullptr) {
  const crypto::BlindRsaPublicKey& pub = IssuerPrivateKey().PublicKey();
  SecretBytes token = crypto::MakeAccessToken();
  auto blinded = crypto::BlindRsaBlind(pub, token);
  auto blind_sig = crypto::BlindRsaBlindSign(IssuerPrivateKey(), blinded->blinded_msg);
  auto sig = crypto::BlindRsaFinalize(pub, token, *blind_sig, blinded->inverse);
  crypto::RedeemRequest request;
  request.key_id = *pub.KeyId();
  request.token = token.Clone();
  request.signature = *sig;
  if (token_out != nullptr) *token_out = std::move(token);
  return crypto::FormatRedeemRequest(request);
}

// "Basic " and user:password in base64.
std::string BasicHeader(const std::string& user, const std::string& password) {
  return safe::testing::BasicHeader(user + ":" + password);
}

storage::ServerKey TestServerKey() {
  uint8_t bytes[32];
  for (int i = 0; i < 32; ++i) bytes[i] = static_cast<uint8_t>(i);
  return storage::ServerKey(bytes);
}

class AccessServiceTest : public ::testing::Test {
 protected:
  AccessServiceTest()
      : key_(TestServerKey()),
        clock_(kToday),
        service_(key_, store_, clock_, "unused", {Issuer(kToday + 30)}, AccessOptions{10}) {}

  storage::ServerKey key_;
  FakeClock clock_;
  storage::MemoryAccessStore store_;
  AccessService service_;
};

TEST_F(AccessServiceTest, RedeemIssuesACredentialThatChecksUntilItsLastDay) {
  auto credential = service_.Redeem(SignedRedeemBody());
  ASSERT_TRUE(credential.ok()) << credential.status().ToString();
  EXPECT_EQ(credential->user.rfind(kAccessUserPrefix, 0), 0u);
  EXPECT_EQ(credential->password.size(), 43u);
  EXPECT_EQ(credential->expiry_day, kToday + 10);
  const std::string header = BasicHeader(credential->user, credential->password);
  EXPECT_TRUE(AccessService::IsAccessCredential(header));
  EXPECT_TRUE(service_.Check(header));
  EXPECT_FALSE(service_.Check(BasicHeader(credential->user, credential->password + "x")));
  EXPECT_FALSE(service_.Check(BasicHeader(credential->user, "")));
  clock_.Set(kToday + 10);
  EXPECT_TRUE(service_.Check(header));
  clock_.Set(kToday + 11);
  EXPECT_FALSE(service_.Check(header));  // expired
  auto swept = service_.Sweep();
  ASSERT_TRUE(swept.ok());
  EXPECT_EQ(store_.credential_count(), 0u);  // swept
}

TEST_F(AccessServiceTest, SecondRedeemOfOneTokenIsAlreadyExistsAndIssuesNothing) {
  const std::string body = SignedRedeemBody();
  ASSERT_TRUE(service_.Redeem(body).ok());
  auto again = service_.Redeem(body);
  EXPECT_TRUE(again.status().IsAlreadyExists()) << again.status().ToString();
  EXPECT_EQ(store_.credential_count(), 1u);  // the second credential was deleted again
  EXPECT_EQ(store_.spent_count(), 1u);
}

TEST_F(AccessServiceTest, ConcurrentRedeemsOfOneTokenHaveExactlyOneWinner) {
  const std::string body = SignedRedeemBody();
  std::atomic<int> wins{0};
  std::atomic<int> spent{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      auto r = service_.Redeem(body);
      if (r.ok()) ++wins;
      if (r.status().IsAlreadyExists()) ++spent;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wins.load(), 1);
  EXPECT_EQ(spent.load(), 7);
  EXPECT_EQ(store_.credential_count(), 1u);
}

TEST_F(AccessServiceTest, RefusesBadSignatureUnknownKeyExpiredKeyAndMalformedBodies) {
  // A signature of another token.
  SecretBytes token;
  std::string good = SignedRedeemBody(&token);
  auto parsed = crypto::ParseRedeemRequest(good);
  ASSERT_TRUE(parsed.ok());
  crypto::RedeemRequest forged;
  forged.key_id = parsed->key_id;
  forged.token = crypto::MakeAccessToken();
  forged.signature = parsed->signature;
  auto bad_sig = service_.Redeem(crypto::FormatRedeemRequest(forged));
  EXPECT_TRUE(bad_sig.status().IsPermissionDenied()) << bad_sig.status().ToString();
  EXPECT_NE(bad_sig.status().message().find("signature"), std::string::npos);
  // An unknown key.
  crypto::RedeemRequest unknown;
  unknown.key_id.fill(0x42);
  unknown.token = parsed->token.Clone();
  unknown.signature = parsed->signature;
  auto unknown_key = service_.Redeem(crypto::FormatRedeemRequest(unknown));
  EXPECT_TRUE(unknown_key.status().IsPermissionDenied());
  EXPECT_NE(unknown_key.status().message().find("issuer key"), std::string::npos);
  // Malformed bodies.
  for (const char* body : {"", "[]", "{\"key\":1}", "{\"key\":\"a\",\"token\":\"b\"}",
                           "{\"key\":\"a\",\"token\":\"b\",\"signature\":\"c\",\"x\":\"d\"}",
                           "{\"key\":\"!!\",\"token\":\"b\",\"signature\":\"c\"}"}) {
    auto r = service_.Redeem(body);
    EXPECT_TRUE(r.status().IsInvalidArgument()) << body << " " << r.status().ToString();
  }
  EXPECT_EQ(store_.spent_count(), 0u);  // nothing was spent by a refusal
  // The key's last day passes: its good token is refused.
  clock_.Set(kToday + 31);
  auto expired = service_.Redeem(good);
  EXPECT_TRUE(expired.status().IsPermissionDenied());
  EXPECT_NE(expired.status().message().find("expired"), std::string::npos);
  clock_.Set(kToday + 30);
  EXPECT_TRUE(service_.Redeem(good).ok());  // still valid on its last day
}

TEST_F(AccessServiceTest, StoresNeitherTokenNorUserNorPassword) {
  // The store gets only keyed hashes: none of them equals a plain hash of what the client holds.
  SecretBytes token;
  auto credential = service_.Redeem(SignedRedeemBody(&token));
  ASSERT_TRUE(credential.ok());
  auto by_plain_user = store_.GetCredential([&] {
    AccessHash h;
    crypto_generichash(h.data(), h.size(),
                       reinterpret_cast<const uint8_t*>(credential->user.data()),
                       credential->user.size(), nullptr, 0);
    return h;
  }());
  EXPECT_TRUE(by_plain_user.status().IsNotFound());
}

TEST(IssuerKeyFileTest, LoadsTheListAndRefusesDuplicatesAndJunk) {
  safe::testing::TempDir dir;
  auto pem = IssuerPrivateKey().PublicKey().ToPem();
  ASSERT_TRUE(pem.ok());
  std::ofstream(dir.path() + "/k.pem") << *pem;
  std::ofstream(dir.path() + "/junk.pem") << "not a key";
  std::ofstream(dir.path() + "/list") << "2030-01-01 k.pem\n";
  auto keys = LoadIssuerKeys(dir.path() + "/list");
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ((*keys)[0].expiry_day, *crypto::ParseIsoDay("2030-01-01"));
  std::ofstream(dir.path() + "/list2") << "2030-01-01 k.pem\n2031-01-01 k.pem\n";
  auto twice = LoadIssuerKeys(dir.path() + "/list2");
  EXPECT_TRUE(twice.status().IsInvalidArgument());
  std::ofstream(dir.path() + "/list3") << "2030-01-01 junk.pem\n";
  auto junk = LoadIssuerKeys(dir.path() + "/list3");
  EXPECT_TRUE(junk.status().IsInvalidArgument());
  EXPECT_NE(junk.status().message().find("line 1"), std::string::npos);
  std::ofstream(dir.path() + "/empty") << "# none\n";
  EXPECT_FALSE(LoadIssuerKeys(dir.path() + "/empty").ok());
  EXPECT_TRUE(LoadIssuerKeys(dir.path() + "/missing").status().IsIOError());
}

// ---- access credentials beside htpasswd users and tokens ----

TEST(AccessWithOtherAuthTest, HtpasswdTokensAndAccessCredentialsAllWork) {
  safe::testing::TempDir dir;
  auto hash = HashPasswordArgon2id("alice's password");
  ASSERT_TRUE(hash.ok());
  std::ofstream(dir.path() + "/htpasswd") << "alice:" << *hash << "\n";
  NewToken token = MakeToken();
  std::ofstream(dir.path() + "/tokens") << token.line << "\n";
  auto auth = RequestAuth::Load(AuthFiles{dir.path() + "/htpasswd", dir.path() + "/tokens"});
  ASSERT_TRUE(auth.ok()) << auth.status().ToString();
  storage::ServerKey key = TestServerKey();
  FakeClock clock(kToday);
  storage::MemoryAccessStore store;
  AccessService access(key, store, clock, "unused", {Issuer(kToday + 30)}, AccessOptions{10});
  (*auth)->AttachAccess(&access);
  AuthHooks hooks = (*auth)->Hooks();
  ASSERT_TRUE(hooks.redeem);
  std::string answer;
  ASSERT_TRUE(hooks.redeem(SignedRedeemBody(), &answer).ok());
  auto j = nlohmann::json::parse(answer);
  const std::string access_header = BasicHeader(j["user"], j["password"]);
  EXPECT_TRUE(hooks.check(access_header));
  EXPECT_TRUE(hooks.check_cached(access_header));  // no Argon2: a store lookup
  EXPECT_TRUE(hooks.check(BasicHeader("alice", "alice's password")));
  EXPECT_FALSE(hooks.check(BasicHeader("alice", "wrong")));
  EXPECT_TRUE(hooks.check("Token " + token.token));
  EXPECT_FALSE(hooks.check(BasicHeader(j["user"], "wrong")));
  // An access user name never falls through to the htpasswd file.
  EXPECT_FALSE(hooks.check(BasicHeader("access-" + std::string(32, '0'), "alice's password")));
  EXPECT_EQ(hooks.challenge.rfind("Basic ", 0), 0u);
}

TEST(AccessWithOtherAuthTest, AccessAloneTurnsAuthenticationOnWithABasicChallenge) {
  auto auth = RequestAuth::Load(AuthFiles{});
  ASSERT_TRUE(auth.ok());
  EXPECT_FALSE((*auth)->enabled());
  storage::ServerKey key = TestServerKey();
  FakeClock clock(kToday);
  storage::MemoryAccessStore store;
  AccessService access(key, store, clock, "unused", {Issuer(kToday + 30)}, AccessOptions{10});
  (*auth)->AttachAccess(&access);
  EXPECT_TRUE((*auth)->enabled());
  AuthHooks hooks = (*auth)->Hooks();
  EXPECT_TRUE(hooks.check);
  EXPECT_EQ(hooks.challenge, "Basic realm=\"Safe Server\", charset=\"UTF-8\"");
  EXPECT_FALSE(hooks.check(BasicHeader("alice", "x")));
}

// ---- POST /access/redeem through SafeApp ----

class RedeemRouteTest : public ::testing::Test {
 protected:
  RedeemRouteTest()
      : key_(TestServerKey()),
        clock_(kToday),
        access_(key_, access_store_, clock_, "unused", {Issuer(kToday + 30)}, AccessOptions{10}),
        service_(backups_, clock_, BackupServiceOptions{1000, 180}) {}

  void Build(uint32_t guess_burst) {
    app_.reset();
    ThrottleOptions options;
    options.guess_burst = guess_burst;
    options.guess_refill_per_day = 1;
    throttle_ = std::make_unique<ClientThrottle>(options);
    AuthHooks hooks;
    hooks.check = [this](std::string_view h) { return access_.Check(h); };
    hooks.check_cached = [this](std::string_view h) { return access_.Check(h); };
    hooks.challenge = "Basic realm=\"t\"";
    hooks.redeem = [this](std::string_view body, std::string* answer) -> Status {
      auto issued = access_.Redeem(body);
      if (!issued.ok()) return issued.status();
      *answer = RedeemAnswerJson(*issued);
      return Status::OK();
    };
    app_ = std::make_unique<SafeApp>(service_, pool_, std::move(hooks), throttle_.get());
  }

  testing::ParsedResponse Do(const std::string& request) {
    return testing::ServeOne(*app_, request);
  }

  testing::ParsedResponse Redeem(const std::string& body) {
    return Do("POST /access/redeem HTTP/1.1\r\nHost: x\r\nContent-Length: " +
              std::to_string(body.size()) + "\r\n\r\n" + body);
  }

  storage::ServerKey key_;
  FakeClock clock_;
  storage::MemoryAccessStore access_store_;
  AccessService access_;
  storage::MemoryStore backups_;
  BackupService service_;
  WorkPool pool_{0};  // runs each task inside Post
  std::unique_ptr<ClientThrottle> throttle_;
  std::unique_ptr<SafeApp> app_;
};

TEST_F(RedeemRouteTest, RedeemAnswersACredentialThatOpensTheApiWithoutOtherAuth) {
  Build(/*guess_burst=*/10);
  // No credential: the API asks for one; the redeem route does not.
  EXPECT_EQ(Do("GET /config HTTP/1.1\r\nHost: x\r\n\r\n").status, 401);
  auto r = Redeem(SignedRedeemBody());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Header("Content-Type"), "application/json");
  EXPECT_EQ(r.Header("Cache-Control"), "no-store");
  auto j = nlohmann::json::parse(r.body);
  const std::string user = j["user"];
  const std::string password = j["password"];
  EXPECT_EQ(j["expires"], crypto::FormatIsoDay(kToday + 10));
  auto config =
      Do("GET /config HTTP/1.1\r\nHost: x\r\nAuthorization: " + BasicHeader(user, password) +
         "\r\n\r\n");
  EXPECT_EQ(config.status, 200);
}

TEST_F(RedeemRouteTest, RefusalsHaveTheirCodesAndClearMessages) {
  Build(/*guess_burst=*/100);
  const std::string body = SignedRedeemBody();
  EXPECT_EQ(Redeem(body).status, 200);
  auto twice = Redeem(body);
  EXPECT_EQ(twice.status, 409);
  EXPECT_NE(twice.body.find("redeemed before"), std::string::npos);
  auto malformed = Redeem("{}");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_NE(malformed.body.find("\"key\""), std::string::npos);
  auto parsed = crypto::ParseRedeemRequest(body);
  crypto::RedeemRequest unknown;
  unknown.key_id.fill(1);
  unknown.token = parsed->token.Clone();
  unknown.signature = parsed->signature;
  auto unknown_key = Redeem(crypto::FormatRedeemRequest(unknown));
  EXPECT_EQ(unknown_key.status, 401);
  EXPECT_FALSE(unknown_key.Header("WWW-Authenticate").empty());
  EXPECT_EQ(Do("GET /access/redeem HTTP/1.1\r\nHost: x\r\n\r\n").status, 405);
  // Too large a body is refused before it is read.
  std::string huge(crypto::kAccessRedeemMaxBodyBytes + 1, 'x');
  EXPECT_EQ(Redeem(huge).status, 413);
}

TEST_F(RedeemRouteTest, FailedRedeemsSpendTheGuessBudgetAndSuccessesDoNot) {
  Build(/*guess_burst=*/3);
  // Successes refund their token: more of them than the burst all pass.
  for (int i = 0; i < 5; ++i) ASSERT_EQ(Redeem(SignedRedeemBody()).status, 200) << i;
  // Each failure keeps its token: three, then the budget is spent.
  const std::string body = SignedRedeemBody();
  ASSERT_EQ(Redeem(body).status, 200);
  EXPECT_EQ(Redeem(body).status, 409);
  EXPECT_EQ(Redeem("{}").status, 400);
  EXPECT_EQ(Redeem("not json").status, 400);
  auto refused = Redeem(SignedRedeemBody());
  EXPECT_EQ(refused.status, 429);  // even a good token now waits
  EXPECT_FALSE(refused.Header("Retry-After").empty());
}

TEST(RedeemRouteAbsentTest, WithoutAccessTheRouteIsNotFound) {
  FakeClock clock(kToday);
  storage::MemoryStore backups;
  BackupService service(backups, clock, BackupServiceOptions{1000, 180});
  WorkPool pool(0);
  SafeApp app(service, pool, AuthHooks{});
  testing::Wire wire;
  auto conn = HttpConnection::Create(app, HttpLimits(), std::make_unique<testing::FakeIo>(&wire),
                                     "192.0.2.7");
  std::string request = "POST /access/redeem HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}";
  conn->OnInput(request.data(), request.size());
  bool complete = false;
  auto responses = testing::ParseResponses(wire.out, {false}, &complete);
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].status, 404);
}

}  // namespace
}  // namespace safe::server
