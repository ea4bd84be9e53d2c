#!/bin/sh
# The template unit safe-server@.service (issue 13, item 4), run the way systemd would run an
# instance: systemd is not PID 1 here, so the server is started directly, with the instance's
# ExecStart= arguments (%i = a) under a scratch root, as an unprivileged service user (nobody,
# standing in for DynamicUser), with the unit's UMask=, in a state directory made as systemd makes
# StateDirectory= (owned by that user, StateDirectoryMode=). Everything else under the scratch
# root belongs to root and is read-only for the service user, as ProtectSystem=strict leaves it.
# The instance must start, store a backup, answer /readyz, stop cleanly, and leave its key inside
# the state directory (mode 0600, the service user's).
#
# The same run of a unit with the instance line docs/hosting.md used to give
# (`--data-dir /var/lib/safe-server-%i`, whose default key /var/lib/safe-server-%i.key lies
# outside the state directory) must fail: the test shows that it can.
#
# Usage: instance_unit_run_test.sh TEMPLATE_UNIT SAFE_SERVER
# Exit status: 0 pass, 1 fail, 77 skipped (not root, or setpriv or curl missing).

set -eu

template=$1
server=$2
instance=a
backup_id=066384d3695fbbd9f31a7d533900fd0cd8d1373beb6a28678522d2a49980c9c3

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: needs root, to run the server as another user"
	exit 77
fi
for tool in setpriv curl; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "SKIP: $tool is not installed"
		exit 77
	fi
done
if [ ! -x "$server" ]; then
	echo "FAIL: no server binary at $server (build the target safe-server first)"
	exit 1
fi
service_uid=$(id -u nobody)
service_gid=$(id -g nobody)

scratch=$(mktemp -d "${TMPDIR:-/tmp}/safe-instance-XXXXXX")
chmod 0755 "$scratch"
server_pid=
cleanup() {
	if [ -n "$server_pid" ]; then kill -9 "$server_pid" 2>/dev/null || true; fi
	rm -rf "$scratch"
}
trap cleanup EXIT INT TERM

# setting UNIT NAME: the last value of NAME= in UNIT, %i replaced by the instance.
setting() { sed -n "s/^$2=//p" "$1" | tail -n 1 | sed "s/%i/$instance/g"; }

# run_instance UNIT ROOT: true when the instance UNIT starts under ROOT, serves and stops.
run_instance() {
	unit=$1
	top=$2
	mkdir -p "$top/etc/safe-server" "$top/usr/bin" "$top/var/lib"
	cp "$server" "$top/usr/bin/safe-server"
	chmod 0755 "$top" "$top/etc" "$top/etc/safe-server" "$top/usr" "$top/usr/bin" "$top/var" \
		"$top/var/lib"
	state=/var/lib/$(setting "$unit" StateDirectory)
	[ "$state" != /var/lib/ ] || { echo "$unit has no StateDirectory="; return 1; }
	mkdir -p "$top$state"
	chown "$service_uid:$service_gid" "$top$state"
	chmod "$(setting "$unit" StateDirectoryMode)" "$top$state"
	exec_start=$(setting "$unit" ExecStart)
	conf=$(echo "$exec_start" | sed -n 's/.*--config[ =]\([^ ]*\).*/\1/p')
	[ -n "$conf" ] || { echo "ExecStart= of $unit has no --config"; return 1; }
	printf 'listen = 127.0.0.1:0\nadmin-listen = 127.0.0.1:0\n' >"$top$conf"
	chmod 0644 "$top$conf"

	# The arguments, every absolute path moved under the scratch root.
	set --
	for word in $exec_start; do
		case $word in /*) word=$top$word ;; esac
		set -- "$@" "$word"
	done
	umask_value=$(setting "$unit" UMask)
	(
		umask "${umask_value:-0022}"
		exec setpriv --reuid="$service_uid" --regid="$service_gid" --clear-groups --no-new-privs \
			"$@"
	) >"$top/server.log" 2>&1 &
	server_pid=$!
	port=
	admin_port=
	tries=0
	while [ $tries -lt 200 ]; do
		port=$(sed -n 's/^safe-server: listening on .*:\([0-9][0-9]*\)$/\1/p' "$top/server.log")
		admin_port=$(sed -n 's/^safe-server: admin listening on .*:\([0-9][0-9]*\)$/\1/p' "$top/server.log")
		[ -n "$port" ] && [ -n "$admin_port" ] && break
		kill -0 "$server_pid" 2>/dev/null || break
		sleep 0.1
		tries=$((tries + 1))
	done
	if [ -z "$port" ] || [ -z "$admin_port" ]; then
		echo "$(basename "$unit"): the instance did not start; its log:"
		cat "$top/server.log"
		kill -9 "$server_pid" 2>/dev/null || true
		server_pid=
		return 1
	fi
	ok=0
	code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/octet-stream' \
		--data-binary 'instance backup' "http://127.0.0.1:$port/backups/$backup_id") || true
	case $code in 2??) ;; *) echo "PUT answered $code" && ok=1 ;; esac
	body=$(curl -s "http://127.0.0.1:$port/backups/$backup_id") || true
	[ "$body" = "instance backup" ] || { echo "GET did not return the backup" && ok=1; }
	code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$admin_port/readyz") || true
	[ "$code" = 200 ] || { echo "/readyz answered $code" && ok=1; }
	kill -TERM "$server_pid"
	status=0
	wait "$server_pid" || status=$?
	server_pid=
	[ "$status" -eq 0 ] || { echo "the instance exited with $status on SIGTERM" && ok=1; }

	# The key: where the unit says (or the data directory's path + .key), inside the state
	# directory, the service user's, mode 0600.
	key=$(echo "$exec_start" | sed -n 's/.*--key-file[ =]\([^ ]*\).*/\1/p')
	if [ -z "$key" ]; then
		key=$(echo "$exec_start" | sed -n 's/.*--data-dir[ =]\([^ ]*\).*/\1/p').key
	fi
	case $key in "$state"/*) ;; *) echo "the key $key is outside the state directory $state" && ok=1 ;; esac
	if [ -f "$top$key" ]; then
		got=$(stat -c '%u %a' "$top$key")
		[ "$got" = "$service_uid 600" ] ||
			{ echo "the key is owner/mode $got, expected $service_uid 600" && ok=1; }
	else
		echo "no key at $key" && ok=1
	fi
	if [ $ok -ne 0 ]; then
		echo "--- the instance's log:"
		cat "$top/server.log"
	fi
	return $ok
}

failures=0
if run_instance "$template" "$scratch/installed"; then
	echo "$(basename "$template") as instance $instance: started as uid $service_uid, stored a backup, ready, stopped; key in its state directory"
else
	echo "FAIL: $(basename "$template") does not run as instance $instance"
	failures=$((failures + 1))
fi

# The instance line docs/hosting.md used to give must fail the same run.
sed 's#^ExecStart=.*#ExecStart=/usr/bin/safe-server --config /etc/safe-server/%i.conf --data-dir /var/lib/safe-server-%i#' \
	"$template" >"$scratch/old-hosting@.service"
if run_instance "$scratch/old-hosting@.service" "$scratch/old" >/dev/null 2>&1; then
	echo "FAIL: the run passes a unit whose key lies outside its state directory"
	failures=$((failures + 1))
fi

if [ "$failures" -ne 0 ]; then
	echo "FAIL: $failures check(s) failed"
	exit 1
fi
echo "PASS"
