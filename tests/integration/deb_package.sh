#!/usr/bin/env bash
# The Debian package: `make deb` builds postgresql-15-qmdb (lintian clean),
# apt-get installs it, and the pg_regress suite runs against the installed
# files (the installcheck convention); then the package goes and the tree's
# own build is installed again for the tests that follow.
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"
cd "$REPO_ROOT"
if [ "$(id -u)" -ne 0 ]; then
	echo "deb_package: skipped (installing a package needs root)"
	exit 0
fi
make --no-print-directory -s deb >/tmp/pg_qmdb.deb.log 2>&1 || { tail -30 /tmp/pg_qmdb.deb.log; exit 1; }
deb=$(ls build/deb/postgresql-15-qmdb_*_amd64.deb build/deb/postgresql-15-qmdb_*_"$(dpkg --print-architecture)".deb 2>/dev/null | head -1)
restore() {
	local rc=$?
	apt-get remove -y -qq postgresql-15-qmdb >/dev/null 2>&1 || true
	install_extension
	exit "$rc"
}
trap restore EXIT
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "./$deb" >/dev/null
dpkg -L postgresql-15-qmdb | grep -q "/usr/lib/postgresql/15/lib/pg_qmdb.so" || { echo "FAIL: the package lacks the library"; exit 1; }
[ "$(dpkg-query -W -f='${Status}' postgresql-15-qmdb)" = "install ok installed" ] || { echo "FAIL: not installed"; exit 1; }
work=$(make_workdir installcheck)
if ! as_pg "$PG_BIN/../lib/pgxs/src/test/regress/pg_regress" --temp-instance="$work/instance" --inputdir="$REPO_ROOT" \
	--outputdir="$work" --bindir="$PG_BIN" --schedule="$REPO_ROOT/sql/schedule" \
	--temp-config="$REPO_ROOT/sql/regress.conf" >"$work/out.txt" 2>&1; then
	cat "$work/out.txt"
	[ -f "$work/regression.diffs" ] && cat "$work/regression.diffs"
	exit 1
fi
rm -rf "$work"
echo "deb_package: $(basename "$deb") built, lintian clean, installed; pg_regress passed against it"
