#include "crypto/blob.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <string>
#include <vector>

#include "tests/crypto/test_data.h"

namespace safe::crypto {
namespace {

SecretKey RandomKey() {
  SecretKey key;
  randombytes_buf(key.data(), key.size());
  return key;
}

TEST(BlobTest, RoundTripsJson) {
  SecretKey key = RandomKey();
  SecretBytes json = SecretBytes::FromString(testdata::kAppJson);
  Result<std::vector<uint8_t>> blob = SealBackup(json, key);
  ASSERT_TRUE(blob.ok());
  Result<SecretBytes> back = OpenBackup(blob->data(), blob->size(), key);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(back->Equals(json));
}

TEST(BlobTest, HasTheAppsLayout) {
  // nonce (24) || tag (16) || secretbox(gzip with stored blocks): 18 bytes of gzip header and
  // trailer plus 5 per stored block, no padding.
  SecretKey key = RandomKey();
  SecretBytes json = SecretBytes::FromString(testdata::kAppJson);
  Result<std::vector<uint8_t>> blob = SealBackup(json, key);
  ASSERT_TRUE(blob.ok());
  EXPECT_EQ(blob->size(), 24u + 16u + 18u + 5u + json.size());

  // Decrypt by hand with libsodium: the nonce is the first 24 bytes.
  std::vector<uint8_t> gz(blob->size() - 40);
  ASSERT_EQ(crypto_secretbox_open_easy(gz.data(), blob->data() + 24, blob->size() - 24,
                                       blob->data(), key.data()),
            0);
  EXPECT_EQ(gz[0], 0x1f);
  EXPECT_EQ(gz[1], 0x8b);
}

TEST(BlobTest, UsesAFreshNonceEachTime) {
  SecretKey key = RandomKey();
  SecretBytes json = SecretBytes::FromString(testdata::kAppJson);
  auto a = SealBackup(json, key);
  auto b = SealBackup(json, key);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(std::vector<uint8_t>(a->begin(), a->begin() + 24),
            std::vector<uint8_t>(b->begin(), b->begin() + 24));
}

TEST(BlobTest, FlippingAnyOneByteMakesOpeningFail) {
  SecretKey key = RandomKey();
  SecretBytes json = SecretBytes::FromString(testdata::kAppJson);
  Result<std::vector<uint8_t>> blob = SealBackup(json, key);
  ASSERT_TRUE(blob.ok());
  for (size_t i = 0; i < blob->size(); ++i) {
    for (uint8_t flip : {uint8_t{0x01}, uint8_t{0x80}, uint8_t{0xff}}) {
      std::vector<uint8_t> bad = *blob;
      bad[i] ^= flip;
      Result<SecretBytes> out = OpenBackup(bad.data(), bad.size(), key);
      ASSERT_TRUE(out.status().IsCorruption()) << "byte " << i << " flip " << int{flip};
    }
  }
}

TEST(BlobTest, WrongKeyFailsWithTheCorruptionMessage) {
  SecretKey key = RandomKey();
  SecretKey other = RandomKey();
  auto blob = SealBackup(SecretBytes::FromString(testdata::kAppJson), key);
  ASSERT_TRUE(blob.ok());
  Result<SecretBytes> out = OpenBackup(blob->data(), blob->size(), other);
  ASSERT_TRUE(out.status().IsCorruption());
  EXPECT_NE(out.status().message().find("corrupted or was made with another password"),
            std::string::npos);
}

TEST(BlobTest, RefusesBlobsShorterThanNonceAndTag) {
  SecretKey key = RandomKey();
  std::vector<uint8_t> tiny(39, 0);
  EXPECT_TRUE(OpenBackup(tiny.data(), tiny.size(), key).status().IsCorruption());
  EXPECT_TRUE(OpenBackup(nullptr, 0, key).status().IsCorruption());
}

TEST(BlobTest, OpensACompressedGzipAsOldAppsWroteIt) {
  SecretKey key = RandomKey();
  SecretBytes gz(testdata::kPythonGzip.data(), testdata::kPythonGzip.size());
  std::vector<uint8_t> blob = SealGzip(gz, key);
  Result<SecretBytes> out = OpenBackup(blob.data(), blob.size(), key);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->view(), testdata::kPythonGzipContent);
}

TEST(BlobTest, AuthenticDataThatIsNotGzipIsCorruption) {
  SecretKey key = RandomKey();
  std::vector<uint8_t> blob = SealGzip(SecretBytes::FromString(testdata::kAppJson), key);
  EXPECT_TRUE(OpenBackup(blob.data(), blob.size(), key).status().IsCorruption());
}

TEST(BlobTest, SizeLimitOnInflatedContent) {
  SecretKey key = RandomKey();
  SecretBytes json = SecretBytes::FromString(testdata::kAppJson);
  auto blob = SealBackup(json, key);
  ASSERT_TRUE(blob.ok());
  EXPECT_TRUE(OpenBackup(blob->data(), blob->size(), key, json.size() - 1).status().IsTooLarge());
  EXPECT_TRUE(OpenBackup(blob->data(), blob->size(), key, json.size()).ok());
}

}  // namespace
}  // namespace safe::crypto
