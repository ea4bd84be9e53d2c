// Clock: the day, as the server counts it. Injectable so that retention is testable.
//
// The server keeps no timestamp finer than a day: a day is the number of whole days since
// 1970-01-01 UTC.
//
// Thread-safety: implementations must be safe to call from any thread.

#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace safe {

using Day = int32_t;  // days since 1970-01-01 UTC

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Day Today() const = 0;
};

class SystemClock final : public Clock {
 public:
  Day Today() const override {
    auto secs = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
    return static_cast<Day>(secs / 86400);
  }
};

// For tests: a day that only moves when told.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(Day today) : today_(today) {}
  Day Today() const override { return today_.load(); }
  void Set(Day day) { today_.store(day); }
  void Advance(int32_t days) { today_.fetch_add(days); }

 private:
  std::atomic<Day> today_;
};

}  // namespace safe
