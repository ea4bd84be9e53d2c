#include "crypto/backup_json.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <nlohmann/json.hpp>
#include <string>

#include "tests/crypto/test_data.h"

namespace safe::crypto {
namespace {

using Json = nlohmann::ordered_json;

Status Check(const std::string& text) { return ValidateBackupJson(SecretBytes::FromString(text)); }

// The app JSON with one change made to it.
std::string Edited(void (*edit)(Json&)) {
  Json j = Json::parse(testdata::kAppJson);
  edit(j);
  return j.dump();
}

void ExpectRefused(const std::string& text, const std::string& message) {
  Status s = Check(text);
  EXPECT_TRUE(s.IsInvalidArgument()) << text;
  EXPECT_EQ(s.message(), message);
}

TEST(BackupJsonTest, AcceptsTheAppsJson) {
  Result<BackupJson> parsed = BackupJson::Parse(SecretBytes::FromString(testdata::kAppJson));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  SecretKey key = parsed->PrivateKey();
  char hex[65];
  sodium_bin2hex(hex, sizeof(hex), key.data(), key.size());
  EXPECT_STREQ(hex, testdata::kAlicePrivateKeyHex);
}

TEST(BackupJsonTest, UnknownKeysAndKeyOrderSurviveARoundTrip) {
  Result<BackupJson> parsed = BackupJson::Parse(SecretBytes::FromString(testdata::kAppJson));
  ASSERT_TRUE(parsed.ok());
  SecretBytes out = parsed->Serialize();
  EXPECT_EQ(out.view(), testdata::kAppJson);  // compact input: byte for byte
}

TEST(BackupJsonTest, AcceptsMinimalDocumentWithoutOptionalLists) {
  EXPECT_TRUE(Check(R"({"info":{"version":1},"user":{"privatekey":")" +
                    std::string(testdata::kAlicePrivateKeyBase64) + R"("},"settings":{}})")
                  .ok());
}

TEST(BackupJsonTest, RefusesNonJsonWithoutQuotingIt) {
  Status s = Check("{\"info\": secretword");
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.message().find("not JSON"), std::string::npos);
  EXPECT_EQ(s.message().find("secretword"), std::string::npos);
  EXPECT_TRUE(Check("").IsInvalidArgument());
}

TEST(BackupJsonTest, RefusesNonObjects) {
  ExpectRefused("[1,2]", "the backup is not a JSON object");
  ExpectRefused("\"text\"", "the backup is not a JSON object");
  ExpectRefused("null", "the backup is not a JSON object");
}

TEST(BackupJsonTest, RefusesMissingRequiredParts) {
  ExpectRefused(Edited([](Json& j) { j.erase("info"); }), "the backup has no \"info\" (required)");
  ExpectRefused(Edited([](Json& j) { j.erase("user"); }), "the backup has no \"user\" (required)");
  ExpectRefused(Edited([](Json& j) { j.erase("settings"); }),
                "the backup has no \"settings\" (required)");
  ExpectRefused(Edited([](Json& j) { j["info"].erase("version"); }),
                "\"info\" has no \"version\" (required)");
  ExpectRefused(Edited([](Json& j) { j["user"].erase("privatekey"); }),
                "\"user\" has no \"privatekey\" (required)");
}

TEST(BackupJsonTest, RefusesMistypedParts) {
  ExpectRefused(Edited([](Json& j) { j["info"] = 1; }), "\"info\" is not a JSON object");
  ExpectRefused(Edited([](Json& j) { j["user"] = Json::array(); }),
                "\"user\" is not a JSON object");
  ExpectRefused(Edited([](Json& j) { j["settings"] = "x"; }), "\"settings\" is not a JSON object");
  ExpectRefused(Edited([](Json& j) { j["info"]["version"] = "1"; }),
                "\"info.version\" is not a whole number");
  ExpectRefused(Edited([](Json& j) { j["contacts"] = Json::object(); }),
                "\"contacts\" is not a JSON list");
  ExpectRefused(Edited([](Json& j) { j["groups"] = 3; }), "\"groups\" is not a JSON list");
  ExpectRefused(Edited([](Json& j) { j["distributionlists"] = "x"; }),
                "\"distributionlists\" is not a JSON list");
}

TEST(BackupJsonTest, RefusesAnotherVersionAndNamesIt) {
  ExpectRefused(Edited([](Json& j) { j["info"]["version"] = 2; }),
                "the backup is of schema version 2; only version 1 is supported");
  ExpectRefused(Edited([](Json& j) { j["info"]["version"] = 0; }),
                "the backup is of schema version 0; only version 1 is supported");
}

TEST(BackupJsonTest, RefusesPrivateKeysThatAreNotBase64Of32Bytes) {
  const std::string message = "\"user.privatekey\" is not the base64 of 32 bytes";
  ExpectRefused(Edited([](Json& j) { j["user"]["privatekey"] = 5; }), message);
  ExpectRefused(Edited([](Json& j) { j["user"]["privatekey"] = "not base64!"; }), message);
  // 31 and 33 bytes.
  ExpectRefused(Edited([](Json& j) {
                  j["user"]["privatekey"] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==";
                }),
                message);
  ExpectRefused(Edited([](Json& j) {
                  j["user"]["privatekey"] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
                }),
                message);
  ExpectRefused(Edited([](Json& j) { j["user"]["privatekey"] = ""; }), message);
}

TEST(BackupJsonTest, AcceptsUnpaddedBase64Key) {
  EXPECT_TRUE(Check(Edited([](Json& j) {
                j["user"]["privatekey"] = "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo";
              })).ok());
}

}  // namespace
}  // namespace safe::crypto
