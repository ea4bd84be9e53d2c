// Bodies beyond max-body-memory wait in files (issue 14), through the real binary: many more
// concurrent uploads than memory holds are all stored whole, none refused, and no file is left
// with a name.

#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/bytes.h"
#include "tests/support/e2e_util.h"
#include "tests/support/files.h"
#include "tests/support/server_process.h"

namespace safe::testing {
namespace {

using namespace std::chrono_literals;

constexpr size_t kBlobBytes = 524288;  // the default maxBackupBytes

TEST(SpillE2eTest, SixtyFourConcurrentUploadsBeyondMemoryAreAllStoredWhole) {
  // Memory for one upload; 64 are under way at once, all their bytes sent before any answer.
  auto server =
      ServerProcess::Start({"--max-body-memory", std::to_string(kBlobBytes), "--guess-burst", "0"});
  ASSERT_NE(server, nullptr);
  std::mt19937_64 rng = SeededRng();
  constexpr int kUploads = 64;
  std::vector<std::string> ids, blobs;
  std::vector<std::unique_ptr<RawConnection>> connections;
  for (int i = 0; i < kUploads; ++i) {
    ids.push_back(RandomBackupId(rng));
    std::string blob(kBlobBytes, '\0');
    for (char& c : blob) c = static_cast<char>(rng());
    blobs.push_back(std::move(blob));
    auto c = RawConnection::Connect(server->port());
    ASSERT_NE(c, nullptr);
    ASSERT_TRUE(c->Send("PUT /backups/" + ids[i] +
                        " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " +
                        std::to_string(kBlobBytes) + "\r\n\r\n" + blobs[i]));
    connections.push_back(std::move(c));
  }
  for (int i = 0; i < kUploads; ++i) {
    std::optional<RawResponse> answer = connections[i]->ReadResponse(30s);
    ASSERT_TRUE(answer.has_value()) << i << ": " << connections[i]->received();
    EXPECT_EQ(answer->status, 201) << i << ": " << answer->body;
  }
  CurlClient client;
  for (int i = 0; i < kUploads; ++i) {
    CurlResponse got = client.Perform(Request("GET", BackupUrl(*server, ids[i])));
    ASSERT_EQ(got.status, 200) << Describe(got);
    EXPECT_TRUE(got.body == blobs[i]) << "upload " << i << " came back different";
  }
  // The files the bodies waited in never had a name (and are closed now).
  for (const std::string& name : ListDir(server->data_dir())) {
    EXPECT_EQ(name.find("body"), std::string::npos) << name;
  }
}

}  // namespace
}  // namespace safe::testing
