// Anonymous access tokens (issue 18): the formats the customer's client (safe-client access),
// the provider's issuer (safe-admin issue, access-key) and the server (POST /access/redeem)
// share. The cryptography is crypto/blind_rsa.h; this file is what travels and what is stored.
//
//   token            the prepared message of RFC 9474: 32 random bytes (the RFC's prefix) then
//                    kAccessTokenMessageBytes random bytes (the message): 64 bytes. A bearer
//                    secret until redeemed.
//   key id           BlindRsaPublicKey::KeyId(): SHA-256 of the key's RSA-PSS SPKI, 32 bytes.
//   issue request    one line `<key id>.<blinded message>`: what the client hands to the issuer
//                    with its payment; the issuer answers the blind signature.
//   redeem request   the JSON body of POST /access/redeem:
//                      {"key": <key id>, "token": <token>, "signature": <signature>}
//                    (docs/protocol.md).
//   issuer key list  the server's access-issuer-key file: one `<YYYY-MM-DD> <PEM path>` line per
//                    key, the last day the key's tokens are redeemed, then the public key's PEM
//                    file (a relative path is relative to the list's directory); `#` comments
//                    and blank lines allowed.
// Every binary field is unpadded base64url (RFC 4648 section 5).
//
// Errors: InvalidArgument naming the field (or the line number) that is wrong, never its value.
// Thread-safety: free functions on values; safe to call concurrently.

#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/secret.h"
#include "common/status.h"

namespace safe::crypto {

inline constexpr size_t kAccessTokenMessageBytes = 32;
inline constexpr size_t kAccessTokenBytes = 32 + kAccessTokenMessageBytes;
inline constexpr size_t kAccessKeyIdBytes = 32;
// The largest redeem body the server reads: a 4096-bit signature and the rest fit easily.
inline constexpr size_t kAccessRedeemMaxBodyBytes = 4096;

using AccessKeyId = std::array<uint8_t, kAccessKeyIdBytes>;

// Unpadded base64url.
std::string Base64UrlEncode(const uint8_t* data, size_t size);
inline std::string Base64UrlEncode(const std::vector<uint8_t>& bytes) {
  return Base64UrlEncode(bytes.data(), bytes.size());
}
// Decodes unpadded base64url (no padding, no whitespace). InvalidArgument naming `field`.
Result<std::vector<uint8_t>> Base64UrlDecode(std::string_view text, const char* field);

// A fresh random token (kAccessTokenBytes).
SecretBytes MakeAccessToken();

struct IssueRequest {
  AccessKeyId key_id{};
  std::vector<uint8_t> blinded_msg;
};
std::string FormatIssueRequest(const IssueRequest& request);
// Surrounding whitespace (a trailing newline) is ignored.
Result<IssueRequest> ParseIssueRequest(std::string_view line);

struct RedeemRequest {
  AccessKeyId key_id{};
  SecretBytes token;  // kAccessTokenBytes
  std::vector<uint8_t> signature;
};
std::string FormatRedeemRequest(const RedeemRequest& request);
// InvalidArgument: not a JSON object, a field missing or not a string, bad base64url, a key id
// or token of the wrong length, an empty signature, or other fields.
Result<RedeemRequest> ParseRedeemRequest(std::string_view body);

// "YYYY-MM-DD" (UTC) to a Day and back.
Result<Day> ParseIsoDay(std::string_view text);
std::string FormatIsoDay(Day day);

struct IssuerKeyListEntry {
  Day expiry_day = 0;
  std::string pem_path;  // as written (relative paths not resolved)
  int line = 0;          // 1-based, for messages
};
// Parses an issuer key list. InvalidArgument naming `source` and the line: not two fields, a
// bad date, an empty path. An empty list is allowed here (the server refuses it at load).
Result<std::vector<IssuerKeyListEntry>> ParseIssuerKeyList(std::string_view contents,
                                                           const std::string& source);
// `path` resolved against the directory of `list_path` when relative.
std::string ResolveBeside(const std::string& list_path, const std::string& path);

}  // namespace safe::crypto
