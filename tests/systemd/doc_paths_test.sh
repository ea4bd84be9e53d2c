#!/bin/sh
# One data path everywhere (issue 13, item 2): the systemd unit's --data-dir and --key-file are
# the paths every document, man page, configuration comment and help text names. Following a man
# page that said `--data-dir /var/lib/safe-server` (the state directory, not the unit's data
# directory) made `safe-admin restore --force` move the key aside, and the service then started
# empty with a new key.
#
# Checked in every given file (groff's \- read as -):
# - each `--data-dir P` and `--key-file P` with P under /var/lib is the unit's;
# - each path under /var/lib/safe-server (or /var/lib/private/safe-server, where DynamicUser
#   keeps it) is one the unit makes: the state directory, the data directory, the key, the
#   data directory's .checkpoints (the default checkpoint-dir), .replaced-TIME (a restore's old
#   directory) or .restoring (a restore's staging);
# the same for an instance of the template unit (safe-server-%i for safe-server);
# - safe-server(8)'s FILES names the data directory and the key.
# Then a spoilt line must be refused: the test shows that it can fail.
#
# Usage: doc_paths_test.sh UNIT_FILE SAFE_SERVER_MAN_PAGE FILE...
# Exit status: 0 pass, 1 fail.

set -eu

unit=$1
man_page=$2
shift 2

exec_start=$(sed -n 's/^ExecStart=//p' "$unit" | tail -n 1)
flag_value() { echo "$exec_start" | sed -n "s/.*$1[ =]\([^ ]*\).*/\1/p"; }
data=$(flag_value --data-dir)
key=$(flag_value --key-file)
state=/var/lib/$(sed -n 's/^StateDirectory=//p' "$unit" | tail -n 1)
if [ -z "$data" ] || [ -z "$key" ] || [ "$state" = /var/lib/ ]; then
	echo "FAIL: $unit lacks --data-dir, --key-file or StateDirectory="
	exit 1
fi
case $data in "$state"/*) ;; *) echo "FAIL: the unit's data directory $data is not in its state directory $state" && exit 1 ;; esac
case $key in "$state"/*) ;; *) echo "FAIL: the unit's key $key is not in its state directory $state" && exit 1 ;; esac
echo "unit: state directory $state, --data-dir $data, --key-file $key"

scratch=$(mktemp -d "${TMPDIR:-/tmp}/safe-doc-paths-XXXXXX")
trap 'rm -rf "$scratch"' EXIT INT TERM

# The text of a file as a reader sees the paths: groff's \- as -, font changes dropped, and an
# instance name (safe-server-%i, safe-server-a) read as the single unit's.
plain() {
	sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's#/var/lib/\(private/\)\{0,1\}safe-server-[%A-Za-z0-9]*#/var/lib/\1safe-server#g' "$1"
}

# check FILE...: prints one line per wrong path; true when there is none.
check() {
	bad=0
	for file in "$@"; do
		plain "$file" >"$scratch/plain"
		# --data-dir and --key-file under /var/lib.
		grep -n -o -e '--data-dir[ =]/var/lib/[^ `"),;]*' -e '--key-file[ =]/var/lib/[^ `"),;]*' \
			"$scratch/plain" >"$scratch/flags" || true
		while IFS=: read -r line text; do
			flag=${text%%[ =]*}
			value=${text#*[ =]}
			value=$(echo "$value" | sed 's/[.:]*$//')
			want=$data
			[ "$flag" = --key-file ] && want=$key
			if [ "$value" != "$want" ]; then
				echo "$file:$line: $flag $value (the unit's is $want)"
				bad=1
			fi
		done <"$scratch/flags"
		# Every path under the state directory.
		grep -n -o -e '/var/lib/\(private/\)\{0,1\}safe-server[^ `"),;<>*]*' "$scratch/plain" \
			>"$scratch/paths" || true
		while IFS=: read -r line path; do
			path=$(echo "$path" | sed -e 's#^/var/lib/private/#/var/lib/#' -e 's/[.:]*$//')
			case $path in
			"$state" | "$state"/ | "$data" | "$key" | "$data".checkpoints | "$data".checkpoints/* | \
				"$data".replaced-* | "$data".restoring) ;;
			*)
				echo "$file:$line: $path is none of the unit's paths ($state, $data, $key)"
				bad=1
				;;
			esac
		done <"$scratch/paths"
	done
	return $bad
}

failures=0
check "$@" || failures=$((failures + 1))

plain "$man_page" | sed -n '/^\.SH FILES/,/^\.SH /p' >"$scratch/files"
for path in "$data" "$key"; do
	grep -q "^\.I $path\$" "$scratch/files" || {
		echo "$man_page: FILES does not name $path"
		failures=$((failures + 1))
	}
done

# The check refuses what the old man pages said.
printf 'safe-admin checkpoint --data-dir /var/lib/safe-server /srv/copy\n' >"$scratch/spoilt-flag"
printf 'the key is /var/lib/safe-server.key\n' >"$scratch/spoilt-path"
for spoilt in "$scratch/spoilt-flag" "$scratch/spoilt-path"; do
	if check "$spoilt" >/dev/null; then
		echo "FAIL: the check passes $(cat "$spoilt")"
		failures=$((failures + 1))
	fi
done

if [ "$failures" -ne 0 ]; then
	echo "FAIL: $failures check(s) failed"
	exit 1
fi
echo "PASS"
