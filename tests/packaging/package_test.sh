#!/bin/sh
# The Debian package (issue 6, "Install"): build it with cpack, unpack it into a scratch root
# with dpkg-deb -x, and check it from there: the binaries run (--help, --version), the conffile,
# the unit, the man pages (every flag, key and subcommand documented), the copyright and
# changelog, Depends from dpkg-shlibdeps, and, when lintian is installed, no lintian errors.
#
# Usage: package_test.sh BUILD_DIR SOURCE_DIR VERSION CMAKE CPACK
# Exit status: 0 pass, 1 fail, 77 skipped (no dpkg-deb).

set -eu

build_dir=$1
source_dir=$2
version=$3
cmake=$4
cpack=$5

if ! command -v dpkg-deb >/dev/null 2>&1; then
	echo "SKIP: dpkg-deb is not installed"
	exit 77
fi

scratch=$(mktemp -d "${TMPDIR:-/tmp}/safe-package-XXXXXX")
trap 'rm -rf "$scratch"' EXIT INT TERM

failures=0
fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}

# What the package holds, built first: cpack itself builds nothing.
if ! "$cmake" --build "$build_dir" --target safe-server safe-client safe-admin safe_package_files \
	-j2 >"$scratch/build.log" 2>&1; then
	cat "$scratch/build.log"
	echo "FAIL: building the packaged targets failed"
	exit 1
fi
# cpack installs into its own staging area under -B, where the package is written too.
if ! "$cpack" -G DEB --config "$build_dir/CPackConfig.cmake" -B "$scratch/out" >"$scratch/cpack.log" 2>&1; then
	cat "$scratch/cpack.log"
	echo "FAIL: cpack did not build the package"
	exit 1
fi
set -- "$scratch"/out/*.deb
if [ "$#" -ne 1 ] || [ ! -f "$1" ]; then
	echo "FAIL: expected exactly one .deb, found: $*"
	exit 1
fi
deb=$1
echo "package: $(basename "$deb")"

root="$scratch/root"
dpkg-deb -x "$deb" "$root"
dpkg-deb -e "$deb" "$scratch/control"

# The binaries run from the scratch root.
for bin in safe-server safe-client safe-admin; do
	if [ ! -x "$root/usr/bin/$bin" ]; then
		fail "/usr/bin/$bin is missing"
		continue
	fi
	got=$("$root/usr/bin/$bin" --version) || fail "$bin --version exited with $?"
	[ "$got" = "$bin $version" ] || fail "$bin --version printed '$got', expected '$bin $version'"
	"$root/usr/bin/$bin" --help >"$scratch/$bin.help" || fail "$bin --help exited with $?"
done
grep -q "Usage" "$scratch/safe-server.help" || fail "safe-server --help printed no usage"

# The configuration file, installed as a conffile, is the one of the source tree.
conf=/etc/safe-server/safe-server.conf
cmp -s "$root$conf" "$source_dir/conf/safe-server.conf" || fail "$conf differs from conf/safe-server.conf"
grep -qx "$conf" "$scratch/control/conffiles" || fail "$conf is not a conffile"
# The configuration file is accepted by the packaged server as it is (a dry parse: --help after
# --config reads the file first and would fail on a bad key).
"$root/usr/bin/safe-server" --config "$root$conf" --version >/dev/null ||
	fail "safe-server refuses the packaged $conf"

# The unit, starting the packaged binary with the packaged configuration.
unit=/lib/systemd/system/safe-server.service
if [ -f "$root$unit" ]; then
	grep -q "^ExecStart=/usr/bin/safe-server .*--config $conf" "$root$unit" ||
		fail "$unit does not start /usr/bin/safe-server with $conf"
else
	fail "$unit is missing"
fi
instance_unit=/lib/systemd/system/safe-server@.service
if [ -f "$root$instance_unit" ]; then
	grep -q '^ExecStart=/usr/bin/safe-server --config /etc/safe-server/%i.conf --data-dir /var/lib/safe-server-%i/data ' \
		"$root$instance_unit" || fail "$instance_unit does not keep each instance's data in its state directory"
	grep -qx 'StateDirectory=safe-server-%i' "$root$instance_unit" ||
		fail "$instance_unit has no StateDirectory=safe-server-%i"
else
	fail "$instance_unit is missing"
fi
for script in postinst prerm postrm; do
	[ -x "$scratch/control/$script" ] || fail "the $script maintainer script is missing"
done

# Documentation.
for page in man8/safe-server.8 man5/safe-server.conf.5 man8/safe-admin.8 man1/safe-client.1; do
	gz="$root/usr/share/man/$page.gz"
	if ! gzip -t "$gz" 2>/dev/null; then
		fail "/usr/share/man/$page.gz is missing or not gzip"
		continue
	fi
	gzip -dc "$gz" | sed 's/\\-/-/g' >"$scratch/$(basename "$page").txt"
done
[ -f "$root/usr/share/doc/safe-server/copyright" ] || fail "the copyright file is missing"
gzip -t "$root/usr/share/doc/safe-server/changelog.Debian.gz" 2>/dev/null ||
	fail "changelog.Debian.gz is missing or not gzip"

# The shipped documents, and every relative link in them leads to a file in the package
# (issue 13, item 5: operations.md, threema.md and hosting.md linked to files left out).
docdir=/usr/share/doc/safe-server
for doc in operations.md threema.md hosting.md; do
	[ -f "$root$docdir/$doc" ] || fail "$docdir/$doc is missing"
done
find "$root$docdir" -name '*.md' >"$scratch/docs"
while read -r doc; do
	# [text](target): no scheme, no bare #anchor; the #anchor of a target is dropped.
	sed 's/](/\n](/g' "$doc" | sed -n 's/^](\([^)# ]*\).*/\1/p' | grep -v -e '^$' -e ':' |
		sort -u >"$scratch/links" || true
	while read -r link; do
		[ -e "$(dirname "$doc")/$link" ] ||
			fail "${doc#"$root"} links to $link, which the package does not hold"
	done <"$scratch/links"
done <"$scratch/docs"
echo "documents: $(wc -l <"$scratch/docs"), every relative link checked"
rules=$docdir/examples/safe-server.rules.yml
if [ -f "$root$rules" ]; then
	cmp -s "$root$rules" "$source_dir/conf/safe-server.rules.yml" || fail "$rules differs from conf/"
	if command -v promtool >/dev/null 2>&1; then
		promtool check rules "$root$rules" >/dev/null || fail "promtool check rules refuses $rules"
	fi
else
	fail "$rules is missing"
fi

# Every flag of the server is in safe-server(8), and every key in safe-server.conf(5).
flags=$(grep -o -- '--[a-z0-9][a-z0-9-]*' "$scratch/safe-server.help" | sort -u)
for flag in $flags; do
	grep -q -- "$flag" "$scratch/safe-server.8.txt" || fail "safe-server(8) does not document $flag"
	case $flag in --help | --version | --config) continue ;; esac
	key=${flag#--}
	grep -q "^\.BI $key " "$scratch/safe-server.conf.5.txt" ||
		fail "safe-server.conf(5) does not document the key $key"
done
# Every subcommand of safe-admin and safe-client is in its man page.
for bin in safe-admin safe-client; do
	section=8
	[ "$bin" = safe-client ] && section=1
	subcommands=$(sed -n '/^Subcommands:/,$p' "$scratch/$bin.help" | awk 'NR > 1 && NF { print $1 }')
	[ -n "$subcommands" ] || fail "$bin --help lists no subcommands"
	for sub in $subcommands; do
		grep -q "^\.B $bin $sub" "$scratch/$bin.$section.txt" ||
			fail "$bin($section) does not document '$bin $sub'"
	done
done

# Depends were computed from the binaries' libraries.
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
for lib in libc6 librocksdb libpistache; do
	case $depends in *"$lib"*) ;; *) fail "Depends lacks $lib" ;; esac
done

# lintian, when installed: no errors (warnings are listed in docs/operations.md).
if command -v lintian >/dev/null 2>&1; then
	if ! lintian --fail-on error --no-tag-display-limit "$deb" >"$scratch/lintian.log" 2>&1; then
		cat "$scratch/lintian.log"
		fail "lintian reports errors"
	else
		echo "lintian: no errors ($(grep -c '^W:' "$scratch/lintian.log" || true) warnings)"
	fi
else
	echo "note: lintian is not installed; not run"
fi

if [ "$failures" -ne 0 ]; then
	echo "$failures check(s) failed"
	exit 1
fi
echo "PASS"
