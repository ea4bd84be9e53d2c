#include "tests/support/crash.h"

#include <thread>
#include <vector>

namespace safe::testing {

void UploadStream::Acknowledged() {
  std::lock_guard<std::mutex> lock(mu_);
  ++acknowledged_;
  cv_.notify_all();
}

UploadStreamCut StopDuringUploads(int writers, size_t acks,
                                  const std::function<void(int, UploadStream&)>& writer,
                                  const std::function<void()>& stop, std::chrono::seconds bound) {
  UploadStream stream;
  std::vector<std::thread> threads;
  for (int index = 0; index < writers; ++index) {
    threads.emplace_back([&, index] {
      writer(index, stream);
      std::lock_guard<std::mutex> lock(stream.mu_);
      ++stream.finished_;
      stream.cv_.notify_all();
    });
  }
  UploadStreamCut cut;
  {
    std::unique_lock<std::mutex> lock(stream.mu_);
    stream.cv_.wait_for(
        lock, bound, [&] { return stream.acknowledged_ >= acks || stream.finished_ == writers; });
    cut.reached = stream.acknowledged_ >= acks;
  }
  stream.stopped_ = true;
  stop();
  for (auto& thread : threads) thread.join();
  std::lock_guard<std::mutex> lock(stream.mu_);
  cut.acknowledged = stream.acknowledged_;
  return cut;
}

}  // namespace safe::testing
