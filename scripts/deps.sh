#!/bin/bash
# scripts/deps.sh MODE: the one list of what strata's commands need from the machine, and
# the check that it is there. MODE is what for:
#   build    the toolchain: cargo and rustc (rustup, at least Cargo.toml's rust-version),
#            a C compiler and libc headers (the zstd and xz crates build C), make
#   demo     `make demo`: build, plus busybox-static, python3, tar, gzip, uidmap, util-linux
#            (setpriv, unshare), passt (pasta: ordinary users' bridge network, `run`'s
#            default) and nftables (root's bridge network: nft);
#            without the toolchain when STRATA_BIN names a prebuilt strata
#   test     `make test`: demo, plus what the tests run (skopeo, umoci, docker-registry,
#            curl, openssl, zstd, xz-utils, bzip2, fuse3, systemd-analyze, script, strace,
#            iproute2 and nftables for the network tests' before/after listings,
#            slirp4netns for the other user-mode network backend, ssh-agent from
#            openssh-client for build --ssh, docker.io for the private dockerd the builder
#            is compared with) and what the package test runs (dpkg-dev, binutils,
#            lintian, adduser, man-db)
#   bench    `make bench`: build, plus hyperfine, debootstrap, time, curl, skopeo, ...
#            (docker and podman are the peers' business: shared/bench/peers-up.sh)
#   install  `make install`: build (without the toolchain when STRATA_BIN is set)
# As root on Debian or Ubuntu it installs every missing package with apt-get (apt-get
# update only when a package is unknown or an install fails; three tries). Otherwise it
# names every missing tool in one line with the command that installs them, and exits 1.
# Rust itself is never installed here: it comes from rustup (https://rustup.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${HOME:-/root}/.cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH"
export DEBIAN_FRONTEND=noninteractive

mode=${1:-}
# What each mode needs: TOOL:PACKAGE, where TOOL is a command on PATH or an absolute path.
BUILD=(cc:gcc /usr/include/stdio.h:libc6-dev make:make)
DEMO=(busybox:busybox-static python3:python3 tar:tar gzip:gzip newuidmap:uidmap
      newgidmap:uidmap setpriv:util-linux unshare:util-linux pasta:passt nft:nftables)
TEST=("${DEMO[@]}" runuser:util-linux flock:util-linux zstd:zstd xz:xz-utils bzip2:bzip2 skopeo:skopeo umoci:umoci
      docker-registry:docker-registry curl:curl openssl:openssl fusermount3:fuse3
      systemd-analyze:systemd script:bsdutils useradd:passwd ip:iproute2 ss:iproute2 nft:nftables
      dpkg-deb:dpkg-dev dpkg-shlibdeps:dpkg-dev objdump:binutils lintian:lintian
      dpkg-architecture:dpkg-dev strip:binutils systemd-socket-activate:systemd
      adduser:adduser man:man-db strace:strace slirp4netns:slirp4netns
      ssh-agent:openssh-client ssh-add:openssh-client dockerd:docker.io)
BENCH=(busybox:busybox-static python3:python3 hyperfine:hyperfine debootstrap:debootstrap
       /usr/bin/time:time curl:curl skopeo:skopeo docker-registry:docker-registry
       newuidmap:uidmap runuser:util-linux pasta:passt)
toolchain=1
case "$mode" in
  build) need=("${BUILD[@]}") ;;
  demo) need=("${BUILD[@]}" "${DEMO[@]}") ;;
  test) need=("${BUILD[@]}" "${TEST[@]}") ;;
  bench) need=("${BUILD[@]}" "${BENCH[@]}") ;;
  install) need=("${BUILD[@]}") ;;
  *) echo "usage: $0 build|demo|test|bench|install" >&2; exit 2 ;;
esac
if [ -n "${STRATA_BIN:-}" ] && { [ "$mode" = demo ] || [ "$mode" = install ]; }; then
  toolchain=0
  need=("${need[@]:${#BUILD[@]}}")
fi

# Whether TOOL is there. busybox must be the static one: it is copied into images.
have() {
  case "$1" in
    /*) [ -e "$1" ] ;;
    busybox)
      local bb
      bb=$(command -v busybox) || return 1
      [[ "$(ldd "$bb" 2>&1)" != *"=>"* ]]
      ;;
    *) command -v "$1" >/dev/null 2>&1 ;;
  esac
}

# Sets `missing` (tools) and `packages` (their packages, once each).
survey() {
  missing=(); packages=()
  local pair tool pkg
  for pair in "${need[@]}"; do
    tool=${pair%%:*}; pkg=${pair#*:}
    have "$tool" && continue
    missing+=("$tool")
    [[ " ${packages[*]} " == *" $pkg "* ]] || packages+=("$pkg")
  done
}

# The toolchain: prints one line saying what is wrong, returns 1 if anything is.
check_toolchain() {
  local want have_v
  want=$(sed -n 's/^rust-version *= *"\([0-9.]*\)".*/\1/p' Cargo.toml | head -n1)
  if ! command -v cargo >/dev/null 2>&1 || ! command -v rustc >/dev/null 2>&1; then
    echo "cargo and rustc not found: install Rust $want or later from https://rustup.rs (they go to ~/.cargo/bin)" >&2
    return 1
  fi
  have_v=$(rustc --version | awk '{print $2}')
  if [ "$(printf '%s\n%s\n' "$want" "${have_v%%-*}" | sort -V | head -n1)" != "$want" ]; then
    echo "rustc $have_v is older than $want (rust-version in Cargo.toml): run \`rustup update stable\`" >&2
    return 1
  fi
}

# apt-get with three tries; apt-get update before a retry.
apt_install() {
  local i out
  for i in 1 2 3; do
    if out=$(apt-get install -y -qq --no-install-recommends "$@" 2>&1); then return 0; fi
    printf '%s\napt-get install failed (try %s of 3)\n' "$out" "$i" >&2
    sleep $((i * 5))
    apt-get update -qq || true
  done
  return 1
}

apt_update() {
  local i
  for i in 1 2 3; do
    apt-get update -qq && return 0
    echo "apt-get update failed (try $i of 3)" >&2
    sleep $((i * 5))
  done
  return 1
}

# Whether apt knows a version of every package named.
apt_knows() {
  local p
  for p in "$@"; do
    [[ "$(apt-cache policy "$p" 2>/dev/null)" == *"Candidate: "[!\(]* ]] || return 1
  done
}

ok=1
if ((toolchain)); then check_toolchain || ok=0; fi
survey
if ((${#missing[@]})); then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "deps ($mode): installing ${packages[*]} (for ${missing[*]})"
    if ! apt_knows "${packages[@]}"; then apt_update || { echo "apt-get update failed" >&2; exit 1; }; fi
    for p in "${packages[@]}"; do
      apt_knows "$p" || { echo "package $p is not available from apt (needed for $mode)" >&2; exit 1; }
    done
    apt_install "${packages[@]}" || { echo "apt-get install ${packages[*]} failed" >&2; exit 1; }
    survey
    if ((${#missing[@]})); then
      echo "still missing after apt-get install: ${missing[*]}" >&2; exit 1
    fi
  else
    if command -v apt-get >/dev/null 2>&1; then
      how="sudo apt-get install --no-install-recommends ${packages[*]}"
    else
      how="your distribution's packages for them (Debian's names: ${packages[*]})"
    fi
    echo "missing for make $mode: ${missing[*]}; install them with: $how" >&2
    ok=0
  fi
fi
((ok)) || exit 1
echo "deps ($mode): everything needed is here"
