#!/usr/bin/env bash
# Applies cql/ (every NNN_*.cql file, in order) with cqlsh. The statements are IF NOT EXISTS, so
# this is safe on every start.
set -euo pipefail
for file in /cql/[0-9][0-9][0-9]_*.cql; do
  echo "applying $file"
  cqlsh "${CASSANDRA_HOST:-cassandra}" -f "$file"
done
echo "Cassandra schema ready"
