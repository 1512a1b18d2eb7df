#!/usr/bin/env bash
# The cassandra service's entrypoint: Cassandra with logins (PasswordAuthenticator) and permissions
# (CassandraAuthorizer), then the image's own docker-entrypoint.sh, which starts `cassandra -f`.
#
# 1. Sets `authenticator` and `authorizer` in the image's cassandra.yaml. Cassandra 5.0 writes them
#    as a block (`authenticator:` + an indented `class_name: ...`), older releases on one line;
#    both are replaced, whatever follows is kept, and running it again changes nothing.
#    role_manager stays the image's CassandraRoleManager, which PasswordAuthenticator needs.
# 2. Writes ~/.cassandra/credentials (root only, mode 600) for the superuser `cassandra` with
#    CASSANDRA_SUPERUSER_PASSWORD, so the healthcheck and `docker compose exec cassandra cqlsh`
#    log in without a password on any command line. cassandra-init gives the superuser that
#    password on the first start (until then it has the image's default one).
#
#   cassandra-entrypoint.sh [cassandra -f]   configure, then run the image's entrypoint
#   cassandra-entrypoint.sh --configure-only edit $CASSANDRA_CONF/cassandra.yaml and exit
#                                            (deploy/check_compose.py runs this on sample files)
set -euo pipefail

CASSANDRA_CONF="${CASSANDRA_CONF:-/etc/cassandra}"

configure_yaml() {
  local yaml="$CASSANDRA_CONF/cassandra.yaml" edited
  edited="$(mktemp)"
  awk '
    function setting(key, class) {
      print key ":"
      print "  class_name: " class
      skipping = 1
    }
    # The replaced value: its indented lines (class_name, parameters, ...) go, also across blank
    # lines; the blank lines before the next top-level line stay.
    skipping && /^[ \t]*$/ { held++; next }
    skipping && /^[ \t]/ { held = 0; next }
    skipping { for (; held > 0; held--) print ""; skipping = 0 }
    /^authenticator:/ { setting("authenticator", "org.apache.cassandra.auth.PasswordAuthenticator"); authenticator = 1; next }
    /^authorizer:/ { setting("authorizer", "org.apache.cassandra.auth.CassandraAuthorizer"); authorizer = 1; next }
    { print }
    END {
      for (; held > 0; held--) print ""
      if (!authenticator) setting("authenticator", "org.apache.cassandra.auth.PasswordAuthenticator")
      if (!authorizer) setting("authorizer", "org.apache.cassandra.auth.CassandraAuthorizer")
    }
  ' "$yaml" >"$edited"
  # Rewritten in place, as the image's entrypoint does: the file keeps its owner and mode.
  cat "$edited" >"$yaml"
  rm -f "$edited"
  if ! grep -q '^  class_name: org.apache.cassandra.auth.PasswordAuthenticator$' "$yaml" ||
    ! grep -q '^  class_name: org.apache.cassandra.auth.CassandraAuthorizer$' "$yaml"; then
    echo "cassandra-entrypoint: could not set PasswordAuthenticator and CassandraAuthorizer in $yaml" >&2
    exit 1
  fi
  if grep -Eq '^role_manager:' "$yaml" && ! grep -A1 -E '^role_manager:' "$yaml" | grep -q 'CassandraRoleManager'; then
    echo "cassandra-entrypoint: $yaml sets a role_manager other than CassandraRoleManager," \
      "which PasswordAuthenticator needs" >&2
    exit 1
  fi
}

if [ "${1:-}" = "--configure-only" ]; then
  configure_yaml
  exit 0
fi

: "${CASSANDRA_SUPERUSER_PASSWORD:?set CASSANDRA_SUPERUSER_PASSWORD (see .env.example)}"
configure_yaml
echo "cassandra-entrypoint: PasswordAuthenticator and CassandraAuthorizer are on"
credentials_dir="${HOME:-/root}/.cassandra"
mkdir -p "$credentials_dir"
(
  umask 077
  printf '[plain_text_auth]\nusername = cassandra\npassword = %s\n' "$CASSANDRA_SUPERUSER_PASSWORD" \
    >"$credentials_dir/credentials"
)
if [ "$#" -eq 0 ]; then
  set -- cassandra -f
fi
exec docker-entrypoint.sh "$@"
