#!/usr/bin/env bash
# Schemathesis (PyPI, pinned in .ci/run) as an outside client of a live `suanpan serve --demo`:
# a fresh data directory, free ports, then one run per back-office role (cashier, supervisor,
# finance, auditor, the acquirer's platform (issue 14: backups and purges are its), admin —
# admin last, since it may disable the others), each with every
# check (schema conformance both ways, status codes, content types, auth, stateful links).
# Exits non-zero when any run finds a failure. Knobs (environment):
#   SUANPAN_BIN              the binary (default target/debug/suanpan, built by cargo test)
#   SCHEMATHESIS_EXAMPLES    cases per operation and phase (default 25: CI time)
#   SCHEMATHESIS_SEED        the generator's seed (default fixed, so a CI failure replays)
#   SCHEMATHESIS_ROLES       roles to run (default all six)
# Reports (JUnit) go to target/schemathesis/<role>.xml, the server's log beside them.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${SUANPAN_BIN:-target/debug/suanpan}"
examples="${SCHEMATHESIS_EXAMPLES:-25}"
seed="${SCHEMATHESIS_SEED:-20261205}"
roles="${SCHEMATHESIS_ROLES:-cashier supervisor finance auditor platform admin}"
command -v st >/dev/null || { echo "schemathesis (st) not found: pip install schemathesis==4.32.5" >&2; exit 1; }
[ -x "$bin" ] || { echo "$bin not found: cargo build -p suanpan first" >&2; exit 1; }

out=target/schemathesis
mkdir -p "$out"
work="$(mktemp -d)"
read -r p8583 pmetrics phttp < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])')
"$bin" --data-dir "$work/data" --kek-file "$work/kek" serve --demo \
  --iso8583-addr "127.0.0.1:$p8583" --http-addr "127.0.0.1:$pmetrics" \
  --http "127.0.0.1:$phttp" >"$out/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
base="http://127.0.0.1:$phttp"
for _ in $(seq 100); do
  curl -fs "$base/healthz" >/dev/null 2>&1 && break
  kill -0 $server 2>/dev/null || { cat "$out/server.log" >&2; exit 1; }
  sleep 0.2
done

# Every role logs in before any fuzzing (see the hooks' comment).
SUANPAN_ST_BASE="$base" SUANPAN_ST_ROLES="$roles" python3 scripts/schemathesis_hooks.py \
  >"$work/sessions.json"
failed=""
for role in $roles; do
  echo "== schemathesis as $role"
  if ! SCHEMATHESIS_HOOKS="$PWD/scripts/schemathesis_hooks.py" SUANPAN_ST_BASE="$base" \
    SUANPAN_ST_SESSIONS="$work/sessions.json" SUANPAN_ST_USER="$role" \
    st --config-file scripts/schemathesis.toml run "$base/api/v1/openapi.json" \
      --checks all --max-examples "$examples" --seed "$seed" --no-shrink \
      --report junit --report-junit-path "$out/$role.xml"; then
    failed="$failed $role"
  fi
done
if grep -q "panicked" "$out/server.log"; then
  echo "the server panicked (see $out/server.log)" >&2
  failed="$failed panic"
fi
[ -z "$failed" ] || { echo "schemathesis found failures as:$failed" >&2; exit 1; }
echo "schemathesis: no failures for $roles"
