#!/usr/bin/env bash
# Benchmark for loading profiles at scale (issue 10): a profile with N artifacts (each pinned,
# half of them overridden and a tenth removed by a profile that extends it), resolved by
# `builder show` (find, parse, extends, validate, pins, the resolved TOML). Prints, per N, the
# wall time, CPU time and peak RSS; the time should grow linearly with N. It only prints
# figures: it is not a pass/fail test.
#
# Run from anywhere: bash ci/bench/profile.sh (ci/bench/run.sh runs it at its end)
# Env: BUILDER_BIN (default: ${CARGO_TARGET_DIR:-target}/release/builder, built when missing),
#      SIZES ("25000 50000 100000 200000"), BENCH_FIGURES (a file: `profile_N_wall_s=` and
#      `profile_N_kib_each=` lines are appended, for ci/bench.sh's table).
# "KiB each" is the peak RSS divided by the artifacts of the base file (the whole process:
# its fixed part too, which weighs less the bigger the profile).
set -euo pipefail

cd "$(dirname "$0")/../.."
BIN=${BUILDER_BIN:-${CARGO_TARGET_DIR:-target}/release/builder}
SIZES=${SIZES:-25000 50000 100000 200000}

if [ ! -x "$BIN" ]; then
    echo "building $BIN (cargo build --release)" >&2
    cargo build --release --quiet
fi
command -v python3 >/dev/null || { echo "bench-profile: python3 is required" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench-profile.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

printf '%9s  %8s  %8s  %9s  %9s\n' artifacts "wall s" "cpu s" "peak MiB" "KiB each"
for n in $SIZES; do
    python3 - "$WORK" "$n" <<'PY'
import sys
work, n = sys.argv[1], int(sys.argv[2])
pin = "ab" * 32
with open(f"{work}/base.toml", "w") as f:
    f.write('schema = 1\nname = "base"\nkubernetes = "1.36"\nruntime = "containerd"\narch = ["amd64", "arm64"]\n')
    for i in range(n):
        f.write(f'[[artifact]]\nname = "a{i}"\nversion = "1.0.{i}"\n'
                f'url = "https://example.invalid/a{i}/{{version}}/a-{{arch}}"\nsha256 = "{pin}"\n'
                f'install = [{{ to = "/opt/a/a{i}", mode = "0755" }}]\n')
with open(f"{work}/site.toml", "w") as f:
    f.write('schema = 1\nextends = "./base.toml"\nname = "site"\n')
    for i in range(0, n, 2):
        f.write(f'[[artifact]]\nname = "a{i}"\nversion = "2.0.{i}"\nsha256 = "{pin}"\n')
    for i in range(1, n, 10):
        f.write(f'[[artifact]]\nname = "a{i}"\nremove = true\n')
PY
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f '%e %U %S %M' -o "$WORK/t" "$BIN" show --profile "$WORK/site.toml" >"$WORK/out"
        read -r wall user sys kib <"$WORK/t"
        each=$(awk -v k="$kib" -v n="$n" 'BEGIN{printf "%.2f", k/n}')
        printf '%9d  %8.2f  %8.2f  %9.0f  %9s\n' "$n" "$wall" "$(awk -v u="$user" -v s="$sys" 'BEGIN{print u+s}')" \
            "$(awk -v k="$kib" 'BEGIN{print k/1024}')" "$each"
        if [ -n "${BENCH_FIGURES:-}" ]; then
            echo "profile_${n}_wall_s=$wall" >>"$BENCH_FIGURES"
            echo "profile_${n}_kib_each=$each" >>"$BENCH_FIGURES"
        fi
    else
        start=$(date +%s.%N)
        "$BIN" show --profile "$WORK/site.toml" >"$WORK/out"
        printf '%9d  %8.2f\n' "$n" "$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{print b-a}')"
    fi
    grep -c '^\[\[artifact\]\]' "$WORK/out" | xargs -I{} echo "           ({} artifacts resolved)"
done
