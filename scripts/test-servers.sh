# Sourced by scripts/test, scripts/run-local, scripts/fault-suite and workshop/bench/run: starts Apache
# Kafka and Apache Cassandra with test-servers (Maven Central artifacts, DESIGN.md §8) in the
# background, waits until both answer, and exports their endpoints into the calling shell.
#
#   start_test_servers BINARY DIR [test-servers options...]
#
# Sets test_servers_pid; the caller stops the servers with `kill "$test_servers_pid"` (they are
# stopped by PID, and die with test-servers if it is killed). Prints the launcher's log and
# returns 1 if they do not come up.
start_test_servers() {
  local binary=$1 dir=$2
  shift 2
  mkdir -p "$dir"
  local endpoints="$dir/endpoints.env" log="$dir/test-servers.log"
  rm -f "$endpoints"
  "$binary" --dir "$dir" --endpoints "$endpoints" "$@" >"$log" 2>&1 &
  test_servers_pid=$!
  until [ -s "$endpoints" ]; do
    if ! kill -0 "$test_servers_pid" 2>/dev/null; then
      echo "Kafka or Cassandra did not start; $log says:" >&2
      cat "$log" >&2
      return 1
    fi
    sleep 0.5
  done
  cat "$log"
  # shellcheck disable=SC1090
  source "$endpoints"
}
