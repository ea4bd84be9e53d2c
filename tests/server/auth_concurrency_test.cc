// BasicAuthenticator checked from several threads at once (its cache is shared): under
// ThreadSanitizer with the other concurrency tests (ctest label `concurrency`).

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "safe-server/service/auth.h"
#include "tests/server/auth_test_util.h"
#include "tests/support/e2e_util.h"

namespace safe::server {
namespace {

using safe::testing::BasicHeader;

TEST_F(AuthTest, ConcurrentChecksAgree) {
  auto auth = Make();
  ASSERT_NE(auth, nullptr);
  std::vector<std::thread> threads;
  std::atomic<int> wrong_answers{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        bool good = (i + t) % 2 == 0;
        std::string header = good ? BasicHeader("bob:battery staple") : BasicHeader("bob:nope");
        if (auth->Check(header) != good) wrong_answers.fetch_add(1);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(wrong_answers.load(), 0);
}

}  // namespace
}  // namespace safe::server
