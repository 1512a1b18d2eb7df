#!/usr/bin/env bash
# The cassandra service's healthcheck: healthy once CQL answers a login of the superuser. It logs in
# with the credentials file cassandra-entrypoint.sh wrote (CASSANDRA_SUPERUSER_PASSWORD), or, on a
# fresh volume before cassandra-init has set that password, with the image's well-known default
# (cassandra/cassandra), which cassandra-init then replaces. No password is on a command line or in
# the output.
query='SELECT release_version FROM system.local'
cqlsh --connect-timeout=4 -e "$query" >/dev/null 2>&1 && exit 0
credentials="$(mktemp)" || exit 1
trap 'rm -f "$credentials"' EXIT
printf '[plain_text_auth]\nusername = cassandra\npassword = cassandra\n' >"$credentials"
cqlsh --connect-timeout=4 --credentials "$credentials" -e "$query" >/dev/null 2>&1
