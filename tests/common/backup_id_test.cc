#include "common/backup_id.h"

#include <gtest/gtest.h>

namespace safe {
namespace {

constexpr char kEchoId[] = "066384d3695fbbd9f31a7d533900fd0cd8d1373beb6a28678522d2a49980c9c3";

TEST(BackupIdTest, AcceptsSixtyFourLowercaseHex) {
  Result<BackupId> id = BackupId::Parse(kEchoId);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->ToHex(), kEchoId);
  EXPECT_EQ(id->bytes()[0], 0x06);
  EXPECT_EQ(id->bytes()[31], 0xc3);
  EXPECT_EQ(id->AsStringView().size(), 32u);
}

TEST(BackupIdTest, AcceptsAllZeroAndAllF) {
  EXPECT_TRUE(BackupId::Parse(std::string(64, '0')).ok());
  EXPECT_TRUE(BackupId::Parse(std::string(64, 'f')).ok());
}

struct Refused {
  const char* name;
  std::string text;
};

class BackupIdRefusalTest : public ::testing::TestWithParam<Refused> {};

TEST_P(BackupIdRefusalTest, RefusesWithInvalidArgument) {
  Result<BackupId> id = BackupId::Parse(GetParam().text);
  ASSERT_FALSE(id.ok());
  EXPECT_TRUE(id.status().IsInvalidArgument());
  // The message never repeats the input.
  if (!GetParam().text.empty()) {
    EXPECT_EQ(id.status().message().find(GetParam().text), std::string::npos);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, BackupIdRefusalTest,
    ::testing::Values(
        Refused{"Empty", ""}, Refused{"TooShort", std::string(kEchoId).substr(0, 63)},
        Refused{"TooLong", std::string(kEchoId) + "0"},
        Refused{"Uppercase", "066384D3695FBBD9F31A7D533900FD0CD8D1373BEB6A28678522D2A49980C9C3"},
        Refused{"OneUppercase", "066384d3695fbbd9f31a7d533900fd0cd8d1373beb6a28678522d2a49980c9cA"},
        Refused{"NonHex", std::string(63, '0') + "g"}, Refused{"Space", std::string(63, '0') + " "},
        Refused{"LeadingSpace", " " + std::string(63, '0')},
        Refused{"HexPrefix", "0x" + std::string(62, '0')},
        Refused{"Nul", std::string(63, '0') + std::string(1, '\0')},
        Refused{"PercentEncoded", "%30" + std::string(61, '0')},
        Refused{"DotDot", ".." + std::string(62, '0')},
        Refused{"HighBytes", std::string(64, '\xff')},
        Refused{"Base64Like", "BmOE02lfu9nzGn1TOQD9DNjRNzvrailnhSLSpJmAycM="}),
    [](const ::testing::TestParamInfo<Refused>& info) { return std::string(info.param.name); });

TEST(BackupIdTest, OrdersAndComparesByBytes) {
  auto a = BackupId::Parse(std::string(64, '0'));
  auto b = BackupId::Parse(std::string(63, '0') + "1");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(*a < *b);
  EXPECT_NE(*a, *b);
  EXPECT_EQ(*a, BackupId::FromBytes(a->bytes()));
}

}  // namespace
}  // namespace safe
