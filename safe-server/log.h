// The server's log: one line per event on stderr (the journal under systemd), with a level.
//
// Never pass a backup id, a client address, a credential or a blob to these functions: the log
// is kept by the operator and must not link a backup to a person.
//
// Thread-safety: safe from any thread; each line is written with one write(2).

#pragma once

#include <string_view>

namespace safe::server {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Lines below `level` are dropped. Default: kInfo.
void SetLogLevel(LogLevel level);
void Log(LogLevel level, std::string_view message);

inline void LogInfo(std::string_view m) { Log(LogLevel::kInfo, m); }
inline void LogWarning(std::string_view m) { Log(LogLevel::kWarning, m); }
inline void LogError(std::string_view m) { Log(LogLevel::kError, m); }

}  // namespace safe::server
