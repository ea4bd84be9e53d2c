#include "crypto/gzip.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/crypto/test_data.h"

namespace safe::crypto {
namespace {

using testdata::CompressWithZlib;

SecretBytes Bytes(const std::string& s) { return SecretBytes::FromString(s); }

// Walks the deflate stream of a gzip member without a FNAME/FEXTRA header and checks that every
// block is stored (BTYPE 00). Returns the number of blocks, or -1 if any is not stored or the
// layout does not add up.
int CountStoredBlocks(const SecretBytes& gz) {
  if (gz.size() < 18 || gz[0] != 0x1f || gz[1] != 0x8b || gz[2] != 8 || gz[3] != 0) return -1;
  size_t pos = 10;
  int blocks = 0;
  for (;;) {
    if (pos + 5 > gz.size()) return -1;
    const uint8_t header = gz[pos];
    if (((header >> 1) & 3) != 0) return -1;  // BTYPE must be 00: stored
    const size_t len = gz[pos + 1] | (gz[pos + 2] << 8);
    const size_t nlen = gz[pos + 3] | (gz[pos + 4] << 8);
    if ((len ^ 0xffff) != nlen) return -1;
    pos += 5 + len;
    ++blocks;
    if (header & 1) break;  // BFINAL
  }
  return pos + 8 == gz.size() ? blocks : -1;  // CRC32 and ISIZE follow
}

TEST(GzipTest, StoredOutputHasOnlyStoredBlocksAndInflatesToInput) {
  for (size_t n :
       {size_t{0}, size_t{1}, size_t{1000}, size_t{65535}, size_t{65536}, size_t{200000}}) {
    std::string input(n, '\0');
    for (size_t i = 0; i < n; ++i) input[i] = static_cast<char>(i * 7 + 3);
    Result<SecretBytes> gz = GzipStored(reinterpret_cast<const uint8_t*>(input.data()), n);
    ASSERT_TRUE(gz.ok());
    EXPECT_GE(CountStoredBlocks(*gz), 1) << "size " << n;
    Result<SecretBytes> back = Gunzip(gz->data(), gz->size());
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(back->view(), input);
  }
}

TEST(GzipTest, StoredOutputLengthDependsOnlyOnInputLength) {
  // No compression: two inputs of one length, one repetitive and one not, give one gzip length.
  std::string repetitive(5000, 'a');
  std::string varied(5000, '\0');
  for (size_t i = 0; i < varied.size(); ++i) varied[i] = static_cast<char>(i * 131 + i / 7);
  auto a = GzipStored(reinterpret_cast<const uint8_t*>(repetitive.data()), repetitive.size());
  auto b = GzipStored(reinterpret_cast<const uint8_t*>(varied.data()), varied.size());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->size(), b->size());
}

TEST(GzipTest, ReadsCompressedGzipFromPython) {
  Result<SecretBytes> out = Gunzip(testdata::kPythonGzip.data(), testdata::kPythonGzip.size());
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->view(), testdata::kPythonGzipContent);
}

TEST(GzipTest, RefusesTruncatedInput) {
  const auto& gz = testdata::kPythonGzip;
  for (size_t n : {size_t{0}, size_t{5}, size_t{10}, gz.size() / 2, gz.size() - 1}) {
    Result<SecretBytes> out = Gunzip(gz.data(), n);
    EXPECT_TRUE(out.status().IsCorruption()) << "length " << n;
  }
}

TEST(GzipTest, RefusesBadCrcTrailingBytesAndNonGzip) {
  std::vector<uint8_t> gz = testdata::kPythonGzip;
  gz[gz.size() - 6] ^= 1;  // CRC32
  EXPECT_TRUE(Gunzip(gz.data(), gz.size()).status().IsCorruption());

  gz = testdata::kPythonGzip;
  gz.push_back(0);
  EXPECT_TRUE(Gunzip(gz.data(), gz.size()).status().IsCorruption());

  const std::string json = "{\"info\":{}}";
  EXPECT_TRUE(
      Gunzip(reinterpret_cast<const uint8_t*>(json.data()), json.size()).status().IsCorruption());
}

TEST(GzipTest, CapsInflatedSize) {
  // 20 MiB of zeros compresses to about 20 KiB: a small zip bomb.
  std::vector<uint8_t> bomb = CompressWithZlib(std::string(20 << 20, '\0'), 9);
  ASSERT_LT(bomb.size(), 100000u);
  EXPECT_TRUE(Gunzip(bomb.data(), bomb.size()).status().IsTooLarge());

  std::vector<uint8_t> small = CompressWithZlib(std::string(1000, 'x'), 9);
  EXPECT_TRUE(Gunzip(small.data(), small.size(), 999).status().IsTooLarge());
  EXPECT_TRUE(Gunzip(small.data(), small.size(), 1000).ok());
}

TEST(GzipTest, RoundTripsEmptyAndBinary) {
  SecretBytes data = Bytes(std::string("\0\x01\xff\x80", 4));
  auto gz = GzipStored(data.data(), data.size());
  ASSERT_TRUE(gz.ok());
  auto back = Gunzip(gz->data(), gz->size());
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->Equals(data));
}

}  // namespace
}  // namespace safe::crypto
