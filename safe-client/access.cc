#include "safe-client/access.h"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "crypto/access_token.h"
#include "crypto/blind_rsa.h"
#include "safe-client/files.h"
#include "safe-client/http_client.h"
#include "safe-client/server_api.h"

namespace safe::client {
namespace {

using safe::SecretBytes;
using Json = nlohmann::json;

constexpr size_t kMaxStateBytes = 64 * 1024;
constexpr int kStateVersion = 1;

// Wipes every string in j (the state holds the token).
void WipeStrings(Json& j) {
  if (j.is_string()) {
    std::string& s = j.get_ref<std::string&>();
    safe::Wipe(s.data(), s.size());
  } else if (j.is_structured()) {
    for (Json& child : j) WipeStrings(child);
  }
}

// The state file's JSON, wiped when it goes.
struct State {
  Json json = Json::object();
  ~State() { WipeStrings(json); }
  const std::string* Field(const char* name) const {
    auto it = json.find(name);
    return it != json.end() && it->is_string() ? &it->get_ref<const std::string&>() : nullptr;
  }
};

Status ReadState(const std::string& path, State* state) {
  Result<SecretBytes> bytes = ReadFileSecret(path, kMaxStateBytes);
  if (!bytes.ok()) return bytes.status();
  state->json = Json::parse(bytes->view(), nullptr, /*allow_exceptions=*/false);
  if (state->json.is_discarded() || !state->json.is_object() ||
      state->json.value("version", 0) != kStateVersion) {
    state->json = Json::object();
    return Status::InvalidArgument(path + " is not a safe-client access state file");
  }
  return Status::OK();
}

Status WriteState(const std::string& path, const State& state) {
  std::string text = state.json.dump(2) + "\n";
  Status s = WriteFileAtomically(path, text.data(), text.size(), 0600);
  safe::Wipe(text.data(), text.size());
  return s;
}

Result<std::vector<uint8_t>> Decode(const State& state, const char* field,
                                    const std::string& path) {
  const std::string* text = state.Field(field);
  if (text == nullptr) {
    return Status::InvalidArgument(path + " has no \"" + field + "\"");
  }
  return crypto::Base64UrlDecode(*text, field);
}

SecretBytes ToSecret(std::vector<uint8_t>&& bytes) {
  SecretBytes out(bytes.data(), bytes.size());
  safe::Wipe(bytes.data(), bytes.size());
  return out;
}

Result<crypto::BlindRsaPublicKey> KeyOf(const State& state, const std::string& path) {
  const std::string* pem = state.Field("issuerKey");
  if (pem == nullptr) return Status::InvalidArgument(path + " has no \"issuerKey\"");
  return crypto::BlindRsaPublicKey::FromPem(*pem);
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.erase(0, 1);
  return s;
}

}  // namespace

Status RunAccessRequest(const AccessOptions& o, std::ostream& out, std::ostream& err) {
  if (access(o.state.c_str(), F_OK) == 0) {
    return Status::InvalidArgument(
        "--state " + o.state + " exists: it may hold a token not yet redeemed; name a new file");
  }
  Status writable = CheckOutputDirectory(o.state, "--state");
  if (!writable.ok()) return writable;
  Result<SecretBytes> pem = ReadFileSecret(o.issuer_key, kMaxStateBytes);
  if (!pem.ok()) return pem.status();
  auto key = crypto::BlindRsaPublicKey::FromPem(pem->view());
  if (!key.ok()) {
    return Status::InvalidArgument("--issuer-key " + o.issuer_key +
                                   " is not an issuer public key: " + key.status().message());
  }
  auto key_id = key->KeyId();
  if (!key_id.ok()) return key_id.status();
  SecretBytes token = crypto::MakeAccessToken();
  auto blinded = crypto::BlindRsaBlind(*key, token);
  if (!blinded.ok()) return blinded.status();
  crypto::IssueRequest request;
  request.key_id = *key_id;
  request.blinded_msg = blinded->blinded_msg;
  State state;
  state.json["version"] = kStateVersion;
  state.json["issuerKey"] = std::string(pem->view());
  state.json["keyId"] = crypto::Base64UrlEncode(key_id->data(), key_id->size());
  state.json["token"] = crypto::Base64UrlEncode(token.data(), token.size());
  state.json["inverse"] = crypto::Base64UrlEncode(blinded->inverse.data(), blinded->inverse.size());
  Status written = WriteState(o.state, state);
  if (!written.ok()) return written;
  out << crypto::FormatIssueRequest(request) << "\n";
  err << "safe-client: hand the line above to the provider with your payment; finalize its "
         "answer with: safe-client access finalize --state "
      << o.state << "\n";
  return Status::OK();
}

Status RunAccessFinalize(const AccessOptions& o, std::istream& in, std::ostream& out,
                         std::ostream& err) {
  // The answer first, then the state: in a pipeline (request | issue | finalize) the state file
  // is complete once the answer has arrived.
  std::string text = o.blind_signature;
  if (text.empty()) std::getline(in, text);
  text = Trim(text);
  if (text.empty()) return Status::InvalidArgument("no blind signature given");
  State state;
  Status read = ReadState(o.state, &state);
  if (!read.ok()) return read;
  if (state.Field("signature") != nullptr) {
    return Status::InvalidArgument(o.state + " is finalized already; redeem it");
  }
  if (state.json.value("redeemed", false)) {
    return Status::InvalidArgument(o.state + " was redeemed already");
  }
  auto blind_sig = crypto::Base64UrlDecode(text, "the blind signature");
  if (!blind_sig.ok()) return blind_sig.status();
  auto key = KeyOf(state, o.state);
  if (!key.ok()) return key.status();
  auto token = Decode(state, "token", o.state);
  if (!token.ok()) return token.status();
  auto inverse = Decode(state, "inverse", o.state);
  if (!inverse.ok()) return inverse.status();
  SecretBytes token_secret = ToSecret(std::move(*token));
  SecretBytes inverse_secret = ToSecret(std::move(*inverse));
  auto signature = crypto::BlindRsaFinalize(*key, token_secret, *blind_sig, inverse_secret);
  if (!signature.ok()) {
    return Status::InvalidArgument(
        "the blind signature does not fit this request (another key, another request, or "
        "damaged): " +
        signature.status().message());
  }
  state.json["signature"] = crypto::Base64UrlEncode(*signature);
  WipeStrings(state.json["inverse"]);
  state.json.erase("inverse");
  Status written = WriteState(o.state, state);
  if (!written.ok()) return written;
  out << "finalized: " << o.state << " holds a paid token\n";
  err << "safe-client: redeem it with: safe-client access redeem --state " << o.state
      << " --server URL\n";
  return Status::OK();
}

Status RunAccessRedeem(const AccessOptions& o, std::ostream& out, std::ostream& err) {
  State state;
  Status read = ReadState(o.state, &state);
  if (!read.ok()) return read;
  if (state.json.value("redeemed", false)) {
    return Status::AlreadyExists(o.state + " was redeemed already");
  }
  if (state.Field("signature") == nullptr) {
    return Status::InvalidArgument(o.state + " is not finalized yet (safe-client access finalize)");
  }
  Result<ServerUrl> url = ParseServerUrl(o.server);
  if (!url.ok()) return url.status();
  if (url->plaintext_remote) {
    err << "safe-client: warning: http:// sends the token and the new credential unencrypted to a "
           "host that is not loopback; use https://\n";
  }
  auto key_id = Decode(state, "keyId", o.state);
  auto token = Decode(state, "token", o.state);
  auto signature = Decode(state, "signature", o.state);
  if (!key_id.ok()) return key_id.status();
  if (!token.ok()) return token.status();
  if (!signature.ok()) return signature.status();
  crypto::RedeemRequest request;
  if (key_id->size() != request.key_id.size()) {
    return Status::InvalidArgument(o.state + " has a malformed \"keyId\"");
  }
  std::copy(key_id->begin(), key_id->end(), request.key_id.begin());
  request.token = ToSecret(std::move(*token));
  request.signature = std::move(*signature);
  std::string body_text = crypto::FormatRedeemRequest(request);
  std::vector<uint8_t> body(body_text.begin(), body_text.end());
  safe::Wipe(body_text.data(), body_text.size());

  HttpOptions options;
  options.ca_file = o.cacert;
  options.connect_timeout = std::chrono::seconds(o.connect_timeout_seconds);
  options.answer_timeout = std::chrono::seconds(o.timeout_seconds);
  HttpClient http(std::move(options));
  Result<HttpResponse> response = http.Post(url->base + "access/redeem", body, "application/json");
  safe::Wipe(body.data(), body.size());
  if (!response.ok()) return response.status();
  std::string answer(response->body.begin(), response->body.end());
  if (response->status != 200) {
    std::string why = answer.size() > 200 ? answer.substr(0, 200) + "..." : answer;
    std::string message =
        "the server refused the token (HTTP " + std::to_string(response->status) + "): " + why;
    if (response->status == 404) {
      message = "the server does not offer access credentials (HTTP 404 for /access/redeem)";
    }
    if (response->status == 409) return Status::AlreadyExists(message);
    if (response->status == 401) return Status::PermissionDenied(message);
    if (response->status == 400) return Status::InvalidArgument(message);
    return Status::Unavailable(message + "; the token is kept, try again later");
  }
  Json j = Json::parse(answer, nullptr, /*allow_exceptions=*/false);
  safe::Wipe(answer.data(), answer.size());
  if (j.is_discarded() || !j.is_object() || !j["user"].is_string() || !j["password"].is_string() ||
      !j["expires"].is_string()) {
    WipeStrings(j);
    return Status::IOError("the server's answer to /access/redeem is not a credential");
  }
  out << "server-url: " << url->base << "\n"
      << "user: " << j["user"].get<std::string>() << "\n"
      << "password: " << j["password"].get<std::string>() << "\n"
      << "expires: " << j["expires"].get<std::string>() << "\n"
      << "In the Threema app: Settings > Threema Safe > Server > Use custom server; enter the "
         "server URL, the user name and the password above.\n";
  WipeStrings(j);
  // The token is spent: keep only that fact.
  for (const char* field : {"token", "signature"}) {
    WipeStrings(state.json[field]);
    state.json.erase(field);
  }
  state.json["redeemed"] = true;
  Status written = WriteState(o.state, state);
  if (!written.ok()) {
    err << "safe-client: warning: the credential above is valid, but " << o.state
        << " could not be updated: " << written.message() << "\n";
  }
  return Status::OK();
}

}  // namespace safe::client
