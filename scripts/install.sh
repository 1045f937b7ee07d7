#!/bin/bash
# scripts/install.sh install|uninstall (`make install`, `make uninstall`), for machines
# without the Debian package. Variables (make's or the environment's):
#   PREFIX   default /usr/local;  DESTDIR  a staging root, default none
#   STRATA_BIN, STRATA_HELPER_BIN, STRATA_DOCGEN  prebuilt binaries (default: `cargo
#            build --release`; the other two default to the ones next to STRATA_BIN)
#   MAN_SRC  a directory of man pages (strata*.1 ... .8) to install instead of the ones
#            strata-docgen generates
# What install places, and uninstall removes:
#   $PREFIX/bin/strata                              0755
#   $PREFIX/libexec/strata/strata-helper            0755 (not on PATH)
#   $PREFIX/lib/systemd/system/strata-helper.socket 0644
#   $PREFIX/lib/systemd/system/strata-helper.service 0644, ExecStart= the helper above
#   $PREFIX/lib/sysusers.d/strata-helper.conf       0644 (the helper's system user)
#   $PREFIX/lib/tmpfiles.d/strata.conf              0644 (/run/strata)
#   $PREFIX/share/man/man1/strata*.1, man5/strata-config.toml.5   0644 (strata-docgen)
#   bash, zsh and fish completions (`strata completion SHELL`)    0644
# uninstall removes exactly those files (and their directories left empty); it stops and
# disables the socket first when DESTDIR is empty and systemd runs. It never touches
# stores (/var/lib/strata, users' ~/.local/share/strata) or the strata-helper user.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${HOME:-/root}/.cargo/bin:$PATH"

action=${1:-}
PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
case "$PREFIX" in /*) ;; *) echo "PREFIX must be an absolute path, not $PREFIX" >&2; exit 1 ;; esac
BINDIR=$PREFIX/bin
HELPER=$PREFIX/libexec/strata/strata-helper
UNITDIR=$PREFIX/lib/systemd/system
SYSUSERS=$PREFIX/lib/sysusers.d/strata-helper.conf
TMPFILES=$PREFIX/lib/tmpfiles.d/strata.conf
MANDIR=$PREFIX/share/man
# Completion files by shell: where each shell looks for vendor completions.
COMPLETIONS=(bash:share/bash-completion/completions/strata
             zsh:share/zsh/vendor-completions/_strata
             fish:share/fish/vendor_completions.d/strata.fish)
d=$DESTDIR

# The man pages (strata*.1 to .8), one path a line: MAN_SRC's, else generated into $1 by
# strata-docgen ($2).
man_pages() {
  local src=${MAN_SRC:-}
  if [ -z "$src" ]; then
    src=$1
    "$2" man "$src" >&2 || { echo "$2 man failed" >&2; return 1; }
  fi
  [ -d "$src" ] || { echo "no man page directory $src" >&2; return 1; }
  find "$src" -maxdepth 1 -type f -name 'strata*.[1-8]' | sort
}

systemd_runs() { [ -z "$d" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null; }

install_files() {
  local strata helper docgen
  if [ -n "${STRATA_BIN:-}" ]; then
    strata=$STRATA_BIN
    helper=${STRATA_HELPER_BIN:-$(dirname "$STRATA_BIN")/strata-helper}
    docgen=${STRATA_DOCGEN:-$(dirname "$STRATA_BIN")/strata-docgen}
  else
    cargo build --release -p strata -p strata-helper
    local target
    target=$(cargo metadata --format-version 1 --no-deps |
             python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
    strata=$target/release/strata
    helper=$target/release/strata-helper
    docgen=$target/release/strata-docgen
  fi
  [ -n "${MAN_SRC:-}" ] || [ -x "$docgen" ] ||
    { echo "no executable $docgen to generate the man pages (build it with cargo build -p strata, or set STRATA_DOCGEN or MAN_SRC)" >&2; exit 1; }
  for f in "$strata" "$helper"; do
    [ -x "$f" ] || { echo "no executable $f" >&2; exit 1; }
  done
  install -D -m 0755 "$strata" "$d$BINDIR/strata"
  install -D -m 0755 "$helper" "$d$HELPER"
  install -D -m 0644 systemd/strata-helper.socket "$d$UNITDIR/strata-helper.socket"
  install -d "$d$UNITDIR"
  sed "s|^ExecStart=[^ ]*strata-helper |ExecStart=$HELPER |" systemd/strata-helper.service \
    >"$d$UNITDIR/strata-helper.service"
  chmod 0644 "$d$UNITDIR/strata-helper.service"
  grep -q "^ExecStart=$HELPER serve" "$d$UNITDIR/strata-helper.service" ||
    { echo "systemd/strata-helper.service: no ExecStart=.../strata-helper serve to point at $HELPER" >&2; exit 1; }
  install -D -m 0644 systemd/strata-helper.sysusers.conf "$d$SYSUSERS"
  install -D -m 0644 systemd/strata.tmpfiles.conf "$d$TMPFILES"
  local page shell rest out gen pages
  gen=$(mktemp -d)
  pages=$(man_pages "$gen" "$docgen") || { rm -rf "$gen"; exit 1; }
  [ -n "$pages" ] || { echo "no man pages to install" >&2; rm -rf "$gen"; exit 1; }
  while read -r page; do
    install -D -m 0644 "$page" "$d$MANDIR/man${page##*.}/$(basename "$page")"
  done <<<"$pages"
  rm -rf "$gen"
  for c in "${COMPLETIONS[@]}"; do
    shell=${c%%:*}; rest=${c#*:}
    if ! out=$("$strata" completion "$shell") || [ -z "$out" ]; then
      echo "$strata completion $shell printed nothing" >&2; exit 1
    fi
    install -d "$d$PREFIX/$(dirname "$rest")"
    printf '%s\n' "$out" >"$d$PREFIX/$rest"
    chmod 0644 "$d$PREFIX/$rest"
  done
  echo "installed strata in $d$BINDIR, strata-helper in $d$(dirname "$HELPER"), its units in $d$UNITDIR"
  if [ -z "$d" ]; then
    echo "to run the helper for ordinary users: systemd-sysusers && systemd-tmpfiles --create && systemctl daemon-reload && systemctl enable --now strata-helper.socket"
  fi
}

uninstall_files() {
  if systemd_runs; then
    systemctl disable --now strata-helper.socket strata-helper.service 2>/dev/null || true
  fi
  local f rest
  for f in "$BINDIR/strata" "$HELPER" "$UNITDIR/strata-helper.socket" \
           "$UNITDIR/strata-helper.service" "$SYSUSERS" "$TMPFILES"; do
    rm -f "$d$f"
  done
  for c in "${COMPLETIONS[@]}"; do
    rest=${c#*:}
    rm -f "$d$PREFIX/$rest"
  done
  rm -f "$d$MANDIR"/man[1-8]/strata*.[1-8]
  # The directories install made, when nothing else is in them (never the case for /usr's).
  for f in "$(dirname "$HELPER")" "$UNITDIR" "$PREFIX/lib/systemd" "$(dirname "$SYSUSERS")" \
           "$(dirname "$TMPFILES")" "$MANDIR"/man{1..8} \
           "${COMPLETIONS[@]/#*:/$PREFIX/}"; do
    case "$f" in */share/*/strata|*/_strata|*/strata.fish) f=$(dirname "$f") ;; esac
    # And its parents up to PREFIX (share/man, share/zsh, ...) once empty.
    while [ "$f" != "$PREFIX" ] && rmdir "$d$f" 2>/dev/null; do f=$(dirname "$f"); done
  done
  if systemd_runs; then systemctl daemon-reload || true; fi
  echo "removed strata, strata-helper and its units from $d$PREFIX (stores and the strata-helper user are left)"
}

case "$action" in
  install) install_files ;;
  uninstall) uninstall_files ;;
  *) echo "usage: $0 install|uninstall" >&2; exit 2 ;;
esac
