#!/usr/bin/env bash
# Codec benchmark, side by side in one run: Suanpan's 8583 codec (pack + MAC, unpack + MAC
# check) against pyiso8583 4.0.1 (pack, unpack; no MAC) on the same 0200 chip sale.
# pyiso8583 comes from PyPI into a throwaway venv. Usage: scripts/bench-codec-vs-pyiso8583.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-3}"
venv="$(mktemp -d)/venv"
trap 'rm -rf "$(dirname "$venv")"' EXIT
python3 -m venv "$venv"
"$venv/bin/pip" install -q pyiso8583==4.0.1
cargo build -q --release -p suanpan-iso8583 --example codec_rate
rust_bin="${CARGO_TARGET_DIR:-target}/release/examples/codec_rate"
py=$("$venv/bin/python" scripts/pyiso8583_bench.py "$seconds")
rs=$("$rust_bin" "$seconds")
echo "$py"
echo "$rs"
python3 - "$py" "$rs" <<'PY'
import sys
def parse(line):
    return {k: float(v) for k, v in (p.split("=") for p in line.split()[1:])}
py, rs = parse(sys.argv[1]), parse(sys.argv[2])
for k in ("encode_per_s", "decode_per_s", "pack_unpack_per_s"):
    print(f"ratio {k}: {rs[k] / py[k]:.1f}x")
PY
