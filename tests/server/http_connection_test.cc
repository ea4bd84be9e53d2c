// HttpConnection driven in-process: bytes in, bytes out, no sockets. Covers the HTTP traps of
// Debian's Pistache that this layer exists to avoid (keep-alive, Expect: 100-continue, HEAD,
// refusing a body by its Content-Length) and the timeouts, with an injected clock.

#include "safe-server/http/http_connection.h"

#include <gtest/gtest.h>

#include <atomic>

#include "tests/support/http_test_util.h"

namespace safe::server {
namespace {

using testing::FakeIo;
using testing::ParseResponses;
using testing::Wire;
using Clock = std::chrono::steady_clock;

// Echoes the request: path, method and body; refuses /refuse at the headers; accepts bodies up
// to 100 bytes. HEAD answers with the length a GET would have.
class EchoApp final : public HttpApp {
 public:
  HeadDecision OnHeaders(const HttpRequest& head) override {
    ++heads;
    HeadDecision d;
    if (head.path == "/refuse") d.refuse = HttpResponse::Text(403, "refused");
    d.max_body_bytes = 100;
    return d;
  }
  void OnRequest(HttpRequest request, Responder respond) override {
    ++requests;
    last_body = request.body;
    last_query = request.query;
    HttpResponse r;
    r.status = 200;
    r.body = request.path + "|" + request.body;
    if (request.method == HttpMethod::kHead) {
      r.head_content_length = 1234;
      r.body.clear();
    }
    if (hold) {
      held = std::move(respond);
      held_response = std::move(r);
      return;
    }
    respond(std::move(r));
  }
  std::atomic<int> heads{0};
  std::atomic<int> requests{0};
  std::string last_body, last_query;
  bool hold = false;
  Responder held;
  HttpResponse held_response;
};

class HttpConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override { Reset(); }
  void Reset() {
    wire_ = Wire();
    conn_ = HttpConnection::Create(app_, limits_, std::make_unique<FakeIo>(&wire_), "192.0.2.1",
                                   [this] { return now_; });
  }
  void Send(const std::string& bytes) { conn_->OnInput(bytes.data(), bytes.size()); }
  std::vector<testing::ParsedResponse> Responses(const std::vector<bool>& head = {}) {
    bool complete = false;
    auto r = ParseResponses(wire_.out, head, &complete);
    EXPECT_TRUE(complete) << wire_.out;
    return r;
  }

  // A body budget of `limit` bytes for the connections made from now on, and a new conn_.
  BodyBudget& UseBudget(uint64_t limit) {
    budget_ = std::make_unique<BodyBudget>(limit);
    limits_.body_budget = budget_.get();
    Reset();
    return *budget_;
  }

  std::unique_ptr<BodyBudget> budget_;  // outlives every connection below
  EchoApp app_;
  HttpLimits limits_;
  Clock::time_point now_ = Clock::time_point() + std::chrono::hours(1);
  Wire wire_;
  std::shared_ptr<HttpConnection> conn_;
};

TEST_F(HttpConnectionTest, KeepsHttp11ConnectionOpenWithoutConnectionHeader) {
  Send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
  Send("GET /b HTTP/1.1\r\nHost: x\r\n\r\n");
  auto r = Responses();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].Header("Connection"), "keep-alive");
  EXPECT_EQ(r[0].body, "/a|");
  EXPECT_EQ(r[1].body, "/b|");
  EXPECT_FALSE(wire_.closed_write);
}

TEST_F(HttpConnectionTest, ClosesWhenClientAsks) {
  Send("GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  auto r = Responses();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].Header("Connection"), "close");
  EXPECT_TRUE(wire_.closed_write);
  // Nothing more is read after our side is closed.
  Send("GET /b HTTP/1.1\r\n\r\n");
  EXPECT_EQ(app_.requests, 1);
}

TEST_F(HttpConnectionTest, Http10ClosesUnlessKeepAliveAsked) {
  Send("GET /a HTTP/1.0\r\n\r\n");
  EXPECT_TRUE(wire_.closed_write);
  Reset();
  Send("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  auto r = Responses();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].Header("Connection"), "keep-alive");
  EXPECT_FALSE(wire_.closed_write);
}

TEST_F(HttpConnectionTest, AnswersExpectContinueBeforeTheBody) {
  Send("PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_EQ(wire_.out, "HTTP/1.1 100 Continue\r\n\r\n");
  EXPECT_EQ(app_.requests, 0);
  Send("hello");
  auto r = Responses();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].status, 100);
  EXPECT_EQ(r[1].status, 200);
  EXPECT_EQ(r[1].body, "/x|hello");
}

// The body budget shared by connections: an upload that does not fit is answered 503 with
// Retry-After before its body is read; a request holds its share until its answer is queued.
TEST_F(HttpConnectionTest, BodyBudgetRefusesAnUploadThatDoesNotFitWith503) {
  BodyBudget& budget = UseBudget(150);
  app_.hold = true;
  Send("PUT /a HTTP/1.1\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'a'));
  ASSERT_EQ(app_.requests, 1);
  EXPECT_EQ(budget.used(), 100u);  // held while the app works on it

  Wire wire_b;
  auto b = HttpConnection::Create(app_, limits_, std::make_unique<FakeIo>(&wire_b), "192.0.2.2",
                                  [this] { return now_; });
  const std::string put_b =
      "PUT /b HTTP/1.1\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n";
  b->OnInput(put_b.data(), put_b.size());
  auto rb = ParseResponses(wire_b.out);
  ASSERT_EQ(rb.size(), 1u) << wire_b.out;  // no 100 Continue: the body is not wanted
  EXPECT_EQ(rb[0].status, 503);
  EXPECT_EQ(rb[0].Header("Retry-After"), "5");
  EXPECT_EQ(rb[0].Header("Connection"), "close");
  EXPECT_TRUE(wire_b.closed_write);
  EXPECT_EQ(app_.requests, 1) << "the refused upload reached the app";
  EXPECT_EQ(app_.heads, 2);
  EXPECT_EQ(budget.used(), 100u);

  // A chunked upload is measured as it grows: refused as well.
  Wire wire_c;
  auto c = HttpConnection::Create(app_, limits_, std::make_unique<FakeIo>(&wire_c), "192.0.2.3",
                                  [this] { return now_; });
  const std::string put_c =
      "PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n" + std::string(64, 'c') + "\r\n";
  c->OnInput(put_c.data(), put_c.size());
  auto rc = ParseResponses(wire_c.out);
  ASSERT_EQ(rc.size(), 1u) << wire_c.out;
  EXPECT_EQ(rc[0].status, 503);
  EXPECT_EQ(app_.requests, 1);
  EXPECT_EQ(budget.used(), 100u);

  // Once the first upload is answered its share is free, and the next one fits.
  auto respond = std::move(app_.held);
  respond(std::move(app_.held_response));
  EXPECT_EQ(budget.used(), 0u);
  app_.hold = false;
  Wire wire_d;
  auto d = HttpConnection::Create(app_, limits_, std::make_unique<FakeIo>(&wire_d), "192.0.2.4",
                                  [this] { return now_; });
  const std::string put_d =
      "PUT /d HTTP/1.1\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'd');
  d->OnInput(put_d.data(), put_d.size());
  auto rd = ParseResponses(wire_d.out);
  ASSERT_EQ(rd.size(), 1u) << wire_d.out;
  EXPECT_EQ(rd[0].status, 200);
  EXPECT_EQ(rd[0].body, "/d|" + std::string(100, 'd'));
  EXPECT_EQ(budget.used(), 0u);
}

// A share is given back when the upload ends any other way: torn off, timed out, destroyed.
TEST_F(HttpConnectionTest, BodyBudgetIsGivenBackWhenAnUploadEndsEarly) {
  BodyBudget& budget = UseBudget(1000);
  Send("PUT /a HTTP/1.1\r\nContent-Length: 100\r\n\r\n" + std::string(10, 'a'));
  EXPECT_EQ(budget.used(), 100u);
  conn_->OnDisconnected();
  EXPECT_EQ(budget.used(), 0u);

  Reset();
  Send("PUT /a HTTP/1.1\r\nContent-Length: 100\r\n\r\n" + std::string(10, 'a'));
  EXPECT_EQ(budget.used(), 100u);
  EXPECT_TRUE(conn_->CheckTimeout(now_ + limits_.body_timeout));
  auto r = Responses();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 408);
  EXPECT_EQ(budget.used(), 0u);

  Reset();
  Send("PUT /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
  EXPECT_EQ(budget.used(), 100u);  // a chunked body takes up to its limit (100 here) at once
  conn_.reset();
  EXPECT_EQ(budget.used(), 0u);
  EXPECT_EQ(app_.requests, 0);
}

// Bytes of a next request sent ahead while one is answered are in memory too: beyond a 16 KiB
// allowance they take the budget, and a client the budget has no room for is dropped.
TEST_F(HttpConnectionTest, PipelinedBytesBeyondTheAllowanceTakeTheBudget) {
  BodyBudget& budget = UseBudget(4 * 1024);
  app_.hold = true;
  Send("GET /1 HTTP/1.1\r\n\r\n");
  ASSERT_EQ(app_.requests, 1);
  Send(std::string(18 * 1024, 'x'));  // 2 KiB over the allowance
  EXPECT_EQ(budget.used(), 2u * 1024);
  EXPECT_FALSE(wire_.aborted);
  Send(std::string(4 * 1024, 'x'));  // 6 KiB over: no room
  EXPECT_TRUE(wire_.aborted);
  EXPECT_EQ(budget.used(), 0u);
  auto respond = std::move(app_.held);
  respond(std::move(app_.held_response));
  conn_->OnDisconnected();
  EXPECT_EQ(budget.used(), 0u);
}

// While the app works on an upload its body is still in memory: a client that hangs up does not
// get its share back before the app is done (else hanging up at once would grow memory freely).
TEST_F(HttpConnectionTest, BodyBudgetIsHeldUntilTheAppAnswersEvenAfterADisconnect) {
  BodyBudget& budget = UseBudget(1000);
  app_.hold = true;
  Send("PUT /a HTTP/1.1\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'a'));
  ASSERT_EQ(app_.requests, 1);
  conn_->OnDisconnected();
  EXPECT_EQ(budget.used(), 100u);
  auto respond = std::move(app_.held);
  respond(std::move(app_.held_response));
  EXPECT_EQ(budget.used(), 0u);
  EXPECT_TRUE(wire_.out.empty()) << "an answer was written to a closed connection";
}

// SafeApp wipes the Authorization header once checked: the value's bytes are zeroed in place
// (the string keeps its block, so nothing of it is freed unwiped), the other fields stay.
TEST(HttpHeadersTest, WipeZeroesTheValueInPlaceAndKeepsTheOtherFields) {
  HttpHeaders headers;
  headers.Add("Host", "example.org");
  headers.Add("authorization", "Basic YWxpY2U6Y29ycmVjdCBob3JzZSBiYXR0ZXJ5IHN0YXBsZQ==");
  const std::string* value = headers.Find("Authorization");
  ASSERT_NE(value, nullptr);
  const char* bytes = value->data();
  const size_t size = value->size();
  headers.Wipe("AUTHORIZATION");
  ASSERT_EQ(headers.Find("Authorization"), value);  // the same string, now empty
  EXPECT_TRUE(value->empty());
  EXPECT_EQ(value->data(), bytes);  // the same block, not a new one
  EXPECT_EQ(std::string(bytes, size), std::string(size, '\0'));
  ASSERT_NE(headers.Find("Host"), nullptr);
  EXPECT_EQ(*headers.Find("Host"), "example.org");
}

TEST(BodyBudgetTest, ReservesExactlyUpToItsLimit) {
  BodyBudget budget(100);
  EXPECT_TRUE(budget.TryReserve(60));
  EXPECT_FALSE(budget.TryReserve(41));
  EXPECT_TRUE(budget.TryReserve(40));
  EXPECT_FALSE(budget.TryReserve(1));
  EXPECT_FALSE(budget.TryReserve(UINT64_MAX));
  budget.Release(100);
  EXPECT_EQ(budget.used(), 0u);
  EXPECT_FALSE(budget.TryReserve(101));
  EXPECT_TRUE(budget.TryReserve(100));
}

TEST_F(HttpConnectionTest, RefusedRequestGetsNoContinueAndItsBodyIsNeverRead) {
  Send("PUT /refuse HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  auto r = Responses();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 403);
  EXPECT_TRUE(wire_.closed_write);
  EXPECT_EQ(app_.requests, 0);
}

TEST_F(HttpConnectionTest, UnknownExpectationIs417) {
  Send("PUT /x HTTP/1.1\r\nContent-Length: 1\r\nExpect: something\r\n\r\nx");
  auto r = Responses();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 417);
  EXPECT_EQ(app_.requests, 0);
}

TEST_F(HttpConnectionTest, RefusesBodyByContentLengthBeforeReadingIt) {
  Send("PUT /x HTTP/1.1\r\nContent-Length: 101\r\n\r\n");
  auto r = Responses();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 413);
  EXPECT_TRUE(wire_.closed_write);
  EXPECT_EQ(app_.requests, 0);
}

TEST_F(HttpConnectionTest, AcceptsBodyOfExactlyTheLimit) {
  std::string body(100, 'b');
  Send("PUT /x HTTP/1.1\r\nContent-Length: 100\r\n\r\n" + body);
  auto r = Responses();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 200);
  EXPECT_EQ(app_.last_body, body);
}

TEST_F(HttpConnectionTest, CountsChunkedBodies) {
  Send("PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n");
  auto r = Responses();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(app_.last_body, "helloabc");
  Reset();
  int before = app_.requests;
  std::string chunk(60, 'c');
  Send("PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3c\r\n" + chunk + "\r\n3c\r\n" +
       chunk + "\r\n0\r\n\r\n");
  r = Responses();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 413);
  EXPECT_EQ(app_.requests, before);
}

TEST_F(HttpConnectionTest, HeadCarriesTheRepresentationLengthAndNoBody) {
  Send("HEAD /x HTTP/1.1\r\n\r\n");
  EXPECT_NE(wire_.out.find("Content-Length: 1234\r\n"), std::string::npos);
  EXPECT_EQ(wire_.out.substr(wire_.out.size() - 4), "\r\n\r\n");  // ends after the headers
  // The connection stays usable.
  Send("GET /y HTTP/1.1\r\n\r\n");
  auto r = Responses({true, false});
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].body, "");
  EXPECT_EQ(r[1].body, "/y|");
}

TEST_F(HttpConnectionTest, ParsesRequestsSplitAtEveryByte) {
  const std::string request =
      "PUT /split?q=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbodyGET /next "
      "HTTP/1.1\r\n\r\n";
  for (char c : request) Send(std::string(1, c));
  auto r = Responses();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].body, "/split|body");
  EXPECT_EQ(r[1].body, "/next|");
}

TEST_F(HttpConnectionTest, AnswersPipelinedRequestsInOrder) {
  app_.hold = true;
  Send("GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n");
  for (int i = 1; i <= 3; ++i) {
    ASSERT_EQ(app_.requests, i);
    auto respond = std::move(app_.held);
    respond(std::move(app_.held_response));
  }
  auto r = Responses();
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].body, "/1|");
  EXPECT_EQ(r[2].body, "/3|");
}

TEST_F(HttpConnectionTest, PipelinedBytesAreBounded) {
  app_.hold = true;
  Send("GET /1 HTTP/1.1\r\n\r\n");
  Send(std::string(limits_.max_pipelined_bytes + 1, 'x'));
  EXPECT_TRUE(wire_.aborted);
}

// Completes writes only when told, as a transport does when the socket is slow.
class DeferredIo final : public ConnectionIo {
 public:
  explicit DeferredIo(Wire* wire) : wire_(wire) {}
  void Write(std::string bytes, std::function<void(bool)> done) override {
    wire_->out += bytes;
    pending.push_back(std::move(done));
  }
  void CloseWrite() override { wire_->closed_write = true; }
  void Abort() override { wire_->aborted = true; }
  std::vector<std::function<void(bool)>> pending;

 private:
  Wire* wire_;
};

// Regression (issue 5's benchmark): a client sends its next 64 KiB PUT as soon as it has read
// the answer, before the server has seen its write complete. That request was aborted as
// "pipelined bytes over the limit"; a whole request must be buffered.
TEST(HttpConnectionPipelineTest, WholeNextRequestWaitsForTheWriteToComplete) {
  EchoApp app;
  Wire wire;
  HttpLimits limits;
  limits.max_pipelined_bytes = 200 + limits.max_header_bytes;
  auto io = std::make_unique<DeferredIo>(&wire);
  DeferredIo* raw = io.get();
  auto conn = HttpConnection::Create(app, limits, std::move(io), "192.0.2.1");
  std::string body(100, 'p');
  std::string put = "PUT /x HTTP/1.1\r\nContent-Length: 100\r\n\r\n" + body;
  conn->OnInput(put.data(), put.size());
  ASSERT_EQ(raw->pending.size(), 1u);  // the answer is written, its completion not yet seen
  conn->OnInput(put.data(), put.size());
  EXPECT_FALSE(wire.aborted);
  EXPECT_EQ(app.requests, 1);
  raw->pending[0](true);
  EXPECT_EQ(app.requests, 2);  // the buffered request is handled once the write completed
  ASSERT_EQ(raw->pending.size(), 2u);
  raw->pending[1](true);
  auto r = ParseResponses(wire.out);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[1].body, "/x|" + body);
  EXPECT_FALSE(wire.aborted);
}

TEST_F(HttpConnectionTest, MalformedRequestIs400AndCloses) {
  Send("GARBAGE\r\n\r\n");
  auto r = Responses();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 400);
  EXPECT_TRUE(wire_.closed_write);
  EXPECT_EQ(app_.heads, 0);
}

TEST_F(HttpConnectionTest, ConflictingLengthsAre400) {
  Send("PUT /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab");
  auto r = Responses();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 400);
  EXPECT_EQ(app_.requests, 0);
}

TEST_F(HttpConnectionTest, OversizedHeadersAre431) {
  Send("GET /x HTTP/1.1\r\nX-Big: " + std::string(limits_.max_header_bytes, 'a') + "\r\n\r\n");
  auto r = Responses();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 431);
  EXPECT_EQ(app_.heads, 0);
}

TEST_F(HttpConnectionTest, TooManyHeaderFieldsAre431) {
  std::string req = "GET /x HTTP/1.1\r\n";
  for (size_t i = 0; i <= limits_.max_header_fields; ++i) req += "A: b\r\n";
  Send(req + "\r\n");
  auto r = Responses();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 431);
}

TEST_F(HttpConnectionTest, Http2PrefaceIsRefused) {
  Send("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
  auto r = Responses();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_GE(r[0].status, 400);
  EXPECT_EQ(app_.requests, 0);
}

TEST_F(HttpConnectionTest, IncompleteHeadersTimeOutWith408) {
  Send("GET /x HTTP/1.1\r\nHost:");
  EXPECT_FALSE(conn_->CheckTimeout(now_ + limits_.header_timeout - std::chrono::milliseconds(1)));
  EXPECT_TRUE(conn_->CheckTimeout(now_ + limits_.header_timeout));
  auto r = Responses();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 408);
  EXPECT_TRUE(wire_.closed_write);
  EXPECT_EQ(app_.requests, 0);
}

TEST_F(HttpConnectionTest, SilentNewConnectionIsClosedAfterHeaderTimeout) {
  EXPECT_TRUE(conn_->CheckTimeout(now_ + limits_.header_timeout));
  EXPECT_TRUE(wire_.out.empty());
  EXPECT_TRUE(wire_.closed_write);
  // A peer that never closes its side is cut after the linger time.
  EXPECT_TRUE(conn_->CheckTimeout(now_ + limits_.header_timeout + limits_.linger_timeout));
  EXPECT_TRUE(wire_.aborted);
}

TEST_F(HttpConnectionTest, SlowBodyTimesOutWith408AndStoresNothing) {
  Send("PUT /x HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
  now_ += limits_.body_timeout;
  EXPECT_TRUE(conn_->CheckTimeout(now_));
  auto r = Responses();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 408);
  EXPECT_EQ(app_.requests, 0);
}

TEST_F(HttpConnectionTest, IdleKeepAliveConnectionClosesSilently) {
  Send("GET /a HTTP/1.1\r\n\r\n");
  size_t after_first = wire_.out.size();
  EXPECT_FALSE(conn_->CheckTimeout(now_ + limits_.idle_timeout - std::chrono::milliseconds(1)));
  EXPECT_TRUE(conn_->CheckTimeout(now_ + limits_.idle_timeout));
  EXPECT_EQ(wire_.out.size(), after_first);
  EXPECT_TRUE(wire_.closed_write);
}

TEST_F(HttpConnectionTest, NoTimeoutWhileTheAppWorks) {
  app_.hold = true;
  Send("GET /a HTTP/1.1\r\n\r\n");
  EXPECT_FALSE(conn_->CheckTimeout(now_ + std::chrono::hours(10)));
  app_.held(std::move(app_.held_response));
  EXPECT_EQ(Responses().size(), 1u);
}

TEST_F(HttpConnectionTest, TornUploadNeverReachesTheApp) {
  Send("PUT /x HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
  conn_->OnDisconnected();
  EXPECT_EQ(app_.requests, 0);
  EXPECT_TRUE(wire_.out.empty());
}

TEST_F(HttpConnectionTest, AnswerAfterDisconnectIsDropped) {
  app_.hold = true;
  Send("GET /a HTTP/1.1\r\n\r\n");
  conn_->OnDisconnected();
  app_.held(std::move(app_.held_response));
  EXPECT_TRUE(wire_.out.empty());
}

TEST_F(HttpConnectionTest, DrainingClosesIdleConnectionsAndAfterTheNextAnswer) {
  conn_->BeginDrain();
  EXPECT_TRUE(wire_.closed_write);
  Reset();
  app_.hold = true;
  Send("GET /a HTTP/1.1\r\n\r\n");
  EXPECT_FALSE(conn_->Idle());
  conn_->BeginDrain();
  EXPECT_FALSE(wire_.closed_write);
  app_.held(std::move(app_.held_response));
  auto r = Responses();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].Header("Connection"), "close");
  EXPECT_TRUE(wire_.closed_write);
  EXPECT_TRUE(conn_->Idle());
}

TEST_F(HttpConnectionTest, QueryIsSplitFromThePath) {
  Send("GET /config?x=1 HTTP/1.1\r\n\r\n");
  auto r = Responses();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].body, "/config|");
  EXPECT_EQ(app_.last_query, "x=1");
}

TEST(SerializeResponseTest, NoContentHasNoLength) {
  HttpResponse r;
  r.status = 204;
  std::string wire = SerializeResponse(r, false, false);
  EXPECT_EQ(wire.rfind("HTTP/1.1 204 No Content\r\n", 0), 0u);
  EXPECT_EQ(wire.find("Content-Length"), std::string::npos);
}

}  // namespace
}  // namespace safe::server
