#!/usr/bin/env bash
# ci/bench.sh: every performance figure of builder against its target (issue 28), in one run.
# A benchmark that prints figures, not a timed test: a missed target reads "missed" and is no
# failure; it exits non-zero only if something it runs fails.
#
#   1. ci/bench/run.sh      renders against the hand-written shell pipeline, in alternating
#                           rounds (cold gzip, cold zstd, warm, from the output cache, no-op),
#                           then the pack step against pigz and zstd, and builder's peak memory
#   2. ci/bench/detect.sh   `builder detect` on 5,000 nodes + 50,000 pods, then on 50,000 nodes
#                           + 500,000 pods (3.5 GB of kubectl JSON, generated once per run)
#   3. ci/bench/profile.sh  `builder show` on profiles of 25,000 to 200,000 artifacts
# and at the end the table of every figure with its target.
#
# Usage (from anywhere): BENCH_ROUNDS=5 bash ci/bench.sh
# Environment: BENCH_ROUNDS (5), BENCH_SCALE (1), BENCH_DIR (see ci/bench/run.sh); BIG_RUNS
# (3: runs of the 50,000-node detect).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$(pwd)
FIGURES=$(mktemp "${TMPDIR:-/tmp}/builder-bench-figures.XXXXXX")
trap 'rm -f "$FIGURES"' EXIT
export BENCH_FIGURES=$FIGURES

bash "$REPO/ci/bench/run.sh"
BIN=$(cd "${CARGO_TARGET_DIR:-target}/release" && pwd)/builder
export BUILDER_BIN=$BIN

echo
echo "bench: ci/bench/detect.sh, 5,000 nodes + 50,000 pods" >&2
bash "$REPO/ci/bench/detect.sh"
echo
echo "bench: ci/bench/detect.sh, 50,000 nodes + 500,000 pods (about 3.5 GB of input)" >&2
NODES=50000 PODS=500000 RUNS=${BIG_RUNS:-3} HTML=0 bash "$REPO/ci/bench/detect.sh"
echo
echo "bench: ci/bench/profile.sh" >&2
bash "$REPO/ci/bench/profile.sh"

# ---------------------------------------------------------------------------------------------
# The table: every figure with its target.
# ---------------------------------------------------------------------------------------------
get() { sed -n "s/^$1=//p" "$FIGURES" | tail -n1; }
row() {  # row MEASURE VALUE UNIT TARGET: a line of the table; met when VALUE <= TARGET
    local v=$2 t=$4 verdict
    if [[ -z $v ]]; then
        verdict="not measured"
    else
        verdict=$(awk -v v="$v" -v t="$t" 'BEGIN { print (v + 0 <= t + 0 ? "met" : "missed") }')
    fi
    printf '%-44s %12s   <= %-10s %s\n' "$1" "${v:-?}$3" "$t$3" "$verdict"
}
echo
echo "every figure against its target (renders: ratios to the shell pipeline, cold, $(get shell_cold_s) s)"
printf '%-44s %12s   %-13s %s\n' measure value target result
row "cold render, zstd" "$(get cold_zstd_x)" x 0.07
row "cold render, gzip" "$(get cold_gzip_x)" x 0.13
row "warm render, no output cache" "$(get warm_x)" x 0.12
row "reuse from the output cache" "$(get reuse_x)" x 0.03
row "no-op render (edits noticed)" "$(get noop_x)" x 0.01
row "pack, gzip, vs pigz -2 -p NPROC" "$(get pack_gzip_x)" x 0.85
row "pack, zstd, vs zstd -2 -TNPROC" "$(get pack_zstd_x)" x 1.20
row "profile load, 100k artifacts, per artifact" "$(get profile_100000_kib_each)" " KiB" 2
row "detect, 50k nodes + 500k pods, time" "$(awk -v m="$(get detect_50000_ms)" 'BEGIN { if (m != "") printf "%.2f", m / 1000 }')" " s" 6
row "detect, 50k nodes + 500k pods, peak RSS" "$(get detect_50000_rss_mib)" " MiB" 300
row "peak RSS of a render" "$(get render_rss_mib)" " MiB" 100
echo "(profile load grows linearly when the per-artifact figure stays flat across ci/bench/profile.sh's sizes)"
