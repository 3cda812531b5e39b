# Shared by internal/interop/run.sh and internal/interop/browser/run.sh.
# Expects $root (the repo root) and $tmp (a scratch dir) to be set.

require_node_modules() {
  local missing=""
  for pkg in "$@"; do
    [ -d "$root/node_modules/$pkg" ] || missing="$missing $pkg"
  done
  if [ -n "$missing" ]; then
    echo "interop: node_modules is missing (${missing# }): run 'npm ci' in $root first" >&2
    exit 1
  fi
  command -v node >/dev/null || { echo "interop: node is not installed (Node 20+ is needed)" >&2; exit 1; }
}

server_pid=""

stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
}

# start_server BINARY LOG: starts BINARY -addr 127.0.0.1:PORT on a free port,
# waits (bounded) for GET /healthz (or / when HEALTH_PATH=/), and sets $port.
start_server() {
  local bin="$1" log="$2" health="${HEALTH_PATH:-/healthz}"
  for attempt in 1 2 3; do
    port="$(node "$root/internal/interop/scripts/freeport.mjs")"
    "$bin" -addr "127.0.0.1:$port" >"$log" 2>&1 &
    server_pid=$!
    if node "$root/internal/interop/scripts/wait-http.mjs" "http://127.0.0.1:$port$health" 20000 "$server_pid"; then
      return 0
    fi
    echo "interop: server did not come up on port $port (attempt $attempt); its log:" >&2
    tail -n 30 "$log" >&2 || true
    stop_server
  done
  echo "interop: giving up starting $bin" >&2
  exit 1
}

# check_server_log NAME STATUS LOG: after a run, shows the server's log when
# the run failed or the server died, and fails the run on a data race.
# Prints the final status.
check_server_log() {
  local name="$1" status="$2" log="$3"
  [ -f "$log" ] || { echo "$status"; return; }
  if [ -n "$server_pid" ] && ! kill -0 "$server_pid" 2>/dev/null; then
    echo "$name: the server exited during the run; last lines of its log:" >&2
    tail -n 50 "$log" >&2
    status=1
  elif [ "$status" -ne 0 ]; then
    echo "$name: last lines of the server log:" >&2
    tail -n 30 "$log" >&2
  fi
  if grep -q "WARNING: DATA RACE" "$log"; then
    echo "$name: the race detector reported a data race in the server:" >&2
    grep -A 30 "WARNING: DATA RACE" "$log" | head -n 80 >&2
    status=1
  fi
  echo "$status"
}
