#!/usr/bin/env bash
# Measures the ORIGINAL Django backend with the shared load kit, the way scripts/bench.sh measures
# meet, so that the two can be compared side by side (issue "performance", ratios not absolutes).
#   MEET_MIRROR=<git dir of suitenumerique/meet> scripts/bench-django.sh
# Starts the OpenID Connect provider of ../shared/idp (port 8083), the kit's LiveKit stand-in on the
# port the reference profile names (7991), and the original through ../shared/reference/django.sh
# (3 gunicorn workers, no access log, PostgreSQL + Redis), seeds it through its API
# (scripts/seed_over_api.py), runs ../shared/bench/run_bench.sh and stops everything.
# Env: MEET_REF (41c1f41e), LABEL, CASES/DURATION/REPS (passed to the kit).
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${SHARED:-$(cd ../shared && pwd)}"
KIT="$SHARED/bench"
REF_DIR="$SHARED/reference"
REF="${MEET_REF:-41c1f41e}"
PORT="${REFERENCE_DJANGO_PORT:-8171}"
LABEL="${LABEL:-django-$REF}"
WORK="$(mktemp -d)"
cleanup() {
  MEET_REF="$REF" "$REF_DIR/stop.sh" >/dev/null 2>&1 || true
  kill "${IDP:-}" "${STUB:-}" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# The kit needs a lobby that outlives a repetition (case g) and a request-entry throttle that
# 32 connections do not hit (case f); everything else is the reference profile.
grep -vE '^(LOBBY_WAITING_TIMEOUT|REQUEST_ENTRY_THROTTLE_RATES)=' "$REF_DIR/reference.env" > "$WORK/profile.env"
printf 'LOBBY_WAITING_TIMEOUT=60\nREQUEST_ENTRY_THROTTLE_RATES=1000000/minute\n' >> "$WORK/profile.env"

(cd "$SHARED/idp" && [ -d node_modules ] || npm ci --silent)
(cd "$SHARED/idp" && IDP_QUIET=1 IDP_CLIENT_SECRET=reference-oidc-secret exec node server.mjs) >"$WORK/idp.log" 2>&1 &
IDP=$!
rustc -O -o "$WORK/lk-stub" "$KIT/lk_stub.rs"
"$WORK/lk-stub" 127.0.0.1:7991 & STUB=$!
for _ in $(seq 1 50); do curl -fsS -o /dev/null http://127.0.0.1:8083/healthz && break; sleep 0.2; done

MEET_REF="$REF" REFERENCE_DJANGO_PORT="$PORT" REFERENCE_WORKERS=3 REFERENCE_ACCESS_LOG=0 REFERENCE_RESET_DB=1 \
  REFERENCE_SERVER_ENV="$WORK/profile.env" "$REF_DIR/django.sh"
if [ "$REF" = 41c1f41e ]; then DJ_DIR="${TMPDIR:-/tmp}/reference-django"; else DJ_DIR="${TMPDIR:-/tmp}/reference-django-$REF"; fi
SERVER=$(cat "$DJ_DIR/gunicorn.pid")

eval "$(python3 scripts/seed_over_api.py "http://127.0.0.1:$PORT")"
OWNER_SESSION="$OWNER_SESSION" CREATOR_SESSION="$CREATOR_SESSION" CSRF_TOKEN="$CSRF_TOKEN" SERVER_PID="$SERVER" \
  BASE_URL="http://127.0.0.1:$PORT" LABEL="$LABEL" OUT_DIR="results/$LABEL" "$KIT/run_bench.sh"
cat "results/$LABEL/summary.md"
