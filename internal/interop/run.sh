#!/usr/bin/env bash
# Runs the Node interop suite (internal/interop/*.test.mjs) against a -race
# build of examples/testapp on a free port of 127.0.0.1.
#
#   bash internal/interop/run.sh                        # everything
#   bash internal/interop/run.sh --test-name-pattern=boom   # extra args go to node --test
#   PYRE_URL=http://127.0.0.1:4000 bash internal/interop/run.sh   # use a server you started
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/pyre-interop.XXXXXX")"
# shellcheck source=scripts/common.sh
. "$root/internal/interop/scripts/common.sh"

cleanup() {
  stop_server
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

require_node_modules phoenix ws

if [ -z "${PYRE_URL:-}" ]; then
  echo "interop: building examples/testapp with -race"
  (cd examples && go build -race -o "$tmp/testapp" ./testapp)
  start_server "$tmp/testapp" "$tmp/server.log"
  export PYRE_URL="http://127.0.0.1:$port"
  echo "interop: testapp listening on $PYRE_URL"
fi

set +e
# The whole run is bounded too (a leaked handle would otherwise keep a test file alive).
timeout "${PYRE_INTEROP_TIMEOUT:-900}" node --test --test-concurrency=1 "$@" internal/interop/*.test.mjs
status=$?
set -e

status="$(check_server_log interop "$status" "$tmp/server.log")"
exit "$status"
