// ClientThrottle: per-client budgets, kept in memory only.
//
// The guess budget: anyone who knows a person's Threema ID can guess passwords online (derive
// an id, GET it, a 404 means a wrong guess). Each client has a token bucket; every lookup (GET,
// HEAD, DELETE of a backup) that ends in 404 takes a token. With the bucket empty, that client's
// lookups are answered 429 with Retry-After, without touching storage; other clients are not
// affected. The defaults (a burst of 30, refilled at 288 a day) are far above what a household
// of real apps does (a lookup that finds nothing happens at a first backup or a mistyped
// password) and cut a guesser to about 300 guesses a day.
//
// The request budget: a general per-client limit on all requests, off by default (a benchmark or
// a large NAT must not trip it).
//
// Clients are told apart by their address prefix (IPv4 /32 and IPv6 /64 by default), taken from
// X-Forwarded-For only when the peer is one of the trusted proxies. Buckets are keyed by a keyed
// hash (SipHash) of that prefix under a random key that changes daily, when all buckets start
// afresh: no address is kept, nothing is written to disk or log. A full table drops its fullest
// buckets first.
//
// Thread-safety: all methods may be called concurrently.

#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"

namespace safe::server {

// An address range, such as 10.0.0.0/8 or ::1/128.
struct Cidr {
  int family = 0;                   // AF_INET or AF_INET6
  std::array<uint8_t, 16> bytes{};  // network byte order; IPv4 in the first 4
  int prefix = 0;

  // "ADDR" or "ADDR/PREFIX". InvalidArgument for anything else.
  static Result<Cidr> Parse(std::string_view text);
  bool Contains(int family, const uint8_t* addr) const;
};

// A comma-separated list of addresses or ranges ("127.0.0.1, 10.0.0.0/8"); empty items are
// skipped. InvalidArgument naming the first bad item.
Result<std::vector<Cidr>> ParseCidrList(std::string_view list);

struct ThrottleOptions {
  double guess_burst = 30;             // lookups ending in 404 a client may make at once
  double guess_refill_per_day = 288;   // tokens added back per day
  double request_burst = 0;            // 0: no general request budget
  double request_rate_per_second = 0;  // refill of the request budget
  int ipv4_prefix = 32;                // clients are told apart by this many leading bits
  int ipv6_prefix = 64;
  std::vector<Cidr> trusted_proxies;  // peers whose X-Forwarded-For is believed
  size_t max_clients = 100000;        // buckets kept per budget
};

class ClientThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  using NowFn = std::function<Clock::time_point()>;
  using ClientKey = uint64_t;

  explicit ClientThrottle(ThrottleOptions options, NowFn now = nullptr);

  // The client's key: from the peer address, or from X-Forwarded-For (the right-most address
  // that is not a trusted proxy) when the peer is a trusted proxy. An unparseable address is a
  // client of its own (all such share one key).
  ClientKey KeyFor(std::string_view peer_address, const std::string* forwarded_for);

  // nullopt when the client may make a lookup now; else the seconds until it may.
  std::optional<int> GuessRetryAfter(ClientKey client);
  // Takes a token from the client's guess budget (a lookup found nothing).
  void CountMiss(ClientKey client);
  // Takes a token from the general request budget: nullopt when allowed (or the budget is off),
  // else the seconds until the client may send again.
  std::optional<int> TakeRequest(ClientKey client);

  const ThrottleOptions& options() const { return options_; }

 private:
  struct Bucket {
    double tokens;
    Clock::time_point updated;
  };
  struct Budget {
    double burst;
    double per_second;
    std::unordered_map<ClientKey, Bucket> buckets;
  };

  // REQUIRES: mu_ held.
  Bucket& Refill(Budget& budget, ClientKey client, Clock::time_point now);
  void RotateIfDueLocked(Clock::time_point now);
  void TrimLocked(Budget& budget, Clock::time_point now);
  static int SecondsUntilToken(const Budget& budget, const Bucket& bucket);

  const ThrottleOptions options_;
  const NowFn now_;
  std::mutex mu_;
  std::array<uint8_t, 16> hash_key_{};  // GUARDED_BY(mu_)
  Clock::time_point key_born_;          // GUARDED_BY(mu_)
  Budget guesses_;                      // GUARDED_BY(mu_)
  Budget requests_;                     // GUARDED_BY(mu_)
};

}  // namespace safe::server
