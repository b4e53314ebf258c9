#!/usr/bin/env bash
# In-call endpoints under load next to the comparable existing read, on one release build:
#   c  GET  /rooms/{slug}/ logged in (the load kit's case c: session, room, accesses, token)
#   t  POST /rooms/{id}/toggle-hand/ with the participant's LiveKit token (token, room, UpdateParticipant)
#   m  POST /rooms/{id}/mute-participant/ as the owner (session, CSRF, room, role, MutePublishedTrack)
# against the LiveKit stand-in of tools/frontend-e2e (node). wrk 2 threads x 32 connections,
# ROUNDS rounds of DURATION each, cases interleaved so that the machine's drift hits them alike.
#   scripts/incall_bench.sh [sqlite|pg]
set -euo pipefail
cd "$(dirname "$0")/.."
BACKEND="${1:-sqlite}"
PORT="${PORT:-8071}"
ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-5s}"
PG_ADMIN="${PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
cargo build --release --quiet
BIN="${CARGO_TARGET_DIR:-$PWD/target}/release/meet"
WORK="$(mktemp -d)"
trap 'kill "${SERVER:-}" "${STUB:-}" 2>/dev/null || true; rm -rf "$WORK"' EXIT
STANDIN_QUIET=1 node tools/frontend-e2e/livekit-standin.mjs --port 7881 & STUB=$!
export MEET_DATA_DIR="$WORK" MEET_BIND="127.0.0.1:$PORT" DJANGO_SECRET_KEY="bench-secret" RUST_LOG=warn
export LIVEKIT_API_URL="http://127.0.0.1:7881" LIVEKIT_API_KEY="devkey"
export LIVEKIT_API_SECRET="bench-livekit-secret-of-32-characters-at-least"
if [ "$BACKEND" = pg ]; then
  DB="meet_incall_$(date +%s)"
  psql "$PG_ADMIN" -qc "CREATE DATABASE $DB" >/dev/null
  export DATABASE_URL="${PG_ADMIN%/*}/$DB" REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}" MEET_CACHE_PREFIX="incall-$DB:"
fi
eval "$("$BIN" seed-bench 2>/dev/null)"
"$BIN" serve >"$WORK/server.log" 2>&1 & SERVER=$!
API="http://127.0.0.1:$PORT/api/v1.0"
for _ in $(seq 100); do curl -sf -o /dev/null "$API/config/" && break; sleep 0.1; done
ORIGIN="https://127.0.0.1:$PORT"
room=$(curl -sf -H "Cookie: sessionid=$OWNER_SESSION" -H "X-Forwarded-Proto: https" "$API/rooms/perf-public/")
ROOM_ID=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' <<<"$room")
TOKEN=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["livekit"]["token"])' <<<"$room")
SESSION_H=(-H "X-Forwarded-Proto: https" -H "Cookie: sessionid=$OWNER_SESSION; csrftoken=$CSRF_TOKEN"
           -H "X-CSRFToken: $CSRF_TOKEN" -H "Origin: $ORIGIN" -H "Referer: $ORIGIN/")
run() { # name, then wrk arguments
  local name=$1; shift
  local out; out=$(wrk -t2 -c32 -d"$DURATION" --latency "$@")
  printf '%s rps=%s p99=%s %s\n' "$name" "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" \
    "$(awk '$1 == "99%" {print $2}' <<<"$out")" "$(grep STATUS <<<"$out" || true)"
}
for r in $(seq "$ROUNDS"); do
  echo "-- round $r ($BACKEND)"
  run c -H "X-Forwarded-Proto: https" -H "Cookie: sessionid=$OWNER_SESSION" "$API/rooms/perf-public/"
  BODY='{"raised": true}' run t -s scripts/post_json.lua -H "X-Forwarded-Proto: https" \
    -H "Authorization: Bearer $TOKEN" "$API/rooms/$ROOM_ID/toggle-hand/"
  BODY='{"participant_identity": "someone", "track_sid": "TR_bench"}' run m -s scripts/post_json.lua \
    "${SESSION_H[@]}" "$API/rooms/$ROOM_ID/mute-participant/"
done
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
[ "$BACKEND" = pg ] && psql "$PG_ADMIN" -qc "DROP DATABASE $DB WITH (FORCE)" >/dev/null
grep -E "ERROR|WARN" "$WORK/server.log" | sort | uniq -c | sort -rn | head -5 || true
