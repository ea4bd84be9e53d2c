#include "crypto/kdf.h"

#include <argon2.h>
#include <gtest/gtest.h>
#include <sodium.h>

#include <string>
#include "tests/support/bytes.h"

namespace safe::crypto {
namespace {

using safe::testing::Hex;

ThreemaId Id(const char* text) { return *ThreemaId::Parse(text); }

// Threema Safe's own known answer (the iOS app's test suite): ID ECHOECHO, password shootdeathstar.
TEST(KdfTest, ScryptMatchesThreemaSafeKnownAnswer) {
  Result<DerivedKeys> keys =
      DeriveKeys(Kdf::kScrypt, Id("ECHOECHO"), SecretBytes::FromString("shootdeathstar"));
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  EXPECT_EQ(keys->backup_id.ToHex(),
            "066384d3695fbbd9f31a7d533900fd0cd8d1373beb6a28678522d2a49980c9c3");
  EXPECT_EQ(Hex(keys->key.data(), keys->key.size()),
            "51c3d8d752fb6e1fd3199ead7f0895d6e3893ff691f2a5ee1976ed0897fc2f66");
}

// RFC 9106 section 5.3 (Argon2id, version 0x13, with secret and associated data), run through the
// same library call family DeriveKeys uses, to pin the library and its parameters' meaning.
TEST(KdfTest, Argon2LibraryMatchesRfc9106Vector) {
  uint8_t out[32];
  uint8_t pwd[32], salt[16], secret[8], ad[12];
  memset(pwd, 0x01, sizeof(pwd));
  memset(salt, 0x02, sizeof(salt));
  memset(secret, 0x03, sizeof(secret));
  memset(ad, 0x04, sizeof(ad));
  argon2_context ctx{};
  ctx.out = out;
  ctx.outlen = sizeof(out);
  ctx.pwd = pwd;
  ctx.pwdlen = sizeof(pwd);
  ctx.salt = salt;
  ctx.saltlen = sizeof(salt);
  ctx.secret = secret;
  ctx.secretlen = sizeof(secret);
  ctx.ad = ad;
  ctx.adlen = sizeof(ad);
  ctx.t_cost = 3;
  ctx.m_cost = 32;
  ctx.lanes = 4;
  ctx.threads = 4;
  ctx.version = ARGON2_VERSION_13;
  ctx.flags = ARGON2_DEFAULT_FLAGS;
  ASSERT_EQ(argon2_ctx(&ctx, Argon2_id), ARGON2_OK);
  EXPECT_EQ(Hex(out, sizeof(out)),
            "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659");
}

// Our scheme: Argon2id v1.3, t=3, m=65536 KiB, p=4, 64 bytes, salt "safe/argon2id/v1/ECHOECHO",
// password "shootdeathstar". The expected bytes were computed with two implementations other than
// this code:
//   - @noble/hashes 2.4.0 (an independent pure-JavaScript Argon2, checked first against the RFC
//   9106
//     vector above):  argon2id(utf8("shootdeathstar"), utf8("safe/argon2id/v1/ECHOECHO"),
//                              {t: 3, m: 65536, p: 4, dkLen: 64})
//   - the Debian `argon2` command:  echo -n shootdeathstar |
//                 argon2 'safe/argon2id/v1/ECHOECHO' -id -t 3 -k 65536 -p 4 -l 64 -r
// Both print 2e52950c...6f7881 as below.
TEST(KdfTest, Argon2idSchemeMatchesIndependentlyComputedVector) {
  Result<DerivedKeys> keys =
      DeriveKeys(Kdf::kArgon2id, Id("ECHOECHO"), SecretBytes::FromString("shootdeathstar"));
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  EXPECT_EQ(keys->backup_id.ToHex(),
            "2e52950c24d61f821bcbfc1180df01c699453d74471f9ad057f235d2e7565009");
  EXPECT_EQ(Hex(keys->key.data(), keys->key.size()),
            "e5555e43422b3a01cdea3a958fae5c2c122e734a8184b48dc0b98fc65c6f7881");
}

TEST(KdfTest, LowerCaseIdDerivesTheSameAsUpperCase) {
  Result<DerivedKeys> a =
      DeriveKeys(Kdf::kScrypt, Id("echoecho"), SecretBytes::FromString("shootdeathstar"));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->backup_id.ToHex(),
            "066384d3695fbbd9f31a7d533900fd0cd8d1373beb6a28678522d2a49980c9c3");
}

TEST(KdfTest, SchemesDeriveDifferentIds) {
  auto pw = SecretBytes::FromString("shootdeathstar");
  Result<DerivedKeys> s = DeriveKeys(Kdf::kScrypt, Id("ECHOECHO"), pw);
  Result<DerivedKeys> a = DeriveKeys(Kdf::kArgon2id, Id("ECHOECHO"), pw);
  ASSERT_TRUE(s.ok() && a.ok());
  EXPECT_NE(s->backup_id, a->backup_id);
}

TEST(KdfTest, RefusesPasswordsOutOfBounds) {
  EXPECT_TRUE(DeriveKeys(Kdf::kScrypt, Id("ECHOECHO"), SecretBytes::FromString("1234567"))
                  .status()
                  .IsInvalidArgument());
  EXPECT_TRUE(ValidatePassword(SecretBytes::FromString("12345678")).ok());
  EXPECT_TRUE(ValidatePassword(SecretBytes::FromString(std::string(4096, 'x'))).ok());
  EXPECT_TRUE(
      ValidatePassword(SecretBytes::FromString(std::string(4097, 'x'))).IsInvalidArgument());
}

TEST(KdfTest, CountsPasswordLengthInCharactersNotBytes) {
  // Seven two-byte characters (14 bytes) are still too short; eight are enough.
  EXPECT_TRUE(ValidatePassword(SecretBytes::FromString("äöüäöüä")).IsInvalidArgument());
  EXPECT_TRUE(ValidatePassword(SecretBytes::FromString("äöüäöüäö")).ok());
}

TEST(KdfTest, PasswordErrorDoesNotRepeatThePassword) {
  Status s = ValidatePassword(SecretBytes::FromString("hunter2"));
  EXPECT_EQ(s.message().find("hunter2"), std::string::npos);
}

TEST(ThreemaIdTest, UpperCasesAndAcceptsStar) {
  EXPECT_EQ(Id("echo*ech").str(), "ECHO*ECH");
  EXPECT_EQ(Id("0123ABCD").str(), "0123ABCD");
}

TEST(ThreemaIdTest, RefusesWrongLengthAndCharacters) {
  EXPECT_FALSE(ThreemaId::Parse("ECHOECH").ok());
  EXPECT_FALSE(ThreemaId::Parse("ECHOECHOE").ok());
  EXPECT_FALSE(ThreemaId::Parse("ECHO-ECH").ok());
  EXPECT_FALSE(ThreemaId::Parse("ECHOECH\xc3").ok());
  EXPECT_FALSE(ThreemaId::Parse("").ok());
}

TEST(KdfTest, ParsesKdfNames) {
  EXPECT_EQ(*ParseKdf("scrypt"), Kdf::kScrypt);
  EXPECT_EQ(*ParseKdf("argon2id"), Kdf::kArgon2id);
  EXPECT_FALSE(ParseKdf("argon2").ok());
  EXPECT_STREQ(KdfName(kDefaultKdf), "argon2id");
}

}  // namespace
}  // namespace safe::crypto
