// Fault tests of safe-server (issue 4, "Faults"): kill -9 under a stream of concurrent puts, a
// full disk, a flipped byte in a stored value, SIGTERM under load. The real binary on a free
// loopback port, driven by a real HTTP client (libcurl), on a real file system. Nothing sleeps to
// synchronise: a condition variable on the count of acknowledged puts times every kill and
// signal, answers drive every retry, and every wait is bounded.

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/backup_id.h"
#include "gtest/gtest.h"
#include "safe-server/service/server_key.h"
#include "storage/rocksdb_store.h"
#include "storage/sealed_store.h"
#include "tests/faults/fault_util.h"
#include "tests/support/crash.h"
#include "tests/support/e2e_util.h"
#include "tests/support/server_process.h"

namespace safe::testing {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Lookups that end in 404 are legitimate here (a put cut short by a kill may have stored
// nothing); the guess throttle would turn a run of them into 429s, so it is off.
std::vector<std::string> ServerArgs(std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"--guess-burst", "0"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

long MillisSince(SteadyClock::time_point start) {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - start).count());
}

bool IsPutSuccess(const CurlResponse& r) { return r.ok() && (r.status == 201 || r.status == 204); }

// Reads back every id of `history` and checks each against it. Returns how many were wrong
// (each one reported as a test failure, at most max_reports of them).
size_t VerifyHistory(const ServerProcess& server, const PutHistory& history,
                     size_t max_reports = 10) {
  CurlClient client;
  size_t bad = 0;
  for (const std::string& id : history.Ids()) {
    CurlResponse r = client.Perform(Request("GET", BackupUrl(server.BaseUrl(), id)));
    ::testing::AssertionResult verdict = ::testing::AssertionSuccess();
    if (!r.ok() || (r.status != 200 && r.status != 404)) {
      verdict = ::testing::AssertionFailure()
                << "GET " << id.substr(0, 12) << "...: " << Describe(r);
    } else {
      verdict = history.Check(
          id, r.status == 200 ? std::optional<std::string>(r.body) : std::optional<std::string>());
    }
    if (!verdict) {
      if (++bad <= max_reports) ADD_FAILURE() << verdict.message();
    }
  }
  return bad;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// The lines of `log` that contain `word` (case-insensitive).
std::vector<std::string> LinesWith(const std::string& log, const std::string& word) {
  std::vector<std::string> found;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    if (Lower(line).find(Lower(word)) != std::string::npos) found.push_back(line);
  }
  return found;
}

// Success when no 8-character piece of `hex` appears in `text`: neither the whole id nor a
// prefix, a suffix or any other part long enough to single it out.
::testing::AssertionResult ShowsNoPartOf(const std::string& text, const std::string& hex) {
  constexpr size_t kPiece = 8;
  for (size_t at = 0; at + kPiece <= hex.size(); ++at) {
    size_t found = text.find(hex.substr(at, kPiece));
    if (found != std::string::npos) {
      return ::testing::AssertionFailure()
             << "characters " << at << ".." << at + kPiece << " of " << hex
             << " appear in: " << text.substr(found > 60 ? found - 60 : 0, 160);
    }
  }
  return ::testing::AssertionSuccess();
}

// ---- 1. kill -9 during a stream of puts from many clients, 20 times ----

TEST(FaultTest, AcknowledgedPutsSurviveKill9UnderConcurrentPuts) {
  constexpr int kRounds = 20;
  constexpr int kThreads = 8;
  constexpr int kSharedIds = 4;            // overwritten by every thread
  constexpr int kOwnIdsPerThread = 8;      // overwritten by one thread, round after round
  constexpr int kMaxPutsPerThread = 1000;  // a bound per round; the kill comes long before
  constexpr size_t kMaxBlobBytes = 16 * 1024;
  const auto test_start = SteadyClock::now();

  // The smallest memtables the server accepts (1 MiB), so that memtable flushes, new blob files
  // and WAL switches happen during the run and some kills land in them.
  auto server = ServerProcess::Start(ServerArgs({"--write-buffer-bytes", "1048576"}));
  ASSERT_NE(server, nullptr);
  auto rng = SeededRng();
  std::vector<std::string> shared_ids;
  for (int i = 0; i < kSharedIds; ++i) shared_ids.push_back(RandomBackupId(rng));
  std::vector<std::vector<std::string>> own_ids(kThreads);
  for (auto& ids : own_ids) {
    for (int i = 0; i < kOwnIdsPerThread; ++i) ids.push_back(RandomBackupId(rng));
  }
  PutHistory history;

  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    // Kill at a different point each round: after 60 to 299 acknowledged puts.
    const size_t kill_after = 60 + rng() % 240;
    const std::string base_url = server->BaseUrl();
    std::vector<uint64_t> seeds(kThreads);
    for (uint64_t& seed : seeds) seed = rng();
    std::mutex mu;
    std::vector<std::string> errors;  // GUARDED_BY(mu)

    auto writer = [&](int t, UploadStream& stream) {
      std::mt19937_64 thread_rng(seeds[t]);
      CurlClient client;
      for (int i = 0; i < kMaxPutsPerThread; ++i) {
        const uint64_t pick = thread_rng() % 10;
        const std::string id = pick < 3   ? shared_ids[thread_rng() % kSharedIds]
                               : pick < 7 ? own_ids[t][thread_rng() % kOwnIdsPerThread]
                                          : RandomBackupId(thread_rng);
        std::string blob = RandomBytes(1 + thread_rng() % kMaxBlobBytes, thread_rng);
        CurlRequest put = Request("PUT", BackupUrl(base_url, id), blob);
        PutHistory::Ticket ticket = history.Begin(id, std::move(blob));
        CurlResponse r = client.Perform(put);
        if (IsPutSuccess(r)) {
          history.Acknowledge(ticket);
          stream.Acknowledged();
          continue;
        }
        history.Abandon(ticket);  // outcome unknown
        const bool killed = stream.stopped();
        if (r.ok() || !killed) {
          std::lock_guard<std::mutex> lock(mu);
          errors.push_back(std::string(killed ? "" : "before the kill: ") + "PUT answered " +
                           Describe(r));
        }
        break;  // the connection failed: the server is gone
      }
    };
    const UploadStreamCut cut =
        StopDuringUploads(kThreads, kill_after, writer, [&] { server->Kill9(); });
    const size_t acked = cut.acknowledged;
    history.ServerStopped();
    for (const auto& e : errors) ADD_FAILURE() << e;
    ASSERT_TRUE(cut.reached) << "only " << acked << " puts were acknowledged before the bound";

    const auto restart_start = SteadyClock::now();
    server = server->Restart();
    ASSERT_NE(server, nullptr) << "the server did not start after kill -9";
    const long restart_ms = MillisSince(restart_start);
    const auto verify_start = SteadyClock::now();
    const size_t bad = VerifyHistory(*server, history);
    std::printf(
        "round %2d: killed after %zu acked puts this round (%zu acked, %zu cut short in all); "
        "restart %ld ms; %zu ids verified in %ld ms\n",
        round, acked, history.acknowledged(), history.abandoned(), restart_ms, history.Ids().size(),
        MillisSince(verify_start));
    ASSERT_EQ(bad, 0u) << "acknowledged puts were lost or changed after kill -9";
    const std::string log = server->Log();
    EXPECT_TRUE(LinesWith(log, "repair").empty()) << log;
    EXPECT_TRUE(LinesWith(log, "corrupt").empty()) << log;
  }
  EXPECT_EQ(server->Terminate(), 0) << server->Log();
  std::printf("kill -9 test: %d rounds in %ld ms\n", kRounds, MillisSince(test_start));
}

// ---- 2. Disk full ----

class FullDiskTest : public ::testing::Test {
 protected:
  static constexpr uint64_t kMountBytes = 48 << 20;
  static constexpr size_t kFillerBytes = 16 << 20;

  // Skips (saying why) when no tmpfs can be mounted here, unless SAFE_REQUIRE_TMPFS is set to a
  // non-empty value: then that is a failure, so that a CI machine meant to run as root cannot
  // skip this test unnoticed.
  void SetUp() override {
    std::string why;
    if (geteuid() != 0) {
      why = "the disk-full test mounts a tmpfs and must run as root (CI does)";
    } else {
      mount_ = std::make_unique<TmpfsMount>(kMountBytes);
      if (!mount_->mounted()) why = "cannot mount a tmpfs: " + mount_->error();
    }
    if (why.empty()) return;
    const char* required = std::getenv("SAFE_REQUIRE_TMPFS");
    if (required != nullptr && *required != '\0') FAIL() << why << " (SAFE_REQUIRE_TMPFS is set)";
    std::printf("SKIPPED: %s\n", why.c_str());
    GTEST_SKIP() << why;
  }

  // Destroyed before mount_ (declared after it): the server is gone before the unmount.
  std::unique_ptr<TmpfsMount> mount_;
  std::unique_ptr<ServerProcess> server_;
};

// GET /readyz on the admin port; the status (0 when the request failed).
long Readyz(CurlClient& client, const ServerProcess& server) {
  CurlResponse r = client.Perform(Request("GET", AdminUrl(server, "/readyz")));
  return r.ok() ? r.status : 0;
}

TEST_F(FullDiskTest, PutsAnswer507BackupsStayIntactAndPutsWorkOnceSpaceIsFreed) {
  const auto test_start = SteadyClock::now();
  auto rng = SeededRng();
  const std::string data_dir = mount_->path() + "/data";
  const std::string key_file = mount_->path() + "/data.key";
  const std::string filler = mount_->path() + "/filler";
  // Room to free later: a file on the same tmpfs, written so that its pages are really taken.
  ASSERT_TRUE(WriteFile(filler, RandomBytes(kFillerBytes, rng)));

  server_ = ServerProcess::Start(ServerArgs({"--data-dir", data_dir, "--key-file", key_file}));
  ASSERT_NE(server_, nullptr);
  ASSERT_NE(server_->admin_port(), 0);
  const std::string base_url = server_->BaseUrl();
  CurlClient client, admin;
  EXPECT_EQ(Readyz(admin, *server_), 200);

  // Fill the disk: 128 KiB backups until a put answers 507 (48 MiB hold at most ~380).
  std::map<std::string, std::string> acked;
  std::string refused_id;
  for (int i = 0; i < 1000 && refused_id.empty(); ++i) {
    const std::string id = RandomBackupId(rng);
    std::string blob = RandomBytes(128 * 1024, rng);
    CurlResponse r = client.Perform(Request("PUT", BackupUrl(base_url, id), blob));
    if (r.ok() && r.status == 201) {
      acked.emplace(id, std::move(blob));
    } else if (r.ok() && r.status == 507) {
      refused_id = id;
    } else {
      FAIL() << "PUT " << i << " on a filling disk: " << Describe(r) << "\n" << server_->Log();
    }
  }
  ASSERT_FALSE(refused_id.empty()) << "no put answered 507 on a 48 MiB tmpfs";
  std::printf("disk full after %zu puts of 128 KiB; %llu bytes free on the tmpfs\n", acked.size(),
              static_cast<unsigned long long>(mount_->FreeBytes()));

  // While full: not ready, nothing of the refused put stored, every earlier backup intact.
  EXPECT_EQ(Readyz(admin, *server_), 503);
  CurlResponse refused = client.Perform(Request("GET", BackupUrl(base_url, refused_id)));
  EXPECT_EQ(refused.status, 404) << "a put answered 507 left something: " << Describe(refused);
  size_t bad = 0;
  for (const auto& [id, blob] : acked) {
    ::testing::AssertionResult held = HoldsBlob(client, BackupUrl(base_url, id), blob);
    if (!held && ++bad <= 5) ADD_FAILURE() << "while the disk is full: " << held.message();
  }
  EXPECT_EQ(bad, 0u);
  EXPECT_EQ(Readyz(admin, *server_), 503) << "reads alone made the server ready again";

  // Free space, then put again: each retry follows a 507 (RocksDB resumes on the next write).
  ASSERT_TRUE(std::filesystem::remove(filler));
  const std::string fresh_id = RandomBackupId(rng);
  const std::string fresh_blob = RandomBytes(64 * 1024, rng);
  int attempts = 0;
  bool stored = false;
  for (; attempts < 20 && !stored; ++attempts) {
    CurlResponse r = client.Perform(Request("PUT", BackupUrl(base_url, fresh_id), fresh_blob));
    if (IsPutSuccess(r)) {
      stored = true;
    } else if (!(r.ok() && r.status == 507)) {
      FAIL() << "PUT after space was freed: " << Describe(r) << "\n" << server_->Log();
    }
  }
  ASSERT_TRUE(stored) << "puts still answer 507 after " << kFillerBytes << " bytes were freed ("
                      << mount_->FreeBytes() << " bytes free now)\n"
                      << server_->Log();
  std::printf("a put succeeded again at attempt %d after freeing %zu bytes\n", attempts,
              kFillerBytes);
  acked.emplace(fresh_id, fresh_blob);
  EXPECT_EQ(Readyz(admin, *server_), 200);
  for (const auto& [id, blob] : acked)
    EXPECT_TRUE(HoldsBlob(client, BackupUrl(base_url, id), blob));

  // Deletes work again too; then everything survives a restart on the once-full disk.
  for (int i = 0; i < 5; ++i) {
    auto it = acked.begin();
    CurlResponse r = client.Perform(Request("DELETE", BackupUrl(base_url, it->first)));
    EXPECT_EQ(r.status, 204) << Describe(r);
    r = client.Perform(Request("GET", BackupUrl(base_url, it->first)));
    EXPECT_EQ(r.status, 404) << Describe(r);
    acked.erase(it);
  }
  EXPECT_EQ(server_->Terminate(), 0) << server_->Log();
  server_ = server_->Restart();
  ASSERT_NE(server_, nullptr);
  for (const auto& [id, blob] : acked) EXPECT_TRUE(HoldsBlob(client, *server_, id, blob));
  EXPECT_EQ(server_->Terminate(), 0) << server_->Log();
  std::printf("disk-full test: %ld ms\n", MillisSince(test_start));
}

// Uploads beyond max-body-memory wait in files on the data directory's disk (issue 14): on a
// full disk they are refused (507, or 503 when no file could be made) and store nothing, and
// uploads work again once there is room. An upload that never finishes holds the memory budget,
// so every other one goes to a file (and none reaches the store while the disk is full).
TEST_F(FullDiskTest, UploadsWaitingInFilesOnAFullDiskAreRefusedAndStoreNothing) {
  auto rng = SeededRng();
  server_ = ServerProcess::Start(
      ServerArgs({"--data-dir", mount_->path() + "/data", "--key-file",
                  mount_->path() + "/data.key", "--max-body-memory", "524288"}));
  ASSERT_NE(server_, nullptr);
  auto holder = RawConnection::Connect(server_->port());
  ASSERT_NE(holder, nullptr);
  ASSERT_TRUE(holder->Send("PUT /backups/" + RandomBackupId(rng) +
                           " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 524288\r\n\r\n" +
                           RandomBytes(524287, rng)));          // all but its last byte
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let the server take it in
  // Leave about 256 KiB free.
  const std::string filler = mount_->path() + "/filler";
  ASSERT_TRUE(WriteFile(filler, RandomBytes(mount_->FreeBytes() - 256 * 1024, rng)));
  constexpr int kUploads = 4;
  std::vector<std::string> ids;
  std::vector<std::unique_ptr<RawConnection>> connections;
  for (int i = 0; i < kUploads; ++i) {
    ids.push_back(RandomBackupId(rng));
    auto c = RawConnection::Connect(server_->port());
    ASSERT_NE(c, nullptr);
    // The server may refuse before the whole body is sent: a failed send is not an error here.
    (void)c->Send("PUT /backups/" + ids[i] +
                  " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 524288\r\n\r\n" +
                  RandomBytes(524288, rng));
    connections.push_back(std::move(c));
  }
  CurlClient client;
  for (int i = 0; i < kUploads; ++i) {
    std::optional<RawResponse> answer = connections[i]->ReadResponse(std::chrono::seconds(30));
    ASSERT_TRUE(answer.has_value()) << i << ": " << connections[i]->received();
    EXPECT_TRUE(answer->status == 507 || answer->status == 503)
        << i << ": " << answer->status << " " << answer->body;
  }
  holder.reset();  // torn off: stores nothing
  for (const std::string& id : ids) {
    EXPECT_EQ(client.Perform(Request("GET", BackupUrl(*server_, id))).status, 404);
  }
  ASSERT_TRUE(std::filesystem::remove(filler));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  for (int i = 0; i < kUploads; ++i) {  // memory for one: the others wait in files again
    auto c = RawConnection::Connect(server_->port());
    ASSERT_NE(c, nullptr);
    ASSERT_TRUE(c->Send("PUT /backups/" + ids[i] +
                        " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 524288\r\n\r\n" +
                        RandomBytes(524288, rng)));
    connections[i] = std::move(c);
  }
  for (int i = 0; i < kUploads; ++i) {
    std::optional<RawResponse> answer = connections[i]->ReadResponse(std::chrono::seconds(30));
    ASSERT_TRUE(answer.has_value()) << i << ": " << connections[i]->received();
    EXPECT_EQ(answer->status, 201) << i << ": " << answer->body << "\n" << server_->Log();
  }
  EXPECT_EQ(server_->Terminate(), 0) << server_->Log();
}

// ---- 3. Corruption: a flipped byte in a stored value ----

TEST(FaultTest, FlippedByteInStoredValueAnswers500AndLogsNoId) {
  auto server = ServerProcess::Start(ServerArgs());
  ASSERT_NE(server, nullptr);
  auto rng = SeededRng();
  CurlClient client;
  // The first two get damaged: one small enough to live in RocksDB's SST files, one large
  // enough for its blob files (min_blob_size is 4096).
  std::vector<std::pair<std::string, std::string>> backups;
  for (size_t i = 0; i < 12; ++i) {
    const size_t size = i == 0 ? 1000 : i == 1 ? 100000 : 1 + rng() % 65536;
    backups.emplace_back(RandomBackupId(rng), RandomBytes(size, rng));
    CurlResponse r = client.Perform(
        Request("PUT", BackupUrl(server->BaseUrl(), backups.back().first), backups.back().second));
    ASSERT_EQ(r.status, 201) << Describe(r);
  }
  const std::set<std::string> damaged = {backups[0].first, backups[1].first};
  ASSERT_EQ(server->Terminate(), 0) << server->Log();

  // Offline, through the storage API: read each sealed record raw, flip one bit in the middle,
  // write it back under the same storage key and day.
  std::vector<std::string> storage_key_hexes;
  {
    server::ServerKeyOptions key_options;
    key_options.key_file = server::DefaultKeyFilePath(server->data_dir());
    key_options.data_dir = server->data_dir();
    Result<storage::ServerKey> key = server::LoadOrCreateServerKey(key_options);
    ASSERT_TRUE(key.ok()) << key.status().ToString();
    storage::RocksDbOptions options;
    options.path = server->data_dir();
    auto store = storage::RocksDbStore::Open(options);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    storage::SealedStore sealed(*key, **store);

    std::set<std::string> stored_keys;
    Status scanned = (*store)->Scan([&](const BackupId& k, const storage::BackupInfo&) {
      stored_keys.insert(std::string(k.AsStringView()));
    });
    ASSERT_TRUE(scanned.ok()) << scanned.ToString();
    EXPECT_EQ(stored_keys.size(), backups.size());
    for (const auto& [hex, blob] : backups) {
      Result<BackupId> id = BackupId::Parse(hex);
      ASSERT_TRUE(id.ok());
      const BackupId storage_key = sealed.StorageKeyFor(*id);
      storage_key_hexes.push_back(storage_key.ToHex());
      EXPECT_EQ(stored_keys.count(std::string(id->AsStringView())), 0u) << "a raw id is stored";
      ASSERT_EQ(stored_keys.count(std::string(storage_key.AsStringView())), 1u);
      if (damaged.count(hex) == 0) continue;

      Result<storage::BackupRecord> record = (*store)->Get(storage_key);
      ASSERT_TRUE(record.ok()) << record.status().ToString();
      std::string raw = record->blob;
      ASSERT_EQ(raw.size(), blob.size() + storage::SealedStore::kOverhead);
      raw[raw.size() / 2] ^= 0x01;
      Result<storage::PutOutcome> put = (*store)->Put(storage_key, raw, record->info.upload_day);
      ASSERT_TRUE(put.ok()) << put.status().ToString();
      EXPECT_EQ(*put, storage::PutOutcome::kReplaced);
    }
    Status closed = (*store)->Close();
    ASSERT_TRUE(closed.ok()) << closed.ToString();
  }

  server = server->Restart();
  ASSERT_NE(server, nullptr);
  for (const auto& [id, blob] : backups) {
    if (damaged.count(id) == 0) {
      EXPECT_TRUE(HoldsBlob(client, *server, id, blob));
      continue;
    }
    CurlResponse r = client.Perform(Request("GET", BackupUrl(server->BaseUrl(), id)));
    EXPECT_TRUE(r.ok()) << Describe(r);
    EXPECT_EQ(r.status, 500) << "a damaged backup: " << Describe(r);
    EXPECT_TRUE(ShowsNoPartOf(r.body, id));
    CurlResponse head = client.Perform(Request("HEAD", BackupUrl(server->BaseUrl(), id)));
    std::printf("damaged backup of %zu bytes: GET %ld, HEAD %ld\n", blob.size(), r.status,
                head.status);
  }
  EXPECT_EQ(server->Terminate(), 0) << server->Log();

  const std::string log = server->Log();
  const std::vector<std::string> reports = LinesWith(log, "corrupt");
  EXPECT_GE(reports.size(), damaged.size()) << "the damage was not reported:\n" << log;
  for (const std::string& line : reports) std::printf("log: %s\n", line.c_str());
  for (const auto& [id, blob] : backups) EXPECT_TRUE(ShowsNoPartOf(log, id)) << "a backup id";
  for (const std::string& hex : storage_key_hexes) {
    EXPECT_TRUE(ShowsNoPartOf(log, hex)) << "a storage key";
  }
}

// ---- 4. SIGTERM during load ----

TEST(FaultTest, SigtermUnderLoadFinishesOrFailsCleanlyAndLosesNothing) {
  constexpr int kRounds = 5;
  constexpr int kThreads = 8;
  constexpr int kIdsPerThread = 6;
  constexpr int kMaxOpsPerThread = 5000;  // a bound per round; the signal comes long before
  // Up to half the largest backup: answers long enough to be under way when the signal comes.
  constexpr size_t kMaxBlobBytes = 256 * 1024;
  const auto test_start = SteadyClock::now();

  auto server = ServerProcess::Start(ServerArgs());
  ASSERT_NE(server, nullptr);
  auto rng = SeededRng();
  PutHistory history;
  std::vector<std::vector<std::string>> ids(kThreads);
  for (auto& own : ids) {
    for (int i = 0; i < kIdsPerThread; ++i) own.push_back(RandomBackupId(rng));
  }
  // Per thread: the blob each id holds by its last acknowledged put (an id whose last put was
  // cut short is dropped until it is put again). Kept across rounds.
  std::vector<std::map<std::string, std::string>> expected(kThreads);

  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const size_t signal_after = 100 + rng() % 100;
    const std::string base_url = server->BaseUrl();
    std::vector<uint64_t> seeds(kThreads);
    for (uint64_t& seed : seeds) seed = rng();
    std::mutex mu;
    std::vector<std::string> errors;            // GUARDED_BY(mu)
    std::map<std::string, int> clean_failures;  // GUARDED_BY(mu): libcurl's verdict -> count
    std::atomic<int> answered_after_signal{0};

    auto writer = [&](int t, UploadStream& stream) {
      std::mt19937_64 thread_rng(seeds[t]);
      CurlClient client;
      auto& mine = expected[t];
      auto fail = [&](std::string what) {
        std::lock_guard<std::mutex> lock(mu);
        errors.push_back(std::move(what));
      };
      auto clean_failure = [&](const CurlResponse& r) {
        std::lock_guard<std::mutex> lock(mu);
        if (!stream.stopped()) errors.push_back("a request failed before SIGTERM: " + Describe(r));
        ++clean_failures[curl_easy_strerror(r.code)];
      };
      for (int i = 0; i < kMaxOpsPerThread; ++i) {
        if (mine.empty() || thread_rng() % 4 == 0) {  // one put for three gets
          const std::string& id = ids[t][thread_rng() % kIdsPerThread];
          std::string blob = RandomBytes(1 + thread_rng() % kMaxBlobBytes, thread_rng);
          CurlRequest put = Request("PUT", BackupUrl(base_url, id), blob);
          PutHistory::Ticket ticket = history.Begin(id, blob);
          CurlResponse r = client.Perform(put);
          if (IsPutSuccess(r)) {
            history.Acknowledge(ticket);
            mine[id] = std::move(blob);
            if (stream.stopped()) ++answered_after_signal;
            stream.Acknowledged();
            continue;
          }
          history.Abandon(ticket);
          mine.erase(id);
          if (r.ok()) {
            fail("PUT answered " + Describe(r));
          } else if (r.status / 100 == 2) {
            fail("PUT: a 2xx answer, then the transfer failed: " + Describe(r));
          } else {
            clean_failure(r);
          }
          break;
        }
        auto it = mine.begin();
        std::advance(it, static_cast<long>(thread_rng() % mine.size()));
        CurlResponse r = client.Perform(Request("GET", BackupUrl(base_url, it->first)));
        if (r.ok() && r.status == 200 && r.body == it->second) {
          if (stream.stopped()) ++answered_after_signal;
          continue;
        }
        if (r.ok()) {
          fail("GET of an acknowledged backup answered " + Describe(r) + " (expected " +
               std::to_string(it->second.size()) + " bytes)");
        } else if (r.status / 100 == 2) {
          fail("a torn 2xx answer to GET: " + Describe(r) + " of " +
               std::to_string(it->second.size()) + " bytes");
        } else {
          clean_failure(r);
        }
        break;
      }
    };
    int exit_status = -1;
    long exit_ms = 0;
    const UploadStreamCut cut = StopDuringUploads(kThreads, signal_after, writer, [&] {
      const auto signal_time = SteadyClock::now();
      server->Signal(SIGTERM);
      exit_status = server->Wait();
      exit_ms = MillisSince(signal_time);
    });
    const size_t acked = cut.acknowledged;
    history.ServerStopped();

    const std::string log = server->Log();
    for (const auto& e : errors) ADD_FAILURE() << e;
    ASSERT_TRUE(cut.reached) << "only " << acked << " puts were acknowledged before the signal";
    const bool cut_short = !LinesWith(log, "did not finish in time").empty();
    EXPECT_TRUE(exit_status == 0 || (exit_status == 1 && cut_short))
        << "exit status " << exit_status << "\n"
        << log;
    std::ostringstream failures;
    for (const auto& [what, n] : clean_failures) failures << n << "x \"" << what << "\" ";
    std::printf(
        "round %d: SIGTERM after %zu acked puts; exit %d after %ld ms%s; %d answers completed "
        "after the signal; clean failures: %s\n",
        round, acked, exit_status, exit_ms, cut_short ? " (requests cut short)" : "",
        answered_after_signal.load(), failures.str().c_str());

    server = server->Restart();
    ASSERT_NE(server, nullptr);
    ASSERT_EQ(VerifyHistory(*server, history), 0u) << "acknowledged puts lost after SIGTERM";
  }
  EXPECT_EQ(server->Terminate(), 0) << server->Log();
  std::printf("SIGTERM test: %d rounds in %ld ms\n", kRounds, MillisSince(test_start));
}

// ---- The history checker itself: it must catch what the tests above look for ----

TEST(PutHistoryTest, AcceptsTheLastAcknowledgedBlobAndRejectsOlderOnes) {
  PutHistory h;
  auto a = h.Begin("id", "a");
  h.Acknowledge(a);
  auto b = h.Begin("id", "b");
  h.Acknowledge(b);
  h.ServerStopped();
  EXPECT_TRUE(h.Check("id", std::string("b")));
  EXPECT_FALSE(h.Check("id", std::string("a")));   // stale: b was acknowledged after a ended
  EXPECT_FALSE(h.Check("id", std::nullopt));       // lost
  EXPECT_FALSE(h.Check("id", std::string("ab")));  // matches no blob: torn or mixed
}

TEST(PutHistoryTest, AcceptsEitherOfTwoOverlappingPuts) {
  PutHistory h;
  auto a = h.Begin("id", "a");
  auto b = h.Begin("id", "b");  // sent before a was answered: they overlap
  h.Acknowledge(a);
  h.Acknowledge(b);
  h.ServerStopped();
  EXPECT_TRUE(h.Check("id", std::string("a")));
  EXPECT_TRUE(h.Check("id", std::string("b")));
  EXPECT_FALSE(h.Check("id", std::nullopt));
}

TEST(PutHistoryTest, APutCutShortMayOrMayNotHaveLanded) {
  PutHistory h;
  auto a = h.Begin("id", "a");
  h.Acknowledge(a);
  auto b = h.Begin("id", "b");
  h.Abandon(b);
  auto c = h.Begin("new", "c");
  h.Abandon(c);
  h.ServerStopped();
  EXPECT_TRUE(h.Check("id", std::string("a")));
  EXPECT_TRUE(h.Check("id", std::string("b")));
  EXPECT_TRUE(h.Check("new", std::nullopt));
  EXPECT_TRUE(h.Check("new", std::string("c")));

  // After the restart a new acknowledged put supersedes the one cut short by the crash.
  auto d = h.Begin("id", "d");
  h.Acknowledge(d);
  EXPECT_FALSE(h.Check("id", std::string("b")));
  EXPECT_TRUE(h.Check("id", std::string("d")));
}

TEST(PutHistoryTest, ARefusedPutIsNeverAnOutcome) {
  PutHistory h;
  auto a = h.Begin("id", "a");
  h.Refuse(a);
  h.ServerStopped();
  EXPECT_TRUE(h.Check("id", std::nullopt));
  EXPECT_FALSE(h.Check("id", std::string("a")));
}

}  // namespace
}  // namespace safe::testing
