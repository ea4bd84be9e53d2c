// ClientThrottle: per-client budgets, kept in memory only.
//
// The guess budget: anyone who knows a person's Threema ID can guess passwords online (derive
// an id, GET it, a 404 means a wrong guess; a PUT answered 201 says the same). Each client has a
// token bucket; every request that may be a guess costs a token: a lookup (GET, HEAD, DELETE) that
// finds nothing, a PUT that creates a backup, a credential that fails. A request that finds the
// backup it names (the apps' restore GET, their daily PUT that replaces their own backup) costs
// nothing. With the bucket spent, every request for a backup from that client is answered 429
// with Retry-After, whether its backup exists or not, without touching storage; other clients
// are not affected. The defaults (a burst of 30, refilled at 288 a day) are far above what a
// household of real apps does and cut a guesser to about 300 guesses a day.
//
// Check and charge are one step, so that concurrency buys no extra guesses: ReserveGuess takes
// the token before any work on a backup starts (a lookup, a write, a delete, an Argon2
// verification); the charge stands unless the ticket is refunded (a hit, a verified credential,
// a request that died before it was handled). N simultaneous requests from one client hold at
// most `burst` tickets; the rest are refused before any work, so a spent budget never reaches
// storage and its 429 cannot tell, even by its timing, whether a backup exists.
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
#include <utility>
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
  double guess_burst = 30;             // requests that may be guesses a client may make at once
  double guess_refill_per_day = 288;   // tokens added back per day
  double request_burst = 0;            // 0: no general request budget
  double request_rate_per_second = 0;  // refill of the request budget
  int ipv4_prefix = 32;                // clients are told apart by this many leading bits
  int ipv6_prefix = 64;
  std::vector<Cidr> trusted_proxies;  // peers whose X-Forwarded-For is believed
  size_t max_clients = 100000;        // buckets kept per budget
};

class GuessTicket;

class ClientThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  using NowFn = std::function<Clock::time_point()>;
  using ClientKey = uint64_t;

  explicit ClientThrottle(ThrottleOptions options, NowFn now = nullptr);

  // The client's key: from the peer address, or, when the peer is a trusted proxy, from
  // X-Forwarded-For: `forwarded_for` is every X-Forwarded-For field of the request joined with
  // ',' in arrival order (a proxy may add a field of its own rather than append to the client's),
  // walked from the right past trusted proxies; the first address that is not one is the client.
  // Items may carry a port (`192.0.2.1:5000`, `[2001:db8::1]:5000`). An unparseable peer address
  // is a client of its own (all such share one key).
  ClientKey KeyFor(std::string_view peer_address, const std::string* forwarded_for);

  // nullopt when the client's guess budget is not spent; else the seconds until it has a token
  // again. Takes nothing.
  std::optional<int> GuessRetryAfter(ClientKey client);
  // Takes a token for work that may be a guess, into *ticket. nullopt when taken (or the budget
  // is off: the ticket then holds nothing); else the seconds until a token is there, and nothing
  // is taken.
  std::optional<int> ReserveGuess(ClientKey client, GuessTicket* ticket);
  // Takes a token from the general request budget: nullopt when allowed (or the budget is off),
  // else the seconds until the client may send again.
  std::optional<int> TakeRequest(ClientKey client);

  const ThrottleOptions& options() const { return options_; }

 private:
  friend class GuessTicket;
  // Gives back a token taken by ReserveGuess.
  void RefundGuess(ClientKey client);

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

// A token taken from a client's guess budget by ClientThrottle::ReserveGuess. The charge stands
// (the default, and what happens when the request dies on the way) unless Refund() is called.
// Movable, not copyable; the throttle must outlive it. Not thread-safe: one request holds it.
class GuessTicket {
 public:
  GuessTicket() = default;
  GuessTicket(GuessTicket&& other) noexcept { *this = std::move(other); }
  GuessTicket& operator=(GuessTicket&& other) noexcept {
    throttle_ = std::exchange(other.throttle_, nullptr);
    client_ = other.client_;
    return *this;
  }
  GuessTicket(const GuessTicket&) = delete;
  GuessTicket& operator=(const GuessTicket&) = delete;

  // True while it holds a token that Refund would give back.
  bool held() const { return throttle_ != nullptr; }
  // The request was no guess: the token goes back. Does nothing when none is held.
  void Refund() {
    if (throttle_ != nullptr) std::exchange(throttle_, nullptr)->RefundGuess(client_);
  }

 private:
  friend class ClientThrottle;
  ClientThrottle* throttle_ = nullptr;
  ClientThrottle::ClientKey client_ = 0;
};

}  // namespace safe::server
