#!/bin/bash
# make hardening (issue 13): runs, at full size (STRATA_HARDENING_FULL=1: 30 kills an
# operation, every rename and unlink, more concurrent rounds), the hostile-archive corpus,
# the hostile registry, the crash and concurrency suites and the full-disk tests of the
# integration test binary, ignored tests included (they name known defects), and prints
# one table from the `HARDENING key=value` lines the tests print. The full log is kept in
# target/hardening.log. Exit status 1 if any test failed. STRATA_HARDENING_FULL=0 runs the
# small sizes `make test` runs.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
export PATH="${HOME:-/root}/.cargo/bin:$PATH"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-1}" CARGO_TERM_COLOR=never
export STRATA_HARDENING_FULL="${STRATA_HARDENING_FULL:-1}" RUST_BACKTRACE=0
log=target/hardening.log
mkdir -p target
cargo build -p strata -p strata-helper || exit 1
cargo test -p strata-tests --test integration -- --include-ignored --nocapture \
  --test-threads="${HARDENING_THREADS:-2}" \
  corpus:: hostile:: hostile_registry:: crash_suite:: concurrency:: full_disk \
  >"$log" 2>&1
status=$?

# The sum of the values of KEY over the HARDENING lines; the largest with `max`.
sum() { awk -F= -v k="HARDENING $1" '$1 == k { s += $2 } END { print s + 0 }' "$log"; }
max() { awk -F= -v k="HARDENING $1" '$1 == k && $2 > m { m = $2 } END { print m + 0 }' "$log"; }
passed=$(grep -c '^test .* ok$' "$log")
failed=$(grep -c '^test .* FAILED$' "$log")
rss=$(max pull5000_peak_rss_kb)

printf '\n%-58s %s\n' "strata hardening (issue 13)" "result"
printf '%-58s %s\n' "----------------------------------------------------------" "----------"
row() { printf '%-58s %s\n' "$1" "$2"; }
row "cases tried (hostile archives and registries)" "$(sum cases)"
row "kills (SIGKILL at moments and at renames and unlinks)" "$(sum kills)"
row "kills survived (operation then succeeds, store sound)" "$(sum kills_survived)"
row "unsound stores (system check fails after recovery)" "$(sum unsound)"
row "  system check failing right after a kill, before recovery" "$(sum unsound_before_recovery)"
row "commands run by the concurrency suite" "$(sum commands)"
row "lost updates" "$(sum lost)"
row "errors without a clear message" "$(sum unclear)"
row "hostile inputs accepted that must be refused" "$(sum accepted)"
row "peak memory of a 5,000-layer pull" "$((rss / 1024)) MiB"
row "peak threads of a 5,000-layer pull" "$(max pull5000_peak_threads)"
row "peak memory of a 500-layer pull (the most allowed)" "$(($(max pull500_peak_rss_kb) / 1024)) MiB"
row "peak threads of a 500-layer pull" "$(max pull500_peak_threads)"
row "tests passed / failed" "$passed / $failed"
if ((failed > 0)); then
  echo
  echo "failed:"
  grep '^test .* FAILED$' "$log" | sed 's/^test /  /; s/ \.\.\. FAILED$//'
fi
echo "(log: $log)"
((status == 0 && failed == 0))
