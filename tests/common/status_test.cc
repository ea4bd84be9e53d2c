#include "common/status.h"

#include <gtest/gtest.h>

#include <memory>

namespace safe {
namespace {

TEST(StatusTest, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "OK");
}

TEST(StatusTest, CarriesCodeAndMessage) {
  Status s = Status::NoSpace("disk full");
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(s.IsNoSpace());
  EXPECT_FALSE(s.IsNotFound());
  EXPECT_EQ(s.message(), "disk full");
  EXPECT_EQ(s.ToString(), "No space: disk full");
}

TEST(ResultTest, HoldsValueOrStatus) {
  Result<int> good = 42;
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 42);
  Result<int> bad = Status::NotFound("nothing");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.status().IsNotFound());
}

TEST(ResultTest, MovesOutOnlyOwnedValues) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(7);
  std::unique_ptr<int> p = std::move(r).value();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 7);
}

TEST(ResultDeathTest, BuildingFromOkStatusAborts) {
  EXPECT_DEATH(
      {
        Result<int> r = Status::OK();
        (void)r;
      },
      "");
}

}  // namespace
}  // namespace safe
