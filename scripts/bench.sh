#!/usr/bin/env bash
# Measures a release build of meet with the shared load kit (../shared/bench, cases a-h).
#   scripts/bench.sh sqlite          # embedded SQLite + in-process cache
#   scripts/bench.sh pg              # PostgreSQL + Redis (PG_URL, REDIS_URL below)
#   MEET_BIN=/tmp/meet-old LABEL=old scripts/bench.sh pg   # an already built binary
# Needs wrk, curl and python3 (Debian: apt-get install wrk curl). Results go to results/<label>/.
set -euo pipefail
cd "$(dirname "$0")/.."
BACKEND="${1:-sqlite}"
KIT="${BENCH_KIT:-../shared/bench}"
PG_ADMIN="${PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
REDIS="${REDIS_URL:-redis://127.0.0.1:6379}"
PORT="${PORT:-8071}"
LABEL="${LABEL:-meet-$BACKEND}"

# MEET_BIN: measure that binary instead of building this checkout (A/B comparisons).
if [ -z "${MEET_BIN:-}" ]; then cargo build --release --quiet; fi
BIN="${MEET_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/release/meet}"
WORK="$(mktemp -d)"
trap 'kill "${SERVER:-}" "${STUB:-}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

# The kit's LiveKit stand-in answers ListRooms/SendData (case f notifications).
rustc -O -o "$WORK/lk-stub" "$KIT/lk_stub.rs"
"$WORK/lk-stub" 127.0.0.1:7880 & STUB=$!

export MEET_DATA_DIR="$WORK" MEET_BIND="127.0.0.1:$PORT" DJANGO_SECRET_KEY="bench-secret"
export LIVEKIT_API_URL="http://127.0.0.1:7880" LIVEKIT_API_KEY="devkey" LIVEKIT_API_SECRET="secret"
export LOBBY_WAITING_TIMEOUT=60            # the kit needs >= 30 s (case g)
export MEET_TRUSTED_PROXIES=1              # the kit gives each case-f request its own X-Forwarded-For
export RUST_LOG="${RUST_LOG:-info,sqlx=warn}"
if [ "$BACKEND" = pg ]; then
  DB="meet_bench_$(date +%s)"
  psql "$PG_ADMIN" -qc "CREATE DATABASE $DB" >/dev/null
  export DATABASE_URL="${PG_ADMIN%/*}/$DB" REDIS_URL="$REDIS" MEET_CACHE_PREFIX="bench-$DB:"
fi

eval "$("$BIN" seed-bench 2>/dev/null)"
# Start-up: from exec to the first 200 on an existing database.
"$KIT/startup_probe.sh" "http://127.0.0.1:$PORT/api/v1.0/config/" "$WORK/pid" "$WORK/server.log" -- "$BIN" serve \
  | tee "$WORK/startup.txt"
SERVER=$(cat "$WORK/pid")
sleep 1
echo "idle_rss_kib=$(awk '/VmRSS/ {print $2}' "/proc/$SERVER/status")" | tee -a "$WORK/startup.txt"

OWNER_SESSION="$OWNER_SESSION" CREATOR_SESSION="$CREATOR_SESSION" CSRF_TOKEN="$CSRF_TOKEN" SERVER_PID="$SERVER" \
BASE_URL="http://127.0.0.1:$PORT" LABEL="$LABEL" OUT_DIR="results/$LABEL" "$KIT/run_bench.sh"
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
[ "$BACKEND" = pg ] && psql "$PG_ADMIN" -qc "DROP DATABASE $DB WITH (FORCE)" >/dev/null
cp "$WORK/startup.txt" "results/$LABEL/startup.txt"
grep -E "ERROR|WARN" "$WORK/server.log" | tail -20 > "results/$LABEL/server-warnings.log" || true
cat "results/$LABEL/summary.md" "results/$LABEL/startup.txt"
