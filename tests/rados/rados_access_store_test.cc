// Issue 18: RadosAccessStore on a real cluster. A spent token is an exclusive create, so of many
// stores (separate cluster connections, as separate server instances have) redeeming one token at
// once exactly one wins; credentials round-trip; the sweep removes what expired, index and all.

#include "storage/rados_access_store.h"

#include <gtest/gtest.h>

#include <vector>

#include "tests/rados/rados_test_util.h"
#include "tests/storage/store_test_util.h"

namespace safe::storage {
namespace {

using testing::FreshNamespace;
using testing::HashOf;
using testing::OptionsFor;
using testing::RawPool;

constexpr Day kToday = 20000;

std::unique_ptr<RadosAccessStore> OpenAccess(const std::string& name_space) {
  auto store = RadosAccessStore::Open(OptionsFor(name_space));
  if (!store.ok()) {
    ADD_FAILURE() << store.status().ToString();
    return nullptr;
  }
  return std::move(*store);
}

TEST(RadosAccessStoreTest, ConcurrentSpendsFromSeveralInstancesHaveExactlyOneWinner) {
  const std::string ns = FreshNamespace();
  constexpr int kInstances = 4;
  constexpr int kTokens = 20;
  std::vector<std::unique_ptr<RadosAccessStore>> stores;
  for (int i = 0; i < kInstances; ++i) {
    stores.push_back(OpenAccess(ns));
    ASSERT_NE(stores.back(), nullptr);
  }
  std::vector<AccessStore*> racers;
  for (auto& store : stores) racers.push_back(store.get());
  testing::ExpectOneWinnerPerToken(racers, kTokens, kToday + 5);
  RawPool(ns + "access").Purge();
}

TEST(RadosAccessStoreTest, CredentialsRoundTripAndTheSweepRemovesWhatExpired) {
  const std::string ns = FreshNamespace();
  auto store = OpenAccess(ns);
  ASSERT_NE(store, nullptr);
  AccessCredentialRecord record{HashOf(7), kToday + 1};
  ASSERT_TRUE(store->PutCredential(HashOf(2), record).ok());
  ASSERT_TRUE(store->MarkSpent(HashOf(1), kToday + 5).ok());
  auto got = store->GetCredential(HashOf(2));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->secret_hash, HashOf(7));
  EXPECT_EQ(got->expiry_day, kToday + 1);
  EXPECT_TRUE(store->GetCredential(HashOf(3)).status().IsNotFound());

  // Another instance sees both.
  auto other = OpenAccess(ns);
  ASSERT_NE(other, nullptr);
  EXPECT_TRUE(other->GetCredential(HashOf(2)).ok());
  EXPECT_TRUE(other->MarkSpent(HashOf(1), kToday + 5).IsAlreadyExists());

  auto none = store->DeleteExpired(kToday + 1);
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_EQ(*none, 0u);
  auto one = store->DeleteExpired(kToday + 2);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(*one, 1u);
  EXPECT_TRUE(other->GetCredential(HashOf(2)).status().IsNotFound());
  EXPECT_TRUE(other->MarkSpent(HashOf(1), kToday + 5).IsAlreadyExists());
  auto spent = other->DeleteExpired(kToday + 6);
  ASSERT_TRUE(spent.ok());
  EXPECT_EQ(*spent, 1u);
  // Nothing is left but the (empty) list of days.
  RawPool raw(ns + "access");
  std::set<std::string> objects = raw.Objects();
  EXPECT_TRUE(objects.empty() || objects == std::set<std::string>{"exp-days"});
  EXPECT_TRUE(raw.OmapKeys("exp-days").empty());
  EXPECT_TRUE(store->MarkSpent(HashOf(1), kToday + 5).ok());  // swept with its key's last day
  EXPECT_TRUE(store->DeleteCredential(HashOf(2)).IsNotFound());
  raw.Purge();
}

}  // namespace
}  // namespace safe::storage
