#!/usr/bin/env bash
# Builds examples/chat, starts it on a free port of 127.0.0.1, and runs the
# headless-Chromium test of the chat page against it.
#
#   bash internal/interop/browser/run.sh
#   CHAT_URL=http://127.0.0.1:4000 bash internal/interop/browser/run.sh   # use a server you started
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
cd "$root"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/pyre-browser.XXXXXX")"
# shellcheck source=../scripts/common.sh
. "$root/internal/interop/scripts/common.sh"

cleanup() {
  stop_server
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

require_node_modules phoenix playwright-core
if [ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
  echo "browser: ${CHROMIUM_PATH:-/usr/bin/chromium} is missing: run 'apt-get update && apt-get install -y chromium' (as root)" >&2
  exit 1
fi

if [ -z "${CHAT_URL:-}" ]; then
  echo "browser: building ./examples/chat with -race"
  go build -race -o "$tmp/chat" ./examples/chat
  # The chat server has no /healthz; its page at / answers once it is up.
  HEALTH_PATH=/ start_server "$tmp/chat" "$tmp/server.log"
  export CHAT_URL="http://127.0.0.1:$port"
  echo "browser: chat listening on $CHAT_URL"
fi

set +e
timeout "${PYRE_BROWSER_TIMEOUT:-300}" node --test --test-concurrency=1 "$@" internal/interop/browser/chat.test.mjs
status=$?
set -e

status="$(check_server_log browser "$status" "$tmp/server.log")"
exit "$status"
