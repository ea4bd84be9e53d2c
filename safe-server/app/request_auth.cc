#include "safe-server/app/request_auth.h"

#include <strings.h>

namespace safe::server {

Result<RequestAuth::Current> RequestAuth::Read(const AuthFiles& files) {
  Current c;
  if (!files.htpasswd.empty()) {
    BasicAuthOptions options;
    options.realm = files.realm;
    auto basic = BasicAuthenticator::LoadHtpasswd(files.htpasswd, options);
    if (!basic.ok()) return basic.status();
    c.basic = std::move(basic.value());
  }
  if (!files.tokens.empty()) {
    auto tokens = TokenAuthenticator::Load(files.tokens);
    if (!tokens.ok()) return tokens.status();
    c.tokens = std::move(tokens.value());
  }
  return c;
}

Result<std::unique_ptr<RequestAuth>> RequestAuth::Load(const AuthFiles& files) {
  auto current = Read(files);
  if (!current.ok()) return current.status();
  std::unique_ptr<RequestAuth> auth(new RequestAuth(files));
  auth->current_ = std::move(current.value());
  return auth;
}

Status RequestAuth::Reload() {
  auto current = Read(files_);
  if (!current.ok()) return current.status();
  std::lock_guard<std::mutex> lock(mu_);
  current_ = std::move(current.value());
  return Status::OK();
}

RequestAuth::Current RequestAuth::Snapshot() {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

namespace {
bool IsTokenScheme(std::string_view authorization) {
  return authorization.size() > 6 && strncasecmp(authorization.data(), "Token ", 6) == 0;
}
}  // namespace

bool RequestAuth::Check(std::string_view authorization) {
  if (access_ != nullptr && AccessService::IsAccessCredential(authorization)) {
    return access_->Check(authorization);
  }
  Current c = Snapshot();
  if (c.tokens && IsTokenScheme(authorization)) return c.tokens->Check(authorization);
  return c.basic && c.basic->Check(authorization);
}

bool RequestAuth::CheckCached(std::string_view authorization) {
  // An access credential costs one store lookup and a keyed hash: no slow work.
  if (access_ != nullptr && AccessService::IsAccessCredential(authorization)) {
    return access_->Check(authorization);
  }
  Current c = Snapshot();
  if (c.tokens && IsTokenScheme(authorization)) return c.tokens->Check(authorization);
  return c.basic && c.basic->CheckCached(authorization);
}

AuthHooks RequestAuth::Hooks() {
  AuthHooks hooks;
  if (!enabled()) return hooks;
  hooks.check = [this](std::string_view authorization) { return Check(authorization); };
  hooks.check_cached = [this](std::string_view authorization) {
    return CheckCached(authorization);
  };
  // Basic is the scheme the apps answer a challenge with; a token-only server names its own.
  hooks.challenge = !files_.htpasswd.empty() ? current_.basic->ChallengeHeaderValue()
                    : access_ != nullptr ? "Basic realm=\"" + files_.realm + "\", charset=\"UTF-8\""
                                         : "Token realm=\"" + files_.realm + "\"";
  if (access_ != nullptr) {
    hooks.redeem = [this](std::string_view body, std::string* answer) -> Status {
      Result<IssuedCredential> issued = access_->Redeem(body);
      if (!issued.ok()) return issued.status();
      *answer = RedeemAnswerJson(*issued);
      return Status::OK();
    };
  }
  return hooks;
}

}  // namespace safe::server
