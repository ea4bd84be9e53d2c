// Fault on the real cluster (issue 7): one OSD killed with SIGKILL during a stream of puts.
// Every put that was acknowledged must be readable, bit-exact, afterwards; the puts under way
// when the OSD died must still succeed (RADOS resends them to the placement groups' new
// primaries); and once the OSD is started again the cluster must return to HEALTH_OK with every
// placement group active+clean (scripts/ceph-cluster wait-healthy reads `ceph -s -f json`).
//
// Every wait is bounded; progress is driven by acknowledged puts, not by sleeping.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "storage/rados_store.h"
#include "tests/rados/rados_test_util.h"
#include "tests/storage/store_test_util.h"
#include "tests/support/server_process.h"

namespace safe::storage {
namespace {

using namespace std::chrono_literals;
using testing::BlobFor;
using testing::Cluster;
using testing::KeyFor;

// Puts unique keys from several threads until stopped; counts what was acknowledged.
class PutStream {
 public:
  PutStream(BackupStore& store, int threads, size_t blob_bytes)
      : store_(store), blob_bytes_(blob_bytes) {
    for (int t = 0; t < threads; ++t) threads_.emplace_back([this] { Run(); });
  }
  ~PutStream() { Stop(); }

  // Waits until `count` more puts than now have been acknowledged; false after `limit`.
  bool WaitForMoreAcks(int count, std::chrono::seconds limit) {
    std::unique_lock<std::mutex> lock(mu_);
    const size_t target = acked_.size() + count;
    return cv_.wait_for(lock, limit, [&] { return acked_.size() >= target; });
  }

  void Stop() {
    stop_.store(true);
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

  // REQUIRES: Stop() was called.
  const std::vector<uint64_t>& acked() const { return acked_; }
  int failed() const { return failed_.load(); }
  std::string first_error() const {
    std::lock_guard<std::mutex> lock(mu_);
    return first_error_;
  }

 private:
  void Run() {
    while (!stop_.load()) {
      const uint64_t n = next_.fetch_add(1);
      auto put = store_.Put(KeyFor(n), BlobFor(n, blob_bytes_), 1);
      std::lock_guard<std::mutex> lock(mu_);
      if (put.ok()) {
        acked_.push_back(n);
        cv_.notify_all();
      } else {
        failed_.fetch_add(1);
        if (first_error_.empty()) first_error_ = put.status().ToString();
      }
    }
  }

  BackupStore& store_;
  const size_t blob_bytes_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> next_{0};
  std::atomic<int> failed_{0};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<uint64_t> acked_;  // GUARDED_BY(mu_)
  std::string first_error_;      // GUARDED_BY(mu_)
  std::vector<std::thread> threads_;
};

TEST(RadosFaultTest, AnOsdKilledDuringPutsLosesNoAcknowledgedPutAndTheClusterHeals) {
  const std::string name_space = testing::FreshNamespace();
  testing::RawPool raw(name_space);
  ASSERT_TRUE(raw.ok());
  auto store = testing::OpenOrFail(name_space);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(Cluster({"wait-healthy", "60"})) << "the cluster was not healthy to begin with";

  // Starts the OSD again when an assertion returns early, so later tests find it whole.
  struct OsdGuard {
    bool down = false;
    ~OsdGuard() {
      if (down) static_cast<void>(Cluster({"start-osd", "1"}));
    }
  } osd;
  {
    PutStream stream(*store, 8, 64 * 1024);
    ASSERT_TRUE(stream.WaitForMoreAcks(100, 60s)) << stream.first_error();
    ASSERT_TRUE(Cluster({"kill-osd", "1"}));
    osd.down = true;
    // Writes go on with two of three replicas (min_size 2) once the monitor has marked the OSD
    // down and the placement groups have peered again.
    EXPECT_TRUE(stream.WaitForMoreAcks(200, 120s)) << "puts stalled with one OSD down";
    ASSERT_TRUE(Cluster({"start-osd", "1"}));
    osd.down = false;
    // And on while the OSD rejoins and recovers what it missed.
    EXPECT_TRUE(stream.WaitForMoreAcks(100, 120s)) << "puts stalled while the OSD rejoined";
    stream.Stop();
    std::printf("acknowledged puts: %zu, failed puts: %d\n", stream.acked().size(),
                stream.failed());
    EXPECT_EQ(stream.failed(), 0) << stream.first_error();

    // Every acknowledged put is there, bit-exact.
    size_t missing = 0;
    for (uint64_t n : stream.acked()) {
      auto got = store->Get(KeyFor(n));
      if (!got.ok() || !(got->blob == BlobFor(n, 64 * 1024))) ++missing;
    }
    EXPECT_EQ(missing, 0u) << "of " << stream.acked().size() << " acknowledged puts";
  }
  EXPECT_TRUE(Cluster({"wait-healthy", "300"}));
  store.reset();
  raw.Purge();
}

}  // namespace
}  // namespace safe::storage
