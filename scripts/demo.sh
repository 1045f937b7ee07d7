#!/bin/bash
# End-to-end demo (`make demo`): builds strata in release mode, makes a busybox root
# filesystem and walks through import, images, tag, inspect, history, system df, rmi,
# save and load, then runs a container, commits its changes and runs the new image, builds
# a two-stage Dockerfile (again from the cache) and runs the result, in a
# fresh store of its own ($TMPDIR/strata-demo.XXXX), printing each command before it runs.
# The store and the work files are removed when it ends, also on failure or Ctrl-C.
#
# Who runs it:
# - root: the containers are mounted by strata itself.
# - an ordinary user: containers need strata-helper. The demo uses the one answering on
#   $STRATA_HELPER_SOCKET (default /run/strata/helper.sock). When none answers and sudo
#   works without a password, it starts one (`sudo strata-helper serve --socket ...`) and
#   stops it at the end; otherwise it says what to run, before building anything.
# - root for an ordinary user: `make demo DEMO_USER=NAME` runs the demo as NAME, with a
#   helper root starts for it when none answers.
# STRATA_BIN=PATH runs a prebuilt strata instead of building (strata-helper is taken from
# STRATA_HELPER_BIN, default next to STRATA_BIN).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${HOME:-/root}/.cargo/bin:$PATH:/usr/sbin:/sbin"
tmp=${TMPDIR:-/tmp}
socket=${STRATA_HELPER_SOCKET:-/run/strata/helper.sock}
demo_user=${DEMO_USER:-}
uid=$(id -u)

say() { printf '%s\n' "$*"; }
die() { printf '%s\n' "$*" >&2; exit 1; }

# Whether a helper accepts connections on $1 (connecting is harmless: it logs a refusal).
answers() {
  [ -S "$1" ] && python3 - "$1" 2>/dev/null <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(2)
s.connect(sys.argv[1])
PY
}

# How this run gets root to start a helper: as_root is empty as root, (sudo -n) with
# passwordless sudo; can_root says whether either works.
as_root=(); can_root=1
if [ "$uid" -eq 0 ]; then :
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then as_root=(sudo -n)
else can_root=0; fi

if [ -n "$demo_user" ]; then
  [ "$uid" -eq 0 ] || die "DEMO_USER needs root (it runs the demo as that user with setpriv)"
  id -u "$demo_user" >/dev/null 2>&1 || die "DEMO_USER=$demo_user: no such user"
  [ "$(id -u "$demo_user")" -ne 0 ] || die "DEMO_USER=$demo_user is root: run make demo without it"
fi
needs_helper=0
if [ "$uid" -ne 0 ] || [ -n "$demo_user" ]; then needs_helper=1; fi
start_helper=0
if ((needs_helper)) && ! answers "$socket"; then
  if ((!can_root)); then
    if [ -n "${STRATA_BIN:-}" ]; then hint=${STRATA_HELPER_BIN:-$(dirname "$STRATA_BIN")/strata-helper}
    else hint="$PWD/target/release/strata-helper"; fi
    die "no strata-helper answers on $socket, and an ordinary user's containers need it: as root run \`$hint serve --socket $socket\` (or \`systemctl start strata-helper.socket\` after make install) and then \`STRATA_HELPER_SOCKET=$socket make demo\` as $(id -un), or run \`make demo DEMO_USER=$(id -un)\` as root"
  fi
  start_helper=1
fi

if [ -n "${STRATA_BIN:-}" ]; then
  STRATA=$STRATA_BIN
  HELPER=${STRATA_HELPER_BIN:-$(dirname "$STRATA_BIN")/strata-helper}
else
  cargo build --release -p strata -p strata-helper
  target=$(cargo metadata --format-version 1 --no-deps |
           python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  STRATA=$target/release/strata
  HELPER=$target/release/strata-helper
fi
[ -x "$STRATA" ] || die "no strata binary at $STRATA"
if ((start_helper)); then [ -x "$HELPER" ] || die "no strata-helper binary at $HELPER"; fi
strata() { "$STRATA" "$@"; }

work=
store=
helper_dir=
cleanup() {
  local rc=$? ids
  trap - EXIT INT TERM
  set +e
  if [ -n "$store" ] && [ -d "$store" ]; then
    # Through strata first: it removes what the containers' user namespace owns.
    mapfile -t ids < <(strata ps -aq 2>/dev/null)
    ((${#ids[@]} == 0)) || strata rm -f "${ids[@]}" >/dev/null 2>&1
    mapfile -t ids < <(strata images -aq 2>/dev/null | sort -u)
    ((${#ids[@]} == 0)) || strata rmi -f "${ids[@]}" >/dev/null 2>&1
    rm -rf "$store" 2>/dev/null
    # Whatever is left may belong to subordinate uids: remove it in a namespace mapping them.
    if [ -e "$store" ] && [ "$uid" -ne 0 ]; then
      unshare --map-auto --map-root-user rm -rf "$store" 2>/dev/null
    fi
    if [ -e "$store" ]; then
      echo "could not remove the demo store $store" >&2; rc=1
    else
      echo "removed the demo store $store"
    fi
  fi
  [ -z "$work" ] || rm -rf "$work"
  if [ -n "$helper_dir" ]; then
    if [ -s "$helper_dir/pid" ]; then
      "${as_root[@]}" kill "$(cat "$helper_dir/pid")" 2>/dev/null
      for _ in $(seq 50); do "${as_root[@]}" kill -0 "$(cat "$helper_dir/pid")" 2>/dev/null || break; sleep 0.1; done
      echo "stopped the demo's strata-helper"
    fi
    "${as_root[@]}" rm -rf "$helper_dir"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if ((start_helper)); then
  # The helper's socket directory must be reachable by the user; the socket is mode 0666.
  helper_dir=$(mktemp -d "$tmp/strata-demo-helper.XXXX")
  chmod 755 "$helper_dir"
  socket=$helper_dir/helper.sock
  say "\$ ${as_root[*]:+sudo }$HELPER serve --socket $socket &"
  # shellcheck disable=SC2016 # $$ is the shell's pid, expanded by the root shell
  "${as_root[@]}" sh -c 'echo $$ >"$1/pid"; exec "$2" serve --socket "$1/helper.sock" 2>"$1/helper.log"' \
    sh "$helper_dir" "$HELPER" </dev/null &
  disown
  for _ in $(seq 100); do answers "$socket" && break; sleep 0.1; done
  answers "$socket" || { cat "$helper_dir/helper.log" >&2; die "the demo's strata-helper did not start"; }
fi

if [ -n "$demo_user" ]; then
  # The demo itself, as that user: binaries and scripts where the user can read them.
  work=$(mktemp -d "$tmp/strata-demo-files.XXXX")
  chmod 755 "$work"
  mkdir -p "$work/scripts" "$work/bin"
  cp scripts/demo.sh scripts/make-busybox-rootfs.sh "$work/scripts/"
  cp "$STRATA" "$work/bin/strata"
  chmod -R a+rX "$work"
  home=$(getent passwd "$demo_user" | cut -d: -f6)
  say "\$ setpriv --reuid $demo_user --regid $demo_user --init-groups env STRATA_BIN=$work/bin/strata STRATA_HELPER_SOCKET=$socket $work/scripts/demo.sh"
  # setpriv rather than runuser: the same session, so Ctrl-C reaches the user's demo too.
  set +e
  (cd / && setpriv --reuid "$demo_user" --regid "$demo_user" --init-groups env -i HOME="$home" USER="$demo_user" LOGNAME="$demo_user" \
    PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin TMPDIR="$tmp" \
    STRATA_BIN="$work/bin/strata" STRATA_HELPER_SOCKET="$socket" "$work/scripts/demo.sh")
  exit $?
fi

work=$(mktemp -d "$tmp/strata-demo-files.XXXX")
scripts/make-busybox-rootfs.sh "$work/rootfs.tar.gz" >/dev/null
store=$(mktemp -d "$tmp/strata-demo.XXXX")
export STRATA_ROOT=$store
if ((needs_helper)); then export STRATA_HELPER_SOCKET=$socket; fi
say "demo store: STRATA_ROOT=$STRATA_ROOT (as $(id -un)${STRATA_HELPER_SOCKET:+, strata-helper on $socket})"
cd "$work"

# Prints a command with a `$ ` prefix, quoted the way one would type it, then runs it.
run() {
  local line='$' a
  for a in "$@"; do
    if [[ "$a" =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then line+=" $a"
    else line+=" '${a//\'/\'\\\'\'}'"; fi
  done
  echo
  echo "$line"
  "$@"
}

run strata import -m "busybox rootfs" -c 'CMD ["/bin/sh"]' rootfs.tar.gz demo/busybox:1.0
run strata images
run strata tag demo/busybox:1.0 demo/busybox:latest
run strata images --format '{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}'
run strata inspect --format '{{.Id}} {{.Config.Cmd}}' demo/busybox:1.0
run strata history demo/busybox:1.0
run strata system df
run strata rmi demo/busybox:latest
run strata save -o busybox.tar demo/busybox:1.0
run tar -tf busybox.tar
run strata rmi demo/busybox:1.0
run strata load -i busybox.tar
run strata images
run strata run --rm demo/busybox:1.0 echo "hello from a container of the loaded image"
echo
# shellcheck disable=SC2028 # the command line as typed, backslashes and all
echo '$ printf '"'"'echo "written in a container" > /hello.txt\nrm /bin/ls\nexit\n'"'"' | strata run -i --name demo-box demo/busybox:1.0 sh'
printf 'echo "written in a container" > /hello.txt\nrm /bin/ls\nexit\n' |
  strata run -i --name demo-box demo/busybox:1.0 sh
run strata ps -a
run strata diff demo-box
run strata commit -m "add hello.txt" -a "strata demo" demo-box demo/hello:1
run strata run --rm demo/hello:1 cat /hello.txt
run strata history demo/hello:1
run strata rm demo-box
mkdir -p build-ctx
cat > build-ctx/Dockerfile <<'DOCKERFILE'
FROM demo/busybox:1.0 AS builder
RUN mkdir /out && echo "made in the builder stage" > /out/message
FROM demo/busybox:1.0
ENV GREETING="hello from a built image"
COPY --from=builder /out/message /message
COPY greet.sh /usr/local/bin/greet
RUN chmod 755 /usr/local/bin/greet
CMD ["greet"]
DOCKERFILE
printf '#!/bin/sh\necho "$GREETING"\ncat /message\n' > build-ctx/greet.sh
echo
echo '$ cat build-ctx/Dockerfile'
cat build-ctx/Dockerfile
run strata build -t demo/built:1 build-ctx
run strata run --rm demo/built:1
run strata build -t demo/built:1 build-ctx
run strata rmi demo/built:1
run strata image prune -f
run strata rmi demo/hello:1 demo/busybox:1.0
run strata images -a
echo
echo "demo finished"
