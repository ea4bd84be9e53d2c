#!/bin/sh
# The layering rules of docs/architecture.md ("Dependencies point one way"), checked on the
# source: every third-party library's headers are included where the document says and nowhere
# else, no public header (*.h) includes one, the lower layers include nothing of the binaries
# above them, and the build files name no script that does not exist. Prints each breach with its file and exits 1; exit 0 when every rule holds.
# Usage: layers_test.sh SOURCE_DIR
set -u
cd "$1" || exit 2
fail=0

# The project's own source files (not build trees, node_modules or third-party copies).
sources() {
  find common storage crypto safe-server safe-client safe-admin -type f \
    \( -name '*.cc' -o -name '*.h' \) | sort
}

# allowed LIBRARY PATTERN...: files including <LIBRARY/...> (or <LIBRARY.h>) must match one of the
# shell patterns.
allowed() {
  lib=$1
  shift
  for file in $(sources | xargs grep -l -E "^#include <$lib[/.]" 2>/dev/null); do
    ok=0
    for pattern in "$@"; do
      # shellcheck disable=SC2254
      case $file in $pattern) ok=1 ;; esac
    done
    if [ $ok -eq 0 ]; then
      echo "layers: $file includes <$lib/...>; only $* may" >&2
      fail=1
    fi
  done
}

allowed rocksdb 'storage/*.cc'
allowed rados 'storage/*.cc'
allowed pistache 'safe-server/http/*.cc'
allowed openssl 'safe-server/http/*.cc' 'storage/sealed_store*.cc' 'crypto/*.cc'
allowed argon2 'crypto/*.cc' 'safe-server/service/*.cc'
allowed curl 'safe-client/*.cc'

# Headers are the manual: none pulls a third-party library's headers into its readers.
for file in $(sources | grep '\.h$' | xargs grep -l -E '^#include <(rocksdb|rados|pistache|openssl|curl)[/.]' 2>/dev/null); do
  echo "layers: the header $file includes a third-party library's header" >&2
  fail=1
done

# Lower layers know nothing of the binaries above them.
for dir in common storage crypto; do
  for file in $(find "$dir" -type f \( -name '*.cc' -o -name '*.h' \) |
    xargs grep -l -E '^#include "(safe-server|safe-client|safe-admin)/' 2>/dev/null); do
    echo "layers: $file (in $dir/) includes a header of a binary above it" >&2
    fail=1
  done
done
# The server and the admin tool do not use the client, nor the server the admin tool.
for file in $(find safe-server safe-admin -type f \( -name '*.cc' -o -name '*.h' \) |
  xargs grep -l -E '^#include "safe-client/' 2>/dev/null) \
  $(find safe-server -type f \( -name '*.cc' -o -name '*.h' \) |
    xargs grep -l -E '^#include "safe-admin/' 2>/dev/null); do
  echo "layers: $file includes a header of another binary" >&2
  fail=1
done

# The server's rooms (issue 15, item 3): http/ and service/ know nothing of each other, of app/ or
# of the settings (config.h); app/ may use both; safe-admin uses service/ alone.
# forbid DIR PATTERN WHY: no file under DIR includes a header matching the extended regex.
forbid() {
  for file in $(find "$1" -type f \( -name '*.cc' -o -name '*.h' \) |
    xargs grep -l -E "^#include \"($2)" 2>/dev/null); do
    echo "layers: $file includes $(grep -h -o -E "^#include \"($2)[^\"]*" "$file" | head -1 |
      cut -c11-); $3" >&2
    fail=1
  done
}
forbid safe-server/http 'safe-server/(service|app)/|safe-server/config\.h' \
  'http/ knows nothing of the service, the app or the settings'
forbid safe-server/service 'safe-server/(http|app)/|safe-server/config\.h' \
  'service/ knows nothing of HTTP, the app or the settings'
forbid safe-server/app 'safe-server/config\.h' 'app/ gets its options, not the settings'
forbid safe-admin 'safe-server/(http|app)/|safe-server/config\.h' \
  'safe-admin links the service alone'
for file in $(find safe-server -maxdepth 1 -type f \( -name '*.cc' -o -name '*.h' \) |
  grep -v -E '^safe-server/(main\.cc|config\.(cc|h))$'); do
  echo "layers: $file is outside the rooms (http/, service/, app/); only main.cc and config.* are" >&2
  fail=1
done

# One way to hold a secret (issue 15, item 4): libsodium is initialised and memory wiped in
# common/secret.{h,cc} only; everything else calls EnsureSodiumInitialised() and Wipe().
for file in $(find common storage crypto safe-server safe-client safe-admin tests fuzz -type f \
  \( -name '*.cc' -o -name '*.h' \) -not -path 'common/secret.*' |
  xargs grep -l -E 'sodium_(init|memzero|memcmp) *\(' 2>/dev/null); do
  echo "layers: $file calls sodium_init, sodium_memzero or sodium_memcmp; use common/secret.h" >&2
  fail=1
done

# The build files name only scripts that exist.
for script in $(find . -name CMakeLists.txt -not -path './build*' -not -path '*/node_modules/*' |
  xargs grep -o -h -E 'scripts/[A-Za-z0-9_.-]+' | sort -u); do
  if [ ! -e "$script" ]; then
    echo "layers: a CMakeLists.txt names $script, which does not exist" >&2
    fail=1
  fi
done

[ $fail -eq 0 ] && echo "layers: every rule holds"
exit $fail
