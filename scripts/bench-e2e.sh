#!/usr/bin/env bash
# End-to-end sale throughput through `serve`, side by side in one run (issue 15):
#   before  = `serve --demo` built from the commit before issue 15 (inline issuer simulator)
#   inline  = `serve --demo` of this tree (inline upstream, through the service layer)
#   network = `serve --demo --upstream` of this tree to `switch-sim --latency-ms 1` on loopback
# Interleaved rounds (before, inline, network), a fresh data directory per run; medians at the
# end. Then the network upstream at an offered rate (open loop, latency from the scheduled
# send time): p50/p99 per run and their medians.
#
# Usage: scripts/bench-e2e.sh BEFORE_BIN AFTER_BIN [ROUNDS] [SECONDS] [TERMINALS] [RATE] [RATE_TERMINALS]
#   BEFORE_BIN, AFTER_BIN: release builds of `suanpan` (see docs/BENCHMARKS.md for how).
# Env AFTER_SALE_AMOUNTS=1: the after side's `bench load` sends every sale at 10 fen, the load
#   the before side's own `bench load` (dd09e4a) sends; unset, the after side cycles through
#   100,000 amounts, which writes more index pages per commit (txns_m_amount; s19-inline).
# Env WARMUP (seconds, default 2): the runs at an offered rate (after side only) run that long
#   first with `bench load --warmup`, so their percentiles describe the steady state, not the
#   sign-ins and cold caches of the first second (s22-lat). 0: every request counts.
# Env WRITER_NICE=N (s28-nice): the after side runs with `[store] writer_nice = N` (below 0
#   needs root or CAP_SYS_NICE; serve logs it when not applied).
# Env CONTENTION=FRACTION (e.g. 0.5, s28): each round also runs the inline upstream at the
#   offered rate alone, and again beside a busy loop that keeps FRACTION of one core busy, so
#   the p99 of the same host can be read with and without work of switch-sim's size sharing
#   the machine's cores.
set -euo pipefail
before="$1"
after="$2"
rounds="${3:-3}"
seconds="${4:-10}"
terminals="${5:-64}"
rate="${6:-5000}"
rate_terminals="${7:-500}"
zpk=0123456789ABCDEFFEDCBA9876543210
base=$(( 20000 + RANDOM % 20000 ))

work="$(mktemp -d)"
pids=()
burner=
cleanup() {
  for p in "${pids[@]}" $burner; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

wait_port() {
  for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done
  echo "nothing listens on $1" >&2; return 1
}
stop_all() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; pids=(); }

# run BIN MODE [RATE] -> "throughput p50_ms p99_ms"
run() {
  local bin="$1" mode="$2" offered="${3:-}" d port extra=() load=()
  d="$(mktemp -d -p "$work")"
  port=$(( base++ ))
  printf '[policy]\nvoid_max_per_operator_per_day = 1000000\n' > "$d/suanpan.toml"
  # The risk rules (issue 13) came after the before commit: off here, so both sides book the
  # same work and the difference is the service layer and the upstream (their own cost is
  # measured by the store's risk_cost bench).
  [ "$bin" = "$before" ] || cat "$(dirname "$0")/risk-off.toml" >> "$d/suanpan.toml"
  if [ "$bin" != "$before" ] && [ -n "${WRITER_NICE:-}" ]; then
    printf '[store]\nwriter_nice = %s\n' "$WRITER_NICE" >> "$d/suanpan.toml"
  fi
  if [ "$mode" = network ]; then
    local sport=$(( base++ ))
    "$after" --data-dir "$d/switch" switch-sim --listen "127.0.0.1:$sport" --zpk "$zpk" \
      --latency-ms 1 --totals-every-ms 0 >/dev/null 2>&1 &
    pids+=($!)
    wait_port "$sport" || { stop_all; echo "0 0 0 -1 0"; return; }
    extra=(--upstream "127.0.0.1:$sport")
  fi
  SUANPAN_UPSTREAM_ZPK=$zpk SUANPAN_LOG=warn "$bin" --data-dir "$d" serve --demo \
    --iso8583-addr "127.0.0.1:$port" --http-addr "127.0.0.1:$(( base++ ))" \
    --http "127.0.0.1:$(( base++ ))" "${extra[@]}" >/dev/null 2>&1 &
  pids+=($!)
  wait_port "$port" || { stop_all; echo "0 0 0 -1 0"; return; }
  if [ -n "$offered" ]; then
    load=(--terminals "$rate_terminals" --rate "$offered" --warmup "${WARMUP:-2}")
  else
    load=(--terminals "$terminals")
  fi
  if [ "$bin" != "$before" ] && [ -n "${AFTER_SALE_AMOUNTS:-}" ]; then
    load+=(--sale-amounts "$AFTER_SALE_AMOUNTS")
  fi
  "$bin" --data-dir "$d" --json bench load --target "127.0.0.1:$port" "${load[@]}" \
    --duration "$seconds" --mix sale:100 --register 2>/dev/null |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["report"]; print("%.0f %.1f %.1f %d %.1f" % (r["throughput"], r["p50_us"]/1e3, r["p99_us"]/1e3, r["mismatches"], r.get("send_late_p99_us", 0)/1e3))' \
    || echo "0 0 0 -1 0"
  stop_all
  rm -rf "$d"
}

# busy FRACTION SECONDS: one core's FRACTION kept busy (2 ms periods) for SECONDS.
busy() {
  python3 - "$1" "$2" <<'PY' &
import sys, time
duty, end = float(sys.argv[1]), time.time() + float(sys.argv[2])
while time.time() < end:
    t = time.perf_counter()
    while time.perf_counter() - t < duty * 0.002:
        pass
    time.sleep((1 - duty) * 0.002)
PY
  burner=$!
}

b=(); i=(); n=(); r=(); q=(); c=()
for round in $(seq "$rounds"); do
  b+=("$(run "$before" inline)")
  i+=("$(run "$after" inline)")
  n+=("$(run "$after" network)")
  r+=("$(run "$after" network "$rate")")
  echo "round $round: before ${b[-1]} | inline ${i[-1]} | network ${n[-1]} | network at ${rate}/s ${r[-1]}  (sales/s p50_ms p99_ms mismatches generator_late_p99_ms)"
  if [ -n "${CONTENTION:-}" ]; then
    q+=("$(run "$after" inline "$rate")")
    busy "$CONTENTION" $(( seconds + ${WARMUP:-2} + 5 ))
    c+=("$(run "$after" inline "$rate")")
    kill "$burner" 2>/dev/null || true
    wait "$burner" 2>/dev/null || true
    burner=
    echo "round $round: inline at ${rate}/s ${q[-1]} | beside a busy loop of ${CONTENTION} core ${c[-1]}"
  fi
done
if [ -n "${CONTENTION:-}" ]; then
  python3 - "$(printf '%s,' "${q[@]}")" "$(printf '%s,' "${c[@]}")" "$rate" "$CONTENTION" <<'PY'
import statistics, sys
runs = lambda s: [tuple(float(v) for v in x.split()) for x in s.strip(",").split(",") if x]
q, c = runs(sys.argv[1]), runs(sys.argv[2])
p99 = lambda rs: statistics.median(x[2] for x in rs)
print(f"inline at {sys.argv[3]}/s: p99 median {p99(q):.1f} ms alone, {p99(c):.1f} ms beside a busy loop of {sys.argv[4]} core")
PY
fi

python3 - "$(printf '%s,' "${b[@]}")" "$(printf '%s,' "${i[@]}")" "$(printf '%s,' "${n[@]}")" "$(printf '%s,' "${r[@]}")" "$rate" <<'PY'
import statistics, sys
def runs(s):
    return [tuple(float(v) for v in x.split()) for x in s.strip(",").split(",") if x]
b, i, n, r = (runs(a) for a in sys.argv[1:5])
med = lambda xs, k: statistics.median(x[k] for x in xs)
for name, rs in (("before (inline)", b), ("after, inline", i), ("after, network", n)):
    print(f"median {name}: {med(rs, 0):.0f} sales/s (p50 {med(rs, 1):.1f} ms, p99 {med(rs, 2):.1f} ms)")
print(f"inline after/before: {med(i, 0) / med(b, 0):.2f}")
print(f"network/inline: {med(n, 0) / med(i, 0):.2f}")
print(f"network at {sys.argv[5]}/s offered: achieved {med(r, 0):.0f}/s, p50 {med(r, 1):.1f} ms, p99 {med(r, 2):.1f} ms (the generator's own lateness, p99: {med(r, 4):.1f} ms)")
PY
