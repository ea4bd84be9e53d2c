#!/bin/sh
# The Prometheus alerting rules shipped in conf/ (issue 13, item 8):
# - `promtool check rules` accepts them;
# - `promtool test rules` with safe-server.rules.test.yml: the alerts fire on the series they are
#   meant for and stay quiet on normal ones;
# - every safe_* metric they name is one safe-server/app/metrics.cc writes (a renamed metric would
#   otherwise silence its alert without a word).
# promtool missing is a failure (Debian's prometheus package; scripts/bootstrap installs it).
#
# Usage: prometheus_rules_test.sh RULES_FILE RULES_TEST_FILE METRICS_CC
# Exit status: 0 pass, 1 fail.

set -eu

rules=$1
rules_test=$2
metrics_cc=$3

if ! command -v promtool >/dev/null 2>&1; then
	echo "FAIL: promtool is not installed (Debian package prometheus)"
	exit 1
fi
scratch=$(mktemp -d "${TMPDIR:-/tmp}/safe-rules-XXXXXX")
trap 'rm -rf "$scratch"' EXIT INT TERM

failures=0
promtool check rules "$rules" || failures=$((failures + 1))

# The test file names the rules file by its base name, beside it.
cp "$rules" "$scratch/safe-server.rules.yml"
cp "$rules_test" "$scratch/rules.test.yml"
(cd "$scratch" && promtool test rules rules.test.yml) || failures=$((failures + 1))

# metric_names FILE: the safe_* names in the expressions of FILE (comments and text left out).
metric_names() {
	sed -n '/^ *expr: |/,/^ *[a-z]*:/p; s/^ *expr: *//p' "$1" | grep -v '^ *#' |
		grep -o 'safe_[a-z0-9_]*' | sort -u
}
names=$(metric_names "$rules")
[ -n "$names" ] || { echo "FAIL: no safe_* metric found in $rules"; failures=$((failures + 1)); }
for name in $names; do
	grep -q "\"$name[ {\"]" "$metrics_cc" || grep -q "{\"$name\"" "$metrics_cc" || {
		echo "FAIL: $rules uses $name, which safe-server/app/metrics.cc does not write"
		failures=$((failures + 1))
	}
done
echo "metrics used: $(echo $names)"

# The name check refuses a misspelt metric.
sed 's/safe_store_up == 0/safe_storage_up == 0/' "$rules" >"$scratch/misspelt.yml"
for name in $(metric_names "$scratch/misspelt.yml"); do
	grep -q "\"$name[ {\"]" "$metrics_cc" || grep -q "{\"$name\"" "$metrics_cc" || misspelt_found=1
done
if [ "${misspelt_found:-0}" -ne 1 ]; then
	echo "FAIL: the metric name check passes a misspelt metric"
	failures=$((failures + 1))
fi

if [ "$failures" -ne 0 ]; then
	echo "FAIL: $failures check(s) failed"
	exit 1
fi
echo "PASS"
