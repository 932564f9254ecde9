#!/usr/bin/env bash
# Runs every test suite and prints one summary line per suite and a total.
# Called by `make test` after the build.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

total_pass=0
total_fail=0
report() { # suite passed failed
	echo "$1: $2 passed, $3 failed"
	total_pass=$((total_pass + $2))
	total_fail=$((total_fail + $3))
}

# run_suite NAME TOOL ARGS...: a pg_regress-style runner on a temporary
# instance, as the server's OS user; keeps its directory only on failure.
run_suite() {
	local name=$1 tool=$2 work rc passed failed
	shift 2
	echo "==> $name"
	work=$(make_workdir "$name")
	as_pg "$PG_BIN/../lib/pgxs/src/test/$tool" --temp-instance="$work/instance" --inputdir="$REPO_ROOT" \
		--outputdir="$work" --bindir="$PG_BIN" "$@" >"$work/$name.log" 2>&1
	rc=$?
	cat "$work/$name.log"
	passed=$(grep -cE '\.\.\. ok' "$work/$name.log" || true)
	failed=$(grep -cE '\.\.\. FAILED' "$work/$name.log" || true)
	if [ "$rc" -ne 0 ]; then
		[ -f "$work/regression.diffs" ] && cat "$work/regression.diffs"
		[ "$failed" -eq 0 ] && failed=1
	else
		rm -rf "$work"
	fi
	report "$name" "$passed" "$failed"
}

# 1. Unit tests of src/core (GoogleTest).
echo "==> unit tests"
unit_log=$(mktemp)
build/unit_tests --gtest_brief=1 2>&1 | tee "$unit_log"
unit_rc=${PIPESTATUS[0]}
passed=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) tests\?\..*/\1/p' "$unit_log")
failed=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) tests\?, listed below.*/\1/p' "$unit_log")
[ -z "$failed" ] && [ "$unit_rc" -ne 0 ] && failed=1
report unit "${passed:-0}" "${failed:-0}"
rm -f "$unit_log"

# 2. pg_regress on a temporary instance.
echo "==> installing the extension"
if ! install_extension; then
	report install 0 1
else
	run_suite pg_regress regress/pg_regress --schedule="$REPO_ROOT/sql/schedule" \
		--temp-config="$REPO_ROOT/sql/regress.conf"
	run_suite isolation isolation/pg_isolation_regress --temp-config="$REPO_ROOT/specs/isolation.conf" \
		$(cd specs && ls -- *.spec | sed 's/\.spec$//')
fi

# 3. Integration tests: real clusters on loopback, one script each.
echo "==> integration tests"
passed=0
failed=0
for t in tests/integration/*.sh; do
	[ -x "$t" ] || continue # helpers are sourced, not run
	if "$t"; then
		passed=$((passed + 1))
	else
		echo "FAILED: $t"
		failed=$((failed + 1))
	fi
done
report integration "$passed" "$failed"

echo "total: $total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
