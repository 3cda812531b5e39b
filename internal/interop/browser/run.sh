#!/usr/bin/env bash
# Builds examples/chat and examples/testapp, starts each on a free port of
# 127.0.0.1, and runs the headless-Chromium tests: the chat page against the
# chat server (chat.test.mjs) and phoenix.js's WebSocket → long-poll
# fallback against the test app (fallback.test.mjs).
#
#   bash internal/interop/browser/run.sh
#   CHAT_URL=http://127.0.0.1:4000 PYRE_URL=http://127.0.0.1:4001 bash internal/interop/browser/run.sh   # use servers you started
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
cd "$root"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/pyre-browser.XXXXXX")"
# shellcheck source=../scripts/common.sh
. "$root/internal/interop/scripts/common.sh"

testapp_pid=""

cleanup() {
  stop_server # the chat server
  if [ -n "$testapp_pid" ]; then
    server_pid="$testapp_pid"
    stop_server
  fi
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

if [ -z "${PYRE_URL:-}" ]; then
  echo "browser: building examples/testapp with -race"
  (cd examples && go build -race -o "$tmp/testapp" ./testapp)
  start_server "$tmp/testapp" "$tmp/testapp.log"
  testapp_pid="$server_pid"
  server_pid=""
  export PYRE_URL="http://127.0.0.1:$port"
  echo "browser: testapp listening on $PYRE_URL"
fi

if [ -z "${CHAT_URL:-}" ]; then
  echo "browser: building examples/chat with -race"
  (cd examples && go build -race -o "$tmp/chat" ./chat)
  # The chat server has no /healthz; its page at / answers once it is up.
  HEALTH_PATH=/ start_server "$tmp/chat" "$tmp/server.log"
  export CHAT_URL="http://127.0.0.1:$port"
  echo "browser: chat listening on $CHAT_URL"
fi

set +e
timeout "${PYRE_BROWSER_TIMEOUT:-300}" node --test --test-concurrency=1 "$@" internal/interop/browser/*.test.mjs
status=$?
set -e

status="$(check_server_log browser "$status" "$tmp/server.log")"
if [ -n "$testapp_pid" ]; then
  status="$(server_pid="$testapp_pid"; check_server_log browser-testapp "$status" "$tmp/testapp.log")"
fi
exit "$status"
