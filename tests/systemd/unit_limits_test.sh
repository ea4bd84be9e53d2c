#!/bin/sh
# The unit's descriptor limit (issue 13, item 1): every connection the server accepts takes a
# descriptor, and RocksDB keeps its table and blob files open besides. systemd's default soft
# limit is 1024 while max-connections is 4096, so a unit without LimitNOFILE= runs out of
# descriptors long before max-connections. This checks that the soft LimitNOFILE= of the unit is
# at least max-connections (from the configuration file, or a --max-connections in ExecStart=)
# plus a headroom of 1024, and that the check refuses a unit without the line.
#
# Usage: unit_limits_test.sh UNIT_FILE CONFIG_FILE
# Exit status: 0 pass, 1 fail.

set -eu

unit=$1
conf=$2
headroom=1024
systemd_default_soft=1024

for file in "$unit" "$conf"; do
	if [ ! -f "$file" ]; then
		echo "FAIL: no file at $file"
		exit 1
	fi
done

# max-connections: a flag in ExecStart= overrides the configuration file; 4096 is the built-in
# default.
max_connections() {
	flag=$(sed -n 's/^ExecStart=.*--max-connections[ =]\([0-9][0-9]*\).*/\1/p' "$1" | tail -n 1)
	if [ -n "$flag" ]; then
		echo "$flag"
		return
	fi
	value=$(sed -n 's/^max-connections *= *\([0-9][0-9]*\).*/\1/p' "$conf" | tail -n 1)
	echo "${value:-4096}"
}

# soft_limit UNIT: the soft descriptor limit the service gets (LimitNOFILE=SOFT:HARD or N; the
# last line wins, as in systemd; systemd's default without one).
soft_limit() {
	value=$(sed -n 's/^LimitNOFILE= *\([^ ]*\).*/\1/p' "$1" | tail -n 1)
	[ -n "$value" ] || value=$systemd_default_soft
	value=${value%%:*}
	[ "$value" = infinity ] && value=1073741816
	echo "$value"
}

# limit_ok UNIT: true when its soft limit covers max-connections plus the headroom.
limit_ok() {
	soft=$(soft_limit "$1")
	max=$(max_connections "$1")
	need=$((max + headroom))
	case $soft in *[!0-9]* | '')
		echo "LimitNOFILE=$soft in $(basename "$1") is not a number"
		return 1
		;;
	esac
	if [ "$soft" -lt "$need" ]; then
		echo "$(basename "$1"): soft LimitNOFILE $soft < max-connections $max + $headroom"
		return 1
	fi
	echo "$(basename "$1"): soft LimitNOFILE $soft >= max-connections $max + $headroom"
}

failures=0
limit_ok "$unit" || failures=$((failures + 1))

# The check refuses a unit without LimitNOFILE= (systemd's soft 1024), and one whose limit a
# larger max-connections outgrows.
scratch=$(mktemp -d "${TMPDIR:-/tmp}/safe-limits-XXXXXX")
trap 'rm -rf "$scratch"' EXIT INT TERM
grep -v '^LimitNOFILE=' "$unit" >"$scratch/no-limit.service"
if limit_ok "$scratch/no-limit.service" >/dev/null; then
	echo "FAIL: the check passes a unit without LimitNOFILE="
	failures=$((failures + 1))
fi
soft=$(soft_limit "$unit")
sed "s/^ExecStart=.*/& --max-connections $soft/" "$unit" >"$scratch/outgrown.service"
if limit_ok "$scratch/outgrown.service" >/dev/null; then
	echo "FAIL: the check passes a unit whose max-connections equals its limit"
	failures=$((failures + 1))
fi

if [ "$failures" -ne 0 ]; then
	echo "FAIL: $failures check(s) failed"
	exit 1
fi
echo "PASS"
