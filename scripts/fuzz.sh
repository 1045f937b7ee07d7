#!/usr/bin/env bash
# The fuzz targets of fuzz/ (cargo-fuzz, libFuzzer), one after another, each for
# FUZZ_SECONDS (default 600), under nice; then one table: runs, execs/s, coverage,
# corpus size, crashes. Not part of make test or CI.
#
#   scripts/fuzz.sh                 every target
#   scripts/fuzz.sh reference unpack   only these
#   scripts/fuzz.sh --seed          (re)write the seeds of fuzz/corpus/ and stop
#   scripts/fuzz.sh --cmin          minimise every committed corpus and stop
#
# Needs a nightly toolchain (rustup toolchain install nightly) and cargo-fuzz
# (cargo install cargo-fuzz). Crashes are kept in fuzz/artifacts/TARGET/; reproduce one
# with `cargo +nightly fuzz run TARGET fuzz/artifacts/TARGET/crash-…`. The table is also
# written to fuzz/last-run.txt (FUZZ_REPORT); FUZZ_NICE (default 15) is the niceness.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

TARGETS=(unpack archive_load documents reference template dockerfile helper_request)
SECONDS_EACH="${FUZZ_SECONDS:-600}"
NICE="${FUZZ_NICE:-15}"
CONFORMANCE="${CONFORMANCE_DIR:-/work/shared/conformance}"
REPORT="${FUZZ_REPORT:-fuzz/last-run.txt}"

need() {
    if ! cargo +nightly --version >/dev/null 2>&1; then
        echo "fuzz: a nightly toolchain is needed: rustup toolchain install nightly" >&2
        exit 1
    fi
    if ! cargo fuzz --version >/dev/null 2>&1; then
        echo "fuzz: cargo-fuzz is needed: cargo install cargo-fuzz" >&2
        exit 1
    fi
}

# Seeds: the generated ones (fuzz/seeds.py), then real inputs: the conformance
# Dockerfiles and shell lines, --format strings and references from the tests.
seed() {
    python3 fuzz/seeds.py
    local d=fuzz/corpus/dockerfile n=0
    mkdir -p "$d"
    if [ -d "$CONFORMANCE" ]; then
        for f in "$CONFORMANCE"/dockerfile-parser*/*/Dockerfile; do
            cp "$f" "$d/seed-$(basename "$(dirname "$f")")"
        done
        grep -v '^#' "$CONFORMANCE/shell/envVarTest" | cut -d'|' -f2 | sed 's/^ *//; s/ *$//' |
            while IFS= read -r line; do
                n=$((n + 1))
                printf '%s\n' "$line" >"$d/seed-word-$n"
            done
    fi
    d=fuzz/corpus/template
    mkdir -p "$d"
    grep -rhoE '"(table )?\{\{[^"]*\}\}[^"]*"' cli/src tests/integration | sort -u | head -200 |
        while IFS= read -r line; do
            line="${line#\"}"
            printf '%s' "${line%\"}" >"$d/seed-$(printf '%s' "$line" | sha256sum | cut -c1-12)"
        done
    d=fuzz/corpus/reference
    mkdir -p "$d"
    for r in busybox busybox:latest library/busybox docker.io/library/busybox:1.36 \
        index.docker.io/user/img localhost:5000/a/b/c:tag "127.0.0.1:5000/x@sha256:$(printf 'a%.0s' {1..64})" \
        "[::1]:5000/ns/img:v1" "ghcr.io/o/r:v1@sha256:$(printf '0%.0s' {1..64})" registry.example.com/a__b/c-d.e:T_1; do
        printf '%s' "$r" >"$d/seed-$(printf '%s' "$r" | sha256sum | cut -c1-12)"
    done
}

# The last status line and the final stats of a libFuzzer log, as one table row.
row() {
    local target=$1 log=$2 crashes=$3
    local runs eps rss cov ft corp
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
    ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
    corp=$(grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' "$log" | tail -1 | cut -d' ' -f2)
    printf '%-15s %7ss %10s %8s %6s %7s %12s %6sMB %7s\n' "$target" "$SECONDS_EACH" \
        "${runs:--}" "${eps:--}" "${cov:--}" "${ft:--}" "${corp:--}" "${rss:--}" "$crashes"
}

run_one() {
    local target=$1 log=fuzz/artifacts/$1.log
    mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target"
    local before after
    before=$(find "fuzz/artifacts/$target" -type f -name 'crash-*' -o -type f -name 'oom-*' \
        -o -type f -name 'timeout-*' | wc -l)
    # -max_len: room for a small image archive; the rest is libFuzzer's defaults.
    # A crash stops the run early: its row says so and the artifact is kept.
    nice -n "$NICE" cargo +nightly fuzz run "$target" "fuzz/corpus/$target" -- \
        -max_total_time="$SECONDS_EACH" -max_len=65536 -rss_limit_mb=2048 -timeout=30 \
        -print_final_stats=1 >"$log" 2>&1 || true
    after=$(find "fuzz/artifacts/$target" -type f -name 'crash-*' -o -type f -name 'oom-*' \
        -o -type f -name 'timeout-*' | wc -l)
    row "$target" "$log" $((after - before)) | tee -a "$REPORT"
}

case "${1:-}" in
--seed)
    seed
    exit 0
    ;;
--cmin)
    need
    for t in "${TARGETS[@]}"; do
        nice -n "$NICE" cargo +nightly fuzz cmin "$t" "fuzz/corpus/$t"
    done
    exit 0
    ;;
esac
need
[ $# -gt 0 ] && TARGETS=("$@")
mkdir -p fuzz/artifacts "$(dirname "$REPORT")"
nice -n "$NICE" cargo +nightly fuzz build
printf '%-15s %8s %10s %8s %6s %7s %12s %8s %7s\n' target time runs execs/s cov ft corpus rss crashes |
    tee "$REPORT"
for t in "${TARGETS[@]}"; do
    run_one "$t"
done
