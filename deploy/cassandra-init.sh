#!/usr/bin/env bash
# The cassandra-init step (Cassandra runs PasswordAuthenticator and CassandraAuthorizer, see
# cassandra-entrypoint.sh). Safe on every start:
# 1. the superuser `cassandra` gets CASSANDRA_SUPERUSER_PASSWORD (on a fresh volume it still has the
#    image's default password, which this replaces);
# 2. applies cql/ (every NNN_*.cql file, in order, all IF NOT EXISTS) as the superuser, the
#    keyspace with NetworkTopologyStrategy and CASSANDRA_REPLICAS replicas in data centre
#    CASSANDRA_DC; an existing keyspace, and the logins (system_auth), are given the same
#    replication, so no login or order lives on one node of a cluster alone;
# 3. the pipeline's role CASSANDRA_USERNAME logs in with CASSANDRA_PASSWORD (created, or its
#    password set again, so a changed .env takes effect) and may SELECT and MODIFY in the `sales`
#    keyspace, nothing more; then checks that it can log in and read.
# Passwords go to cqlsh in credentials files only this process can read, never on a command line or
# in the output.
set -euo pipefail

host="${CASSANDRA_HOST:-cassandra}"
port="${CASSANDRA_PORT:-9042}"
cql_dir="${CQL_DIR:-/cql}"
keyspace=sales
replicas="${CASSANDRA_REPLICAS:-1}"
dc="${CASSANDRA_DC:-dc1}"
if ! [[ "$replicas" =~ ^[1-9][0-9]?$ ]]; then
  echo "CASSANDRA_REPLICAS must be a replica count from 1 to 99, not '$replicas'" >&2
  exit 1
fi
if ! [[ "$dc" =~ ^[A-Za-z0-9_.-]+$ ]]; then
  echo "CASSANDRA_DC must name a data centre (letters, digits, _ . -), not '$dc'" >&2
  exit 1
fi
replication="{'class': 'NetworkTopologyStrategy', '$dc': $replicas}"
: "${CASSANDRA_SUPERUSER_PASSWORD:?set CASSANDRA_SUPERUSER_PASSWORD (see .env.example)}"
: "${CASSANDRA_USERNAME:?set CASSANDRA_USERNAME (see .env.example)}"
: "${CASSANDRA_PASSWORD:?set CASSANDRA_PASSWORD (see .env.example)}"
if [ "$CASSANDRA_USERNAME" = cassandra ]; then
  echo "CASSANDRA_USERNAME must name the pipeline's own role, not the superuser cassandra" >&2
  exit 1
fi

secrets="$(mktemp -d)"
trap 'rm -rf "$secrets"' EXIT
credentials() { # NAME ROLE PASSWORD: a cqlsh credentials file, readable by this user only
  (
    umask 077
    printf '[plain_text_auth]\nusername = %s\npassword = %s\n' "$2" "$3" >"$secrets/$1"
  )
}
credentials superuser cassandra "$CASSANDRA_SUPERUSER_PASSWORD"
credentials default cassandra cassandra
credentials pipeline "$CASSANDRA_USERNAME" "$CASSANDRA_PASSWORD"

cql() { # WHO [cqlsh arguments]: cqlsh as that login; statements on stdin when no -e/-f
  local who=$1
  shift
  cqlsh --credentials "$secrets/$who" "$@" "$host" "$port"
}
can_log_in() { # WHO
  cql "$1" -e 'SELECT release_version FROM system.local' >/dev/null 2>&1
}
literal() { # a CQL string literal
  local quote="'"
  printf "'%s'" "${1//$quote/$quote$quote}"
}

attempt=0
until can_log_in superuser; do
  if can_log_in default; then
    echo "setting the superuser's password (CASSANDRA_SUPERUSER_PASSWORD)"
    cql default <<<"ALTER ROLE cassandra WITH PASSWORD = $(literal "$CASSANDRA_SUPERUSER_PASSWORD");"
  fi
  attempt=$((attempt + 1))
  if [ "$attempt" -ge 30 ]; then
    echo "cannot log in to Cassandra at $host as the superuser cassandra with CASSANDRA_SUPERUSER_PASSWORD," \
      "nor with the image's default password. If CASSANDRA_SUPERUSER_PASSWORD changed after the first" \
      "start, set the old value back, or change the password in Cassandra first (README)." >&2
    exit 1
  fi
  sleep 2 # a changed password reaches the credentials cache within credentials_validity (2 s)
done

echo "replication of $keyspace and system_auth: $replication"
for file in "$cql_dir"/[0-9][0-9][0-9]_*.cql; do
  echo "applying $file"
  sed "s/replication = {[^}]*}/replication = $replication/" "$file" >"$secrets/schema.cql"
  cql superuser -f "$secrets/schema.cql"
done
cql superuser <<CQL
ALTER KEYSPACE $keyspace WITH replication = $replication;
ALTER KEYSPACE system_auth WITH replication = $replication;
CQL
# Written again with the new replication in place, so every replica holds the superuser's login.
cql superuser <<<"ALTER ROLE cassandra WITH PASSWORD = $(literal "$CASSANDRA_SUPERUSER_PASSWORD");"

echo "role $CASSANDRA_USERNAME: login with CASSANDRA_PASSWORD, SELECT and MODIFY on keyspace $keyspace"
role="$(literal "$CASSANDRA_USERNAME")"
password="$(literal "$CASSANDRA_PASSWORD")"
# (stdout holds only notices such as "already granted"; errors go to stderr)
cql superuser >/dev/null <<CQL
CREATE ROLE IF NOT EXISTS $role WITH PASSWORD = $password AND LOGIN = true;
ALTER ROLE $role WITH PASSWORD = $password AND LOGIN = true AND SUPERUSER = false;
GRANT SELECT ON KEYSPACE $keyspace TO $role;
GRANT MODIFY ON KEYSPACE $keyspace TO $role;
CQL

attempt=0
until cql pipeline -e "SELECT order_id FROM $keyspace.orders_by_id LIMIT 1" >/dev/null 2>&1; do
  attempt=$((attempt + 1))
  if [ "$attempt" -ge 15 ]; then
    echo "role $CASSANDRA_USERNAME cannot log in to Cassandra and read $keyspace.orders_by_id" >&2
    exit 1
  fi
  sleep 2
done
echo "Cassandra schema and logins ready"
