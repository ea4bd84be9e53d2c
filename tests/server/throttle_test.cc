#include "safe-server/service/throttle.h"

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <vector>

namespace safe::server {
namespace {

// A request that was a guess: its reserved token is kept. True when it was refused instead.
bool Miss(ClientThrottle& t, ClientThrottle::ClientKey k) {
  GuessTicket ticket;
  return t.ReserveGuess(k, &ticket).has_value();
}

using Clock = ClientThrottle::Clock;

class ThrottleTest : public ::testing::Test {
 protected:
  ClientThrottle Make(ThrottleOptions o) {
    return ClientThrottle(std::move(o), [this] { return now_; });
  }
  Clock::time_point now_ = Clock::time_point() + std::chrono::hours(100);
};

TEST(CidrTest, ParsesAddressesAndRanges) {
  auto a = Cidr::Parse("10.1.2.3/8");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->family, AF_INET);
  EXPECT_EQ(a->prefix, 8);
  uint8_t in[4] = {10, 200, 0, 1}, out[4] = {11, 0, 0, 1};
  EXPECT_TRUE(a->Contains(AF_INET, in));
  EXPECT_FALSE(a->Contains(AF_INET, out));
  auto host = Cidr::Parse("127.0.0.1");
  ASSERT_TRUE(host.ok());
  EXPECT_EQ(host->prefix, 32);
  auto v6 = Cidr::Parse("2001:db8::/32");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->family, AF_INET6);
  auto odd = Cidr::Parse("192.168.0.0/20");
  ASSERT_TRUE(odd.ok());
  uint8_t inside[4] = {192, 168, 15, 255}, outside[4] = {192, 168, 16, 0};
  EXPECT_TRUE(odd->Contains(AF_INET, inside));
  EXPECT_FALSE(odd->Contains(AF_INET, outside));
}

TEST(CidrTest, RefusesGarbage) {
  for (const char* bad : {"", "abc", "10.0.0.0/33", "::1/129", "10.0.0.0/", "10.0.0.0/x",
                          "10.0.0.0/-1", "1.2.3.4.5"}) {
    auto c = Cidr::Parse(bad);
    EXPECT_FALSE(c.ok()) << bad;
  }
  auto list = ParseCidrList("127.0.0.1, 10.0.0.0/8,,::1");
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 3u);
  auto bad = ParseCidrList("127.0.0.1, nonsense");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("nonsense"), std::string::npos);
}

TEST_F(ThrottleTest, GuessBudgetEmptiesAfterBurstAndRefills) {
  ThrottleOptions o;
  o.guess_burst = 3;
  o.guess_refill_per_day = 24;  // one an hour
  auto t = Make(o);
  auto k = t.KeyFor("198.51.100.1", nullptr);
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(t.GuessRetryAfter(k).has_value()) << i;
    ASSERT_FALSE(Miss(t, k));
  }
  std::optional<int> wait = t.GuessRetryAfter(k);
  ASSERT_TRUE(wait.has_value());
  EXPECT_EQ(*wait, 3600);
  now_ += std::chrono::minutes(30);
  ASSERT_TRUE(t.GuessRetryAfter(k).has_value());
  EXPECT_EQ(*t.GuessRetryAfter(k), 1800);
  now_ += std::chrono::minutes(30);
  EXPECT_FALSE(t.GuessRetryAfter(k).has_value());
}

TEST_F(ThrottleTest, ClientsAreIndependent) {
  ThrottleOptions o;
  o.guess_burst = 1;
  auto t = Make(o);
  auto a = t.KeyFor("198.51.100.1", nullptr);
  auto b = t.KeyFor("198.51.100.2", nullptr);
  EXPECT_NE(a, b);
  ASSERT_FALSE(Miss(t, a));
  EXPECT_TRUE(t.GuessRetryAfter(a).has_value());
  EXPECT_FALSE(t.GuessRetryAfter(b).has_value());
}

TEST_F(ThrottleTest, Ipv6ClientsShareTheirSlash64) {
  auto t = Make(ThrottleOptions());
  EXPECT_EQ(t.KeyFor("2001:db8:1:2::1", nullptr), t.KeyFor("2001:db8:1:2:ffff::9", nullptr));
  EXPECT_NE(t.KeyFor("2001:db8:1:2::1", nullptr), t.KeyFor("2001:db8:1:3::1", nullptr));
  EXPECT_EQ(t.KeyFor("::ffff:192.0.2.1", nullptr), t.KeyFor("192.0.2.1", nullptr));
}

TEST_F(ThrottleTest, Ipv4PrefixIsConfigurable) {
  ThrottleOptions o;
  o.ipv4_prefix = 24;
  auto t = Make(o);
  EXPECT_EQ(t.KeyFor("192.0.2.1", nullptr), t.KeyFor("192.0.2.200", nullptr));
  EXPECT_NE(t.KeyFor("192.0.2.1", nullptr), t.KeyFor("192.0.3.1", nullptr));
}

TEST_F(ThrottleTest, ForwardedForIsBelievedOnlyFromTrustedProxies) {
  ThrottleOptions o;
  o.trusted_proxies = *ParseCidrList("127.0.0.1, 10.0.0.0/8");
  auto t = Make(o);
  std::string xff = "203.0.113.9";
  auto direct = t.KeyFor("203.0.113.9", nullptr);
  EXPECT_EQ(t.KeyFor("127.0.0.1", &xff), direct);
  // From an untrusted peer the header is ignored: the peer is the client.
  EXPECT_EQ(t.KeyFor("198.51.100.5", &xff), t.KeyFor("198.51.100.5", nullptr));
  // A forged left part does not help: the right-most untrusted address is the client.
  std::string chain = "1.2.3.4, 203.0.113.9, 10.1.1.1";
  EXPECT_EQ(t.KeyFor("127.0.0.1", &chain), direct);
  // Garbage in the header: the last good address stands.
  std::string junk = "nonsense";
  EXPECT_EQ(t.KeyFor("127.0.0.1", &junk), t.KeyFor("127.0.0.1", nullptr));
}

// Issue 12 item 5: behind HAProxy's `option forwardfor` the proxy adds a field of its own, so
// the client's forged field comes first; all fields are walked from the right.
TEST_F(ThrottleTest, ForwardedForFieldsAreWalkedTogetherFromTheRight) {
  ThrottleOptions o;
  o.trusted_proxies = *ParseCidrList("127.0.0.1, 10.0.0.0/8");
  auto t = Make(o);
  auto client = t.KeyFor("203.0.113.9", nullptr);
  // Fields joined in arrival order: the forged one first, the proxy's last.
  std::string joined = "198.51.100.77, 203.0.113.9";
  EXPECT_EQ(t.KeyFor("127.0.0.1", &joined), client);
  std::string through_two = "198.51.100.77, 203.0.113.9, 10.0.0.2";
  EXPECT_EQ(t.KeyFor("10.0.0.1", &through_two), client);
  EXPECT_NE(t.KeyFor("10.0.0.1", &through_two), t.KeyFor("198.51.100.77", nullptr));
}

TEST_F(ThrottleTest, ForwardedForItemsMayCarryAPort) {
  ThrottleOptions o;
  o.trusted_proxies = *ParseCidrList("127.0.0.1");
  auto t = Make(o);
  std::string v4 = "203.0.113.9:51234";
  EXPECT_EQ(t.KeyFor("127.0.0.1", &v4), t.KeyFor("203.0.113.9", nullptr));
  std::string v6 = "[2001:db8:1:2::1]:443";
  EXPECT_EQ(t.KeyFor("127.0.0.1", &v6), t.KeyFor("2001:db8:1:2::1", nullptr));
  std::string v6_bare = "2001:db8:1:2::1";
  EXPECT_EQ(t.KeyFor("127.0.0.1", &v6_bare), t.KeyFor("2001:db8:1:2::1", nullptr));
  // A port is not an address range: config refuses it.
  EXPECT_FALSE(ParseCidrList("127.0.0.1:80").ok());
}

// Issue 12 item 2: check and charge are one step. A reservation takes the token before the work;
// a client cannot hold more reservations than its budget, however many requests it sends at once.
TEST_F(ThrottleTest, ReservationsNeverExceedTheBudget) {
  ThrottleOptions o;
  o.guess_burst = 5;
  o.guess_refill_per_day = 0;
  auto t = Make(o);
  auto k = t.KeyFor("192.0.2.1", nullptr);
  std::vector<GuessTicket> tickets(50);
  int taken = 0;
  for (auto& ticket : tickets) {
    if (!t.ReserveGuess(k, &ticket).has_value()) ++taken;
  }
  EXPECT_EQ(taken, 5);
  EXPECT_TRUE(t.GuessRetryAfter(k).has_value());
  // A hit gives its token back; a kept charge does not.
  tickets[0].Refund();
  EXPECT_FALSE(tickets[0].held());
  EXPECT_FALSE(t.GuessRetryAfter(k).has_value());
  GuessTicket again;
  EXPECT_FALSE(t.ReserveGuess(k, &again).has_value());
  EXPECT_TRUE(t.ReserveGuess(k, &again).has_value()) << "only the refunded token was there";
}

TEST_F(ThrottleTest, ATicketDroppedWithoutRefundKeepsItsCharge) {
  ThrottleOptions o;
  o.guess_burst = 1;
  o.guess_refill_per_day = 0;
  auto t = Make(o);
  auto k = t.KeyFor("192.0.2.1", nullptr);
  {
    GuessTicket ticket;
    ASSERT_FALSE(t.ReserveGuess(k, &ticket).has_value());
    EXPECT_TRUE(ticket.held());
  }
  EXPECT_TRUE(t.GuessRetryAfter(k).has_value());
}

TEST_F(ThrottleTest, RequestBudgetIsOffByDefault) {
  auto t = Make(ThrottleOptions());
  auto k = t.KeyFor("192.0.2.1", nullptr);
  for (int i = 0; i < 10000; ++i) ASSERT_FALSE(t.TakeRequest(k).has_value());
}

TEST_F(ThrottleTest, RequestBudgetLimitsWhenOn) {
  ThrottleOptions o;
  o.request_burst = 5;
  o.request_rate_per_second = 1;
  auto t = Make(o);
  auto k = t.KeyFor("192.0.2.1", nullptr);
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(t.TakeRequest(k).has_value());
  ASSERT_TRUE(t.TakeRequest(k).has_value());
  EXPECT_EQ(*t.TakeRequest(k), 1);
  now_ += std::chrono::seconds(1);
  EXPECT_FALSE(t.TakeRequest(k).has_value());
}

TEST_F(ThrottleTest, HashKeyRotatesDailyAndBucketsStartAfresh) {
  ThrottleOptions o;
  o.guess_burst = 1;
  o.guess_refill_per_day = 0;
  auto t = Make(o);
  auto before = t.KeyFor("192.0.2.1", nullptr);
  ASSERT_FALSE(Miss(t, before));
  EXPECT_TRUE(t.GuessRetryAfter(before).has_value());
  now_ += std::chrono::hours(24);
  auto after = t.KeyFor("192.0.2.1", nullptr);
  EXPECT_NE(before, after);
  EXPECT_FALSE(t.GuessRetryAfter(after).has_value());
}

TEST_F(ThrottleTest, TableStaysBounded) {
  ThrottleOptions o;
  o.max_clients = 100;
  o.guess_burst = 2;
  auto t = Make(o);
  auto spender = t.KeyFor("192.0.2.1", nullptr);
  ASSERT_FALSE(Miss(t, spender));
  ASSERT_FALSE(Miss(t, spender));
  for (int i = 0; i < 1000; ++i) {
    auto other =
        t.KeyFor("10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256), nullptr);
    ASSERT_FALSE(Miss(t, other));
  }
  // Clients that spent everything are the last to be dropped.
  EXPECT_TRUE(t.GuessRetryAfter(spender).has_value());
}

TEST_F(ThrottleTest, ZeroBurstTurnsGuessBudgetOff_Reservations) {
  ThrottleOptions o;
  o.guess_burst = 0;
  auto t = Make(o);
  auto k = t.KeyFor("192.0.2.1", nullptr);
  for (int i = 0; i < 100; ++i) {
    GuessTicket ticket;
    ASSERT_FALSE(t.ReserveGuess(k, &ticket).has_value());
    EXPECT_FALSE(ticket.held());
  }
}

TEST_F(ThrottleTest, ZeroBurstTurnsGuessBudgetOff) {
  ThrottleOptions o;
  o.guess_burst = 0;
  auto t = Make(o);
  auto k = t.KeyFor("192.0.2.1", nullptr);
  for (int i = 0; i < 100; ++i) ASSERT_FALSE(Miss(t, k));
  EXPECT_FALSE(t.GuessRetryAfter(k).has_value());
}

}  // namespace
}  // namespace safe::server
