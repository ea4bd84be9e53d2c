// Test support for the crash and shutdown tests: a stream of uploads from client threads, cut
// by the end of the server (kill -9, or SIGTERM) at a chosen point.
//
// StopDuringUploads runs `writers` threads, each calling writer(index, stream) once. A writer
// loops over its requests, calls stream.Acknowledged() after each one the server acknowledged,
// and returns when a request fails (the server is gone) or at a bound of its own;
// stream.stopped() tells it whether the server's end has begun, so that it can tell an expected
// failure from a real one. Once `acks` uploads were acknowledged in all (or every writer has
// returned, or `bound` has passed), stop() runs (it ends the server: ServerProcess::Kill9, or
// Signal(SIGTERM) and Wait), then the writers are joined. Starting the server again on the same
// data is ServerProcess::Restart.
//
// Thread-safety: UploadStream may be used from every writer thread; StopDuringUploads from one.

#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>

namespace safe::testing {

class UploadStream;

struct UploadStreamCut {
  bool reached = false;     // `acks` uploads were acknowledged before stop()
  size_t acknowledged = 0;  // acknowledged in all, counted once the writers have returned
};

UploadStreamCut StopDuringUploads(int writers, size_t acks,
                                  const std::function<void(int, UploadStream&)>& writer,
                                  const std::function<void()>& stop,
                                  std::chrono::seconds bound = std::chrono::seconds(120));

class UploadStream {
 public:
  // One more upload was acknowledged (answered 2xx).
  void Acknowledged();
  // True once the server's end has begun (set before stop() runs).
  bool stopped() const { return stopped_.load(); }

 private:
  friend UploadStreamCut StopDuringUploads(int, size_t,
                                           const std::function<void(int, UploadStream&)>&,
                                           const std::function<void()>&, std::chrono::seconds);

  std::mutex mu_;
  std::condition_variable cv_;
  size_t acknowledged_ = 0;  // GUARDED_BY(mu_)
  int finished_ = 0;         // GUARDED_BY(mu_): writers that have returned
  std::atomic<bool> stopped_{false};
};

}  // namespace safe::testing
