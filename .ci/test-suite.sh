#!/usr/bin/env bash
# Run the suite on the embedded defaults (SQLite + the project's own redis-server), then again on PostgreSQL
# and Redis when they answer on 127.0.0.1. Says which runs happened; fails if any run fails.
set -u
cd "$(dirname "$0")/.."
BIN=.venv/bin
PG_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/twinweb}"
REDIS_TEST_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379/1}"
mkdir -p test-artifacts
status=0
ran=()

echo "=== run 1: embedded defaults (SQLite, embedded redis-server) ==="
env -u DATABASE_URL -u REDIS_URL "$BIN/pytest" "$@"
rc=$?; [ $rc -ne 0 ] && status=$rc; ran+=("SQLite + embedded Redis: exit $rc")

pg_ok=0; redis_ok=0
"$BIN/python" - "$PG_URL" <<'PY' && pg_ok=1
import sys, psycopg
try:
    psycopg.connect(sys.argv[1].replace("/twinweb", "/postgres"), connect_timeout=3).close()
except Exception as exc:
    print(f"PostgreSQL not answering: {exc}"); sys.exit(1)
PY
"$BIN/python" - "$REDIS_TEST_URL" <<'PY' && redis_ok=1
import sys, redis
try:
    redis.Redis.from_url(sys.argv[1], socket_timeout=3).ping()
except Exception as exc:
    print(f"Redis not answering: {exc}"); sys.exit(1)
PY
# The edge worker's own tests (vision, power, message contracts, the profiling protocol) touch neither the
# database nor the server's Redis: they gain nothing from a second run, which leaves them out unless paths are given.
DB_FREE=(tests/edge_worker)
skip_db_free=()
if [ $# -eq 0 ]; then for path in "${DB_FREE[@]}"; do skip_db_free+=("--ignore=$path"); done; fi
if [ $pg_ok = 1 ] && [ $redis_ok = 1 ]; then
  echo "=== run 2: PostgreSQL ($PG_URL) and Redis ($REDIS_TEST_URL) ==="
  DATABASE_URL="$PG_URL" REDIS_URL="$REDIS_TEST_URL" "$BIN/pytest" "${skip_db_free[@]}" "$@"
  rc=$?; [ $rc -ne 0 ] && status=$rc
  ran+=("PostgreSQL + Redis: exit $rc${skip_db_free:+ (database-free tests ran once, in run 1: ${DB_FREE[*]})}")
else
  ran+=("PostgreSQL + Redis: NOT RUN (not answering on 127.0.0.1)")
fi
echo
echo "=== suite summary ==="
printf '  %s\n' "${ran[@]}"
exit $status
