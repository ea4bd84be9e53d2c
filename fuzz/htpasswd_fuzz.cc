// Fuzzes the htpasswd parser and the Authorization header check of
// safe::server::BasicAuthenticator (safe-server/service/auth.h).
//
// Input: the htpasswd file's contents, then optionally a 0x00 byte and an Authorization header
// value. ParseHtpasswd runs on the contents every time.
//
// Check() runs Argon2 once its header parser accepts a credential, and a parsed (fuzzed) file may
// ask for Argon2 runs of a GiB and 64 passes each. So the header is checked only when the fuzzed
// file was refused, and against a fixed authenticator whose one user ("fuzz", password "pw") has a
// tiny hash (m=8 KiB, t=1): then Argon2 runs at full cost only for unknown users (the server's
// dummy hash), and the header parser refuses most inputs before any Argon2 run at all. Even so,
// only one input in four is checked (see below).
//
// Invariants: no crash; a parsed file has at least one user and a well-formed challenge; refusal
// messages are one line without control characters; Check() is deterministic for the fixed user
// (the right password is accepted, before and after caching).

#include <argon2.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "safe-server/service/auth.h"

namespace {

using safe::server::BasicAuthenticator;

// "fuzz:" + Argon2id("pw", salt "fuzz-salt-16byte", t=1, m=8 KiB, p=1), made once by libargon2.
BasicAuthenticator& FixedAuthenticator() {
  static BasicAuthenticator* authenticator = [] {
    const char password[] = "pw";
    const char salt[] = "fuzz-salt-16byte";
    char encoded[256];
    int rc = argon2id_hash_encoded(/*t_cost=*/1, /*m_cost=*/8, /*parallelism=*/1, password,
                                   std::strlen(password), salt, std::strlen(salt), /*hashlen=*/32,
                                   encoded, sizeof(encoded));
    FUZZ_CHECK(rc == ARGON2_OK, "argon2id_hash_encoded");
    auto parsed =
        BasicAuthenticator::ParseHtpasswd(std::string("fuzz:") + encoded + "\n", "fixed", {});
    FUZZ_CHECK(parsed.ok(), "the fixed htpasswd parses");
    FUZZ_CHECK(parsed.value()->Check("Basic ZnV6ejpwdw=="), "the fixed user's password");
    return parsed.value().release();
  }();
  return *authenticator;
}

bool HasControlCharacter(std::string_view text) {
  for (char c : text) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t zero = input.find('\0');
  const std::string_view contents = input.substr(0, zero);
  const bool has_header = zero != std::string_view::npos;
  const std::string_view header = has_header ? input.substr(zero + 1) : std::string_view();

  BasicAuthenticator& fixed = FixedAuthenticator();
  auto parsed = BasicAuthenticator::ParseHtpasswd(contents, "htpasswd", {});
  if (parsed.ok()) {
    FUZZ_CHECK(parsed.value()->user_count() >= 1, "a parsed file has a user");
    FUZZ_CHECK(
        parsed.value()->ChallengeHeaderValue() == "Basic realm=\"Safe Server\", charset=\"UTF-8\"",
        "the challenge names the realm");
    return 0;
  }
  const std::string& message = parsed.status().message();
  FUZZ_CHECK(parsed.status().IsInvalidArgument(), "a bad file is InvalidArgument");
  FUZZ_CHECK(message.rfind("htpasswd", 0) == 0, "the message names the source");
  FUZZ_CHECK(!HasControlCharacter(message), "the message is one printable line");

  // Argon2 runs for most well-formed credentials (a 19 MiB pass for unknown users): check one
  // input in four, chosen by a checksum so that a run is repeatable.
  unsigned checksum = 0;
  for (size_t i = 0; i < size; ++i) checksum += data[i];
  if (has_header && checksum % 4 == 0) {
    uint64_t runs_before = fixed.argon2_verifications();
    bool accepted = fixed.Check(header);
    uint64_t runs = fixed.argon2_verifications() - runs_before;
    FUZZ_CHECK(runs <= 2, "at most two Argon2 runs (raw bytes, then ISO-8859-1)");
    if (accepted) {
      // Only "fuzz:pw" (in some spelling of the header) is accepted; a second check agrees.
      FUZZ_CHECK(fixed.Check(header), "an accepted header is accepted again");
    }
  }
  FUZZ_CHECK(fixed.Check("Basic ZnV6ejpwdw=="), "the fixed user still gets in");
  return 0;
}
