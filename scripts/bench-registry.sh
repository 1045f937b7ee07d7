#!/bin/bash
# The registry section of `make bench` (scripts/bench.sh runs it; it can also run alone
# once the peers are up and the workloads pushed):
#   pull    bench/app:1 into an empty store: strata, the floor (floor-pull.sh), docker, podman
#   push    an image whose base is in the registry plus one new 50 MB layer: strata, docker,
#           podman, and the floor (curl uploading 50 MB of new bytes in one PUT)
#   pull of an image that is already complete (strata), next to one manifest round trip (curl)
# The pushes go to a private registry on a free port (PUSH_REGISTRY_PORT), removed at the end.
# and strata's peak memory during the pull. Needs: STRATA (release binary), R (results dir),
# PEERS (shared/bench), and the peers.env variables ($D, $P, $REG, $BENCH).
set -euo pipefail
: "${STRATA:?}" "${R:?}" "${PEERS:?}"
# shellcheck disable=SC1091
source "${BENCH:-/tmp/strata-bench}/peers.env"
note() { printf 'note: %s\n' "$*" >&2; }
HF=(hyperfine -w 1 -r "${RUNS:-5}" --style basic)
HF20=(hyperfine -w 1 -r 20 --style basic)
IMG="$REG/bench/app:1"
BASE="$REG/bench/deb:base"
have_docker=0; have_podman=0
$D info >/dev/null 2>&1 && have_docker=1
command -v podman >/dev/null 2>&1 && $P info >/dev/null 2>&1 && have_podman=1
curl -fs "http://$REG/v2/bench/app/tags/list" >/dev/null || { echo "no $IMG (run workloads.sh)" >&2; exit 1; }

echo "-- pull $IMG into an empty store"
S="$BENCH/strata-pull"
"${HF[@]}" --export-json "$R/pull-strata.json" -n strata --prepare "rm -rf $S" \
  "STRATA_ROOT=$S $STRATA pull -q $IMG"
"${HF[@]}" --export-json "$R/pull-floor.json" -n floor "bash $PEERS/floor-pull.sh"
if ((have_docker)); then
  "${HF[@]}" --export-json "$R/pull-docker.json" -n docker \
    --prepare "$D rmi -f $IMG >/dev/null 2>&1; $D image prune -f >/dev/null 2>&1; true" \
    "$D pull -q $IMG" || note "docker pull failed"
fi
if ((have_podman)); then
  "${HF[@]}" --export-json "$R/pull-podman.json" -n podman \
    --prepare "$P rmi -a -f >/dev/null 2>&1; true" "$P pull -q $IMG" || note "podman pull failed"
fi
rm -rf "$S"
/usr/bin/time -f '%M' -o "$R/pull-strata-maxrss.txt" env STRATA_ROOT="$S" "$STRATA" pull -q "$IMG" >/dev/null
echo "strata pull peak memory: $(( $(cat "$R/pull-strata-maxrss.txt") / 1024 )) MB"

echo "-- pull of $IMG when it is complete already, and one manifest round trip"
"${HF20[@]}" --export-json "$R/pullcomplete-strata.json" -n strata "STRATA_ROOT=$S $STRATA pull -q $IMG"
accept='application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json'
"${HF20[@]}" -N --export-json "$R/pullcomplete-floor.json" -n "curl manifest" \
  "curl -fs -o /dev/null -H 'Accept: $accept' http://$REG/v2/bench/app/manifests/1"

# The pushes go to a private registry on the tmpfs, removed at the end, so that the
# shared one does not fill up with 50 MB blobs; it starts with the base image.
# A new port each time: podman's blob-info cache must not remember a registry that is gone.
port=${PUSH_REGISTRY_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
PREG=127.0.0.1:$port
mkdir -p "$BENCH/registry-push"
cat >"$BENCH/registry-push.yml" <<YML
version: 0.1
log: {level: warn}
storage: {filesystem: {rootdirectory: $BENCH/registry-push}}
http: {addr: $PREG}
YML
docker-registry serve "$BENCH/registry-push.yml" >"$BENCH/registry-push.log" 2>&1 &
preg_pid=$!
trap 'kill $preg_pid 2>/dev/null || true; wait $preg_pid 2>/dev/null || true; rm -rf "$BENCH/registry-push" "$BENCH"/registry-push.*' EXIT
for _ in $(seq 1 50); do curl -fs "http://$PREG/v2/" >/dev/null && break; sleep 0.1; done
skopeo copy -q --src-tls-verify=false --dest-tls-verify=false "docker://$BASE" "docker://$PREG/bench/deb:base"
BASE=$PREG/bench/deb:base

echo "-- push of a new 50 MB layer on $BASE"
# prepare TOOL NAME: a container that writes 50 MB of new random bytes, committed as
# $PREG/bench/push-NAME:1 (retried: a container removal can race the next run).
prep() {
  local f="$BENCH/prep-push-$2.sh"
  cat >"$f" <<SH
for i in 1 2 3; do
  $1 rm -f bench-push >/dev/null 2>&1
  $1 rmi -f $PREG/bench/push-$2:1 >/dev/null 2>&1
  if $1 run --name bench-push $BASE sh -c 'head -c 52428800 /dev/urandom > /big' >/dev/null 2>&1 &&
     $1 commit $3 bench-push $PREG/bench/push-$2:1 >/dev/null; then exit 0; fi
  sleep 1
done
exit 1
SH
  echo "bash $f"
}
# podman first: after other clients have pushed to this registry, podman 4.3's blob
# reuse fails (exit 125) where it runs alone.
if ((have_podman)); then
  $P pull -q --tls-verify=false "$BASE" >/dev/null
  pp=$(prep "$P" podman -q); $pp || note "podman: preparing the push failed"
  "${HF[@]}" --export-json "$R/push-podman.json" -n podman --prepare "$pp" \
    "$P push -q --tls-verify=false $PREG/bench/push-podman:1" || note "podman push failed"
fi
# The floor of a push: curl uploads 50 MB of new random bytes (already gzip-sized and
# hashed) in one monolithic PUT, which is what the registry itself takes to receive,
# hash and store them.
cat >"$BENCH/push-floor-prep.sh" <<SH
head -c 52428800 /dev/urandom >"$BENCH/push-floor.bin"
sha256sum "$BENCH/push-floor.bin" | cut -d' ' -f1 >"$BENCH/push-floor.sha"
SH
cat >"$BENCH/push-floor.sh" <<SH
loc=\$(curl -fsi -X POST "http://$PREG/v2/bench/floor/blobs/uploads/" | tr -d '\r' | sed -n 's/^location: //Ip')
case \$loc in http*) ;; *) loc="http://$PREG\$loc" ;; esac
curl -fs -o /dev/null -X PUT -H 'Content-Type: application/octet-stream' \\
  -T "$BENCH/push-floor.bin" "\$loc&digest=sha256:\$(cat "$BENCH/push-floor.sha")"
SH
"${HF[@]}" --export-json "$R/push-floor.json" -n "floor (curl PUT)" \
  --prepare "bash $BENCH/push-floor-prep.sh" "bash $BENCH/push-floor.sh"
rm -f "$BENCH"/push-floor*
S="$BENCH/strata-push"
rm -rf "$S"; STRATA_ROOT=$S "$STRATA" pull -q "$BASE" >/dev/null
sp=$(prep "env STRATA_ROOT=$S $STRATA" strata ""); $sp
"${HF[@]}" --export-json "$R/push-strata.json" -n strata --prepare "$sp" \
  "STRATA_ROOT=$S $STRATA push -q $PREG/bench/push-strata:1"
if ((have_docker)); then
  $D pull -q "$BASE" >/dev/null
  dp=$(prep "$D" docker ""); $dp || note "docker: preparing the push failed"
  "${HF[@]}" --export-json "$R/push-docker.json" -n docker --prepare "$dp" \
    "$D push -q $PREG/bench/push-docker:1" || note "docker push failed"
fi
rm -rf "$BENCH/strata-pull" "$BENCH/strata-push"
