#!/bin/bash
# End-to-end demo (`make demo`): builds strata in release mode, makes a busybox root
# filesystem and walks through import, images, tag, inspect, history, system df, rmi,
# save and load, then runs a container, commits its changes and runs the new image, in a
# demo store (STRATA_ROOT, default a fresh /tmp/strata-demo.XXXX).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${HOME:-/root}/.cargo/bin:$PATH"

cargo build --release
target=$(cargo metadata --format-version 1 --no-deps |
         python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
STRATA="$target/release/strata"
strata() { "$STRATA" "$@"; }

work=$(mktemp -d /tmp/strata-demo-files.XXXX)
trap 'rm -rf "$work"' EXIT
scripts/make-busybox-rootfs.sh "$work/rootfs.tar.gz" >/dev/null
export STRATA_ROOT=${STRATA_ROOT:-$(mktemp -d /tmp/strata-demo.XXXX)}
echo "demo store: STRATA_ROOT=$STRATA_ROOT"
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
echo '$ printf '"'"'echo "written in a container" > /hello.txt\nrm /bin/ls\nexit\n'"'"' | strata run -i --name demo-box demo/busybox:1.0 sh'
printf 'echo "written in a container" > /hello.txt\nrm /bin/ls\nexit\n' |
  strata run -i --name demo-box demo/busybox:1.0 sh
run strata ps -a
run strata diff demo-box
run strata commit -m "add hello.txt" -a "strata demo" demo-box demo/hello:1
run strata run --rm demo/hello:1 cat /hello.txt
run strata history demo/hello:1
run strata rm demo-box
run strata rmi demo/hello:1 demo/busybox:1.0
run strata images -a
echo
echo "demo finished (store left in $STRATA_ROOT)"
