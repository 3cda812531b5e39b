#!/usr/bin/env bash
# Three chat nodes on one broker, on this machine: what several Pyre nodes
# behind a load balancer look like, without the load balancer.
#
#   make cluster                  # Redis (redis-server)
#   make cluster BROKER=nats      # NATS (nats-server)
#   bash examples/cluster/run.sh [redis|nats]
#
# It starts the broker on a free loopback port and three chat servers on
# 127.0.0.1:4001, 4002 and 4003 (PORTS="a b c" to change them), each a node
# of the cluster, prints their URLs and runs until Ctrl-C.
set -euo pipefail

broker="${1:-redis}"
ports=(${PORTS:-4001 4002 4003})
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/pyre-cluster.XXXXXX")"
pids=()

cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

command -v node >/dev/null || { echo "cluster: node is not installed (npm ci installs phoenix.js for the page)" >&2; exit 1; }
[ -d node_modules/phoenix ] || { echo "cluster: node_modules is missing: run 'npm ci' first (make cluster does)" >&2; exit 1; }
export PATH="$PATH:/usr/sbin" # Debian's nats-server

bport="$(node internal/interop/scripts/freeport.mjs)"
case "$broker" in
redis)
  command -v redis-server >/dev/null || { echo "cluster: redis-server not found: apt-get install -y redis-server" >&2; exit 1; }
  redis-server --port "$bport" --bind 127.0.0.1 --save '' --appendonly no >"$tmp/broker.log" 2>&1 &
  url="redis://127.0.0.1:$bport"
  ;;
nats)
  command -v nats-server >/dev/null || { echo "cluster: nats-server not found: apt-get install -y nats-server" >&2; exit 1; }
  nats-server -a 127.0.0.1 -p "$bport" >"$tmp/broker.log" 2>&1 &
  url="nats://127.0.0.1:$bport"
  ;;
*)
  echo "cluster: unknown broker $broker (redis or nats)" >&2
  exit 2
  ;;
esac
pids+=($!)

echo "cluster: building examples/chat"
(cd examples && go build -o "$tmp/chat" ./chat)

# Every node verifies the tokens any node signs: one secret for all.
secret="$(node -e 'process.stdout.write(require("crypto").randomBytes(32).toString("base64"))')"
for i in "${!ports[@]}"; do
  n=$((i + 1))
  "$tmp/chat" -addr "127.0.0.1:${ports[$i]}" -pubsub "$url" -node "node-$n" -secret "$secret" >"$tmp/chat-$n.log" 2>&1 &
  pids+=($!)
done
for i in "${!ports[@]}"; do
  if ! node internal/interop/scripts/wait-http.mjs "http://127.0.0.1:${ports[$i]}/" 20000; then
    echo "cluster: node-$((i + 1)) did not start; its log:" >&2
    tail -n 20 "$tmp/chat-$((i + 1)).log" >&2
    exit 1
  fi
done

echo
echo "Three chat nodes on one $broker ($url):"
for i in "${!ports[@]}"; do
  echo "  node-$((i + 1))  http://127.0.0.1:${ports[$i]}"
done
echo
echo "Open two of them in two browser tabs, as two people: each sees the"
echo "other's messages and the other online. Ctrl-C stops everything."
wait
