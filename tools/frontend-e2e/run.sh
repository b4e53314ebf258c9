#!/usr/bin/env bash
# Starts everything Meet's upstream frontend needs around a meet binary and runs flow.mjs:
# the OpenID provider of ../shared/idp, the LiveKit and S3 stand-ins, meet on a fresh SQLite file with
# the reference environment behind a gateway that serves /media/ as nginx does (media-auth, then
# S3), and the built frontend behind serve-frontend.mjs.
#
#   MEET_BIN=target/debug/meet FRONTEND_DIST=<dist> tools/frontend-e2e/run.sh [extra env files]
# Needs: node, npm install here (playwright-core), Debian's chromium, a frontend built with
# ../shared/reference/build-frontend.sh (FRONTEND_REF=e5f0b1c2 for upstream HEAD).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
shared=${SHARED:-$root/../shared}
bin=${MEET_BIN:-$root/target/debug/meet}
dist=${FRONTEND_DIST:?set FRONTEND_DIST to a built frontend dist/ directory}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

[ -d "$here/node_modules" ] || (cd "$here" && npm install --no-audit --no-fund >/dev/null)
[ -d "$shared/idp/node_modules" ] || (cd "$shared/idp" && npm ci --no-audit --no-fund >/dev/null)

(cd "$shared/idp" && IDP_CLIENT_SECRET=reference-oidc-secret IDP_QUIET=1 exec node server.mjs) >"$work/idp.log" 2>&1 &
pids+=($!)
STANDIN_QUIET=1 node "$here/livekit-standin.mjs" --port 7991 >"$work/livekit.log" 2>&1 &
pids+=($!)
STANDIN_QUIET=1 node "$here/s3-standin.mjs" --port 9000 >"$work/s3.log" 2>&1 &
pids+=($!)
# The env files hold KEY=value lines (values unquoted, possibly with spaces), not shell.
load_env() {
  local line
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in '' | '#'*) continue ;; esac
    export "${line%%=*}=${line#*=}"
  done <"$1"
}
(
  load_env "$shared/reference/reference.env"
  load_env "$shared/reference/head.env"
  for f in "$@"; do load_env "$f"; done
  MEET_DATA_DIR="$work" MEET_BIND=127.0.0.1:8071 DJANGO_CSRF_TRUSTED_ORIGINS=http://127.0.0.1:3100 exec "$bin"
) >"$work/meet.log" 2>&1 &
pids+=($!)
node "$here/media-gateway.mjs" --port 8070 --meet http://127.0.0.1:8071 --s3 http://127.0.0.1:9000 \
  --bucket "${AWS_STORAGE_BUCKET_NAME:-meet-media-storage}" >"$work/gateway.log" 2>&1 &
pids+=($!)
node "$shared/reference/serve-frontend.mjs" --dist "$dist" --backend http://127.0.0.1:8070 --proxy /api/,/media/ \
  --port 3100 --quiet >"$work/frontend.log" 2>&1 &
pids+=($!)
for url in http://127.0.0.1:8083/healthz http://127.0.0.1:8071/__lbheartbeat__ http://127.0.0.1:3100/; do
  for _ in $(seq 100); do curl -sf -o /dev/null "$url" && break; sleep 0.2; done
done
status=0
node "$here/flow.mjs" --frontend http://127.0.0.1:3100 || status=$?
if [ "$status" != 0 ]; then echo "--- meet log (tail)"; tail -30 "$work/meet.log"; fi
exit "$status"
