// TokenAuthenticator: `Authorization: Token <token>`, as Threema OnPrem builds send it.
//
// The tokens file holds one line per token: `sha256:<64 lowercase hex>` (the SHA-256 of the
// token's UTF-8 bytes), optionally followed by whitespace and a comment; `#` comments and blank
// lines are allowed. The server never holds a token itself, only its hash: a token is 32 random
// bytes (MakeToken), so a fast hash is enough and nothing can be guessed offline from the file.
// `safe-admin make-token` prints a new token and its line.
//
// Thread-safety: immutable after Load; Check may be called concurrently.

#pragma once

#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "common/status.h"

namespace safe::server {

class TokenAuthenticator {
 public:
  // Errors: IOError when the file cannot be read; InvalidArgument naming the line number (never
  // its content) of a malformed line, a duplicate, or a file without any token.
  static Result<std::unique_ptr<TokenAuthenticator>> Load(const std::string& path);
  static Result<std::unique_ptr<TokenAuthenticator>> Parse(std::string_view contents,
                                                           const std::string& source);

  // True when the header value is `Token <token>` (scheme case-insensitive) for a listed token.
  bool Check(std::string_view authorization_header_value) const;

  size_t size() const { return hashes_.size(); }

 private:
  explicit TokenAuthenticator(std::set<std::string> hashes) : hashes_(std::move(hashes)) {}
  const std::set<std::string> hashes_;  // raw 32-byte SHA-256 digests
};

// A new token (43 characters of unpadded base64url from 32 random bytes) and its tokens-file
// line (`sha256:<hex>`).
struct NewToken {
  std::string token;
  std::string line;
};
NewToken MakeToken();

}  // namespace safe::server
