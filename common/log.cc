#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <string>

namespace safe {

namespace {
std::atomic<int> g_min_level{static_cast<int>(LogLevel::kInfo)};

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}
}  // namespace

void SetLogLevel(LogLevel level) { g_min_level.store(static_cast<int>(level)); }

void Log(LogLevel level, std::string_view message) {
  if (static_cast<int>(level) < g_min_level.load()) return;
  std::string line = "safe-server: ";
  line += LevelName(level);
  line += ": ";
  line += message;
  line += '\n';
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;  // nowhere to report a failed log write
}

void RateLimitedLog::Note(Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  ++total_;
  if (!logged_once_) {
    logged_once_ = true;
    last_line_ = now;
    Log(level_, message_);
    return;
  }
  ++counted_;
  if (now - last_line_ >= interval_) WriteCounted(now);
}

void RateLimitedLog::Flush(Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  if (counted_ > 0 && now - last_line_ >= interval_) WriteCounted(now);
}

uint64_t RateLimitedLog::total() const {
  std::lock_guard<std::mutex> lock(mu_);
  return total_;
}

void RateLimitedLog::WriteCounted(Clock::time_point now) {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now - last_line_).count();
  Log(level_, message_ + " (" + std::to_string(counted_) + " more in the last " +
                  std::to_string(seconds) + " s)");
  counted_ = 0;
  last_line_ = now;
}

}  // namespace safe
