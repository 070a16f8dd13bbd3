#!/usr/bin/env bash
# PostgreSQL benchmark, side by side in one run on the same server: `suanpan bench load`
# against one node and against two nodes (two `serve` processes on one database), and
# pgbench's simple-update (-N) TPS as the ceiling. Interleaved rounds; medians at the end.
#
# Usage: scripts/bench-pg.sh [SERVER_URL] [ROUNDS] [SECONDS] [CLIENTS]
#   SERVER_URL  postgres://postgres@127.0.0.1:5432 (databases suanpan_bench and
#               pgbench_bench are dropped and created there)
# Needs a release build (cargo build --release -p suanpan), psql and pgbench on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
server="${1:-postgres://postgres@127.0.0.1:5432}"
rounds="${2:-3}"
seconds="${3:-10}"
clients="${4:-64}"
S="${CARGO_TARGET_DIR:-target}/release/suanpan"
command -v pgbench >/dev/null || { echo "pgbench not found (apt-get install postgresql-contrib)" >&2; exit 1; }
[ -x "$S" ] || { echo "$S not built: cargo build --release -p suanpan" >&2; exit 1; }

work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

psql -q "$server/postgres" -c "DROP DATABASE IF EXISTS suanpan_bench" -c "CREATE DATABASE suanpan_bench" \
  -c "DROP DATABASE IF EXISTS pgbench_bench" -c "CREATE DATABASE pgbench_bench"
pgbench -q -i -s 10 "$server/pgbench_bench" >/dev/null 2>&1

export SUANPAN_DATABASE="$server/suanpan_bench"
data="$work/data"
mkdir -p "$data"
printf '[policy]\nvoid_max_per_operator_per_day = 1000000\n' > "$data/suanpan.toml"
"$S" --data-dir "$data" init --demo >/dev/null 2>&1

start_node() { # port
  # Each node its own back-office port too (--http), or the second stops: address in use.
  SUANPAN_LOG=warn "$S" --data-dir "$data" serve --iso8583-addr "127.0.0.1:$1" \
    --http-addr "127.0.0.1:$(( $1 + 1000 ))" --http "127.0.0.1:$(( $1 + 2000 ))" >/dev/null 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done
  echo "node on $1 did not start" >&2; exit 1
}
stop_nodes() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; pids=(); }

load() { # targets -> throughput
  # A run with mismatches prints its error after the report (a second JSON document) and
  # exits 1: the report is read alone, its samples shown, and the script stops (pipefail).
  "$S" --data-dir "$data" --json bench load --target "$1" --terminals "$clients" \
    --duration "$seconds" --mix sale:100 --register |
    python3 -c '
import json, sys
d, _ = json.JSONDecoder().raw_decode(sys.stdin.read().lstrip())
r = d["report"]
if not d["ok"]:
    print("bench load: %d mismatches, %d failed terminals" % (r["mismatches"], r["failed_terminals"]), *r["mismatch_samples"], sep="\n", file=sys.stderr)
print("%.0f %.1f %.1f" % (r["throughput"], r["p50_us"]/1e3, r["p99_us"]/1e3))'
}

one=(); two=(); pgb=()
for r in $(seq "$rounds"); do
  tps=$(pgbench -N -c "$clients" -j 2 -T "$seconds" "$server/pgbench_bench" 2>/dev/null |
    awk '/^tps/ {print int($3); exit}')
  pgb+=("$tps")
  start_node 5831; res=$(load 127.0.0.1:5831); stop_nodes; one+=("$res")
  start_node 5831; start_node 5832; res=$(load 127.0.0.1:5831,127.0.0.1:5832); stop_nodes; two+=("$res")
  echo "round $r: pgbench -N ${tps} tps | one node ${one[-1]} | two nodes ${two[-1]}  (sales/s p50_ms p99_ms)"
done

python3 - "${pgb[*]}" "$(printf '%s,' "${one[@]}")" "$(printf '%s,' "${two[@]}")" <<'PY'
import statistics, sys
pg = [float(x) for x in sys.argv[1].split()]
def runs(s):
    return [tuple(float(v) for v in r.split()) for r in s.strip(",").split(",") if r]
one, two = runs(sys.argv[2]), runs(sys.argv[3])
med = lambda xs, i: statistics.median(x[i] for x in xs)
ceiling = statistics.median(pg)
print(f"median pgbench -N: {ceiling:.0f} tps")
for name, rs in (("one node", one), ("two nodes", two)):
    t = med(rs, 0)
    print(f"median {name}: {t:.0f} sales/s (p50 {med(rs, 1):.1f} ms, p99 {med(rs, 2):.1f} ms) = {100 * t / ceiling:.0f}% of pgbench -N")
PY
