#!/usr/bin/env bash
# Runs bench/ff1_bench and Bouncy Castle's FF1 on the same cases in one go
# and prints, per case, our single and batch speed as a multiple of Bouncy
# Castle's, both with a fresh tweak per value (as the vault works) and with
# one tweak for all values (Bouncy Castle's best case). A ratio measured in
# the same run survives a noisy machine.
#
#   bench/compare_bouncycastle.sh BUILD_DIR [SECONDS]
set -euo pipefail
build="${1:?usage: compare_bouncycastle.sh BUILD_DIR [SECONDS]}"
seconds="${2:-0.3}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
jar="${TV_BCPROV_JAR:-/usr/share/java/bcprov.jar}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

javac -d "$work" -cp "$jar" "$here/bouncycastle/Ff1BouncyCastleBench.java"
java -cp "$work:$jar" Ff1BouncyCastleBench "$seconds" >"$work/bc.jsonl"
"$build/bench/ff1_bench" --json --seconds "$seconds" >"$work/ours.jsonl"
cat "$work/bc.jsonl" "$work/ours.jsonl"
python3 - "$work/bc.jsonl" "$work/ours.jsonl" <<'PY'
import json, sys
bc = {}
for r in map(json.loads, open(sys.argv[1])):
    bc.setdefault(r["case"], {})[r["mode"]] = r["ns_per_op"]
for line in open(sys.argv[2]):
    r = json.loads(line)
    if r["case"] in bc:
        b = bc[r["case"]]
        print(json.dumps({"case": r["case"], "impl": r["impl"], "mode": r["mode"],
                          "ns_per_op": r["ns_per_op"],
                          "bc_ns_per_op": b["single"],
                          "bc_one_tweak_ns_per_op": b["single_one_tweak"],
                          "speedup_vs_bc": round(b["single"] / r["ns_per_op"], 1),
                          "speedup_vs_bc_one_tweak": round(b["single_one_tweak"] / r["ns_per_op"], 1)}))
PY
