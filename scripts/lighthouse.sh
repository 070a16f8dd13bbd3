#!/usr/bin/env bash
# Lighthouse on the back-office's pages (issue 18), on demand — not in CI.
#
#   scripts/lighthouse.sh                 # builds `suanpan` (debug) unless SUANPAN_BIN is set
#   SUANPAN_BIN=target/release/suanpan scripts/lighthouse.sh
#
# Starts `suanpan serve --demo` on a fresh data directory (ports chosen by the system), logs in
# as `supervisor` over the API, runs Lighthouse 12.2.3 (npm; Node 20 — Lighthouse 13 wants
# Node 22) in Debian's headless Chromium (CHROME_PATH, default /usr/bin/chromium) on each page
# with the session cookie, and prints one line per page: accessibility, best practices,
# performance. Reports (JSON) stay in target/lighthouse/. Needs npm, curl and jq.
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/lighthouse
mkdir -p "$out"
export CHROME_PATH="${CHROME_PATH:-/usr/bin/chromium}"
if [ ! -x "$out/node_modules/.bin/lighthouse" ]; then
  npm install --prefix "$out" --no-audit --no-fund --no-save lighthouse@12.2.3 >/dev/null
fi
bin="${SUANPAN_BIN:-}"
if [ -z "$bin" ]; then
  cargo build -q -p suanpan
  bin=target/debug/suanpan
fi
data=$(mktemp -d)
log="$out/serve.json"
"$bin" --data-dir "$data/data" --json serve --demo --iso8583-addr 127.0.0.1:0 \
  --http-addr 127.0.0.1:0 --http 127.0.0.1:0 >"$log" 2>"$out/serve.err" &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do
  [ -s "$log" ] && break
  sleep 0.2
done
base=$(jq -r .backoffice "$log")
base="${base%/}"
cookie=$(curl -s -D - -o /dev/null -H 'content-type: application/json' \
  -d '{"username":"supervisor","password":"supervisor-demo"}' "$base/api/v1/session" |
  tr -d '\r' | sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\).*/\1/p' | head -1)
headers=$(jq -cn --arg c "$cookie" '{Cookie: $c}')
printf '%-14s %13s %14s %11s\n' page accessibility best-practices performance
for page in /login /dashboard /txns /txns/4 /review /batches /cases /channels /help; do
  name=$(echo "${page#/}" | tr / -)
  extra=(--extra-headers="$headers")
  [ "$page" = /login ] && extra=()
  "$out/node_modules/.bin/lighthouse" "$base$page" "${extra[@]}" --quiet \
    --chrome-flags="--headless=new --no-sandbox --disable-gpu" \
    --only-categories=accessibility,best-practices,performance \
    --output=json --output-path="$out/$name.json" >/dev/null 2>&1
  jq -r --arg p "$page" '[$p, (.categories.accessibility.score*100|round),
      (.categories["best-practices"].score*100|round), (.categories.performance.score*100|round)]
      | @tsv' "$out/$name.json" | awk -F'\t' '{printf "%-14s %13s %14s %11s\n", $1, $2, $3, $4}'
done
