#!/usr/bin/env bash
# Instructions per sale of each process of the end-to-end path (issue 15, s17-speed): `serve
# --demo` (inline or network upstream), `switch-sim` and `bench load`, each under callgrind,
# for a load of SECONDS. Run it twice with different SECONDS and subtract (per-sale =
# Δinstructions / Δsales, setup cancels): a count, so it holds on a loaded machine.
#
# Usage: scripts/callgrind-serve.sh BIN inline|network SECONDS TERMINALS OUTDIR [LOAD ARGS…]
#   LOAD ARGS go to `bench load` (e.g. `--sale-amounts 1`: every sale 10 fen, as the bench
#   of dd09e4a sent, for a like-for-like comparison with that binary; s19-inline).
#   prints "sales=N" and leaves OUTDIR/{serve,switch,load}.out (callgrind, one file per thread
#   with --separate-threads) for scripts/callgrind-per-sale.py.
set -euo pipefail
bin="$1" mode="$2" seconds="$3" terminals="$4" out="$5"
shift 5
zpk=0123456789ABCDEFFEDCBA9876543210
base=$(( 20000 + RANDOM % 20000 ))
mkdir -p "$out"
d="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done; rm -rf "$d"; }
trap cleanup EXIT
wait_port() {
  for _ in $(seq 1200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.25; done
  echo "nothing listens on $1" >&2; return 1
}
# SYSCALLS=1: under `strace -f -c` instead (system calls per process, OUTDIR/*.strace);
# the run stops each process by signalling the traced program, so strace writes its table.
# It execs the tool: call it in a subshell (`&` or parentheses).
run_tool() {
  local out="$1"; shift
  if [ "${SYSCALLS:-0}" = 1 ]; then
    exec strace -f -c -o "$out.strace" "$@"
  else
    exec valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$out" "$@"
  fi
}
# The program's pid under its tool (valgrind runs in the tool's pid; strace forks it).
traced() {
  if [ "${SYSCALLS:-0}" = 1 ]; then
    for _ in $(seq 100); do pgrep -P "$1" && return; sleep 0.1; done
  fi
  echo "$1"
}
printf '[policy]\nvoid_max_per_operator_per_day = 1000000\n' > "$d/suanpan.toml"
# As scripts/bench-e2e.sh: the risk rules off where the binary has them.
if "$bin" --help >/dev/null 2>&1 && "$bin" switch-sim --help >/dev/null 2>&1; then
  cat "$(dirname "$0")/risk-off.toml" >> "$d/suanpan.toml"
fi
extra=()
if [ "$mode" = network ]; then
  sport=$(( base++ ))
  run_tool "$out/switch.out" "$bin" --data-dir "$d/switch" switch-sim \
    --listen "127.0.0.1:$sport" --zpk "$zpk" --latency-ms 1 --totals-every-ms 0 \
    >"$out/switch.log" 2>&1 &
  spid=$!; pids+=($spid)
  wait_port "$sport"
  extra=(--upstream "127.0.0.1:$sport")
fi
port=$(( base++ ))
SUANPAN_UPSTREAM_ZPK=$zpk SUANPAN_LOG=warn run_tool "$out/serve.out" \
  "$bin" --data-dir "$d" serve --demo --iso8583-addr "127.0.0.1:$port" \
  --http-addr "127.0.0.1:$(( base++ ))" --http "127.0.0.1:$(( base++ ))" "${extra[@]}" \
  >"$out/serve.log" 2>&1 &
hpid=$!; pids+=($hpid)
wait_port "$port"
# In a subshell: run_tool execs its tool.
( run_tool "$out/load.out" "$bin" --data-dir "$d" --json bench load \
  --target "127.0.0.1:$port" --terminals "$terminals" --duration "$seconds" --mix sale:100 \
  --register "$@" ) > "$out/load.json" 2>"$out/load.log"
kill -INT "$(traced "$hpid")"; wait "$hpid" || true
if [ "$mode" = network ]; then kill -INT "$(traced "$spid")"; wait "$spid" || true; fi
pids=()
python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["report"]; print("sales=%d requests=%d mismatches=%d failed=%d" % (r["ok"], r["requests"], r["mismatches"], r["failed_terminals"]))' "$out/load.json"
