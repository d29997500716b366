#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL server, for the tests that need one:
#     wbstore/with-postgres.sh cargo test --workspace
# The server comes from the machine's PostgreSQL packages (Debian: `apt-get install
# postgresql`), listens only on a Unix socket in a new temporary directory, and is stopped and
# removed when the command ends. The command sees WBSTORE_TEST_POSTGRES (a connection string to
# its `postgres` database; each test creates a database of its own there) and
# WBSTORE_REQUIRE_POSTGRES=1, so a PostgreSQL test cannot skip itself. As root, the server runs
# as the `postgres` user (initdb refuses root).
set -euo pipefail
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "with-postgres: no PostgreSQL server found under /usr/lib/postgresql (Debian: apt-get install postgresql)" >&2
    exit 1
fi
dir=$(mktemp -d /tmp/wbpg.XXXXXX)
as=()
if [ "$(id -u)" = 0 ]; then
    chown postgres "$dir"
    as=(runuser -u postgres --)
fi
stop() {
    "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap stop EXIT
"${as[@]}" "$bin/initdb" -D "$dir/data" -A trust -U postgres >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
# fsync stays on: the tests that kill an instance mid-write check what was acknowledged.
"${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-k $dir -c listen_addresses= -c max_connections=500" start >/dev/null \
    || { cat "$dir/server.log" >&2; exit 1; }
export WBSTORE_TEST_POSTGRES="host=$dir user=postgres dbname=postgres"
export WBSTORE_REQUIRE_POSTGRES=1
status=0
"$@" || status=$?
exit "$status"
