#!/bin/bash
# scripts/bench-ab.sh OLD NEW: the same operations with two strata binaries (say, before
# and after a change), alternated N times (default 9) on tmpfs stores; prints the medians
# and NEW/OLD. Needs the bench peers' registry and workloads (`make bench` once, or
# ../shared/bench/peers-up.sh and workloads.sh): $BENCH/deb.tar.gz and
# 127.0.0.1:5000/bench/app:1.
set -u
OLD=${1:?usage: $0 OLD-STRATA NEW-STRATA}; NEW=${2:?usage: $0 OLD-STRATA NEW-STRATA}
BENCH=${BENCH:-/tmp/strata-bench}; REG=${REG:-127.0.0.1:5000}; N=${N:-9}
B=$BENCH/ab
rm -rf "$B"; mkdir -p "$B"
trap 'rm -rf "$B"' EXIT
med() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ms() {
  local s e
  s=$(date +%s%N); "$@" >/dev/null 2>&1 || echo "failed: $*" >&2; e=$(date +%s%N)
  echo $(((e - s) / 1000000))
}
for op in import pull save load run; do
  for i in $(seq "$N"); do
    for v in old new; do
      bin=$OLD; [ $v = new ] && bin=$NEW
      r=$B/store-$v
      case $op in
        import) rm -rf "$r"; ms "$bin" --root "$r" import "$BENCH/deb.tar.gz" x:1 >>"$B/$op.$v" ;;
        pull) rm -rf "$r"; ms "$bin" --root "$r" pull -q "$REG/bench/app:1" >>"$B/$op.$v" ;;
        save) [ -e "$B/app-$v.tar" ] || "$bin" --root "$r" pull -q "$REG/bench/app:1" >/dev/null
              rm -f "$B/app-$v.tar"; ms "$bin" --root "$r" save -o "$B/app-$v.tar" "$REG/bench/app:1" >>"$B/$op.$v" ;;
        load) rm -rf "$B/l-$v"; ms "$bin" --root "$B/l-$v" load -q -i "$B/app-$v.tar" >>"$B/$op.$v" ;;
        run) if [ "$i" = 1 ]; then rm -rf "$r"; "$bin" --root "$r" import "$BENCH/deb.tar.gz" x:1 >/dev/null; fi
             ms "$bin" --root "$r" run --rm --network host x:1 /bin/true >>"$B/$op.$v" ;;
      esac
    done
  done
  o=$(med <"$B/$op.old"); n=$(med <"$B/$op.new")
  echo "$op: old $o ms, new $n ms, new/old $(awk -v n="$n" -v o="$o" 'BEGIN {printf "%.2f", n / o}')"
done
