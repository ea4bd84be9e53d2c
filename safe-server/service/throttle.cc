#include "safe-server/service/throttle.h"

#include <arpa/inet.h>
#include <sodium.h>
#include <sys/socket.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace safe::server {

namespace {

constexpr std::chrono::hours kKeyLifetime{24};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// ":1" to ":65535".
bool IsPortSuffix(std::string_view s) {
  if (s.size() < 2 || s.size() > 6 || s[0] != ':') return false;
  for (char c : s.substr(1)) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Parses an IPv4 or IPv6 address (brackets allowed), optionally with a port as X-Forwarded-For
// items may carry ("192.0.2.1:5000", "[2001:db8::1]:5000"); IPv4-mapped IPv6 becomes IPv4.
bool ParseAddress(std::string_view text, int* family, std::array<uint8_t, 16>* bytes,
                  bool allow_port = false) {
  text = Trim(text);
  if (!text.empty() && text.front() == '[') {
    // "[v6]" or "[v6]:port"
    size_t close = text.find(']');
    if (close == std::string_view::npos) return false;
    std::string_view after = text.substr(close + 1);
    if (!after.empty() && !(allow_port && IsPortSuffix(after))) return false;
    text = text.substr(1, close - 1);
  } else if (size_t colon = text.find(':'); allow_port && colon != std::string_view::npos &&
                                            text.find(':', colon + 1) == std::string_view::npos) {
    // One colon: "v4:port" (an IPv6 address has at least two).
    if (!IsPortSuffix(text.substr(colon))) return false;
    text = text.substr(0, colon);
  }
  if (text.empty() || text.size() > 64) return false;
  std::string s(text);
  bytes->fill(0);
  if (inet_pton(AF_INET, s.c_str(), bytes->data()) == 1) {
    *family = AF_INET;
    return true;
  }
  if (inet_pton(AF_INET6, s.c_str(), bytes->data()) == 1) {
    static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(bytes->data(), kMapped, 12) == 0) {
      memmove(bytes->data(), bytes->data() + 12, 4);
      memset(bytes->data() + 4, 0, 12);
      *family = AF_INET;
    } else {
      *family = AF_INET6;
    }
    return true;
  }
  return false;
}

void MaskPrefix(std::array<uint8_t, 16>* bytes, int prefix, int total_bits) {
  for (int bit = std::max(prefix, 0); bit < total_bits; ++bit) {
    (*bytes)[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
  }
}

}  // namespace

Result<Cidr> Cidr::Parse(std::string_view text) {
  text = Trim(text);
  Cidr c;
  size_t slash = text.find('/');
  std::string_view addr = text.substr(0, slash);
  if (!ParseAddress(addr, &c.family, &c.bytes)) {
    return Status::InvalidArgument("not an IP address or range: \"" + std::string(text) + "\"");
  }
  int max_bits = c.family == AF_INET ? 32 : 128;
  c.prefix = max_bits;
  if (slash != std::string_view::npos) {
    std::string_view p = text.substr(slash + 1);
    if (p.empty() || p.size() > 3 || !std::all_of(p.begin(), p.end(), ::isdigit)) {
      return Status::InvalidArgument("bad prefix length in \"" + std::string(text) + "\"");
    }
    c.prefix = std::stoi(std::string(p));
    if (c.prefix > max_bits) {
      return Status::InvalidArgument("prefix length above " + std::to_string(max_bits) + " in \"" +
                                     std::string(text) + "\"");
    }
  }
  MaskPrefix(&c.bytes, c.prefix, max_bits);
  return c;
}

Result<std::vector<Cidr>> ParseCidrList(std::string_view list) {
  std::vector<Cidr> out;
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view item = Trim(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    if (item.empty()) continue;
    Result<Cidr> c = Cidr::Parse(item);
    if (!c.ok()) return c.status();
    out.push_back(*c);
  }
  return out;
}

bool Cidr::Contains(int fam, const uint8_t* addr) const {
  if (fam != family) return false;
  int full = prefix / 8;
  if (memcmp(bytes.data(), addr, full) != 0) return false;
  int rest = prefix % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff00u >> rest);
  return (addr[full] & mask) == bytes[full];
}

ClientThrottle::ClientThrottle(ThrottleOptions options, NowFn now)
    : options_(std::move(options)),
      now_(now ? std::move(now) : NowFn([] { return Clock::now(); })) {
  guesses_.burst = options_.guess_burst;
  guesses_.per_second = options_.guess_refill_per_day / 86400.0;
  requests_.burst = options_.request_burst;
  requests_.per_second = options_.request_rate_per_second;
  randombytes_buf(hash_key_.data(), hash_key_.size());
  key_born_ = now_();
}

ClientThrottle::ClientKey ClientThrottle::KeyFor(std::string_view peer_address,
                                                 const std::string* forwarded_for) {
  int family = 0;
  std::array<uint8_t, 16> addr{};
  bool ok = ParseAddress(peer_address, &family, &addr);
  if (ok && forwarded_for != nullptr && !options_.trusted_proxies.empty()) {
    auto trusted = [&](int f, const uint8_t* a) {
      for (const Cidr& c : options_.trusted_proxies) {
        if (c.Contains(f, a)) return true;
      }
      return false;
    };
    if (trusted(family, addr.data())) {
      // Walk X-Forwarded-For from the right: the first address not of a trusted proxy is the
      // client (anything left of it may be forged by the client).
      std::string_view list = *forwarded_for;
      while (!list.empty()) {
        size_t comma = list.rfind(',');
        std::string_view item = comma == std::string_view::npos ? list : list.substr(comma + 1);
        list = comma == std::string_view::npos ? std::string_view() : list.substr(0, comma);
        int f = 0;
        std::array<uint8_t, 16> a{};
        if (!ParseAddress(item, &f, &a, /*allow_port=*/true)) break;
        family = f;
        addr = a;
        if (!trusted(f, a.data())) break;
      }
    }
  }
  uint8_t input[17] = {0};
  if (ok) {
    MaskPrefix(&addr, family == AF_INET ? options_.ipv4_prefix : options_.ipv6_prefix,
               family == AF_INET ? 32 : 128);
    input[0] = static_cast<uint8_t>(family);
    memcpy(input + 1, addr.data(), 16);
  }
  uint64_t key = 0;
  std::lock_guard<std::mutex> lock(mu_);
  RotateIfDueLocked(now_());
  crypto_shorthash(reinterpret_cast<unsigned char*>(&key), input, sizeof input, hash_key_.data());
  return key;
}

void ClientThrottle::RotateIfDueLocked(Clock::time_point now) {
  if (now - key_born_ < kKeyLifetime) return;
  randombytes_buf(hash_key_.data(), hash_key_.size());
  key_born_ = now;
  guesses_.buckets.clear();  // keys under the old hash key mean nothing any more
  requests_.buckets.clear();
}

ClientThrottle::Bucket& ClientThrottle::Refill(Budget& budget, ClientKey client,
                                               Clock::time_point now) {
  auto it = budget.buckets.find(client);
  if (it == budget.buckets.end()) {
    if (budget.buckets.size() >= options_.max_clients) TrimLocked(budget, now);
    return budget.buckets.emplace(client, Bucket{budget.burst, now}).first->second;
  }
  Bucket& b = it->second;
  double elapsed = std::chrono::duration<double>(now - b.updated).count();
  b.tokens = std::min(budget.burst, b.tokens + elapsed * budget.per_second);
  b.updated = now;
  return b;
}

void ClientThrottle::TrimLocked(Budget& budget, Clock::time_point now) {
  // Full buckets carry no information: drop them first; then the fullest until at 90 %.
  std::vector<std::pair<double, ClientKey>> by_tokens;
  by_tokens.reserve(budget.buckets.size());
  for (auto& [k, b] : budget.buckets) {
    double elapsed = std::chrono::duration<double>(now - b.updated).count();
    by_tokens.emplace_back(std::min(budget.burst, b.tokens + elapsed * budget.per_second), k);
  }
  std::sort(by_tokens.begin(), by_tokens.end(), std::greater<>());
  size_t target = options_.max_clients * 9 / 10;
  for (const auto& [tokens, k] : by_tokens) {
    if (budget.buckets.size() <= target && tokens < budget.burst) break;
    budget.buckets.erase(k);
  }
}

int ClientThrottle::SecondsUntilToken(const Budget& budget, const Bucket& bucket) {
  if (budget.per_second <= 0) return 86400;
  double missing = 1.0 - bucket.tokens;
  return std::max(1, static_cast<int>(std::ceil(missing / budget.per_second)));
}

std::optional<int> ClientThrottle::GuessRetryAfter(ClientKey client) {
  if (guesses_.burst <= 0) return std::nullopt;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = guesses_.buckets.find(client);
  if (it == guesses_.buckets.end()) return std::nullopt;  // never charged: a full bucket
  Bucket& b = Refill(guesses_, client, now_());
  if (b.tokens >= 1.0) return std::nullopt;
  return SecondsUntilToken(guesses_, b);
}

std::optional<int> ClientThrottle::ReserveGuess(ClientKey client, GuessTicket* ticket) {
  *ticket = GuessTicket();
  if (guesses_.burst <= 0) return std::nullopt;
  std::lock_guard<std::mutex> lock(mu_);
  Bucket& b = Refill(guesses_, client, now_());
  if (b.tokens < 1.0) return SecondsUntilToken(guesses_, b);
  b.tokens -= 1.0;
  ticket->throttle_ = this;
  ticket->client_ = client;
  return std::nullopt;
}

void ClientThrottle::RefundGuess(ClientKey client) {
  std::lock_guard<std::mutex> lock(mu_);
  Bucket& b = Refill(guesses_, client, now_());
  b.tokens = std::min(guesses_.burst, b.tokens + 1.0);
}

std::optional<int> ClientThrottle::TakeRequest(ClientKey client) {
  if (requests_.burst <= 0) return std::nullopt;
  std::lock_guard<std::mutex> lock(mu_);
  Bucket& b = Refill(requests_, client, now_());
  if (b.tokens < 1.0) return SecondsUntilToken(requests_, b);
  b.tokens -= 1.0;
  return std::nullopt;
}

}  // namespace safe::server
