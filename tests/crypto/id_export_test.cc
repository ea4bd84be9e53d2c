#include "crypto/id_export.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <string>

#include "crypto/base32.h"
#include "tests/crypto/test_data.h"
#include "tests/support/bytes.h"

namespace safe::crypto {
namespace {

using safe::testing::Hex;

SecretKey AliceKey() {
  SecretKey key;
  size_t len = 0;
  EXPECT_EQ(sodium_hex2bin(key.data(), key.size(), testdata::kAlicePrivateKeyHex, 64, nullptr, &len,
                           nullptr),
            0);
  return key;
}

ThreemaId Id(const char* text) { return *ThreemaId::Parse(text); }

// Made by hand from the spec with implementations other than this code's (OpenSSL, libsodium):
//   key    = @noble/hashes 2.4.0 pbkdf2(sha256, "correct horse battery", salt 0102030405060708,
//            {c: 100000, dkLen: 32})  = 7a6b2b85...f1f1ddc1
//   plain  = "ECHOECHO" || RFC 7748 Alice private key || @noble/hashes sha256(first 40 bytes)[0..2]
//   bytes  = salt || @noble/ciphers 2.4.0 xsalsa20(key, 24 zero bytes, plain)
//   text   = python3 base64.b32encode(bytes), cut into groups of 4 joined by '-'.
constexpr char kExpectedExport[] =
    "AEBA-GBAF-AYDQ-R2TR-H5KM-LR36-GVRB-IOCF-CVWV-3O3I-YFHP-4BYZ-KOS6-3OGS-EH3D-M6DE-EDXH-LHHS-"
    "K6CX-OSSX";
constexpr char kExportPassword[] = "correct horse battery";

TEST(IdExportTest, MatchesAnExportMadeByHandFromTheSpec) {
  Result<std::string> text =
      ExportIdentityWithSalt(Id("ECHOECHO"), AliceKey(), SecretBytes::FromString(kExportPassword),
                             {1, 2, 3, 4, 5, 6, 7, 8});
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  EXPECT_EQ(*text, kExpectedExport);
}

TEST(IdExportTest, ImportsTheHandMadeExportAndDerivesThePublicKey) {
  Result<ImportedIdentity> imported =
      ImportIdentity(kExpectedExport, SecretBytes::FromString(kExportPassword));
  ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  EXPECT_EQ(imported->id.str(), "ECHOECHO");
  EXPECT_EQ(Hex(imported->private_key.data(), 32), testdata::kAlicePrivateKeyHex);
  // RFC 7748 section 6.1: Alice's public key.
  EXPECT_EQ(Hex(imported->public_key.data(), 32), testdata::kAlicePublicKeyHex);
}

TEST(IdExportTest, ImportIgnoresDashesSpacesAndCase) {
  std::string text;
  for (char c : std::string(kExpectedExport)) {
    if (c == '-') {
      text += " ";
    } else {
      text += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
  }
  EXPECT_TRUE(ImportIdentity(text, SecretBytes::FromString(kExportPassword)).ok());
}

TEST(IdExportTest, WrongPasswordFailsTheChecksum) {
  Result<ImportedIdentity> imported =
      ImportIdentity(kExpectedExport, SecretBytes::FromString("correct horse battery!"));
  EXPECT_TRUE(imported.status().IsPermissionDenied());
  EXPECT_NE(imported.status().message().find("wrong password"), std::string::npos);
}

TEST(IdExportTest, RefusesTextThatIsNotAnExport) {
  auto pw = SecretBytes::FromString(kExportPassword);
  EXPECT_TRUE(ImportIdentity("AEBA-GBAF", pw).status().IsInvalidArgument());
  EXPECT_TRUE(ImportIdentity(std::string(80, '1'), pw).status().IsInvalidArgument());
}

TEST(IdExportTest, RandomSaltRoundTrips) {
  auto pw = SecretBytes::FromString("another password");
  Result<std::string> a = ExportIdentity(Id("ABCD*123"), AliceKey(), pw);
  Result<std::string> b = ExportIdentity(Id("ABCD*123"), AliceKey(), pw);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->size(), 99u);  // 80 characters and 19 dashes
  EXPECT_NE(*a, *b);          // fresh salt
  Result<ImportedIdentity> back = ImportIdentity(*a, pw);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->id.str(), "ABCD*123");
  EXPECT_TRUE(back->private_key.Equals(AliceKey()));
}

TEST(IdExportTest, RefusesShortExportPassword) {
  EXPECT_TRUE(ExportIdentity(Id("ECHOECHO"), AliceKey(), SecretBytes::FromString("short"))
                  .status()
                  .IsInvalidArgument());
}

// RFC 4648 section 10.
TEST(Base32Test, MatchesRfc4648Vectors) {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},
      {"f", "MY======"},
      {"fo", "MZXQ===="},
      {"foo", "MZXW6==="},
      {"foob", "MZXW6YQ="},
      {"fooba", "MZXW6YTB"},
      {"foobar", "MZXW6YTBOI======"},
  };
  for (const auto& [plain, encoded] : vectors) {
    const std::string p(plain);
    EXPECT_EQ(Base32Encode(reinterpret_cast<const uint8_t*>(p.data()), p.size()), encoded);
    Result<std::vector<uint8_t>> decoded = Base32Decode(encoded);
    ASSERT_TRUE(decoded.ok()) << encoded;
    EXPECT_EQ(std::string(decoded->begin(), decoded->end()), p);
  }
}

TEST(Base32Test, DecodeRefusesBadInput) {
  EXPECT_FALSE(Base32Decode("MZXW6YQ1").ok());  // '1' is not in the alphabet
  EXPECT_FALSE(Base32Decode("M").ok());         // impossible length
  EXPECT_FALSE(Base32Decode("MZ").ok());        // stray bits: 'Z' leaves non-zero unused bits
  EXPECT_TRUE(Base32Decode("mzxw6ytb").ok());   // lower case
}

}  // namespace
}  // namespace safe::crypto
