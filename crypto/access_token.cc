#include "crypto/access_token.h"

#include <sodium.h>

#include <cstring>
#include <nlohmann/json.hpp>

namespace safe::crypto {

std::string Base64UrlEncode(const uint8_t* data, size_t size) {
  const int variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  std::string out(sodium_base64_encoded_len(size, variant), '\0');
  sodium_bin2base64(out.data(), out.size(), data, size, variant);
  out.resize(std::strlen(out.c_str()));
  return out;
}

Result<std::vector<uint8_t>> Base64UrlDecode(std::string_view text, const char* field) {
  EnsureSodiumInitialised();
  std::vector<uint8_t> out(text.size() * 3 / 4 + 1);
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &len, &end,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      end != text.data() + text.size()) {
    return Status::InvalidArgument(std::string(field) + " is not unpadded base64url");
  }
  out.resize(len);
  return out;
}

SecretBytes MakeAccessToken() {
  EnsureSodiumInitialised();
  SecretBytes token(kAccessTokenBytes);
  randombytes_buf(token.data(), token.size());
  return token;
}

namespace {
Result<AccessKeyId> DecodeKeyId(std::string_view text, const char* field) {
  Result<std::vector<uint8_t>> bytes = Base64UrlDecode(text, field);
  if (!bytes.ok()) return bytes.status();
  AccessKeyId id{};
  if (bytes->size() != id.size()) {
    return Status::InvalidArgument(std::string(field) + " must be " + std::to_string(id.size()) +
                                   " bytes");
  }
  std::memcpy(id.data(), bytes->data(), id.size());
  return id;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}
}  // namespace

std::string FormatIssueRequest(const IssueRequest& request) {
  return Base64UrlEncode(request.key_id.data(), request.key_id.size()) + "." +
         Base64UrlEncode(request.blinded_msg);
}

Result<IssueRequest> ParseIssueRequest(std::string_view line) {
  line = Trim(line);
  size_t dot = line.find('.');
  if (dot == std::string_view::npos) {
    return Status::InvalidArgument(
        "the issue request is not of the form <key id>.<blinded message>");
  }
  IssueRequest request;
  Result<AccessKeyId> id = DecodeKeyId(line.substr(0, dot), "the key id");
  if (!id.ok()) return id.status();
  request.key_id = *id;
  Result<std::vector<uint8_t>> blinded =
      Base64UrlDecode(line.substr(dot + 1), "the blinded message");
  if (!blinded.ok()) return blinded.status();
  if (blinded->empty()) return Status::InvalidArgument("the blinded message is empty");
  request.blinded_msg = std::move(*blinded);
  return request;
}

std::string FormatRedeemRequest(const RedeemRequest& request) {
  // Built by hand: a JSON library would keep copies of the token where this code cannot wipe them.
  return "{\"key\":\"" + Base64UrlEncode(request.key_id.data(), request.key_id.size()) +
         "\",\"token\":\"" + Base64UrlEncode(request.token.data(), request.token.size()) +
         "\",\"signature\":\"" + Base64UrlEncode(request.signature) + "\"}";
}

Result<RedeemRequest> ParseRedeemRequest(std::string_view body) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::InvalidArgument("the redeem request is not a JSON object");
  }
  for (const char* field : {"key", "token", "signature"}) {
    auto it = j.find(field);
    if (it == j.end() || !it->is_string()) {
      return Status::InvalidArgument(std::string("the redeem request has no string \"") + field +
                                     "\"");
    }
  }
  if (j.size() != 3) {
    return Status::InvalidArgument(
        "the redeem request has fields other than \"key\", \"token\" and \"signature\"");
  }
  RedeemRequest request;
  Result<AccessKeyId> id = DecodeKeyId(j["key"].get_ref<const std::string&>(), "\"key\"");
  if (!id.ok()) return id.status();
  request.key_id = *id;
  std::string& token_text = j["token"].get_ref<std::string&>();
  Result<std::vector<uint8_t>> token = Base64UrlDecode(token_text, "\"token\"");
  Wipe(token_text.data(), token_text.size());
  if (!token.ok()) return token.status();
  request.token = SecretBytes(token->data(), token->size());
  Wipe(token->data(), token->size());
  if (request.token.size() != kAccessTokenBytes) {
    return Status::InvalidArgument("\"token\" must be " + std::to_string(kAccessTokenBytes) +
                                   " bytes");
  }
  Result<std::vector<uint8_t>> signature =
      Base64UrlDecode(j["signature"].get_ref<const std::string&>(), "\"signature\"");
  if (!signature.ok()) return signature.status();
  if (signature->empty()) return Status::InvalidArgument("\"signature\" is empty");
  request.signature = std::move(*signature);
  return request;
}

namespace {
// Howard Hinnant's days_from_civil / civil_from_days.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2);
}
}  // namespace

Result<Day> ParseIsoDay(std::string_view text) {
  auto bad = [] { return Status::InvalidArgument("a date must be YYYY-MM-DD"); };
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return bad();
  int values[3] = {0, 0, 0};
  const size_t starts[3] = {0, 5, 8};
  const size_t lengths[3] = {4, 2, 2};
  for (int f = 0; f < 3; ++f) {
    for (size_t i = 0; i < lengths[f]; ++i) {
      char c = text[starts[f] + i];
      if (c < '0' || c > '9') return bad();
      values[f] = values[f] * 10 + (c - '0');
    }
  }
  int y = values[0];
  unsigned m = static_cast<unsigned>(values[1]);
  unsigned d = static_cast<unsigned>(values[2]);
  static const unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (y < 1970 || m < 1 || m > 12 || d < 1 || d > kDays[m - 1] + (m == 2 && leap ? 1 : 0)) {
    return Status::InvalidArgument("a date must be a real day from 1970 on, as YYYY-MM-DD");
  }
  return static_cast<Day>(DaysFromCivil(y, m, d));
}

std::string FormatIsoDay(Day day) {
  int64_t y = 0;
  unsigned m = 0;
  unsigned d = 0;
  CivilFromDays(day, &y, &m, &d);
  char buf[32];
  snprintf(buf, sizeof buf, "%04lld-%02u-%02u", static_cast<long long>(y), m, d);
  return buf;
}

Result<std::vector<IssuerKeyListEntry>> ParseIssuerKeyList(std::string_view contents,
                                                           const std::string& source) {
  std::vector<IssuerKeyListEntry> entries;
  int line_number = 0;
  while (!contents.empty()) {
    size_t nl = contents.find('\n');
    std::string_view line = contents.substr(0, nl);
    contents.remove_prefix(nl == std::string_view::npos ? contents.size() : nl + 1);
    ++line_number;
    line = Trim(line);
    if (line.empty() || line.front() == '#') continue;
    auto where = [&] { return source + " line " + std::to_string(line_number) + ": "; };
    size_t space = line.find_first_of(" \t");
    if (space == std::string_view::npos) {
      return Status::InvalidArgument(where() + "expected `<YYYY-MM-DD> <public key PEM file>`");
    }
    Result<Day> day = ParseIsoDay(line.substr(0, space));
    if (!day.ok()) return Status::InvalidArgument(where() + day.status().message());
    std::string_view path = Trim(line.substr(space));
    if (path.empty()) return Status::InvalidArgument(where() + "the PEM file is missing");
    entries.push_back(IssuerKeyListEntry{*day, std::string(path), line_number});
  }
  return entries;
}

std::string ResolveBeside(const std::string& list_path, const std::string& path) {
  if (!path.empty() && path.front() == '/') return path;
  size_t slash = list_path.rfind('/');
  if (slash == std::string::npos) return path;
  return list_path.substr(0, slash + 1) + path;
}

}  // namespace safe::crypto
