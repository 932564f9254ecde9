#!/usr/bin/env bash
# Install the Debian packages pg_qmdb needs, if any is missing. As root this
# runs apt-get; otherwise it prints the exact command and fails.
set -euo pipefail

PG_MAJOR=${PG_MAJOR:-15}
want=(g++ make "postgresql-$PG_MAJOR" "postgresql-client-$PG_MAJOR" libpq-dev libssl-dev
      libgtest-dev libbenchmark-dev python3 prometheus-postgres-exporter curl
      debhelper postgresql-server-dev-all lintian)
# python3: the hostile-peer harness; the exporter and curl: the metrics test;
# debhelper, postgresql-server-dev-all (pg_buildext) and lintian: make deb
missing=()
for pkg in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# The server headers and pg_regress. Pin them to the installed server's
# version so installing them never upgrades the server underneath us.
dev="postgresql-server-dev-$PG_MAJOR"
if ! dpkg-query -W -f='${Status}' "$dev" 2>/dev/null | grep -q "install ok installed"; then
	server_version=$(dpkg-query -W -f='${Version}' "postgresql-$PG_MAJOR" 2>/dev/null || true)
	missing+=("$dev${server_version:+=$server_version}")
fi

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "pg_qmdb needs these Debian packages: ${missing[*]}" >&2
	echo "Install them with:" >&2
	echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
	exit 1
fi

echo "==> installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
if ! apt-get install -y -qq "${missing[@]}" >/dev/null; then
	# The pinned server-dev version may have left the archive: take the
	# current one (apt then upgrades the server to match).
	apt-get install -y -qq "${missing[@]%%=*}" >/dev/null
fi
