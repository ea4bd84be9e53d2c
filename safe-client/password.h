// Getting passwords without ever taking them as a command-line argument (visible in `ps` and in
// shell history): from the first line of a file, or typed on the terminal without echo.
//
// Thread-safety: AskPassword changes the terminal's mode; call it from one thread.

#pragma once

#include <string>

#include "common/secret.h"
#include "common/status.h"

namespace safe::client {

// The first line of the file (without its "\n" or "\r\n"). InvalidArgument if that line is
// empty; errors of ReadFileSecret otherwise.
Result<safe::SecretBytes> ReadPasswordFile(const std::string& path);

// Asks on /dev/tty with echo off. With confirm, asks twice and refuses a mismatch.
// Unavailable if there is no terminal, naming file_option (e.g. "--auth-password-file") as the
// way to give this password instead.
Result<safe::SecretBytes> AskPassword(const std::string& prompt, bool confirm,
                                      const std::string& file_option);

// ReadPasswordFile(path) if path is set, else AskPassword(prompt, confirm, "--password-file").
Result<safe::SecretBytes> GetPassword(const std::string& path, const std::string& prompt,
                                      bool confirm);

}  // namespace safe::client
