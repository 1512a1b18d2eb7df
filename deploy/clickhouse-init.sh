#!/usr/bin/env bash
# Applies clickhouse-sql/ (every NNN_*.sql file, in order) and loads the store seed. Safe to run
# on every start: the DDL is IF NOT EXISTS and the seed replaces rows by store_id.
set -euo pipefail
client=(clickhouse-client --host "${CLICKHOUSE_HOST:-clickhouse}" --user "${CLICKHOUSE_USER:-default}" --password "${CLICKHOUSE_PASSWORD:-}")
for file in /clickhouse-sql/[0-9][0-9][0-9]_*.sql; do
  echo "applying $file"
  "${client[@]}" --multiquery < "$file"
done
"${client[@]}" --query "INSERT INTO sales.stores FORMAT CSVWithNames" < /clickhouse-sql/seed/stores.csv
"${client[@]}" --query "OPTIMIZE TABLE sales.stores FINAL"
echo "ClickHouse schema and store seed ready"
