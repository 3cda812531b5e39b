#!/usr/bin/env bash
# Runs the cluster interop suite (internal/interop/cluster/*.test.mjs)
# once per broker: redis-server or nats-server on a free port of
# 127.0.0.1, three -race builds of examples/testapp linked through it
# (-pubsub, -node node-1..3, one -secret), the suite with
# PYRE_CLUSTER_URLS and PYRE_BROKER set, then a check of every node's log
# for data races.
#
#   bash internal/interop/cluster/run.sh                   # Redis, then NATS
#   BROKERS=nats bash internal/interop/cluster/run.sh      # one broker
#   bash internal/interop/cluster/run.sh --test-name-pattern=presence   # extra args go to node --test
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
cd "$root"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/pyre-cluster.XXXXXX")"
# shellcheck source=../scripts/common.sh
. "$root/internal/interop/scripts/common.sh"

read -r -a brokers <<<"${BROKERS:-redis nats}"
node_pids=()
test_pid=""

stop_nodes() {
  for pid in "${node_pids[@]}"; do stop_pid "$pid"; done
  node_pids=()
}

cleanup() {
  stop_pid "$test_pid"
  stop_server # a node being started
  stop_nodes
  stop_broker
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

require_node_modules phoenix ws
# Every broker is checked before anything starts: a missing one fails the
# run, it is never skipped.
for b in "${brokers[@]}"; do require_broker cluster "$b"; done

echo "cluster: building examples/testapp with -race"
(cd examples && go build -race -o "$tmp/testapp" ./testapp)
secret="$(node -e 'console.log(require("node:crypto").randomBytes(32).toString("hex"))')"

status=0
for b in "${brokers[@]}"; do
  start=$SECONDS
  start_broker cluster "$b" "$tmp/$b.log"
  urls=()
  for n in 1 2 3; do
    start_server "$tmp/testapp" "$tmp/$b-node-$n.log" -pubsub "$broker_url" -node "node-$n" -secret "$secret"
    node_pids+=("$server_pid")
    urls+=("http://127.0.0.1:$port")
    server_pid=""
  done
  echo "cluster: $b on $broker_url; node-1..3 on ${urls[*]}"

  # Bounded: a leaked handle would otherwise keep a test file alive. In the
  # background, so that Ctrl-C stops it at once.
  PYRE_CLUSTER_URLS="$(IFS=,; echo "${urls[*]}")" PYRE_BROKER="$b" \
    timeout "${PYRE_CLUSTER_TIMEOUT:-150}" node --test --test-concurrency=1 "$@" internal/interop/cluster/*.test.mjs &
  test_pid=$!
  st=0
  wait "$test_pid" || st=$?
  test_pid=""

  for n in 1 2 3; do
    st="$(server_pid="${node_pids[$((n - 1))]}"; check_server_log "cluster $b node-$n" "$st" "$tmp/$b-node-$n.log")"
  done
  if [ -n "$broker_pid" ] && ! kill -0 "$broker_pid" 2>/dev/null; then
    echo "cluster: $b exited during the run; its log:" >&2
    tail -n 20 "$tmp/$b.log" >&2
    st=1
  fi
  stop_nodes
  stop_broker
  echo "cluster: $b: $([ "$st" -eq 0 ] && echo ok || echo "FAILED ($st)") in $((SECONDS - start)) s"
  [ "$st" -eq 0 ] || status=1
done
exit "$status"
