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

// ByteGate: bounds the bytes that tasks hold at once (the server: the uploads being read back,
// sealed and written, each about three copies of its body). Acquire waits until `n` more bytes
// fit; a request larger than the whole limit waits until it is alone. The Pass gives them back
// when destroyed. Thread-safe.
class ByteGate {
 public:
  explicit ByteGate(uint64_t limit) : limit_(limit) {}
  ByteGate(const ByteGate&) = delete;
  ByteGate& operator=(const ByteGate&) = delete;

  class Pass {
   public:
    Pass() = default;
    Pass(Pass&& other) noexcept : gate_(other.gate_), bytes_(other.bytes_) {
      other.gate_ = nullptr;
    }
    Pass& operator=(Pass&&) = delete;
    ~Pass() {
      if (gate_ != nullptr) gate_->Release(bytes_);
    }

   private:
    friend class ByteGate;
    Pass(ByteGate* gate, uint64_t bytes) : gate_(gate), bytes_(bytes) {}
    ByteGate* gate_ = nullptr;
    uint64_t bytes_ = 0;
  };

  Pass Acquire(uint64_t n);
  uint64_t held() const;

 private:
  void Release(uint64_t n);

  const uint64_t limit_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  uint64_t held_ = 0;  // GUARDED_BY(mu_)
};

}  // namespace safe::server
