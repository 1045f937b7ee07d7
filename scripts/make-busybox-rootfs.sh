#!/bin/bash
# make-busybox-rootfs.sh OUT.tar[.gz]
# A tiny root filesystem from the host's static busybox (package busybox-static):
# bin/busybox and applet symlinks, etc/passwd and etc/group (root and nobody),
# tmp (1777), root, dev, proc and sys; every entry owned by 0:0. Gzipped when OUT ends
# in .gz. Works as an unprivileged user too. The tests build the same tree in Rust
# (strata_tests::busybox_rootfs_tar).
set -euo pipefail
out=${1:?usage: $0 OUT.tar[.gz]}
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
bb=/bin/busybox
[ -x "$bb" ] || bb=/usr/bin/busybox
[ -x "$bb" ] || { echo "busybox not found: apt-get install busybox-static" >&2; exit 1; }
if ldd "$bb" 2>&1 | grep '=>' >/dev/null; then
  echo "$bb is dynamically linked: install busybox-static" >&2; exit 1
fi

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
r="$dir/rootfs"
mkdir -p "$r"/{bin,dev,etc,proc,root,sys,tmp}
cp "$bb" "$r/bin/busybox"
for a in sh ls cat echo true false mkdir rm touch env id sleep stat head wc; do
  ln -s busybox "$r/bin/$a"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$r/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\n' >"$r/etc/group"
chmod 755 "$r" "$r/bin" "$r/dev" "$r/etc" "$r/bin/busybox"
chmod 644 "$r/etc/passwd" "$r/etc/group"
chmod 555 "$r/proc" "$r/sys"
chmod 700 "$r/root"
chmod 1777 "$r/tmp"

compress=()
case "$out" in *.gz|*.tgz) compress=(--gzip) ;; esac
tar --create --file "$out" "${compress[@]}" --directory "$r" \
  --owner=0 --group=0 --numeric-owner --sort=name --mtime=@1704067200 .
echo "$out: $(stat -c %s "$out") bytes"
