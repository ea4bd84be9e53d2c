// The restore page (issue 17): static files, built from web/ by npm at build time and embedded in
// the binary (web/embed.cmake writes the table below), served at /restore/. The page derives the
// key, decrypts the backup and makes the ID export in the browser; the server only answers its
// files, and the GET of a backup id like any app's. docs/client.md describes the page.
//
// The files hold no secret: they are answered without auth, without the guess budget, and
// without touching storage. Every answer carries a strict Content-Security-Policy (scripts,
// styles, workers and fetches from this origin only, nothing inline, no frames), nosniff,
// Referrer-Policy: no-referrer and Cache-Control: no-cache with an ETag (a browser revalidates,
// and gets 304 while the file is unchanged). All links in the page are relative, so it works
// behind a path prefix.
//
// Thread-safety: stateless functions over constant data.

#pragma once

#include <cstddef>
#include <string_view>

#include "safe-server/http/http_message.h"

namespace safe::server {

// One embedded file.
struct EmbeddedFile {
  const char* name;          // "index.html": the path under /restore/
  const char* content_type;  // with charset for text
  const char* etag;          // a quoted strong ETag from the file's SHA-256
  const unsigned char* data;
  size_t size;
};

// The table web/embed.cmake generates (empty when built with -DSAFE_RESTORE_PAGE=OFF).
extern const EmbeddedFile* const kRestorePageFiles;
extern const size_t kRestorePageFileCount;

// The Content-Security-Policy every answer of the page carries.
inline constexpr std::string_view kRestorePageCsp =
    "default-src 'none'; script-src 'self'; worker-src 'self'; connect-src 'self'; "
    "img-src 'self'; style-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'";

// True for "/restore" and every path under "/restore/".
bool IsRestorePagePath(std::string_view path);

// The answer to a GET or HEAD of `request.path` (IsRestorePagePath must hold):
//   /restore                -> 301 to "restore/" (relative: a path prefix is kept)
//   /restore/               -> 200 index.html
//   /restore/<name>         -> 200 the file | 304 when If-None-Match names its ETag | 404
// 404 for every path when the page was not built in. Other methods: 405 with Allow.
HttpResponse AnswerRestorePage(const HttpRequest& request);

}  // namespace safe::server
