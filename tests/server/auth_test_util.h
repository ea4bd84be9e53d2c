// The fixture of BasicAuthenticator's tests (AuthTest), shared by auth_test and
// auth_concurrency_test: an htpasswd text with two users whose Argon2id hashes are made once per
// suite, and a clock that moves only when told.
//
// The concurrent checks are a binary of their own because they run under ThreadSanitizer (ctest
// label `concurrency`), and auth_test's timing tests (failures take as long whoever the user is)
// must not: TSan would make them slow and their medians meaningless.
//
// Thread-safety: a fixture is used by its test's thread; Make()'s authenticator by any thread.

#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "common/secret.h"
#include "gtest/gtest.h"
#include "safe-server/service/auth.h"

namespace safe::server {

inline std::string Hash(const std::string& password) {
  Result<std::string> hash = HashPasswordArgon2id(password);
  EXPECT_TRUE(hash.ok()) << hash.status().ToString();
  return hash.ok() ? hash.value() : std::string();
}

// A clock that moves only when told, for the cache's expiry.
struct TestClock {
  std::chrono::steady_clock::time_point now =
      std::chrono::steady_clock::time_point() + std::chrono::hours(1);
};

class AuthTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    EnsureSodiumInitialised();
    // Argon2 is slow on purpose: hash once for the whole suite.
    alice_hash_ = new std::string(Hash("correct horse"));
    bob_hash_ = new std::string(Hash("battery staple"));
  }
  static void TearDownTestSuite() {
    delete alice_hash_;
    delete bob_hash_;
  }

  std::string Htpasswd() const {
    return "# users of this server\n"
           "\n"
           "alice:" +
           *alice_hash_ +
           "\n"
           "bob:" +
           *bob_hash_ + "\n";
  }

  std::unique_ptr<BasicAuthenticator> Make(BasicAuthOptions options = {}) {
    if (!options.now) options.now = [this] { return clock_.now; };
    auto auth = BasicAuthenticator::ParseHtpasswd(Htpasswd(), "test", std::move(options));
    EXPECT_TRUE(auth.ok()) << auth.status().ToString();
    return auth.ok() ? std::move(auth).value() : nullptr;
  }

  // The message of a refused htpasswd text.
  static std::string Refusal(const std::string& contents) {
    auto auth = BasicAuthenticator::ParseHtpasswd(contents, "test");
    EXPECT_FALSE(auth.ok());
    if (auth.ok()) return "";
    EXPECT_TRUE(auth.status().IsInvalidArgument()) << auth.status().ToString();
    return auth.status().message();
  }

  static inline std::string* alice_hash_ = nullptr;
  static inline std::string* bob_hash_ = nullptr;
  TestClock clock_;
};

}  // namespace safe::server
