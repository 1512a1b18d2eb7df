#!/usr/bin/env bash
# compose's cassandra-init step (deploy/cassandra-init.sh) run for real, against the test run's
# Cassandra node (CASSANDRA_CONTACT_POINTS, its superuser login in CASSANDRA_USERNAME and
# CASSANDRA_PASSWORD), twice, as every `docker compose up` runs it. Then checks what the step
# promises, with cqlsh:
# - the `sales` keyspace and the logins (`system_auth`) replicated with NetworkTopologyStrategy
#   and CASSANDRA_REPLICAS replicas in the node's data centre;
# - every table of cql/ in `sales`;
# - the pipeline's role logs in and reads, and may not create a keyspace;
# - a replica count that is not a number is refused, naming the setting.
#
#   deploy/check_cassandra_init.sh CQLSH
set -euo pipefail
cd "$(dirname "$0")/.."
cqlsh_bin=$1
export PATH="$(dirname "$cqlsh_bin"):$PATH"
contact=${CASSANDRA_CONTACT_POINTS%%,*}
host=${contact%:*}
port=${contact##*:}
dc=datacenter1
role=init_check_role
role_password=init-check-password
secrets="$(mktemp -d)"
trap 'rm -rf "$secrets"' EXIT
(
  umask 077
  printf '[plain_text_auth]\nusername = %s\npassword = %s\n' "$CASSANDRA_USERNAME" "$CASSANDRA_PASSWORD" >"$secrets/superuser"
  printf '[plain_text_auth]\nusername = %s\npassword = %s\n' "$role" "$role_password" >"$secrets/role"
)
init() { # [extra VAR=value...]: the init step as compose runs it
  env CASSANDRA_HOST="$host" CASSANDRA_PORT="$port" CQL_DIR=cql CASSANDRA_DC="$dc" CASSANDRA_REPLICAS=1 \
    CASSANDRA_SUPERUSER_PASSWORD="$CASSANDRA_PASSWORD" CASSANDRA_USERNAME="$role" \
    CASSANDRA_PASSWORD="$role_password" "$@" bash deploy/cassandra-init.sh
}
query() { # WHO CQL: the rows, one per line, without cqlsh's table frame
  cqlsh --credentials "$secrets/$1" -e "$2" "$host" "$port" | sed '1,/^-\+/d; /^ *$/d; /rows)$/d'
}
failures=0
expect() { # DESCRIPTION ACTUAL EXPECTED
  if [ "$2" != "$3" ]; then
    printf 'FAILED %s:\n  got      %s\n  expected %s\n' "$1" "$2" "$3" >&2
    failures=$((failures + 1))
  fi
}

init >/dev/null
init >"$secrets/second-run.log" 2>&1 || { cat "$secrets/second-run.log" >&2; exit 1; }

for keyspace in sales system_auth; do
  # The map's entries, one per line and sorted: cqlsh prints them in no fixed order.
  replication=$(query superuser "SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = '$keyspace'" |
    tr -d " {}'" | tr ',' '\n' | sort | tr '\n' ' ')
  expect "replication of $keyspace" "$replication" \
    "class:org.apache.cassandra.locator.NetworkTopologyStrategy $dc:1 "
done
expected_tables=$(grep -ho 'CREATE TABLE IF NOT EXISTS sales\.[a-z_]*' cql/*.cql | sed 's/.*sales\.//' | sort | tr '\n' ' ')
tables=$(query superuser "SELECT table_name FROM system_schema.tables WHERE keyspace_name = 'sales'" | tr -d ' ' | sort | tr '\n' ' ')
expect "tables of sales" "$tables" "$expected_tables"
expect "the role reads orders_by_id" \
  "$(cqlsh --credentials "$secrets/role" -e 'SELECT count(*) FROM sales.orders_by_id' "$host" "$port" >/dev/null 2>&1 && echo yes)" yes
expect "the role may not create a keyspace" \
  "$(cqlsh --credentials "$secrets/role" -e "CREATE KEYSPACE init_check_denied WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}" "$host" "$port" 2>&1 | grep -c 'Unauthorized')" 1
refusal=$(init CASSANDRA_REPLICAS=three 2>&1 >/dev/null || true)
expect "CASSANDRA_REPLICAS=three is refused, naming it" "$(grep -c 'CASSANDRA_REPLICAS must be' <<<"$refusal")" 1

if [ "$failures" -gt 0 ]; then
  echo "cassandra-init: $failures checks failed" >&2
  exit 1
fi
echo "cassandra-init ran twice on Cassandra at $host:$port: keyspace and logins replicated in $dc, $(wc -w <<<"$tables") tables, the role reads and may not create keyspaces"
