#!/usr/bin/env bash
# Every ```sql block of README.md and docs/*.md runs, in order, on fresh
# clusters per file: the docs cannot rot. A block runs on the node named by
# the comment before it (<!-- node: source|replica -->, source by default);
# with "expect: SQLSTATE" in that comment it must fail with that code. A
# ```text block right after a block (blank lines between are allowed) is
# the output the page quotes: psql's output must be exactly that (trailing
# spaces aside), so a number that drifts fails the test; after a block that
# must fail, it is the error line (ERROR:  SQLSTATE: message). The docs' host
# names source.example and replica.example stand for the two clusters.
set -euo pipefail
source "$(dirname "$0")/sync_lib.sh"
cd "$REPO_ROOT"

work=$(make_workdir docs)
trap 'rc=$?; rm -rf "$work"; cleanup_nodes "$rc"; exit "$rc"' EXIT
blocks=0
outputs=0
for doc in README.md docs/*.md; do
	rm -f "$work"/*.sql "$work"/*.out
	# Split the document: block N goes to N.<node>.<sqlstate or ok>.sql.
	awk -v dir="$work" '
		/^<!-- node:/ { node = $3; expect = "ok"; if ($4 == "expect:") expect = $5; next }
		/^```sql$/ { n++; file = sprintf("%s/%03d.%s.%s.sql", dir, n, (node ? node : "source"), expect); inside = 1; last = file; next }
		/^```text$/ && last != "" { out = last; sub(/\.sql$/, ".out", out); quoting = 1; printf "" > out; next }
		/^```$/ && quoting { quoting = 0; last = ""; close(out); next }
		quoting { print > out; next }
		/^```$/ && inside { inside = 0; node = ""; expect = "ok"; close(file); next }
		inside { print > file; next }
		/^[[:space:]]*$/ { next }
		{ last = "" }
	' "$doc"
	ls "$work"/*.sql >/dev/null 2>&1 || continue
	start_node source "src-$(basename "$doc" .md)"
	start_node replica "rep-$(basename "$doc" .md)"
	for port in "$source" "$replica"; do # the docs create the extension themselves
		q "$port" -c "DROP EXTENSION pg_qmdb" >/dev/null
	done
	for block in "$work"/*.sql; do
		IFS=. read -r _ node expect _ <<<"$(basename "$block")"
		port=${!node}
		sed -i -e "s/host=source\.example/host=127.0.0.1 port=$source/g" \
			-e "s/host=replica\.example/host=127.0.0.1 port=$replica/g" "$block"
		out=$(cluster_psql "$port" -d postgres -v VERBOSITY=verbose -f "$block" 2>&1) && rc=0 || rc=$?
		if [ "$expect" = ok ] && [ "$rc" -ne 0 ]; then
			echo "FAIL: $doc block $(basename "$block") failed:"
			echo "$out" | grep -E 'ERROR|psql:' | head -5
			exit 1
		fi
		if [ "$expect" != ok ] && ! { [ "$rc" -ne 0 ] && grep -q "ERROR:  $expect:" <<<"$out"; }; then
			echo "FAIL: $doc block $(basename "$block") should fail with $expect; got:"
			echo "$out" | head -5
			exit 1
		fi
		want="${block%.sql}.out"
		if [ -f "$want" ]; then
			# For a block that must fail, the quote is its error line.
			[ "$expect" != ok ] && out=$(grep -o 'ERROR:  .*' <<<"$out" | head -1)
			if ! diff <(sed 's/[[:space:]]*$//' "$want") <(sed 's/[[:space:]]*$//' <<<"$out") >"$work/diff"; then
				echo "FAIL: $doc block $(basename "$block"): the output differs from what the page quotes:"
				cat "$work/diff"
				exit 1
			fi
			outputs=$((outputs + 1))
		fi
		blocks=$((blocks + 1))
	done
	cluster_stop "$(node_dir "$source")" immediate
	cluster_stop "$(node_dir "$replica")" immediate
done
echo "docs_examples: $blocks SQL blocks from README.md and docs/ ran as documented, $outputs quoted outputs matched"
