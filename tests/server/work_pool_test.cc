// WorkPool: every task runs, each client's in order, and clients take turns.

#include "safe-server/http/work_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

namespace safe::server {
namespace {

TEST(WorkPoolTest, RunsEveryTaskAndEachClientsInOrder) {
  std::mutex mu;
  std::vector<int> a, b;
  {
    WorkPool pool(3);
    for (int i = 0; i < 200; ++i) {
      pool.Post(1, [&, i] {
        std::lock_guard<std::mutex> lock(mu);
        a.push_back(i);
      });
      pool.Post(2, [&, i] {
        std::lock_guard<std::mutex> lock(mu);
        b.push_back(i);
      });
    }
  }  // the destructor runs what was posted
  ASSERT_EQ(a.size(), 200u);
  ASSERT_EQ(b.size(), 200u);
  // One thread takes a client's tasks one at a time, but three threads may run two of the same
  // client's tasks at once: only the start order is guaranteed, so check with one thread below.
}

// Issue 12: a client with a long queue (a burst of wrong passwords, each an Argon2 run) delays
// another client's task by one turn, not by its whole queue.
TEST(WorkPoolTest, ClientsTakeTurns) {
  std::vector<std::pair<int, int>> order;  // (client, n), in the order run
  auto pool = std::make_unique<WorkPool>(1);
  std::atomic<bool> release{false};
  pool->Post(7, [&] {
    while (!release.load()) std::this_thread::yield();  // holds the one thread while we post
    order.emplace_back(7, 0);
  });
  for (int i = 1; i <= 30; ++i) pool->Post(7, [&, i] { order.emplace_back(7, i); });
  pool->Post(8, [&] { order.emplace_back(8, 0); });
  release = true;
  pool.reset();
  ASSERT_EQ(order.size(), 32u);
  EXPECT_EQ(order[0], std::make_pair(7, 0));
  EXPECT_EQ(order[1], std::make_pair(8, 0)) << "client 8 waited behind client 7's whole queue";
  for (int i = 1; i <= 30; ++i) EXPECT_EQ(order[1 + i], std::make_pair(7, i));
}

TEST(WorkPoolTest, WithoutThreadsRunsInline) {
  WorkPool pool(0);
  int ran = 0;
  pool.Post(5, [&] { ++ran; });
  EXPECT_EQ(ran, 1);
}

}  // namespace
}  // namespace safe::server
