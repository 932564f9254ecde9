# Shared shell helpers for the test runner and the demo: throwaway
# PostgreSQL clusters on loopback, run as the `postgres` OS user when the
# caller is root (PostgreSQL refuses to run as root).
# shellcheck shell=bash

PG_MAJOR=${PG_MAJOR:-15}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/$PG_MAJOR/bin}
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Run a command as the server's OS user.
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# A work directory the server user can write.
make_workdir() {
	local dir
	dir=$(mktemp -d "${TMPDIR:-/tmp}/pg_qmdb.$1.XXXXXX")
	chmod 755 "$dir"
	[ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
	echo "$dir"
}

# A TCP port on 127.0.0.1 nobody listens on, away from the usual ones and
# below the kernel's ephemeral range: a port that is the local end of some
# outgoing connection cannot be bound, and a connect test cannot see that.
free_port() {
	local port low=32768
	[ -r /proc/sys/net/ipv4/ip_local_port_range ] && read -r low _ </proc/sys/net/ipv4/ip_local_port_range
	[ "$low" -gt 12000 ] || low=32768
	for _ in $(seq 1 200); do
		port=$((10000 + RANDOM % (low - 10000)))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	echo "no free port found" >&2
	return 1
}

# cluster_start DIR PORT [extra postgresql.conf lines...]
cluster_start() {
	local dir=$1 port=$2
	shift 2
	as_pg "$PG_BIN/initdb" -D "$dir/data" -A trust -U postgres --no-sync >"$dir/initdb.log" 2>&1 || {
		cat "$dir/initdb.log" >&2
		return 1
	}
	{
		echo "listen_addresses = '127.0.0.1'"
		echo "port = $port"
		echo "unix_socket_directories = '$dir'"
		echo "fsync = off"
		echo "max_worker_processes = 16"
		for line in "$@"; do echo "$line"; done
	} | as_pg tee -a "$dir/data/postgresql.conf" >/dev/null
	as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null || {
		cat "$dir/server.log" >&2
		return 1
	}
}

cluster_stop() {
	local dir=$1 mode=${2:-fast}
	[ -f "$dir/data/postmaster.pid" ] || return 0
	as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m "$mode" -w -t 60 stop >/dev/null 2>&1 || true
}

# psql against a cluster started above: cluster_psql PORT [psql args...]
cluster_psql() {
	local port=$1
	shift
	"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres "$@"
}

# Install the built extension into the system PostgreSQL (needs root).
install_extension() {
	if [ "$(id -u)" -eq 0 ]; then
		make -C "$REPO_ROOT" --no-print-directory -s install >/dev/null
	elif ! sudo -n true 2>/dev/null; then
		echo "installing the extension needs root: run 'sudo make install' first" >&2
		return 1
	else
		sudo make -C "$REPO_ROOT" --no-print-directory -s install >/dev/null
	fi
}
