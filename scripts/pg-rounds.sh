#!/usr/bin/env bash
# One PostgreSQL node under rounds of load on one growing database, with the tables' scan
# statistics after each round: how a node's rate moves as its journal grows (issue 15, s21-pg;
# the one-node step of scripts/bench-pg.sh alone, without pgbench).
#
# Usage: scripts/pg-rounds.sh BIN [ROUNDS] [SECONDS] [SERVER_URL]
#   BIN         a release build of `suanpan`
#   SERVER_URL  postgres://postgres@127.0.0.1:5432 (database suanpan_rounds is dropped and made)
# Env DBSET="enable_bitmapscan = off": an ALTER DATABASE … SET for the run (to try a planner setting).
set -euo pipefail
S="$1"; rounds="${2:-3}"; seconds="${3:-8}"; server="${4:-postgres://postgres@127.0.0.1:5432}"
db=suanpan_rounds
psql -q "$server/postgres" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
[ -n "${DBSET:-}" ] && psql -q "$server/postgres" -c "ALTER DATABASE $db SET $DBSET"
export SUANPAN_DATABASE="$server/$db"
work=$(mktemp -d); data=$work/data; mkdir -p "$data"
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
printf '[policy]\nvoid_max_per_operator_per_day = 1000000\n' > "$data/suanpan.toml"
"$S" --data-dir "$data" init --demo >/dev/null 2>&1
port=$(( 20000 + RANDOM % 20000 ))
for r in $(seq "$rounds"); do
  SUANPAN_LOG=warn "$S" --data-dir "$data" serve --iso8583-addr "127.0.0.1:$port" \
    --http-addr "127.0.0.1:$(( port + 1 ))" --http "127.0.0.1:$(( port + 2 ))" >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  "$S" --data-dir "$data" --json bench load --target "127.0.0.1:$port" --terminals 64 \
    --duration "$seconds" --mix sale:100 --register | python3 -c '
import json, sys
d, _ = json.JSONDecoder().raw_decode(sys.stdin.read().lstrip())
r = d["report"]
print("round throughput %.0f sales/s, p50 %.1f ms" % (r["throughput"], r["p50_us"] / 1e3))'
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
  psql -q "$server/$db" -c "SELECT relname, n_live_tup, n_dead_tup, seq_scan, seq_tup_read, idx_scan, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE n_tup_ins + n_tup_upd + seq_scan + coalesce(idx_scan, 0) > 0 ORDER BY seq_tup_read DESC LIMIT 12" \
    -c "SELECT indexrelname, idx_scan, idx_tup_read FROM pg_stat_user_indexes WHERE idx_scan > 0 ORDER BY idx_tup_read DESC LIMIT 8"
done
