#include "safe-server/http/work_pool.h"

namespace safe::server {

WorkPool::WorkPool(int threads) {
  threads_.reserve(threads);
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
}

WorkPool::~WorkPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void WorkPool::Post(uint64_t client, std::function<void()> task) {
  if (threads_.empty()) {
    task();
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::deque<std::function<void()>>& queue = queues_[client];
    if (queue.empty()) turn_.push_back(client);
    queue.push_back(std::move(task));
  }
  cv_.notify_one();
}

void WorkPool::Run() {
  while (true) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !turn_.empty(); });
      if (turn_.empty()) return;  // stopping, and nothing left
      const uint64_t client = turn_.front();
      turn_.pop_front();
      auto it = queues_.find(client);
      task = std::move(it->second.front());
      it->second.pop_front();
      if (it->second.empty()) {
        queues_.erase(it);
      } else {
        turn_.push_back(client);  // its next task waits for the others' turns
      }
    }
    task();
  }
}

ByteGate::Pass ByteGate::Acquire(uint64_t n) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return held_ == 0 || held_ + n <= limit_; });
  held_ += n;
  return Pass(this, n);
}

void ByteGate::Release(uint64_t n) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    held_ -= n;
  }
  cv_.notify_all();
}

uint64_t ByteGate::held() const {
  std::lock_guard<std::mutex> lock(mu_);
  return held_;
}

}  // namespace safe::server
