#!/usr/bin/env bash
# Round trips and statements per sale on a PostgreSQL writer's connection (issue 15,
# docs/BENCHMARKS.md): one `serve` (its database connections through pg_rt_proxy.py, which
# counts round trips per connection), `bench load --terminals 64 --mix sale:100` for 16 s,
# and a window of sales only (after the sign-ins, before the closing settlements); the
# statements come from the server's log (`log_statement = all` on the database). Any build,
# with or without the writer's own counter (`suanpan_store_pg_writer_round_trips_total`).
# Usage: scripts/pg-round-trips.sh BINARY TAG PORT   (database rt_TAG is dropped and created;
#   PORT..PORT+3 are used; reads /var/log/postgresql/postgresql-15-main.log)
set -euo pipefail
S="$1"; tag="$2"; port="$3"
db="rt_$tag"
server=postgres://postgres@127.0.0.1:5432
work=$(mktemp -d)
psql -q "$server/postgres" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
export SUANPAN_DATABASE="$server/$db"
mkdir -p "$work/data"
printf '[policy]\nvoid_max_per_operator_per_day = 1000000\n' > "$work/data/suanpan.toml"
"$S" --data-dir "$work/data" init --demo >/dev/null 2>&1
psql -q "$server/postgres" -c "ALTER DATABASE $db SET log_statement = 'all'"
python3 "$(dirname "$0")/pg_rt_proxy.py" $((port+3)) "$work/rt.json" &
proxy=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$((port+3))") 2>/dev/null && break; sleep 0.2; done
log=/var/log/postgresql/postgresql-15-main.log
start_line=$(wc -l < "$log")
SUANPAN_DATABASE="postgres://postgres@127.0.0.1:$((port+3))/$db?sslmode=disable" SUANPAN_LOG=warn "$S" --data-dir "$work/data" serve --iso8583-addr "127.0.0.1:$port" \
  --http-addr "127.0.0.1:$((port+1))" --http "127.0.0.1:$((port+2))" >"$work/serve.log" 2>&1 &
pid=$!
trap 'kill $pid $proxy 2>/dev/null || true' EXIT
for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$((port+1))") 2>/dev/null && break; sleep 0.2; done
m() { curl -s "127.0.0.1:$((port+1))/metrics" | awk -v k="$1" '$1==k {print $2}'; }
snap() { # name: the proxy's counters, the writer's commands and round trips, the time
  local t; t=$(date -u +%H:%M:%S.%3N); cp "$work/rt.json" "$work/rt_$1.json"
  local c r; c=$(m suanpan_store_group_size_sum); r=$(m suanpan_store_pg_writer_round_trips_total); echo "${c:-0} ${r:-NA} $t" > "$work/m_$1"
}
"$S" --data-dir "$work/data" --json bench load --target "127.0.0.1:$port" --terminals 64 \
  --duration 16 --mix sale:100 --register > "$work/load.json" 2>&1 &
loadpid=$!
# The window: after the sign-ins, before the closing settlements: sales only.
sleep 7; snap a; sleep 6; snap b
wait $loadpid || true
kill $pid; wait $pid 2>/dev/null || true
psql -q "$server/postgres" -c "ALTER DATABASE $db RESET log_statement"
sleep 1
tail -n +"$start_line" "$log" | grep "@$db " > "$work/pg.log" || true
python3 - "$work" <<'PY'
import json, re, sys, collections
work = sys.argv[1]
txt = open(work + "/load.json").read()
d, _ = json.JSONDecoder().raw_decode(txt[txt.index("{"):])
r = d["report"]
ca, ra, ta = (open(work + "/m_a").read().split() + ["", "", ""])[:3]
cb, rb, tb = (open(work + "/m_b").read().split() + ["", "", ""])[:3]
cmds = float(cb) - float(ca)
print(f"ok={d['ok']} throughput={r['throughput']:.0f}/s mismatches={r['mismatches']}; window {ta}..{tb}: {cmds:.0f} commands (sales)")
if ra != "NA" and rb != "NA":
    print(f"writer round trips (metric): {(float(rb)-float(ra))/cmds:.2f} per sale")
A = {c["id"]: c for c in json.load(open(work + "/rt_a.json"))}
B = json.load(open(work + "/rt_b.json"))
for c in B:
    if c["writer"]:
        dd = c["round_trips"] - A.get(c["id"], {"round_trips": 0})["round_trips"]
        print(f"proxy: writer connection: {dd} round trips, {dd/cmds:.2f} per sale")
stmts = collections.Counter(); inserts = collections.Counter(); kinds = collections.defaultdict(collections.Counter)
for line in open(work + "/pg.log", errors="replace"):
    m = re.search(r"^\S+ (\d\d:\d\d:\d\d\.\d+) UTC \[(\d+)\].*LOG:  (statement|execute [^:]*): (.*)", line)
    if not m or not (ta <= m.group(1) <= tb): continue
    stmts[m.group(2)] += 1
    kinds[m.group(2)][m.group(4)[:50]] += 1
    if "INSERT INTO txns" in m.group(4): inserts[m.group(2)] += 1
w = inserts.most_common(1)[0][0] if inserts else sys.exit("no sales in the window")
print(f"writer statements in the window: {stmts[w]}, {inserts[w]} txns inserted: {stmts[w]/inserts[w]:.2f} statements per sale")
for k, n in kinds[w].most_common(25):
    print(f"  {n/inserts[w]:6.3f}  {k}")
PY
echo "work dir $work"
