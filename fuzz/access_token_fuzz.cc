// Fuzzes the readers of crypto/access_token.h (issue 18), which take untrusted bytes: the body of
// POST /access/redeem (from anyone on the network), the issue request line (from a customer, read
// by the issuer's safe-admin issue), the issuer key list and its dates.
//
// The first input byte picks what the rest feeds:
//   0  ParseRedeemRequest   an accepted body formats and parses back to the same fields, with a
//                           64-byte token and a 32-byte key id
//   1  ParseIssueRequest    an accepted line formats and parses back to the same request
//   2  ParseIssuerKeyList   every entry has a line number in range and a non-empty path
//   3  ParseIsoDay          an accepted date formats back to the same text
//   4  Base64UrlDecode      decoded bytes encode to text that decodes to the same bytes

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "crypto/access_token.h"
#include "fuzz/fuzz_check.h"

using namespace safe::crypto;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 5) {
    case 0: {
      auto request = ParseRedeemRequest(text);
      if (!request.ok()) {
        FUZZ_CHECK(request.status().IsInvalidArgument(), "a bad body is InvalidArgument");
        break;
      }
      FUZZ_CHECK(request->token.size() == kAccessTokenBytes, "token length");
      auto again = ParseRedeemRequest(FormatRedeemRequest(*request));
      FUZZ_CHECK(again.ok(), "a formatted request parses");
      FUZZ_CHECK(again->key_id == request->key_id, "key id round trip");
      FUZZ_CHECK(again->token.Equals(request->token), "token round trip");
      FUZZ_CHECK(again->signature == request->signature, "signature round trip");
      break;
    }
    case 1: {
      auto request = ParseIssueRequest(text);
      if (!request.ok()) break;
      auto again = ParseIssueRequest(FormatIssueRequest(*request));
      FUZZ_CHECK(again.ok(), "a formatted issue request parses");
      FUZZ_CHECK(again->key_id == request->key_id && again->blinded_msg == request->blinded_msg,
                 "issue request round trip");
      break;
    }
    case 2: {
      auto entries = ParseIssuerKeyList(text, "fuzz");
      if (!entries.ok()) break;
      for (const IssuerKeyListEntry& entry : *entries) {
        FUZZ_CHECK(entry.line >= 1 && static_cast<size_t>(entry.line) <= text.size() + 1,
                   "line number in range");
        FUZZ_CHECK(!entry.pem_path.empty(), "non-empty path");
      }
      break;
    }
    case 3: {
      auto day = ParseIsoDay(text);
      if (day.ok()) FUZZ_CHECK(FormatIsoDay(*day) == text, "date round trip");
      break;
    }
    case 4: {
      auto bytes = Base64UrlDecode(text, "fuzz");
      if (!bytes.ok()) break;
      auto again = Base64UrlDecode(Base64UrlEncode(*bytes), "fuzz");
      FUZZ_CHECK(again.ok() && *again == *bytes, "base64url round trip");
      break;
    }
  }
  return 0;
}
