#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for a bounded time (default 60 s each; FUZZ_SECONDS or
# the first argument). Each starts from its seeds (fuzz/seeds/TARGET, from the test fixtures)
# plus the corpus kept from earlier runs; the corpus, the build and cargo-fuzz itself live
# outside the checkout (FUZZ_CACHE, default ~/.cache/builder-fuzz), so a fresh clone reuses
# them. A crash stops the run with libFuzzer's report and the input that caused it
# (FUZZ_CACHE/artifacts/TARGET); add that input to fuzz/seeds/TARGET and a regression test.
#
# libFuzzer is built without a sanitizer (--sanitizer none): the targets are safe Rust, and
# the stable toolchain takes the coverage flags but not -Zsanitizer.
set -euo pipefail
cd "$(dirname "$0")/../.."

SECONDS_EACH=${1:-${FUZZ_SECONDS:-60}}
CACHE=${FUZZ_CACHE:-$HOME/.cache/builder-fuzz}
TARGETS=(profile archive detect_lists kubelet_inputs)
mkdir -p "$CACHE"

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz (once; into ~/.cargo/bin)"
    cargo install --locked cargo-fuzz --version 0.13.2 --quiet
fi

echo "fuzz: building ${TARGETS[*]}"
cargo fuzz build --sanitizer none --target-dir "$CACHE/target" >/dev/null

for t in "${TARGETS[@]}"; do
    corpus="$CACHE/corpus/$t"
    artifacts="$CACHE/artifacts/$t"
    mkdir -p "$corpus" "$artifacts"
    echo "fuzz: $t for ${SECONDS_EACH}s"
    log="$CACHE/$t.log"
    if ! cargo fuzz run --sanitizer none --target-dir "$CACHE/target" "$t" "$corpus" "fuzz/seeds/$t" -- \
            -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -timeout=20 \
            -artifact_prefix="$artifacts/" -print_final_stats=1 >"$log" 2>&1; then
        tail -n 60 "$log"
        echo "fuzz: $t FAILED; the input is in $artifacts" >&2
        exit 1
    fi
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    echo "fuzz: $t ok: $runs executions, no crash"
done
