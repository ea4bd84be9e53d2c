// WorkPool: a fixed set of threads that run posted tasks, fairly between clients.
//
// The server runs storage calls and credential checks (Argon2) here, off the network threads: a
// synced RocksDB write blocks for a disk flush, and many writers waiting together let RocksDB
// commit them in one group.
//
// Fairness: a task may name the client it is for (a key; 0 is "no client"). Each client's tasks
// run in the order they were posted, and the pool takes the next task from the clients in turn
// (round robin), so one client with many queued tasks (a burst of wrong passwords, each an
// Argon2 run) delays another client's task by at most one task per client ahead of it, not by
// its whole queue.
//
// WorkPool(0) has no threads and runs each task inside Post: in-process tests use it to get
// answers synchronously.
//
// Thread-safety: Post may be called from any thread. The destructor runs every task already
// posted, then joins the threads.

#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

namespace safe::server {

class WorkPool {
 public:
  explicit WorkPool(int threads);
  ~WorkPool();
  WorkPool(const WorkPool&) = delete;
  WorkPool& operator=(const WorkPool&) = delete;

  // Runs `task` on a pool thread, after the tasks already posted for the same client.
  void Post(std::function<void()> task) { Post(0, std::move(task)); }
  void Post(uint64_t client, std::function<void()> task);

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable cv_;
  // GUARDED_BY(mu_): each client's waiting tasks, and the clients with waiting tasks in turn.
  std::unordered_map<uint64_t, std::deque<std::function<void()>>> queues_;
  std::deque<uint64_t> turn_;
  bool stopping_ = false;  // GUARDED_BY(mu_)
  std::vector<std::thread> threads_;
};

}  // namespace safe::server
