#!/bin/bash
# Side-by-side benchmarks (`make bench`, as root): strata against docker and podman on the
# same machine, all stores on one tmpfs, using the peers of shared/bench (peers-up.sh).
#   1. import of $BENCH/deb.tar.gz (a minimal Debian made by debootstrap)
#   2. `images` with 300 tags of one image
#   3. save and load of bench/app:1
#   4. `run --rm IMAGE /bin/true` as root, as an ordinary user through strata-helper, and the
#      shell floor (floor-run.sh)
#   5. commit of a container with one 50 MB file and 1,000 small files
#   6. registry: pull of bench/app:1, push of a new 50 MB layer, pull of a complete image
#      (scripts/bench-registry.sh)
#   7. build of shared/bench's context ($BENCH/ctx): no cache (strata, docker's classic
#      builder, podman), fully cached, and a two-stage Dockerfile whose stages each sleep 1
#   8. containers: `exec` of /bin/true in a running container, `stop` of a container that
#      exits on SIGTERM, `run --rm -p` of busybox httpd until the port answers
# SECTIONS="4 6" runs only those sections (default: all).
# hyperfine -w 1 -r 5; JSON results in $BENCH/results/. Peers that are missing are skipped
# with a note; the script fails only if strata (or the setup it needs) fails.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${HOME:-/root}/.cargo/bin:$PATH"
section() { printf '\n==================== %s ====================\n' "$*"; }
note() { printf 'note: %s\n' "$*" >&2; }

SHARED=${SHARED:-$(cd "$(dirname "$0")/../.." && pwd)/shared}
PEERS="$SHARED/bench"
[ -d "$PEERS" ] || { echo "no bench scripts in $PEERS (set SHARED=/path/to/shared)" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "bench.sh needs root (peers-up.sh starts dockerd and mounts a tmpfs)" >&2; exit 1; }
TAGS=${TAGS:-300}
HF=(hyperfine -w 1 -r 5 --style basic)
HFN=(hyperfine -w 3 --style basic)

section "build strata (release)"
cargo build --release -p strata -p strata-helper
target=$(cargo metadata --format-version 1 --no-deps |
         python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
STRATA="$target/release/strata"
[ -x "$STRATA" ] || { echo "no $STRATA" >&2; exit 1; }

section "peers (shared/bench/peers-up.sh)"
bash "$PEERS/peers-up.sh" || note "peers-up.sh failed; going on with the peers that work"
# shellcheck disable=SC1091
source "${BENCH:-/tmp/strata-bench}/peers.env"
command -v hyperfine >/dev/null || { echo "hyperfine is missing (apt-get install hyperfine)" >&2; exit 1; }
have_docker=0; have_podman=0
if $D info >/dev/null 2>&1; then have_docker=1; else note "docker is not available: skipped"; fi
if command -v podman >/dev/null 2>&1 && $P info >/dev/null 2>&1; then have_podman=1; else note "podman is not available: skipped"; fi

section "workload: $BENCH/deb.tar.gz"
if [ ! -f "$BENCH/deb.tar.gz" ] && ((have_podman)); then
  timeout 900 bash "$PEERS/workloads.sh" || note "workloads.sh failed or timed out"
fi
if [ ! -f "$BENCH/deb.tar.gz" ]; then
  # The deb.tar.gz part of workloads.sh.
  mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -n1 || true)
  [ -n "$mirror" ] || mirror=$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list)
  rm -rf "$BENCH/deb-rootfs"
  debootstrap --variant=minbase bookworm "$BENCH/deb-rootfs" "$mirror" >"$BENCH/debootstrap.log"
  tar -C "$BENCH/deb-rootfs" -czf "$BENCH/deb.tar.gz" .
fi
ls -l "$BENCH/deb.tar.gz"
R="$BENCH/results"; mkdir -p "$R"
# SECTIONS="4 6" runs only those; the results of the others stay from an earlier run.
SECTIONS=${SECTIONS:-1 2 3 4 5 6 7 8}
want() { [[ " $SECTIONS " == *" $1 "* ]]; }
for n in $SECTIONS; do
  case $n in
    1) rm -f "$R"/import-*.json ;; 2) rm -f "$R"/images-*.json ;;
    3) rm -f "$R"/save-*.json "$R"/load-*.json ;; 4) rm -f "$R"/run-*.json "$R"/runuser-*.json ;;
    5) rm -f "$R"/commit-*.json ;; 6) rm -f "$R"/pull*.json "$R"/push-*.json "$R"/pull-strata-maxrss.txt ;;
    7) rm -f "$R"/build-*.json "$R"/buildcached-*.json "$R"/buildsleep-*.json ;;
    8) rm -f "$R"/exec-*.json "$R"/stop-*.json "$R"/web-*.json ;;
  esac
done

if want 1; then
section "1. import deb.tar.gz"
S="$BENCH/strata-import"
"${HF[@]}" --export-json "$R/import-strata.json" -n strata \
  --prepare "rm -rf $S; mkdir -p $S" \
  "STRATA_ROOT=$S $STRATA import $BENCH/deb.tar.gz bench/deb:strata"
if ((have_docker)); then
  "${HF[@]}" --export-json "$R/import-docker.json" -n docker \
    --prepare "$D rmi -f bench/deb:docker >/dev/null 2>&1; true" \
    "$D import $BENCH/deb.tar.gz bench/deb:docker" || note "docker import failed"
fi
if ((have_podman)); then
  "${HF[@]}" --export-json "$R/import-podman.json" -n podman \
    --prepare "$P rmi -f localhost/bench/deb:podman >/dev/null 2>&1; true" \
    "$P import -q $BENCH/deb.tar.gz localhost/bench/deb:podman" || note "podman import failed"
fi
fi

if want 2; then
section "2. images with $TAGS tags"
S="$BENCH/strata-images"
rm -rf "$S"; mkdir -p "$S"
STRATA_ROOT=$S "$STRATA" import "$BENCH/deb.tar.gz" bench/tags:base >/dev/null
for i in $(seq 1 "$TAGS"); do STRATA_ROOT=$S "$STRATA" tag bench/tags:base "bench/tags:t$i"; done
"${HF[@]}" --export-json "$R/images-strata.json" -n strata "STRATA_ROOT=$S $STRATA images"
if ((have_docker)); then
  if $D import "$BENCH/deb.tar.gz" bench/tags:base >/dev/null; then
    for i in $(seq 1 "$TAGS"); do $D tag bench/tags:base "bench/tags:t$i"; done
    "${HF[@]}" --export-json "$R/images-docker.json" -n docker "$D images" || note "docker images failed"
  else note "docker import failed: images skipped"; fi
fi
if ((have_podman)); then
  if $P import -q "$BENCH/deb.tar.gz" localhost/bench/tags:base >/dev/null; then
    names=(); for i in $(seq 1 "$TAGS"); do names+=("localhost/bench/tags:t$i"); done
    $P tag localhost/bench/tags:base "${names[@]}"
    "${HF[@]}" --export-json "$R/images-podman.json" -n podman "$P images" || note "podman images failed"
  else note "podman import failed: images skipped"; fi
fi
fi

if want 3; then
section "3. save and load of $REG/bench/app:1 (needs docker for the source archive)"
# same_id WHAT GOT: fails the bench unless GOT is docker's own image ID for the image.
same_id() {
  if [ "$2" = "$docker_id" ]; then echo "$1: same image ID $docker_id"
  else echo "$1: image ID '${2}', expected docker's $docker_id" >&2; exit 1; fi
}
if ((have_docker)) && $D pull -q "$REG/bench/app:1" >/dev/null; then
  # Docker's own ID for the image (its config digest), before anything is removed or loaded.
  docker_id=$($D image inspect -f '{{.Id}}' "$REG/bench/app:1")
  [[ $docker_id =~ ^sha256:[0-9a-f]{64}$ ]] ||
    { echo "docker gave no image ID for $REG/bench/app:1 ('$docker_id')" >&2; exit 1; }
  $D save -o "$BENCH/app-docker.tar" "$REG/bench/app:1"
  S="$BENCH/strata-save"
  rm -rf "$S"; STRATA_ROOT=$S "$STRATA" load -i "$BENCH/app-docker.tar" >/dev/null
  # Interoperability: strata loads docker's archive as the same image.
  same_id "strata loads docker's archive" \
    "$(STRATA_ROOT=$S "$STRATA" images -q --no-trunc "$REG/bench/app:1")"
  "${HF[@]}" --export-json "$R/save-strata.json" -n strata \
    "STRATA_ROOT=$S $STRATA save -o $BENCH/app-strata.tar $REG/bench/app:1"
  "${HF[@]}" --export-json "$R/save-docker.json" -n docker \
    "$D save -o $BENCH/app-docker2.tar $REG/bench/app:1"
  "${HF[@]}" --export-json "$R/load-strata.json" -n strata --prepare "rm -rf $BENCH/strata-load" \
    "STRATA_ROOT=$BENCH/strata-load $STRATA load -i $BENCH/app-docker.tar"
  same_id "strata's timed loads of docker's archive" \
    "$(STRATA_ROOT=$BENCH/strata-load "$STRATA" images -q --no-trunc "$REG/bench/app:1")"
  "${HF[@]}" --export-json "$R/load-docker.json" -n docker \
    --prepare "$D rmi -f $REG/bench/app:1 >/dev/null 2>&1; true" "$D load -i $BENCH/app-docker.tar"
  # Interoperability: docker and podman load strata's archive as that same image.
  $D rmi -f "$REG/bench/app:1" >/dev/null 2>&1 || true
  if $D image inspect "$REG/bench/app:1" >/dev/null 2>&1; then
    echo "docker still has $REG/bench/app:1 after rmi" >&2; exit 1
  fi
  $D load -q -i "$BENCH/app-strata.tar" >/dev/null
  same_id "docker loads strata's archive" "$($D image inspect -f '{{.Id}}' "$REG/bench/app:1")"
  if ((have_podman)); then
    $P rmi -f "$REG/bench/app:1" >/dev/null 2>&1 || true
    $P load -q -i "$BENCH/app-strata.tar" >/dev/null
    same_id "podman loads strata's archive" "$($P images --no-trunc -q "$REG/bench/app:1")"
  fi
else
  note "docker or $REG/bench/app:1 is not available: save/load skipped"
fi
fi

if want 4; then
section "4. run --rm IMAGE /bin/true (the Debian image)"
S="$BENCH/strata-run"
rm -rf "$S"; STRATA_ROOT=$S "$STRATA" import "$BENCH/deb.tar.gz" bench/deb:run >/dev/null
"${HFN[@]}" -r 20 --export-json "$R/run-strata.json" -n strata \
  "STRATA_ROOT=$S $STRATA run --rm bench/deb:run /bin/true"
if [ -d "$BENCH/floor/1" ] || { [ -n "${REG:-}" ] && bash "$PEERS/floor-pull.sh" >/dev/null 2>&1; }; then
  "${HFN[@]}" -r 20 --export-json "$R/run-floor.json" -n floor "bash $PEERS/floor-run.sh"
else
  note "no $BENCH/floor/1 (floor-pull.sh needs the workloads): run floor skipped"
fi
# The same as an ordinary user: strata in a user namespace, the overlay from strata-helper.
RUSER=strata-test
if ! id -u "$RUSER" >/dev/null 2>&1; then useradd --create-home --shell /bin/bash --user-group "$RUSER"; fi
for f in subuid subgid; do
  grep -q "^$RUSER:" "/etc/$f" 2>/dev/null || echo "$RUSER:200000:65536" >>"/etc/$f"
done
RS="$BENCH/strata-run-user"; RB="$BENCH/bin"; HS="$BENCH/helper/helper.sock"
rm -rf "$RS"; mkdir -p "$RS" "$RB" "$(dirname "$HS")"; chown "$RUSER:" "$RS"; chmod 700 "$RS"
rm -f "$RB/strata" "$RB/strata-helper"; cp "$STRATA" "$target/release/strata-helper" "$RB/"; chmod 755 "$BENCH" "$RB" "$(dirname "$HS")"
"$RB/strata-helper" serve --socket "$HS" 2>"$BENCH/helper.log" &
helper_pid=$!
for _ in $(seq 50); do [ -S "$HS" ] && break; sleep 0.1; done
as_user() { runuser -u "$RUSER" -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp STRATA_ROOT="$RS" STRATA_HELPER_SOCKET="$HS" "$@"; }
if as_user "$RB/strata" import "$BENCH/deb.tar.gz" bench/deb:run >/dev/null; then
  "${HFN[@]}" -r 20 --export-json "$R/runuser-strata.json" -n "strata as $RUSER" \
    "runuser -u $RUSER -- env -i PATH=/usr/bin:/bin STRATA_ROOT=$RS STRATA_HELPER_SOCKET=$HS $RB/strata run --rm bench/deb:run /bin/true"
else
  note "strata as $RUSER could not import: rootless run skipped"
fi
as_user "$RB/strata" rmi -f bench/deb:run >/dev/null 2>&1 || true
kill "$helper_pid" 2>/dev/null || true; wait "$helper_pid" 2>/dev/null || true
rm -rf "$RS"
if ((have_docker)); then
  $D import "$BENCH/deb.tar.gz" bench/deb:run >/dev/null
  "${HFN[@]}" -r 10 --export-json "$R/run-docker.json" -n docker \
    "$D run --rm bench/deb:run /bin/true" || note "docker run failed"
fi
if ((have_podman)); then
  $P import "$BENCH/deb.tar.gz" bench/deb:run >/dev/null
  "${HFN[@]}" -r 10 --export-json "$R/run-podman.json" -n podman \
    "$P run --rm bench/deb:run /bin/true" || note "podman run failed"
fi
fi

if want 5; then
section "5. commit of a container with one 50 MB file and 1,000 small files"
fill='head -c 52428800 /dev/urandom > /big && mkdir /small && for i in $(seq 1000); do echo $i > /small/$i; done'
# The Debian image of section 4, in each tool (imported here when section 4 did not run).
S="$BENCH/strata-run"
STRATA_ROOT=$S "$STRATA" inspect bench/deb:run >/dev/null 2>&1 ||
  STRATA_ROOT=$S "$STRATA" import "$BENCH/deb.tar.gz" bench/deb:run >/dev/null
if ((have_docker)) && ! $D image inspect bench/deb:run >/dev/null 2>&1; then
  $D import "$BENCH/deb.tar.gz" bench/deb:run >/dev/null
fi
if ((have_podman)) && ! $P image inspect bench/deb:run >/dev/null 2>&1; then
  $P import "$BENCH/deb.tar.gz" bench/deb:run >/dev/null
fi
STRATA_ROOT=$S "$STRATA" rm -f bench-commit >/dev/null 2>&1 || true
STRATA_ROOT=$S "$STRATA" run --name bench-commit bench/deb:run sh -c "$fill"
"${HF[@]}" --export-json "$R/commit-strata.json" -n strata \
  --prepare "STRATA_ROOT=$S $STRATA rmi bench/committed:1 >/dev/null 2>&1; true" \
  "STRATA_ROOT=$S $STRATA commit bench-commit bench/committed:1"
if ((have_docker)); then
  $D rm -f bench-commit >/dev/null 2>&1 || true
  $D run --name bench-commit bench/deb:run sh -c "$fill"
  "${HF[@]}" --export-json "$R/commit-docker.json" -n docker \
    --prepare "$D rmi bench/committed:1 >/dev/null 2>&1; true" \
    "$D commit bench-commit bench/committed:1" || note "docker commit failed"
fi
if ((have_podman)); then
  $P rm -f bench-commit >/dev/null 2>&1 || true
  $P run --name bench-commit bench/deb:run sh -c "$fill"
  "${HF[@]}" --export-json "$R/commit-podman.json" -n podman \
    --prepare "$P rmi bench/committed:1 >/dev/null 2>&1; true" \
    "$P commit -f docker bench-commit bench/committed:1" || note "podman commit failed"
fi
fi

if want 6; then
section "6. registry: pull, push, pull of a complete image (scripts/bench-registry.sh)"
STRATA=$STRATA R=$R PEERS=$PEERS bash scripts/bench-registry.sh
fi

if want 7; then
section "7. build: $BENCH/ctx with no cache, fully cached; two stages that each sleep 1"
# The context and its base image come from shared/bench/workloads.sh. Each tool pulls the
# base once, untimed; docker builds with its classic builder (DOCKER_BUILDKIT=0: BuildKit
# needs a network bridge this machine lacks).
S="$BENCH/strata-build"
BASE="$REG/bench/deb:base"
SLEEP="$BENCH/ctx-sleep"
mkdir -p "$SLEEP"
cat >"$SLEEP/Dockerfile" <<DF
FROM $BASE AS one
RUN sleep 1 && echo one > /one
FROM $BASE AS two
RUN sleep 1 && echo two > /two
FROM $BASE
COPY --from=one /one /one
COPY --from=two /two /two
DF
# build_rows TOOL BUILD RUNS: the three timings with the build command BUILD (RUNS runs of
# the cached build).
build_rows() {
  "${HF[@]}" --export-json "$R/build-$1.json" -n "$1" "$2 --no-cache -t bench/ctx:$1 $BENCH/ctx" &&
    "${HFN[@]}" -r "$3" --export-json "$R/buildcached-$1.json" -n "$1" "$2 -t bench/ctx:$1 $BENCH/ctx" &&
    "${HF[@]}" --export-json "$R/buildsleep-$1.json" -n "$1" "$2 --no-cache -t bench/sleep:$1 $SLEEP"
}
if [ -f "$BENCH/ctx/Dockerfile" ] && rm -rf "$S" && STRATA_ROOT=$S "$STRATA" pull -q "$BASE" >/dev/null; then
  build_rows strata "STRATA_ROOT=$S $STRATA build -q" 20
else
  note "no $BENCH/ctx or no $BASE (shared/bench/workloads.sh): build skipped"
fi
if ((have_docker)) && [ -f "$BENCH/ctx/Dockerfile" ] && $D pull -q "$BASE" >/dev/null; then
  build_rows docker "DOCKER_BUILDKIT=0 $D build -q" 10 || note "docker build failed"
fi
if ((have_podman)) && [ -f "$BENCH/ctx/Dockerfile" ] && $P pull -q --tls-verify=false "$BASE" >/dev/null; then
  build_rows podman "$P build -q --tls-verify=false" 10 || note "podman build failed"
fi
fi

if want 8; then
section "8. containers: exec, stop, run --rm -p of httpd until the port answers"
# A busybox image (the host's static busybox) in strata and docker.
bb="$BENCH/busybox-rootfs"
rm -rf "$bb"; mkdir -p "$bb/bin" "$bb/www"; cp "$(command -v busybox)" "$bb/bin/busybox"
for a in sh true sleep httpd echo; do ln -sf busybox "$bb/bin/$a"; done
echo hello >"$bb/www/index.html"
tar -C "$bb" -cf "$BENCH/busybox.tar" .
S="$BENCH/strata-ctr"; SC="env STRATA_ROOT=$S $STRATA"
rm -rf "$S"; STRATA_ROOT=$S "$STRATA" import "$BENCH/busybox.tar" bench/bb:1 >/dev/null
((have_docker)) && $D import "$BENCH/busybox.tar" bench/bb:1 >/dev/null
# A container that ends at once on SIGTERM (its shell waits in `wait`, which a trapped
# signal interrupts), started and ready (its trap set) before each timed stop.
stopme='trap "exit 0" TERM; sleep 3600 & echo ready; wait'
ready="$BENCH/stopme-ready.sh"
cat >"$ready" <<'SH'
for _ in $(seq 500); do "$@" logs stopme 2>/dev/null | grep -q ready && exit 0; sleep 0.01; done; exit 1
SH
for tool in strata docker; do
  if [ $tool = strata ]; then T="$SC"; else ((have_docker)) || continue; T="$D"; fi
  $T rm -f ex stopme web >/dev/null 2>&1 || true
  $T run -d --network none --name ex bench/bb:1 sleep 3600 >/dev/null
  "${HFN[@]}" -r 30 --export-json "$R/exec-$tool.json" -n "$tool" "$T exec ex /bin/true" ||
    note "$tool exec failed"
  $T rm -f ex >/dev/null
  "${HFN[@]}" -r 10 --export-json "$R/stop-$tool.json" -n "$tool" \
    --prepare "$T rm -f stopme >/dev/null 2>&1; $T run -d --network none --name stopme bench/bb:1 sh -c '$stopme' >/dev/null && sh $ready $T" \
    "$T stop stopme" || note "$tool stop failed"
  $T rm -f stopme >/dev/null 2>&1 || true
done
# strata publishes the port through its default network; docker's bench peer runs with
# --bridge=none and cannot publish ports, so its row uses --network host (no port mapping:
# docker does less work than strata in this row).
web() { echo "$1 run -d --rm $2 --name web bench/bb:1 httpd -f -p $3 -h /www >/dev/null && until curl -s -o /dev/null http://127.0.0.1:$4/; do sleep 0.005; done"; }
"${HFN[@]}" -r 10 --export-json "$R/web-strata.json" -n "strata -p 18080:80" \
  --prepare "$SC rm -f web >/dev/null 2>&1; true" "$(web "$SC" "-p 18080:80" 80 18080)" ||
  note "strata run -p failed"
$SC rm -f web >/dev/null 2>&1 || true
if ((have_docker)); then
  "${HFN[@]}" -r 10 --export-json "$R/web-docker.json" -n "docker --network host" \
    --prepare "$D rm -f web >/dev/null 2>&1; true" "$(web "$D" "--network host" 18081 18081)" ||
    note "docker run httpd failed"
  $D rm -f web >/dev/null 2>&1 || true
  $D rmi bench/bb:1 >/dev/null 2>&1 || true
fi
rm -rf "$S" "$bb" "$BENCH/busybox.tar" "$ready"
fi

section "results (hyperfine means)"
python3 - "$R" "$TAGS" <<'PY'
import json, os, sys
r, tags = sys.argv[1], sys.argv[2]
def mean(work, tool):
    p = os.path.join(r, f"{work}-{tool}.json")
    if not os.path.exists(p):
        return None
    res = json.load(open(p))["results"][0]
    return res["mean"], res["stddev"] or 0.0
def fmt(m):
    if m is None: return "—"
    v, s = m
    return f"{v*1000:.1f} ± {s*1000:.1f} ms" if v < 1 else f"{v:.2f} ± {s:.2f} s"
def ratio(a, b):
    return "—" if a is None or b is None else f"{a[0]/b[0]:.2f}"
rows = [("import deb.tar.gz", "import"), (f"images with {tags} tags", "images"),
        ("save bench/app:1", "save"), ("load bench/app:1", "load"),
        ("run --rm /bin/true", "run"), ("commit 50 MB + 1,000 files", "commit"),
        ("pull bench/app:1", "pull"), ("push a new 50 MB layer", "push"),
        ("pull, image complete (floor: manifest GET)", "pullcomplete"),
        ("build of the bench context, no cache", "build"), ("build, fully cached", "buildcached"),
        ("build, two stages each sleep 1", "buildsleep"),
        ("exec /bin/true in a running container", "exec"),
        ("stop of a container that exits on SIGTERM", "stop"),
        ("run --rm -p httpd until it answers (docker: host net)", "web")]
hdr = ("work", "strata", "floor", "docker", "podman", "strata/floor", "strata/docker", "strata/podman")
out = [hdr]
for label, w in rows:
    s, f, d, p = (mean(w, t) for t in ("strata", "floor", "docker", "podman"))
    out.append((label, fmt(s), fmt(f), fmt(d), fmt(p), ratio(s, f), ratio(s, d), ratio(s, p)))
widths = [max(len(row[i]) for row in out) for i in range(len(hdr))]
for row in out:
    print("  ".join(c.ljust(widths[i]) for i, c in enumerate(row)).rstrip())
def median(work, tool):
    p = os.path.join(r, f"{work}-{tool}.json")
    return json.load(open(p))["results"][0]["median"] if os.path.exists(p) else None
m = median("run", "strata"); mu = median("runuser", "strata")
if m is not None:
    print(f"\nrun --rm median: strata {m*1000:.1f} ms as root" +
          (f", {mu*1000:.1f} ms as strata-test through strata-helper" if mu is not None else ""))
# The issues' targets: (what, value, limit) with value and limit in the same unit.
def rel(work, a, b):
    x, y = mean(work, a), mean(work, b)
    return None if x is None or y is None else x[0] / y[0]
def strata_s(work, scale):
    m = mean(work, "strata")
    return None if m is None else m[0] * scale
rss = os.path.join(r, "pull-strata-maxrss.txt")
pc, pf = mean("pullcomplete", "strata"), mean("pullcomplete", "floor")
targets = [
    ("import / docker", rel("import", "strata", "docker"), 0.4),
    ("images / docker", rel("images", "strata", "docker"), 0.25),
    ("save / docker", rel("save", "strata", "docker"), 0.15),
    ("load / docker", rel("load", "strata", "docker"), 0.35),
    ("run --rm median (ms, root)", m and m * 1000, 25),
    ("run --rm median (ms, strata-test)", mu and mu * 1000, 25),
    ("commit / docker", rel("commit", "strata", "docker"), 0.3),
    ("pull / floor", rel("pull", "strata", "floor"), 1.2),
    ("pull / docker", rel("pull", "strata", "docker"), 0.4),
    ("pull peak memory (MB)", int(open(rss).read()) / 1024 if os.path.exists(rss) else None, 100),
    ("push / podman", rel("push", "strata", "podman"), 0.5),
    ("pull of a complete image - manifest GET (ms)",
     None if pc is None or pf is None else (pc[0] - pf[0]) * 1000, 50),
    ("build no cache / docker classic", rel("build", "strata", "docker"), 0.35),
    ("build no cache / podman", rel("build", "strata", "podman"), 0.25),
    ("build fully cached (ms)", strata_s("buildcached", 1000), 30),
    ("build two sleep 1 stages (s)", strata_s("buildsleep", 1), 1.5),
    ("exec / docker", rel("exec", "strata", "docker"), 0.2),
    ("stop / docker", rel("stop", "strata", "docker"), 0.2),
    ("run -p httpd until it answers / docker on the host network (no port; like for like: scripts/bench-publish.sh)",
     rel("web", "strata", "docker"), 0.3),
]
print("\ntargets:")
for what, v, limit in targets:
    verdict = "not measured" if v is None else ("met" if v <= limit else "MISSED")
    shown = "—" if v is None else f"{v:.2f}"
    print(f"  {what:<46} {shown:>8}  (at most {limit})  {verdict}")
print(f"\nJSON: {r}/*.json (ratio < 1 means strata is faster)")
PY
