// Reading a new password for `safe-admin hash-password`, never from the command line (visible in
// `ps` and in shell history).
//
// On a terminal the password is typed twice with echo off; from a pipe or file (scripts,
// provisioning tools) the first line is read once. The password lives in a SecretBytes, which
// wipes itself; every intermediate byte is wiped too.
//
// Thread-safety: ReadNewPassword changes the terminal's mode; call it from one thread.

#pragma once

#include <iosfwd>

#include "common/secret.h"
#include "common/status.h"

namespace safe::admin {

// Longest password accepted, in bytes (the apps allow 4096 characters of up to 4 bytes each).
inline constexpr size_t kMaxPasswordBytes = 4 * 4096;

// Reads a password from in_fd. When in_fd is a terminal: writes prompts to prompt_out, turns echo
// off, reads two lines and compares them. Otherwise reads the first line without prompting. A
// final "\r" is dropped. Errors: InvalidArgument when the password is empty, longer than
// kMaxPasswordBytes, holds a NUL, or the two typed lines differ; Unavailable when the input ends
// before a line is complete on a terminal or holds nothing at all; IOError when reading fails.
Result<safe::SecretBytes> ReadNewPassword(int in_fd, std::ostream& prompt_out);

}  // namespace safe::admin
