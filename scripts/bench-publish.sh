#!/bin/bash
# scripts/bench-publish.sh [ROUNDS]: `run --rm -p PORT:80` of busybox httpd until the
# port answers, as root: strata through its bridge backend, strata through pasta, and
# docker with a bridge when DOCKER (a docker command line, e.g. "docker -H unix:///x.sock")
# names a daemon that has the image bb-httpd. Each round starts the container in the
# background, polls http://127.0.0.1:PORT/ with curl every 2 ms, and times the start to
# the first answer; the container is then stopped (not timed). Prints the medians in ms
# and the ratios. STRATA_BIN (default target/release/strata) and STRATA_ROOT (default a
# temporary store) choose strata's binary and store.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-15}
strata=${STRATA_BIN:-target/release/strata}
root=${STRATA_ROOT:-$(mktemp -d /tmp/strata-bench-publish.XXXX)}
cleanup_root=$([ -z "${STRATA_ROOT:-}" ] && echo "$root" || true)
trap '[ -n "$cleanup_root" ] && rm -rf "$cleanup_root"' EXIT
S=("$strata" --root "$root")

if ! "${S[@]}" images -q bb-httpd | grep -q .; then
  rootfs=$(mktemp -d)
  mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/www" "$rootfs/tmp"
  cp "$(command -v busybox)" "$rootfs/bin/busybox"
  ln -s busybox "$rootfs/bin/sh"
  echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
  echo hello >"$rootfs/www/index.html"
  tar -C "$rootfs" -cf "$rootfs.tar" .
  "${S[@]}" import "$rootfs.tar" bb-httpd >/dev/null
  rm -rf "$rootfs" "$rootfs.tar"
fi

port=18080
# One round: $@ starts the container in the foreground; prints the ms until it answers.
one() {
  local start end
  start=$(date +%s%N)
  "$@" >/dev/null 2>&1 &
  local pid=$!
  local deadline=$((start + 20000000000))
  until curl -fs -o /dev/null "http://127.0.0.1:$port/"; do
    if (($(date +%s%N) > deadline)); then
      echo "no answer on port $port within 20 s: $*" >&2
      kill -TERM "$pid" 2>/dev/null
      exit 1
    fi
    sleep 0.002
  done
  end=$(date +%s%N)
  echo $(((end - start) / 1000000))
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A result
measure() {
  local name=$1
  shift
  local times=()
  for _ in $(seq "$rounds"); do times+=("$(one "$@")"); done
  result[$name]=$(printf '%s\n' "${times[@]}" | median)
  echo "$name: median ${result[$name]} ms (${times[*]})"
}

httpd=(sh -c "trap 'exit 0' TERM; busybox httpd -f -p 80 -h /www & wait")
measure "strata bridge" "${S[@]}" run --rm -p "$port:80" bb-httpd "${httpd[@]}"
measure "strata pasta" "${S[@]}" run --rm --network pasta -p "$port:80" bb-httpd "${httpd[@]}"
if [ -n "${DOCKER:-}" ]; then
  # shellcheck disable=SC2086
  measure "docker bridge" $DOCKER run --rm -p "$port:80" bb-httpd "${httpd[@]}"
  awk -v b="${result[strata bridge]}" -v p="${result[strata pasta]}" -v d="${result[docker bridge]}" \
    'BEGIN {printf "ratios: bridge/docker %.2f, pasta/docker %.2f\n", b / d, p / d}'
fi
awk -v b="${result[strata bridge]}" -v p="${result[strata pasta]}" \
  'BEGIN {printf "ratio: bridge/pasta %.2f\n", b / p}'
