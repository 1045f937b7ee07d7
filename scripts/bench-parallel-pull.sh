#!/bin/bash
# scripts/bench-parallel-pull.sh STRATA [N]: N (default 8) pulls of $REG/bench/app:1 at once
# into one fresh store on the bench tmpfs; prints the wall time, the bytes of layer blobs
# the registry served (from its access log, $BENCH/registry.log) and the peak bytes under
# the store's tmp/ (sampled every 0.1 s). Needs ../shared/bench/peers-up.sh and
# workloads.sh (the registry on 127.0.0.1:5000 with bench/app:1).
set -u
BIN=${1:?usage: $0 STRATA [N]}; N=${2:-8}
BENCH=${BENCH:-/tmp/strata-bench}; REG=${REG:-127.0.0.1:5000}
S=$BENCH/parallel-pull-$$
rm -rf "$S"; mkdir -p "$S"
trap 'rm -rf "$S"' EXIT
log=$BENCH/registry.log
before=$(wc -l <"$log")
peak=0
( while :; do du -sb "$S/store/tmp" 2>/dev/null | cut -f1; sleep 0.1; done ) >"$S/staged" &
sampler=$!
start=$(date +%s%N)
for i in $(seq "$N"); do
  "$BIN" --root "$S/store" pull -q "$REG/bench/app:1" >"$S/out.$i" 2>&1 &
done
fails=0
for job in $(jobs -p); do
  [ "$job" = "$sampler" ] && continue
  wait "$job" || fails=$((fails + 1))
done
end=$(date +%s%N)
kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null
sleep 0.5
peak=$(sort -n "$S/staged" | tail -1)
fetched=$(tail -n +"$((before + 1))" "$log" | grep '"GET /v2/bench/app/blobs/sha256:' |
  awk '$9 == 200 || $9 == 206 {n++; b += $10} END {printf "%d blobs, %d bytes", n, b}')
echo "$N pulls at once: $fails failed, wall $(((end - start) / 1000000)) ms, fetched $fetched, peak staged ${peak:-0} bytes"
"$BIN" --root "$S/store" system check --quick | tail -1
