#include "tests/support/http_test_util.h"

#include <http_parser.h>

#include <memory>

#include "gtest/gtest.h"

namespace safe::server::testing {

std::vector<ParsedResponse> ParseResponses(const std::string& wire, const std::vector<bool>& head,
                                           bool* complete) {
  struct State {
    std::vector<ParsedResponse> responses;
    ParsedResponse current;
    std::string field;
    bool in_value = false;
    const std::vector<bool>* head;
    size_t final_index = 0;  // answers other than 1xx
  } st;
  st.head = &head;
  http_parser_settings s;
  http_parser_settings_init(&s);
  s.on_message_begin = [](http_parser* p) {
    auto* st = static_cast<State*>(p->data);
    st->current = ParsedResponse();
    st->field.clear();
    st->in_value = false;
    return 0;
  };
  s.on_header_field = [](http_parser* p, const char* at, size_t len) {
    auto* st = static_cast<State*>(p->data);
    if (st->in_value) {
      st->field.clear();
      st->in_value = false;
    }
    st->field.append(at, len);
    return 0;
  };
  s.on_header_value = [](http_parser* p, const char* at, size_t len) {
    auto* st = static_cast<State*>(p->data);
    if (!st->in_value) {
      st->current.headers.emplace_back(st->field, "");
      st->in_value = true;
    }
    st->current.headers.back().second.append(at, len);
    return 0;
  };
  s.on_headers_complete = [](http_parser* p) {
    auto* st = static_cast<State*>(p->data);
    st->current.status = p->status_code;
    if (p->status_code >= 100 && p->status_code < 200) return 0;
    bool is_head = st->final_index < st->head->size() && (*st->head)[st->final_index];
    return is_head ? 1 : 0;  // 1: no body follows
  };
  s.on_body = [](http_parser* p, const char* at, size_t len) {
    static_cast<State*>(p->data)->current.body.append(at, len);
    return 0;
  };
  s.on_message_complete = [](http_parser* p) {
    auto* st = static_cast<State*>(p->data);
    if (st->current.status >= 200) ++st->final_index;
    st->responses.push_back(st->current);
    return 0;
  };
  // A 1xx answer ends the parser's message; start a new parser for what follows it.
  size_t offset = 0;
  bool ok = true;
  while (offset < wire.size()) {
    http_parser parser;
    http_parser_init(&parser, HTTP_RESPONSE);
    parser.data = &st;
    size_t before = st.responses.size();
    size_t n = http_parser_execute(&parser, &s, wire.data() + offset, wire.size() - offset);
    if (HTTP_PARSER_ERRNO(&parser) != HPE_OK) {
      ok = false;
      break;
    }
    offset += n;
    if (st.responses.size() == before) {
      // Incomplete last answer, or one whose body runs to end of stream: finish it.
      http_parser_execute(&parser, &s, nullptr, 0);
      break;
    }
  }
  if (complete) *complete = ok;
  return st.responses;
}

ParsedResponse ServeOne(HttpApp& app, const std::string& request, bool head,
                        const std::string& peer) {
  Wire wire;
  auto conn = HttpConnection::Create(app, HttpLimits(), std::make_unique<FakeIo>(&wire), peer);
  conn->OnInput(request.data(), request.size());
  bool complete = false;
  auto responses = ParseResponses(wire.out, {head}, &complete);
  EXPECT_TRUE(complete);
  EXPECT_EQ(responses.size(), 1u) << wire.out;
  return responses.empty() ? ParsedResponse() : responses.back();
}

}  // namespace safe::server::testing
