// safe-client access: the customer's side of anonymous access credentials (issue 18,
// crypto/blind_rsa.h, docs/hosting.md).
//
//   request   makes a fresh token, blinds it under the provider's issuer public key and prints
//             the issue request line to hand to the provider with the payment. The token and
//             the blinding inverse go to the state file (created, mode 0600; refused if it
//             exists).
//   finalize  reads the provider's blind signature (--blind-signature, or one line on standard
//             input), unblinds and verifies it, keeps the signature in the state file and drops
//             the blinding values.
//   redeem    sends token and signature to the server's POST /access/redeem and prints the
//             credential and the settings to enter in the app; afterwards the state file keeps
//             only that the token was redeemed (token and signature are wiped from it).
//
// The provider sees the blinded message at `request`, and the token at `redeem`; RSA blinding
// makes the two unlinkable. The state file is secret until redeemed: whoever holds it can redeem
// the token.
//
// Thread-safety: one command per process.

#pragma once

#include <istream>
#include <ostream>
#include <string>

#include "common/status.h"

namespace safe::client {

struct AccessOptions {
  std::string state;            // the state file (--state); REQUIRES: not empty
  std::string issuer_key;       // request: the issuer public key PEM (--issuer-key)
  std::string blind_signature;  // finalize: the blind signature; empty: read from `in`
  std::string server;           // redeem: the server's base URL
  std::string cacert;           // redeem: a private CA to trust
  int connect_timeout_seconds = 15;
  int timeout_seconds = 30;
};

Status RunAccessRequest(const AccessOptions& o, std::ostream& out, std::ostream& err);
Status RunAccessFinalize(const AccessOptions& o, std::istream& in, std::ostream& out,
                         std::ostream& err);
// Errors: the server's message for a refusal (401, 409: "this token was redeemed before"), as
// InvalidArgument / PermissionDenied / AlreadyExists; Unavailable when the server is unreachable
// (the state file is kept: try again).
Status RunAccessRedeem(const AccessOptions& o, std::ostream& out, std::ostream& err);

}  // namespace safe::client
