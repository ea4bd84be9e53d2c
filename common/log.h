// The server's log: one line per event on stderr (the journal under systemd), with a level.
//
// Never pass a backup id, a client address, a credential or a blob to these functions: the log
// is kept by the operator and must not link a backup to a person.
//
// Thread-safety: safe from any thread; each line is written with one write(2).

#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

namespace safe {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Lines below `level` are dropped. Default: kInfo.
void SetLogLevel(LogLevel level);
void Log(LogLevel level, std::string_view message);

inline void LogInfo(std::string_view m) { Log(LogLevel::kInfo, m); }
inline void LogWarning(std::string_view m) { Log(LogLevel::kWarning, m); }
inline void LogError(std::string_view m) { Log(LogLevel::kError, m); }

// A message for an event that can repeat thousands of times a second (accept failing with
// EMFILE): the first occurrence is logged at once; later ones are counted, and once `interval`
// has passed since the last line, the next Note() or Flush() writes one line with the count
// ("MESSAGE (N more in the last 10 s)"). So a burst costs one line per interval.
// Thread-safety: safe from any thread.
class RateLimitedLog {
 public:
  using Clock = std::chrono::steady_clock;
  RateLimitedLog(LogLevel level, std::string message, Clock::duration interval)
      : level_(level), message_(std::move(message)), interval_(interval) {}

  // One occurrence, at `now`.
  void Note(Clock::time_point now = Clock::now());
  // Writes the line for the occurrences counted since the last one, when the interval has
  // passed. Call it now and then (e.g. on a timer tick) so that the end of a burst is reported.
  void Flush(Clock::time_point now = Clock::now());
  // Occurrences noted since construction.
  uint64_t total() const;

 private:
  void WriteCounted(Clock::time_point now);  // REQUIRES: mu_ held

  const LogLevel level_;
  const std::string message_;
  const Clock::duration interval_;
  mutable std::mutex mu_;
  bool logged_once_ = false;     // GUARDED_BY(mu_)
  Clock::time_point last_line_;  // GUARDED_BY(mu_)
  uint64_t counted_ = 0;         // GUARDED_BY(mu_): noted since the last line
  uint64_t total_ = 0;           // GUARDED_BY(mu_)
};

}  // namespace safe
