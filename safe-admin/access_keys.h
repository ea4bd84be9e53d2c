// safe-admin's issuer commands for anonymous access credentials (issue 18): the provider's side
// of crypto/blind_rsa.h. docs/hosting.md tells how a payment system uses them.
//
// An issuer key directory DIR holds:
//   issuer-keys            the list the server's access-issuer-key names: one
//                          `<YYYY-MM-DD> issuer-<id>.pem` line per key (the last day its tokens
//                          are redeemed); copy it and the .pem files to the server.
//   issuer-<id>.pem        a public key (RSA-PSS SubjectPublicKeyInfo, PEM), mode 0644: give it
//                          to customers (safe-client access request --issuer-key).
//   issuer-<id>.key        its private key (PKCS#8 PEM), mode 0600: only `issue` reads it.
// <id> is the first 16 hex digits of the key id (SHA-256 of the public key).
//
//   access-key new     makes a key valid for --days, adds it to the list.
//   access-key list    prints each key: id, last day, bits, active/expired, private key kept or
//                      retired.
//   access-key retire  deletes a key's private key (no more issuing with it; tokens already
//                      issued still redeem until its last day); --remove also takes it off the
//                      list (the server refuses its tokens after a reload: for a leaked key).
//   issue              reads one issue request line (safe-client access request's output) on
//                      standard input, prints the blind signature (one line of base64url).
//                      Refuses a key that is not in the list, expired, or retired.
//
// Files are written whole (temporary file, fsync, rename, fsync of DIR). Errors are one line on
// err; exit status 0 done, 1 failed. Nothing printed is secret but `issue`'s input and output,
// which the issuer cannot link to a token.
//
// Thread-safety: each function is meant to be called once from main's thread.

#pragma once

#include <iosfwd>
#include <string>

#include "common/clock.h"

namespace safe::admin {

struct AccessKeyOptions {
  std::string dir;               // REQUIRES: not empty; created (0700) by `new` if missing
  uint32_t days = 400;           // new: the key's tokens are redeemed through today + days
  int bits = 3072;               // new: 2048, 3072 or 4096
  std::string id;                // retire: the key's <id> (16 hex digits) as `list` shows it
  bool remove = false;           // retire: also take it off the list
  const Clock* clock = nullptr;  // REQUIRES: not null
};

int RunAccessKeyNew(const AccessKeyOptions& options, std::ostream& out, std::ostream& err);
int RunAccessKeyList(const AccessKeyOptions& options, std::ostream& out, std::ostream& err);
int RunAccessKeyRetire(const AccessKeyOptions& options, std::ostream& out, std::ostream& err);
int RunIssue(const AccessKeyOptions& options, std::istream& in, std::ostream& out,
             std::ostream& err);

}  // namespace safe::admin
