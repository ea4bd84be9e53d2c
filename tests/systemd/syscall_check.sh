#!/bin/sh
# The unit's system call filter against the real server (issue 4, "Deployment hardening").
#
# systemd cannot be run here, so the filter is checked from the other side: the server runs under
# `strace -f` through a workload that touches every part of it (TLS handshakes, Basic and token
# auth, PUT/GET/HEAD/DELETE, the guess budget's 429, large blobs in RocksDB blob files, flushes and
# compactions, the admin listener and a checkpoint, SIGHUP reloads, a restart on the same data
# with the key as a systemd credential, SIGTERM), and then:
# - every system call it made must be allowed by the unit's SystemCallFilter= lines (the groups
#   expanded by `systemd-analyze syscall-filter`, the ~ lines taken away);
# - no memory is mapped writable and executable, nor made executable later
#   (MemoryDenyWriteExecute=);
# - every socket is AF_INET, AF_INET6 or AF_UNIX (RestrictAddressFamilies=);
# - it works with /proc mounted as ProcSubset=pid mounts it (when run as root, through unshare),
#   and the /proc files it asked for that are hidden then are listed;
# - by the way: its log, with the access log on, holds no backup id and no client address.
# It prints the calls seen, with counts, for docs/security.md.
#
# Usage: syscall_check.sh SAFE_SERVER UNIT_FILE
# With SAFE_SYSCALL_TRACE_DIR=DIR set, the strace output is kept in DIR.
# Exit status: 0 pass, 1 fail, 77 skipped (strace, curl or openssl missing, or ptrace refused).

set -eu

server=$1
unit=$2

for tool in strace curl openssl systemd-analyze; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "SKIP: $tool is not installed"
		exit 77
	fi
done
if ! strace -f -o /dev/null true >/dev/null 2>&1; then
	echo "SKIP: strace cannot trace here (ptrace refused)"
	exit 77
fi
if [ ! -x "$server" ]; then
	echo "FAIL: no server binary at $server (build the target safe-server first)"
	exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/safe-syscalls-XXXXXX")
# strace_pid: the strace process (its exit status is the server's); server_pid: the server itself,
# strace's child, which the signals are sent to.
strace_pid=
server_pid=
cleanup() {
	if [ -n "$server_pid" ]; then kill -9 "$server_pid" 2>/dev/null || true; fi
	if [ -n "$strace_pid" ]; then wait "$strace_pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

fail() {
	echo "FAIL: $*"
	for log in "$work"/server*.log; do
		[ -f "$log" ] && { echo "--- $(basename "$log"), last lines:"; tail -n 20 "$log"; }
	done
	exit 1
}

# The groups of a SystemCallFilter= value, expanded to system call names, one a line.
expand() {
	systemd-analyze syscall-filter "$1" | sed -n '2,$p' | sed 's/^ *//' | grep -v -e '^#' -e '^$' |
		while read -r name; do
			case $name in
			@*) expand "$name" ;;
			*) echo "$name" ;;
			esac
		done
}

# What the unit allows: the union of the allow lines less the union of the ~ lines.
: >"$work/allow"
: >"$work/deny"
sed -n 's/^SystemCallFilter=//p' "$unit" >"$work/filter_lines"
[ -s "$work/filter_lines" ] || fail "$unit has no SystemCallFilter= line"
while read -r line; do
	case $line in
	"~"*) target=deny line=${line#"~"} ;;
	*) target=allow ;;
	esac
	for item in $line; do
		case $item in
		@*) expand "$item" >>"$work/$target" ;;
		*) echo "$item" >>"$work/$target" ;;
		esac
	done
done <"$work/filter_lines"
sort -u "$work/allow" >"$work/allow.sorted"
sort -u "$work/deny" >"$work/deny.sorted"
comm -23 "$work/allow.sorted" "$work/deny.sorted" >"$work/allowed"

# Material for the workload: a TLS certificate for 127.0.0.1, a token, and (when the argon2
# tool is installed) an htpasswd line.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 -keyout "$work/key.pem" -out "$work/cert.pem" \
	>/dev/null 2>&1 || fail "openssl could not make a test certificate"
chmod 0644 "$work/key.pem"
token=syscall-check-token-0123456789abcdefghijklmnopq
printf 'sha256:%s\n' "$(printf '%s' "$token" | sha256sum | cut -d' ' -f1)" >"$work/tokens"
basic=no
if command -v argon2 >/dev/null 2>&1; then
	hash=$(printf '%s' 'correct horse' | argon2 "saltsaltsaltsalt" -id -t 2 -k 19456 -p 1 -e)
	printf 'alice:%s\n' "$hash" >"$work/htpasswd"
	basic=yes
fi

# ProcSubset=pid: when this runs as root, the server sees a /proc mounted with subset=pid, as under
# the unit: only the processes' own directories, no /proc/sys.
proc_subset=no
if [ "$(id -u)" = 0 ] &&
	unshare --mount sh -c 'mount -t proc -o subset=pid proc /proc && [ ! -e /proc/sys ]' 2>/dev/null; then
	proc_subset=yes
fi

# start_server LOG ARGS...: starts the server under strace (output to $work/trace.N), waits for
# its two "listening" lines, sets strace_pid, server_pid, port and admin_port.
runs=0
start_server() {
	log=$1
	shift
	runs=$((runs + 1))
	if [ "$proc_subset" = yes ]; then
		# unshare execs in place: $! is strace's pid all the same.
		unshare --mount sh -c 'mount -t proc -o subset=pid proc /proc && exec "$@"' sh \
			strace -f -qq -o "$work/trace.$runs" "$server" "$@" 2>"$log" &
	else
		strace -f -qq -o "$work/trace.$runs" "$server" "$@" 2>"$log" &
	fi
	strace_pid=$!
	tries=0
	while ! grep -q '^safe-server: listening on ' "$log" 2>/dev/null; do
		kill -0 "$strace_pid" 2>/dev/null || { strace_pid=; fail "the server did not start"; }
		tries=$((tries + 1))
		[ "$tries" -lt 600 ] || fail "the server did not say it listens within a minute"
		sleep 0.1
	done
	server_pid=$(cat "/proc/$strace_pid/task/$strace_pid/children")
	case $server_pid in '' | *' '?*) fail "cannot tell the server's pid from strace's children" ;; esac
	server_pid=${server_pid% }
	port=$(sed -n 's/^safe-server: listening on .*:\([0-9]*\)$/\1/p' "$log")
	admin_port=$(sed -n 's/^safe-server: admin listening on .*:\([0-9]*\)$/\1/p' "$log")
}

# wait_for_line LOG TEXT: waits until LOG holds a line containing TEXT.
wait_for_line() {
	tries=0
	until grep -q -F "$2" "$1" 2>/dev/null; do
		tries=$((tries + 1))
		[ "$tries" -lt 600 ] || fail "no '$2' in $(basename "$1") within a minute"
		sleep 0.1
	done
}

stop_server() {
	kill -TERM "$server_pid"
	wait "$strace_pid" || fail "the server did not exit 0 on SIGTERM"
	server_pid=
	strace_pid=
}

id_of() { printf '%064x' "$1"; }

# Run 1: TLS, both kinds of auth, access log, small memtables so that RocksDB flushes and
# compacts, a guess budget that runs out for one client behind a trusted proxy.
set -- --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --data-dir "$work/data" \
	--key-file "$work/data.key" --tls-cert "$work/cert.pem" --tls-key "$work/key.pem" \
	--tokens "$work/tokens" --access-log true --write-buffer-bytes 1048576 --guess-burst 3 \
	--guess-refill-per-day 1 --trusted-proxies 127.0.0.1
if [ "$basic" = yes ]; then set -- "$@" --htpasswd "$work/htpasswd"; fi
start_server "$work/server1.log" "$@"
url=https://127.0.0.1:$port
# c ARGS...: curl with the token; the answer's body goes to $work/body, its status to stdout.
c() { curl -s -o "$work/body" -w '%{http_code}' --cacert "$work/cert.pem" -H "Authorization: Token $token" "$@"; }
[ "$(c "$url/config")" = 200 ] || fail "GET /config"
[ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$work/cert.pem" "$url/config")" = 401 ] || fail "no credentials"
[ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$work/cert.pem" -H 'Authorization: Token wrong' "$url/config")" = 401 ] ||
	fail "wrong token"
if [ "$basic" = yes ]; then
	[ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$work/cert.pem" -u 'alice:correct horse' "$url/config")" = 200 ] ||
		fail "Basic auth"
	curl -s -o /dev/null --cacert "$work/cert.pem" -u 'alice:correct horse' "$url/config"  # the cached check
fi
head -c 300000 /dev/urandom >"$work/big"
head -c 1000 /dev/urandom >"$work/small"
[ "$(c -X PUT --data-binary @"$work/small" "$url/backups/$(id_of 1)")" = 201 ] || fail "PUT"
[ "$(c -X PUT --data-binary @"$work/big" "$url/backups/$(id_of 1)")" = 204 ] || fail "PUT again"
[ "$(c "$url/backups/$(id_of 1)")" = 200 ] || fail "GET"
cmp -s "$work/big" "$work/body" || fail "GET returned other bytes"
[ "$(c -I "$url/backups/$(id_of 1)")" = 200 ] || fail "HEAD"
# Enough uploads, eight at a time, to fill several memtables: flushes, blob files, compactions.
# Each creates a backup, which costs a guess: each comes from a client of its own (behind the
# trusted proxy), so that no budget runs out.
i=2
while [ "$i" -le 120 ]; do
	echo "198.51.100.$i $url/backups/$(id_of "$i")"
	i=$((i + 1))
done | xargs -P 8 -n 2 sh -c 'curl -s -o /dev/null --cacert "$0" -H "Authorization: Token $1" \
	-H "X-Forwarded-For: $3" -X PUT --data-binary @"$2" "$4"' "$work/cert.pem" "$token" "$work/big"
[ "$(c -X DELETE "$url/backups/$(id_of 2)")" = 204 ] || fail "DELETE"
[ "$(c "$url/backups/not-an-id")" = 400 ] || fail "malformed id"
# A guesser behind the trusted proxy (127.0.0.1): lookups that find nothing until its guess budget
# runs out; the other clients are not affected.
guesser="X-Forwarded-For: 192.0.2.7"
[ "$(c -H "$guesser" "$url/backups/$(id_of 1000)")" = 404 ] || fail "GET of a missing backup"
codes=
for n in 1001 1002 1003; do codes="$codes $(c -H "$guesser" "$url/backups/$(id_of "$n")")"; done
case $codes in *429*) ;; *) fail "the guess budget did not run out:$codes" ;; esac
admin=http://127.0.0.1:$admin_port
[ "$(curl -s -o /dev/null -w '%{http_code}' "$admin/metrics")" = 200 ] || fail "/metrics"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$admin/readyz")" = 200 ] || fail "/readyz"
curl -s -o /dev/null -X POST "$admin/admin/checkpoint" || true  # where the server has it
kill -HUP "$server_pid"
wait_for_line "$work/server1.log" "reloaded on SIGHUP"
[ "$(c "$url/backups/$(id_of 1)")" = 200 ] || fail "GET after SIGHUP"
# SIGTERM with an upload in flight: its body is still coming when the signal arrives.
(head -c 200000 /dev/urandom; cat "$work/big") >"$work/bigger"
curl -s -o /dev/null -w '%{http_code}' --cacert "$work/cert.pem" -H "Authorization: Token $token" \
	--trace-ascii "$work/upload.trace" --limit-rate 100k -X PUT --data-binary @"$work/bigger" \
	"$url/backups/$(id_of 500)" >"$work/upload.status" &
upload=$!
wait_for_line "$work/upload.trace" "=> Send data"
kill -TERM "$server_pid"
wait "$strace_pid" || fail "the server did not exit 0 on SIGTERM with an upload in flight"
server_pid=
strace_pid=
wait "$upload" || true
[ "$(cat "$work/upload.status")" = 201 ] || fail "the upload in flight at SIGTERM got $(cat "$work/upload.status")"

# Run 2: the same data, plain HTTP, the key handed in as a systemd credential, no auth.
mkdir "$work/credentials"
cp "$work/data.key" "$work/credentials/server-key"
CREDENTIALS_DIRECTORY=$work/credentials start_server "$work/server2.log" --listen 127.0.0.1:0 \
	--admin-listen 127.0.0.1:0 --data-dir "$work/data" --key-file "$work/nonexistent.key"
url=http://127.0.0.1:$port
[ "$(curl -s -o "$work/back" -w '%{http_code}' "$url/backups/$(id_of 1)")" = 200 ] ||
	fail "GET after the restart"
cmp -s "$work/big" "$work/back" || fail "GET after the restart returned other bytes"
curl -s -o "$work/back" "$url/backups/$(id_of 500)"
cmp -s "$work/bigger" "$work/back" || fail "the upload finished during SIGTERM is not there whole"
stop_server

# SAFE_SYSCALL_TRACE_DIR=DIR keeps the traces there, for a closer look.
if [ -n "${SAFE_SYSCALL_TRACE_DIR:-}" ]; then cp "$work"/trace.* "$SAFE_SYSCALL_TRACE_DIR"/; fi

# The calls made, by name, with counts (strace -f writes "PID name(" or "PID <... name resumed>").
cat "$work"/trace.* |
	sed -n -e 's/^[0-9]* *\([a-z_0-9]*\)(.*/\1/p' -e 's/^[0-9]* *<\.\.\. \([a-z_0-9]*\) resumed>.*/\1/p' |
	sort | uniq -c | sort -rn >"$work/counts"
awk '{ print $2 }' "$work/counts" | sort -u >"$work/used"
echo "system calls made (count name):"
awk '{ printf "  %s %s\n", $1, $2 }' "$work/counts"

failures=0
outside=$(comm -23 "$work/used" "$work/allowed")
if [ -n "$outside" ]; then
	echo "FAIL: system calls outside the unit's filter: $(echo "$outside" | tr '\n' ' ')"
	failures=$((failures + 1))
else
	echo "every one of the $(wc -l <"$work/used") system calls is allowed by the unit's filter"
fi
# MemoryDenyWriteExecute: no W+X mapping, no mprotect to executable.
if grep -E -e '(^| )(mmap|mmap2)\(.*PROT_WRITE\|PROT_EXEC' -e '(^| )(mprotect|pkey_mprotect)\(.*PROT_EXEC' \
	"$work"/trace.* >"$work/wx"; then
	echo "FAIL: writable and executable memory (MemoryDenyWriteExecute= would refuse it):"
	head -n 5 "$work/wx"
	failures=$((failures + 1))
fi
# RestrictAddressFamilies.
if grep -E '(^| )socket\(' "$work"/trace.* | grep -v -E 'socket\((AF_INET|AF_INET6|AF_UNIX),' \
	>"$work/families"; then
	echo "FAIL: sockets of other families (RestrictAddressFamilies= would refuse them):"
	head -n 5 "$work/families"
	failures=$((failures + 1))
fi
# ProcSubset=pid: the /proc files it hides that the server asked for. With the hiding in place
# (root) the workload above has shown that the server does without them; else only list them.
grep -h -E -o '"/proc/[^"]*"' "$work"/trace.* | sed 's/.*"\(\/proc\/[^"]*\)"/\1/' |
	grep -v -E '^/proc/(self|thread-self|[0-9]+)(/|$)' | sort -u >"$work/proc" || true
if [ -s "$work/proc" ]; then
	if [ "$proc_subset" = yes ]; then
		echo "/proc files hidden by ProcSubset=pid that the server asked for, and did without:"
	else
		echo "NOTE: /proc files that ProcSubset=pid hides (not checked: not root, or no unshare):"
	fi
	sed 's/^/  /' "$work/proc"
fi
echo "ran with /proc mounted subset=pid: $proc_subset"
echo "files opened outside the data directory, /usr, /lib and /etc (informational):"
grep -h -E -o '(openat|open|stat|newfstatat|access|statx)\([^"]*"[^"]*"' "$work"/trace.* |
	sed 's/.*"\([^"]*\)"/\1/' | grep '^/' | grep -v -e "^$work" -e '^/usr/' -e '^/lib' -e '^/etc/' |
	sort -u | sed 's/^/  /'

# The log, with the access log on, holds no backup id and no client address (only the server's
# own listening addresses).
for n in 1 2 120 500 1000 1003; do
	if grep -h -F "$(id_of "$n" | cut -c 49-64)" "$work"/server*.log >/dev/null; then
		echo "FAIL: a backup id in the server's log"
		failures=$((failures + 1))
	fi
done
if grep -h -e '192\.0\.2\.7' -e '127\.0\.0\.1' "$work"/server*.log | grep -v ' listening on ' >"$work/addresses"; then
	echo "FAIL: a client address in the server's log:"
	head -n 3 "$work/addresses"
	failures=$((failures + 1))
fi
echo "access log lines: $(cat "$work"/server*.log | grep -c 'access: '), none with an id or an address"

if [ "$failures" -ne 0 ]; then
	exit 1
fi
echo "PASS"
