#!/bin/sh
# The systemd unit's sandbox (issue 4, "Deployment hardening"):
# - `systemd-analyze security --offline=yes` rates systemd/safe-server.service at 1.5 or lower;
# - `systemd-analyze verify` finds nothing wrong in it (an unknown or misspelt directive, a bad
#   value, a missing section), except that /usr/bin/safe-server is not installed at test time.
# Then the same two checks are run on spoilt copies of the unit, which they must refuse: the test
# shows that it can fail.
#
# systemd-analyze missing is a failure, not a skip: CI runs on Debian 12, where the package
# systemd provides it (systemd 252 has --offline).
#
# Usage: systemd_security_test.sh UNIT_FILE
# Exit status: 0 pass, 1 fail.

set -eu

unit=$1
max_exposure=1.5
# What `verify` may say about the unit because nothing is installed at test time: the binary is
# not there yet, and --man=no keeps it from looking up the Documentation= man pages.
installed_binary=/usr/bin/safe-server

if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "FAIL: systemd-analyze is not installed (Debian package systemd); it is needed to check the unit"
	exit 1
fi
if [ ! -f "$unit" ]; then
	echo "FAIL: no unit file at $unit"
	exit 1
fi

scratch=$(mktemp -d "${TMPDIR:-/tmp}/safe-systemd-XXXXXX")
trap 'rm -rf "$scratch"' EXIT INT TERM

# exposure FILE: prints the overall exposure figure of FILE (e.g. 1.1), or nothing.
exposure() {
	systemd-analyze security --offline=yes --no-pager "$1" >"$scratch/security.out" 2>&1 || true
	sed -n 's/.*Overall exposure level for [^:]*: *\([0-9][0-9]*\(\.[0-9]*\)\{0,1\}\).*/\1/p' \
		"$scratch/security.out" | head -n 1
}

# exposure_ok FILE: true when FILE rates at max_exposure or lower; says why not otherwise.
exposure_ok() {
	figure=$(exposure "$1")
	if [ -z "$figure" ]; then
		echo "no overall exposure figure in the output of systemd-analyze security for $1:"
		cat "$scratch/security.out"
		return 1
	fi
	echo "systemd-analyze security --offline=yes $(basename "$1"): $figure (at most $max_exposure)"
	if ! awk -v f="$figure" -v m="$max_exposure" 'BEGIN { exit !(f <= m) }'; then
		echo "the exposure $figure is above $max_exposure; what is not protected:"
		grep '✗' "$scratch/security.out" || true
		return 1
	fi
}

# verify_ok FILE: true when systemd-analyze verify says nothing about FILE but that the installed
# binary is missing; prints what it said otherwise.
verify_ok() {
	systemd-analyze verify --man=no "$1" >"$scratch/verify.out" 2>&1 || true
	grep -v -F "Command $installed_binary is not executable: No such file or directory" \
		"$scratch/verify.out" >"$scratch/verify.rest" || true
	if [ -s "$scratch/verify.rest" ]; then
		echo "systemd-analyze verify $(basename "$1") complains:"
		cat "$scratch/verify.rest"
		return 1
	fi
	echo "systemd-analyze verify $(basename "$1"): nothing but the binary not being installed"
}

failures=0

# The unit as shipped.
exposure_ok "$unit" || failures=$((failures + 1))
verify_ok "$unit" || failures=$((failures + 1))

# The checks refuse a unit without its sandbox ...
mkdir "$scratch/weak" "$scratch/misspelt"
grep -v -e '^Protect' -e '^Private' -e '^Restrict' -e '^SystemCall' -e '^CapabilityBoundingSet' \
	-e '^MemoryDenyWriteExecute' -e '^LockPersonality' "$unit" >"$scratch/weak/safe-server.service"
if exposure_ok "$scratch/weak/safe-server.service" >/dev/null; then
	echo "FAIL: the exposure check passes a unit without its sandbox"
	failures=$((failures + 1))
fi
# ... and one with a misspelt directive.
sed 's/^\[Service\]$/[Service]\nProtectSystm=strict/' "$unit" >"$scratch/misspelt/safe-server.service"
if verify_ok "$scratch/misspelt/safe-server.service" >/dev/null; then
	echo "FAIL: the verify check passes a unit with a misspelt directive"
	failures=$((failures + 1))
fi

if [ "$failures" -ne 0 ]; then
	echo "FAIL: $failures check(s) failed"
	exit 1
fi
echo "PASS"
