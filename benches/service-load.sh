#!/usr/bin/env bash
# The service's load figures (README, "The key store: SQLite or PostgreSQL", **Speed.**): one
# `wbkms serve` on SQLite, then two on one PostgreSQL database, each under `wbkms load` with 8
# clients and 10,000 mixed requests. Needs a PostgreSQL server; the simplest is a throwaway one:
#     wbstore/with-postgres.sh bash benches/service-load.sh
# (it reads the connection string from WBSTORE_TEST_POSTGRES, or from WBKMS_DATABASE_URL naming a
# database of its own, which it must be able to create). Prints wbkms load's JSON for each.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --quiet -p wbkms -p wbgen
bin="$(.ci/target-dir)/release"
export WBGEN_PASSPHRASE="service load benchmark"
admin_url=${WBSTORE_TEST_POSTGRES:-${WBKMS_DATABASE_URL:?"a PostgreSQL server: WBSTORE_TEST_POSTGRES or WBKMS_DATABASE_URL"}}
unset WBKMS_DATABASE_URL WBGEN_KEYSTORE
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
port() { for _ in $(seq 600); do [ -s "$1" ] && { cat "$1"; return; }; sleep 0.1; done; echo "no server on $1" >&2; exit 1; }
token() { "$bin/wbkms" token create "$@" --role admin --name load | python3 -c 'import json, sys; print(json.load(sys.stdin)["Token"])'; }

"$bin/wbgen" --keystore "$work/store" init >/dev/null
tok=$(token --keystore "$work/store")
"$bin/wbkms" serve --keystore "$work/store" --listen 127.0.0.1:0 --port-file "$work/a" 2>"$work/a.log" & pids+=($!)
echo "== one instance, SQLite"
WBKMS_TOKEN=$tok "$bin/wbkms" load --target "$(port "$work/a")" --clients 8 --requests 10000
kill "${pids[@]}"; wait "${pids[@]}" 2>/dev/null || true; pids=()

db="wbkms_load_$$"
psql -q "$admin_url" -c "CREATE DATABASE $db"
case $admin_url in
    *dbname=*) url=$(sed "s/dbname=[^ ]*/dbname=$db/" <<<"$admin_url") ;;
    *) url="${admin_url%/*}/$db" ;;
esac
"$bin/wbgen" --database-url "$url" init >/dev/null
tok=$(token --database-url "$url")
for node in a b; do
    "$bin/wbkms" serve --database-url "$url" --instance-id "node-$node" --listen 127.0.0.1:0 \
        --port-file "$work/pg-$node" 2>"$work/pg-$node.log" & pids+=($!)
done
echo "== two instances, one PostgreSQL database"
WBKMS_TOKEN=$tok "$bin/wbkms" load --target "$(port "$work/pg-a")" --target "$(port "$work/pg-b")" \
    --clients 8 --requests 10000
