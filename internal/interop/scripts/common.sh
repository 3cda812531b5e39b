# Shared by internal/interop/run.sh, internal/interop/browser/run.sh and
# internal/interop/cluster/run.sh.
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

# stop_pid PID: SIGTERM, then SIGKILL if PID (a child of this shell) is
# still there 5 s later.
stop_pid() {
  local pid="$1"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
}

stop_server() {
  stop_pid "$server_pid"
  server_pid=""
}

# start_server BINARY LOG [ARG...]: starts BINARY -addr 127.0.0.1:PORT ARG...
# on a free port, waits (bounded) for GET /healthz (or / when
# HEALTH_PATH=/), and sets $port and $server_pid.
start_server() {
  local bin="$1" log="$2" health="${HEALTH_PATH:-/healthz}"
  shift 2
  for attempt in 1 2 3; do
    port="$(node "$root/internal/interop/scripts/freeport.mjs")"
    "$bin" -addr "127.0.0.1:$port" "$@" >"$log" 2>&1 &
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

broker_pid=""
broker_url=""

# require_broker NAME KIND: fails, saying how to install it, unless the
# server of KIND (redis or nats) is installed. Never a skip.
require_broker() {
  local name="$1" kind="$2"
  case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH="$PATH:/usr/sbin" ;; esac # Debian's nats-server
  case "$kind" in
  redis) command -v redis-server >/dev/null || { echo "$name: redis-server not found: apt-get install -y redis-server" >&2; exit 1; } ;;
  nats) command -v nats-server >/dev/null || { echo "$name: nats-server not found: apt-get install -y nats-server" >&2; exit 1; } ;;
  *) echo "$name: unknown broker $kind (redis or nats)" >&2; exit 2 ;;
  esac
}

# start_broker NAME KIND LOG: starts redis-server or nats-server on a free
# port of 127.0.0.1 (nothing stored on disk), waits (bounded) until it
# accepts connections, and sets $broker_url (redis://… or nats://…) and
# $broker_pid.
start_broker() {
  local name="$1" kind="$2" log="$3" bport
  require_broker "$name" "$kind"
  for attempt in 1 2 3; do
    bport="$(node "$root/internal/interop/scripts/freeport.mjs")"
    case "$kind" in
    redis) redis-server --port "$bport" --bind 127.0.0.1 --save '' --appendonly no >"$log" 2>&1 & ;;
    nats) nats-server -a 127.0.0.1 -p "$bport" >"$log" 2>&1 & ;;
    esac
    broker_pid=$!
    broker_url="$kind://127.0.0.1:$bport"
    for _ in $(seq 1 100); do
      kill -0 "$broker_pid" 2>/dev/null || break
      if (exec 3<>"/dev/tcp/127.0.0.1/$bport") 2>/dev/null; then
        return 0
      fi
      sleep 0.1
    done
    echo "$name: $kind did not come up on port $bport (attempt $attempt); its log:" >&2
    tail -n 20 "$log" >&2 || true
    stop_broker
  done
  echo "$name: giving up starting $kind" >&2
  exit 1
}

stop_broker() {
  stop_pid "$broker_pid"
  broker_pid=""
}
