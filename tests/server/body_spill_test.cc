// The bounds on uploads' memory (issue 14): bodies that do not fit the memory budget wait in
// files (BodyFile itself, and HttpConnection moving a body, or the bytes a client sends ahead, to
// one when memory is full), and the ByteGate that bounds the bodies the pool works on at once.

#include <dirent.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <climits>
#include <string>
#include <thread>
#include <vector>

#include "safe-server/http/body_file.h"
#include "safe-server/http/http_connection.h"
#include "safe-server/http/work_pool.h"
#include "tests/support/files.h"
#include "tests/support/http_test_util.h"

namespace safe::server {
namespace {

using safe::testing::ListDir;
using safe::testing::ReadFile;
using safe::testing::TempDir;
using testing::FakeIo;
using testing::ParseResponses;
using testing::Wire;

// The files this process holds open under `dir` (an unlinked one too: "/dir/#123 (deleted)").
std::vector<std::string> OpenFilesUnder(const std::string& dir) {
  std::vector<std::string> found;
  DIR* fds = opendir("/proc/self/fd");
  if (fds == nullptr) return found;
  while (dirent* e = readdir(fds)) {
    const std::string fd_path = std::string("/proc/self/fd/") + e->d_name;
    char target[PATH_MAX];
    ssize_t n = readlink(fd_path.c_str(), target, sizeof target - 1);
    if (n <= 0) continue;
    target[n] = '\0';
    if (std::string(target).rfind(dir + "/", 0) == 0) found.push_back(fd_path);
  }
  closedir(fds);
  return found;
}

std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7) % 26);
  return s;
}

TEST(BodyFileTest, GivesBackWhatWasAppendedInPiecesOfAnySize) {
  TempDir dir;
  for (size_t total :
       {size_t{0}, size_t{1}, size_t{16 * 1024}, size_t{16 * 1024 + 1}, size_t{524288}}) {
    auto file = BodyFile::Create(dir.path());
    ASSERT_TRUE(file.ok()) << file.status().ToString();
    const std::string body = Pattern(total);
    for (size_t at = 0, step = 1; at < total; at += step, step = step * 3 + 1) {
      ASSERT_TRUE((*file)->Append(body.data() + at, std::min(step, total - at)).ok());
    }
    EXPECT_EQ((*file)->size(), total);
    auto back = (*file)->ReadAll();
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, body) << total;
  }
}

TEST(BodyFileTest, HasNoNameAndHoldsNoPlaintextAndIsGoneWhenDestroyed) {
  TempDir dir;
  const std::string body = "a body the app encrypted, " + Pattern(4000);
  {
    auto file = BodyFile::Create(dir.path());
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE((*file)->Append(body.data(), body.size()).ok());
    EXPECT_TRUE(ListDir(dir.path()).empty()) << "the body file has a name";
    std::vector<std::string> open = OpenFilesUnder(dir.path());
    ASSERT_EQ(open.size(), 1u);
    const std::string on_disk = ReadFile(open[0]);
    ASSERT_EQ(on_disk.size(), body.size());
    EXPECT_NE(on_disk, body);
    EXPECT_EQ(on_disk.find("a body the app"), std::string::npos) << "plaintext on the disk";
    // Two files of the same body differ: each has its own key.
    auto other = BodyFile::Create(dir.path());
    ASSERT_TRUE((*other)->Append(body.data(), body.size()).ok());
    std::vector<std::string> both = OpenFilesUnder(dir.path());
    ASSERT_EQ(both.size(), 2u);
    EXPECT_NE(ReadFile(both[0]), ReadFile(both[1]));
  }
  EXPECT_TRUE(OpenFilesUnder(dir.path()).empty());
  EXPECT_TRUE(ListDir(dir.path()).empty());
}

TEST(BodyFileTest, AMissingDirectoryIsAnIOError) {
  TempDir dir;
  auto file = BodyFile::Create(dir.path() + "/missing");
  ASSERT_FALSE(file.ok());
  EXPECT_TRUE(file.status().IsIOError()) << file.status().ToString();
}

// Takes bodies up to 100 KiB; holds its answer when told to; answers with the body it got.
class SpillApp final : public HttpApp {
 public:
  HeadDecision OnHeaders(const HttpRequest&) override {
    HeadDecision d;
    d.max_body_bytes = 100 * 1024;
    return d;
  }
  void OnRequest(HttpRequest request, Responder respond) override {
    ++requests;
    spilled = request.body_file != nullptr;
    in_memory_bytes = request.body.size();
    loaded = request.LoadBody().ok();
    HttpResponse r;
    r.status = 200;
    r.body = request.body;
    if (hold) {
      held = std::move(respond);
      held_response = std::move(r);
      return;
    }
    respond(std::move(r));
  }
  int requests = 0;
  bool spilled = false;
  size_t in_memory_bytes = 0;
  bool loaded = false;
  bool hold = false;
  Responder held;
  HttpResponse held_response;
};

class BodySpillTest : public ::testing::Test {
 protected:
  BodySpillTest() : memory_(8 * 1024), disk_(64 * 1024) {
    limits_.body_budget = &memory_;
    limits_.spill_budget = &disk_;
    limits_.spill_dir = dir_.path();
    limits_.max_pipelined_bytes = 128 * 1024;
  }
  std::shared_ptr<HttpConnection> Connect(Wire* wire) {
    return HttpConnection::Create(app_, limits_, std::make_unique<FakeIo>(wire), "192.0.2.1",
                                  nullptr);
  }
  static void Send(HttpConnection& c, const std::string& bytes) {
    c.OnInput(bytes.data(), bytes.size());
  }

  TempDir dir_;
  BodyBudget memory_, disk_;
  SpillApp app_;
  HttpLimits limits_;
};

TEST_F(BodySpillTest, ABodyBeyondTheMemoryBudgetWaitsInAFileAndArrivesWhole) {
  Wire wire;
  auto c = Connect(&wire);
  const std::string body = Pattern(20000);
  app_.hold = true;
  Send(*c, "PUT /a HTTP/1.1\r\nContent-Length: 20000\r\n\r\n" + body.substr(0, 500));
  EXPECT_EQ(memory_.used(), 4096u);  // fits in memory so far (shares grow in 4 KiB steps)
  EXPECT_EQ(disk_.used(), 0u);
  Send(*c, body.substr(500));
  ASSERT_EQ(app_.requests, 1);
  EXPECT_TRUE(app_.spilled);
  EXPECT_EQ(app_.in_memory_bytes, 0u);
  EXPECT_TRUE(app_.loaded);
  EXPECT_EQ(memory_.used(), 0u) << "the bytes that moved to the file kept their memory share";
  EXPECT_EQ(disk_.used(), 20000u);  // held while the app works on it
  app_.held(std::move(app_.held_response));
  EXPECT_EQ(disk_.used(), 0u);
  auto r = ParseResponses(wire.out);
  ASSERT_EQ(r.size(), 1u) << wire.out;
  EXPECT_EQ(r[0].status, 200);
  EXPECT_EQ(r[0].body, body);
  EXPECT_TRUE(OpenFilesUnder(dir_.path()).empty());
}

TEST_F(BodySpillTest, WhenTheFilesAreFullTooTheUploadIs503AndNothingIsHeld) {
  Wire wire_a, wire_b;
  auto a = Connect(&wire_a);
  app_.hold = true;
  Send(*a, "PUT /a HTTP/1.1\r\nContent-Length: 60000\r\n\r\n" + Pattern(60000));
  ASSERT_EQ(app_.requests, 1);
  EXPECT_EQ(disk_.used(), 60000u);
  auto b = Connect(&wire_b);
  Send(*b, "PUT /b HTTP/1.1\r\nContent-Length: 12000\r\n\r\n" + Pattern(12000));
  auto rb = ParseResponses(wire_b.out);
  ASSERT_EQ(rb.size(), 1u) << wire_b.out;
  EXPECT_EQ(rb[0].status, 503);
  EXPECT_EQ(rb[0].Header("Retry-After"), "5");
  EXPECT_EQ(app_.requests, 1);
  EXPECT_EQ(disk_.used(), 60000u);
  EXPECT_EQ(memory_.used(), 0u);
  // a's file closed when the app read it back; its share stays until the answer.
  EXPECT_TRUE(OpenFilesUnder(dir_.path()).empty());
  app_.held(std::move(app_.held_response));
  EXPECT_EQ(disk_.used(), 0u);
}

TEST_F(BodySpillTest, WithoutFilesAnUploadBeyondMemoryIs503AsBefore) {
  limits_.spill_dir.clear();
  Wire wire;
  auto c = Connect(&wire);
  Send(*c, "PUT /a HTTP/1.1\r\nContent-Length: 9000\r\n\r\n" + Pattern(9000));
  auto r = ParseResponses(wire.out);
  ASSERT_EQ(r.size(), 1u) << wire.out;
  EXPECT_EQ(r[0].status, 503);
  EXPECT_EQ(app_.requests, 0);
  EXPECT_EQ(memory_.used(), 0u);
}

// A keep-alive client sends its next upload as soon as it has read an answer: bytes sent ahead
// that do not fit memory wait in a file too, and are parsed once the answer is out.
TEST_F(BodySpillTest, BytesSentAheadWaitInAFileAndAreServedInOrder) {
  Wire wire;
  auto c = Connect(&wire);
  app_.hold = true;
  Send(*c, "PUT /1 HTTP/1.1\r\nContent-Length: 5\r\n\r\nfirst");
  ASSERT_EQ(app_.requests, 1);
  const std::string second = Pattern(30000);
  Send(*c, "PUT /2 HTTP/1.1\r\nContent-Length: 30000\r\n\r\n" + second);
  EXPECT_FALSE(wire.aborted) << "a client sending ahead was dropped while there was disk";
  EXPECT_GT(disk_.used(), 16u * 1024);
  EXPECT_EQ(OpenFilesUnder(dir_.path()).size(), 1u);
  app_.hold = false;
  app_.held(std::move(app_.held_response));
  ASSERT_EQ(app_.requests, 2);
  EXPECT_TRUE(app_.spilled);  // the second body did not fit memory either
  auto r = ParseResponses(wire.out);
  ASSERT_EQ(r.size(), 2u) << wire.out.substr(0, 300);
  EXPECT_EQ(r[0].body, "first");
  EXPECT_EQ(r[1].body, second);
  EXPECT_EQ(disk_.used(), 0u);
  EXPECT_EQ(memory_.used(), 0u);
  EXPECT_TRUE(OpenFilesUnder(dir_.path()).empty());
}

TEST(ByteGateTest, HoldsAtMostItsLimitAndLetsAnOversizedRequestThroughAlone) {
  ByteGate gate(1000);
  std::atomic<int> passed{0};
  {
    ByteGate::Pass a = gate.Acquire(600);
    EXPECT_EQ(gate.held(), 600u);
    std::thread waiter([&] {
      ByteGate::Pass b = gate.Acquire(600);  // does not fit beside a
      ++passed;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_EQ(passed.load(), 0) << "the gate let 1200 bytes through a limit of 1000";
    {
      ByteGate::Pass moved = std::move(a);  // a pass moves; the bytes go back once
    }
    waiter.join();
    EXPECT_EQ(passed.load(), 1);
  }
  EXPECT_EQ(gate.held(), 0u);
  // Larger than the whole limit: waits until alone, then goes through.
  ByteGate::Pass small = gate.Acquire(10);
  std::thread big([&] {
    ByteGate::Pass p = gate.Acquire(5000);
    ++passed;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(passed.load(), 1);
  { ByteGate::Pass gone = std::move(small); }
  big.join();
  EXPECT_EQ(passed.load(), 2);
  EXPECT_EQ(gate.held(), 0u);
}

}  // namespace
}  // namespace safe::server
