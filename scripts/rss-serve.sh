#!/usr/bin/env bash
# The host's memory with many terminals (issue 16): `serve` on DATA_DIR, `bench load` with
# TERMINALS terminals at RATE sales/s for SECONDS; prints the RSS when listening, the most
# VmRSS sampled every 100 ms while the load runs, VmHWM (the process's whole life, start-up
# included) and the load's rate. For a store's first start, give it a fresh copy.
#
# Usage: scripts/rss-serve.sh BIN DATA_DIR [TERMINALS] [RATE] [SECONDS]
#   BIN: a release build of `suanpan`; DATA_DIR: a store (its KEK beside it, as `init` made it).
set -euo pipefail
bin="$1"; d="$2"; terminals="${3:-1000}"; rate="${4:-1000}"; seconds="${5:-30}"
base=$(( 20000 + RANDOM % 20000 ))
work="$(mktemp -d)"
"$bin" --data-dir "$d" serve --iso8583-addr "127.0.0.1:$base" --http-addr "127.0.0.1:$(( base + 1 ))" \
  --http "127.0.0.1:$(( base + 2 ))" > "$work/serve.log" 2>&1 &
pid=$!
trap 'kill -9 $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 3000); do
  kill -0 "$pid" 2>/dev/null || { echo "serve stopped before listening:" >&2; cat "$work/serve.log" >&2; exit 1; }
  (exec 3<>"/dev/tcp/127.0.0.1/$base") 2>/dev/null && break; sleep 0.2
done
kib() { awk -v k="$1" '$1 == k":" {print $2}' "/proc/$pid/status"; }
listening=$(kib VmRSS)
echo 0 > "$work/max"
( max=0; while kill -0 "$pid" 2>/dev/null; do
    r=$(kib VmRSS 2>/dev/null || echo 0); [ "${r:-0}" -gt "$max" ] && max=$r && echo "$max" > "$work/max"
    sleep 0.1; done ) &
sampler=$!
"$bin" --data-dir "$d" --json bench load --target "127.0.0.1:$base" --terminals "$terminals" --register \
  --rate "$rate" --mix sale:100 --duration "$seconds" > "$work/load.json" 2> "$work/load.err" || true
hwm=$(kib VmHWM)
kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true
python3 - "$listening" "$(cat "$work/max")" "$hwm" "$work/load.json" <<'PY'
import json, sys
listening, peak, hwm, load = sys.argv[1:]
mb = lambda k: "%.1f MB" % (int(k) / 1024)
try:
    r = json.load(open(load))["report"]
    rate = "%.0f sales/s, %d mismatches" % (r["throughput"], r["mismatches"])
except Exception as e:
    rate = "the load failed: %s" % e
print("listening %s | max VmRSS under load %s | VmHWM %s | %s" % (mb(listening), mb(peak), mb(hwm), rate))
PY
