// RequestAuth: the server's authentication as the handlers see it (AuthHooks), built from the
// htpasswd file (Basic) and the tokens file (Token), either or both, and reloadable: Reload()
// reads the files again and swaps the new authenticators in for the next request (SIGHUP). On a
// failed reload the old ones stay.
//
// Access credentials (issue 18): with an AccessService attached, a Basic credential whose user
// starts with kAccessUserPrefix is checked by it (and never against the htpasswd file), and
// POST /access/redeem is served. Access alone turns authentication on.
//
// Thread-safety: Hooks().check and Reload may run concurrently.

#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "common/status.h"
#include "safe-server/app/handlers.h"
#include "safe-server/service/access.h"
#include "safe-server/service/auth.h"
#include "safe-server/service/token_auth.h"

namespace safe::server {

struct AuthFiles {
  std::string htpasswd;  // empty: no Basic auth
  std::string tokens;    // empty: no Token auth
  std::string realm = "Safe Server";
};

class RequestAuth {
 public:
  // Loads the files. Errors name the file (and line), never a secret.
  static Result<std::unique_ptr<RequestAuth>> Load(const AuthFiles& files);

  bool enabled() const {
    return !files_.htpasswd.empty() || !files_.tokens.empty() || access_ != nullptr;
  }
  // Serves access credentials from `access` (borrowed: REQUIRES it outlives this object). Call
  // before Hooks().
  void AttachAccess(AccessService* access) { access_ = access; }
  // The hooks for SafeApp (empty check when auth is off). They refer to this object.
  AuthHooks Hooks();
  Status Reload();

 private:
  struct Current {
    std::shared_ptr<BasicAuthenticator> basic;
    std::shared_ptr<TokenAuthenticator> tokens;
  };
  explicit RequestAuth(AuthFiles files) : files_(std::move(files)) {}
  static Result<Current> Read(const AuthFiles& files);
  bool Check(std::string_view authorization);
  // Without slow work: a token (a fast hash), or a Basic credential verified recently.
  bool CheckCached(std::string_view authorization);
  Current Snapshot();

  const AuthFiles files_;
  AccessService* access_ = nullptr;
  std::mutex mu_;
  Current current_;  // GUARDED_BY(mu_); copied out per check
};

}  // namespace safe::server
