#!/usr/bin/env bash
# Builds examples/chat and examples/testapp, starts each on a free port of
# 127.0.0.1, and runs the headless-Chromium tests: the chat page against the
# chat server (chat.test.mjs), phoenix.js's WebSocket → long-poll
# fallback against the test app (fallback.test.mjs), and the chat page on
# two chat nodes linked through redis-server (cluster.test.mjs).
#
#   bash internal/interop/browser/run.sh
#   CHAT_URL=http://127.0.0.1:4000 PYRE_URL=http://127.0.0.1:4001 CHAT_CLUSTER_URLS=http://127.0.0.1:4002,http://127.0.0.1:4003 bash internal/interop/browser/run.sh   # use servers you started
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
cd "$root"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/pyre-browser.XXXXXX")"
# shellcheck source=../scripts/common.sh
. "$root/internal/interop/scripts/common.sh"

testapp_pid=""
chat_server_pid=""
chat_node_pids=()

cleanup() {
  stop_server # the chat server, or a chat node being started
  stop_pid "$chat_server_pid"
  if [ -n "$testapp_pid" ]; then
    server_pid="$testapp_pid"
    stop_server
  fi
  for pid in "${chat_node_pids[@]}"; do stop_pid "$pid"; done
  stop_broker
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

require_node_modules phoenix ws playwright-core
if [ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
  echo "browser: ${CHROMIUM_PATH:-/usr/bin/chromium} is missing: run 'apt-get update && apt-get install -y chromium' (as root)" >&2
  exit 1
fi
if [ -z "${CHAT_CLUSTER_URLS:-}" ]; then
  require_broker browser redis # the two chat nodes of cluster.test.mjs
fi

if [ -z "${PYRE_URL:-}" ]; then
  echo "browser: building examples/testapp with -race"
  (cd examples && go build -race -o "$tmp/testapp" ./testapp)
  start_server "$tmp/testapp" "$tmp/testapp.log"
  testapp_pid="$server_pid"
  server_pid=""
  export PYRE_URL="http://127.0.0.1:$port"
  echo "browser: testapp listening on $PYRE_URL"
fi

build_chat() {
  if [ ! -x "$tmp/chat" ]; then
    echo "browser: building examples/chat with -race"
    (cd examples && go build -race -o "$tmp/chat" ./chat)
  fi
}

if [ -z "${CHAT_URL:-}" ]; then
  build_chat
  # The chat server has no /healthz; its page at / answers once it is up.
  HEALTH_PATH=/ start_server "$tmp/chat" "$tmp/server.log"
  export CHAT_URL="http://127.0.0.1:$port"
  echo "browser: chat listening on $CHAT_URL"
fi

if [ -z "${CHAT_CLUSTER_URLS:-}" ]; then
  build_chat
  start_broker browser redis "$tmp/redis.log"
  chat_server_pid="$server_pid"
  chat_urls=()
  for n in 1 2; do
    HEALTH_PATH=/ start_server "$tmp/chat" "$tmp/chat-$n.log" -pubsub "$broker_url" -node "chat-$n"
    chat_node_pids+=("$server_pid")
    chat_urls+=("http://127.0.0.1:$port")
  done
  server_pid="$chat_server_pid"
  chat_server_pid=""
  CHAT_CLUSTER_URLS="$(IFS=,; echo "${chat_urls[*]}")"
  export CHAT_CLUSTER_URLS
  echo "browser: chat-1 and chat-2 on $broker_url: $CHAT_CLUSTER_URLS"
fi

set +e
timeout "${PYRE_BROWSER_TIMEOUT:-300}" node --test --test-concurrency=1 "$@" internal/interop/browser/*.test.mjs
status=$?
set -e

status="$(check_server_log browser "$status" "$tmp/server.log")"
if [ -n "$testapp_pid" ]; then
  status="$(server_pid="$testapp_pid"; check_server_log browser-testapp "$status" "$tmp/testapp.log")"
fi
for i in "${!chat_node_pids[@]}"; do
  n=$((i + 1))
  status="$(server_pid="${chat_node_pids[$i]}"; check_server_log "browser chat-$n" "$status" "$tmp/chat-$n.log")"
done
exit "$status"
