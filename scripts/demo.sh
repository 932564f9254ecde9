#!/usr/bin/env bash
# `make demo`: a throwaway cluster on loopback with pg_qmdb installed.
# Every server it starts is stopped on exit, Ctrl-C included.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

work=$(make_workdir demo)
cleanup() {
	cluster_stop "$work/source" immediate
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "installing the extension"
install_extension

port=$(free_port)
step "starting a throwaway cluster on 127.0.0.1:$port"
as_pg mkdir -p "$work/source"
cluster_start "$work/source" "$port" "shared_preload_libraries = 'pg_qmdb'"

step "CREATE EXTENSION pg_qmdb"
cluster_psql "$port" -d postgres -c "CREATE EXTENSION pg_qmdb"
cluster_psql "$port" -d postgres -c "SELECT extname, extversion, qmdb.version() AS library_version FROM pg_extension WHERE extname = 'pg_qmdb'"

step "the sync wire format, through SQL"
cluster_psql "$port" -d postgres -c "SELECT encode(qmdb.encode_request('operations', 300, 5, 1000), 'hex') AS request_bytes, r.* FROM qmdb.decode_request(qmdb.encode_request('operations', 300, 5, 1000)) r"

step "done; stopping the cluster"
