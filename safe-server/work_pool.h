// WorkPool: a fixed set of threads that run posted tasks in order of posting.
//
// The server runs storage calls here, off the network threads: a synced RocksDB write blocks for
// a disk flush, and many writers waiting together let RocksDB commit them in one group.
//
// WorkPool(0) has no threads and runs each task inside Post: in-process tests use it to get
// answers synchronously.
//
// Thread-safety: Post may be called from any thread. The destructor runs every task already
// posted, then joins the threads.

#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace safe::server {

class WorkPool {
 public:
  explicit WorkPool(int threads);
  ~WorkPool();
  WorkPool(const WorkPool&) = delete;
  WorkPool& operator=(const WorkPool&) = delete;

  void Post(std::function<void()> task);

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;  // GUARDED_BY(mu_)
  bool stopping_ = false;                    // GUARDED_BY(mu_)
  std::vector<std::thread> threads_;
};

}  // namespace safe::server
