// The periodic sweeps (safe-server/service/sweeper.h): PeriodicTask runs at once and then every
// interval until destroyed; RetentionSweeper deletes expired backups and counts what is left.

#include "safe-server/service/sweeper.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "common/clock.h"
#include "storage/memory_store.h"

namespace safe::server {
namespace {

using namespace std::chrono_literals;

// Polls `done` for up to 10 s (the sweeps run on threads of their own).
template <typename F>
bool Eventually(F done) {
  for (int i = 0; i < 1000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return done();
}

BackupId IdFor(uint8_t seed) {
  BackupId::Bytes bytes{};
  bytes[0] = seed;
  return BackupId::FromBytes(bytes);
}

TEST(PeriodicTaskTest, RunsAtOnceAndStopsWhenDestroyed) {
  std::atomic<int> runs{0};
  {
    PeriodicTask task(std::chrono::seconds(3600), [&runs] { ++runs; });
    ASSERT_TRUE(Eventually([&] { return runs.load() == 1; }));
  }  // the destructor does not wait an hour
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(runs.load(), 1);
}

TEST(PeriodicTaskTest, RunsAgainEveryInterval) {
  std::atomic<int> runs{0};
  PeriodicTask task(std::chrono::seconds(1), [&runs] { ++runs; });
  EXPECT_TRUE(Eventually([&] { return runs.load() >= 2; }));
}

TEST(RetentionSweeperTest, DeletesExpiredBackupsAndCountsTheRest) {
  FakeClock clock(20000);
  storage::MemoryStore store;
  BackupService service(store, clock, BackupServiceOptions{1000, 30, 0});
  ASSERT_TRUE(service.Upload(IdFor(1), "old").ok());
  clock.Advance(25);
  ASSERT_TRUE(service.Upload(IdFor(2), "newer").ok());
  clock.Advance(6);  // IdFor(1) is past its deletion day; IdFor(2) has 25 days left
  RetentionSweeper sweeper(service, std::chrono::seconds(3600));
  ASSERT_TRUE(Eventually([&] { return sweeper.Figures().expired_deleted_total == 1; }));
  ASSERT_TRUE(Eventually([&] { return sweeper.Figures().backups == 1; }));
  SweepFigures f = sweeper.Figures();
  EXPECT_EQ(f.bytes, 5u);
  EXPECT_EQ(f.expiring_within_7_days, 0u);
  EXPECT_EQ(f.expiring_within_30_days, 1u);
  EXPECT_TRUE(store.Stat(IdFor(1)).status().IsNotFound());  // gone from the store itself
  EXPECT_TRUE(service.Download(IdFor(2)).ok());
}

}  // namespace
}  // namespace safe::server
