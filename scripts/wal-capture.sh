#!/usr/bin/env bash
# Copies of a running network store's database and WAL for scripts/wal-pages.py (s20-net):
# serve --upstream -> switch-sim --latency-ms 1, `bench load` of TERMS terminals for SECS s,
# the database then the WAL copied at SECS-2 s into OUTDIR/s.db and OUTDIR/s.db-wal.
# Usage: scripts/wal-capture.sh BIN TERMS SECS OUTDIR; then scripts/wal-pages.py OUTDIR/s.db OUTDIR/s.db-wal
set -uo pipefail
bin="$1" terms="$2" secs="$3" out="$4"; mkdir -p "$out"
zpk=0123456789ABCDEFFEDCBA9876543210
base=$(( 20000 + RANDOM % 20000 ))
d="$(mktemp -d)"; pids=()
cleanup() { for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null; done; sleep 0.5; rm -rf "$d"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done; return 1; }
printf '[policy]\nvoid_max_per_operator_per_day = 1000000\n' > "$d/suanpan.toml"
cat "$(dirname "$0")/risk-off.toml" >> "$d/suanpan.toml"
sport=$(( base++ ))
"$bin" --data-dir "$d/switch" switch-sim --listen "127.0.0.1:$sport" --zpk "$zpk" --latency-ms 1 --totals-every-ms 0 >/dev/null 2>&1 &
pids+=($!); wait_port $sport
port=$(( base++ ))
SUANPAN_UPSTREAM_ZPK=$zpk SUANPAN_LOG=warn "$bin" --data-dir "$d" serve --demo --iso8583-addr "127.0.0.1:$port" \
  --http-addr "127.0.0.1:$(( base++ ))" --http "127.0.0.1:$(( base++ ))" --upstream "127.0.0.1:$sport" >/dev/null 2>&1 &
pids+=($!); wait_port $port
"$bin" --data-dir "$d" --json bench load --target "127.0.0.1:$port" --terminals "$terms" --duration "$secs" --mix sale:100 --register > "$out/load.json" 2>/dev/null &
lpid=$!
sleep $(( secs - 2 ))
db=$(ls "$d"/*.db | head -1)
cp "$db" "$out/s.db"; cp "$db-wal" "$out/s.db-wal"
wait $lpid
python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["report"]; print("sales=%d thr=%.0f" % (r["ok"], r["throughput"]))' "$out/load.json"
