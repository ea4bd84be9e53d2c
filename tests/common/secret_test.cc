#include "common/secret.h"

#include <gtest/gtest.h>

namespace safe {
namespace {

TEST(SecretBytesTest, AppendsResizesAndCompares) {
  SecretBytes a = SecretBytes::FromString("abc");
  a.Append("def", 3);
  EXPECT_EQ(a.view(), "abcdef");
  for (int i = 0; i < 100; ++i) a.Append("x", 1);  // forces several reallocations
  EXPECT_EQ(a.size(), 106u);
  a.Resize(3);
  EXPECT_EQ(a.view(), "abc");
  a.Resize(5);
  EXPECT_EQ(a[3], 0);
  EXPECT_TRUE(a.Clone().Equals(a));
  EXPECT_FALSE(a.Equals(SecretBytes::FromString("abc")));
}

TEST(SecretBytesTest, MoveLeavesSourceEmpty) {
  SecretBytes a = SecretBytes::FromString("secret");
  SecretBytes b = std::move(a);
  EXPECT_TRUE(a.empty());  // NOLINT: testing the moved-from state on purpose
  EXPECT_EQ(b.view(), "secret");
  b.Clear();
  EXPECT_TRUE(b.empty());
}

TEST(SecretArrayTest, ClearWipesAndMoveWipesSource) {
  SecretKey k;
  k[0] = 7;
  k[31] = 9;
  SecretKey m = std::move(k);
  EXPECT_EQ(m[0], 7);
  EXPECT_EQ(k[0], 0);  // NOLINT: the moved-from key is wiped
  EXPECT_EQ(k[31], 0);
  SecretKey c = m.Clone();
  EXPECT_TRUE(c.Equals(m));
  m.Clear();
  EXPECT_EQ(m[31], 0);
  EXPECT_FALSE(c.Equals(m));
}

TEST(SecretArrayTest, RandomKeysDifferAndAreNotZero) {
  const SecretKey zero;
  const SecretKey a = SecretKey::Random();
  const SecretKey b = SecretKey::Random();
  EXPECT_FALSE(a.Equals(b));  // 2^-256 to fail by chance
  EXPECT_FALSE(a.Equals(zero));
  EXPECT_FALSE(b.Equals(zero));
}

}  // namespace
}  // namespace safe
