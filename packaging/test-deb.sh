#!/bin/bash
# The Debian package, tested installed (a step of scripts/test.sh; run as root). It:
#   1. builds the .deb (packaging/build-deb.sh; the dev profile unless STRATA_DEB_PROFILE
#      says release, to reuse scripts/test.sh's build) and installs it with apt-get;
#   2. checks every file's place, owner and mode (dpkg -L; no setuid or setgid bit), the
#      helper's user, /run/strata, the socket enabled, man pages and completions;
#   3. lints it (lintian, failing on warnings) and checks the units (systemd-analyze
#      verify; security --offline at 3.0 or less for the helper's service);
#   4. starts the installed helper with systemd-socket-activate as systemd would (the
#      listening socket in LISTEN_FDS, the unit's User=, capabilities, NoNewPrivileges)
#      and runs containers through it as the test user, with the package's binary; where
#      systemd runs (PID 1), also through the real socket unit; then the whole
#      integration suite (STRATA_BIN=/usr/bin/strata, STRATA_HELPER_BIN=the installed
#      helper) as root and as the test user through that helper;
#   5. makes the installed helper setuid root (dpkg-statoverride) and, with no helper socket
#      answering, runs containers and the whole integration suite as the test user;
#      what a pass of the suite leaves out is an explicit list (skip_*) printed with it;
#   6. removes and purges the package and checks nothing is left but users' stores.
# Every check runs; the exit status is non-zero if any failed. Nothing is skipped: a
# missing tool is a failure.
#
# Debian packages this needs (besides the test suite's): dpkg-dev binutils lintian
# systemd (systemd-analyze, systemd-socket-activate) util-linux (setpriv, prlimit, flock) adduser man-db
# (systemd-analyze verify looks up the units' Documentation= pages).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
# shellcheck source=scripts/lib-testenv.sh
. scripts/lib-testenv.sh
export PATH="${HOME:-/root}/.cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
export DEBIAN_FRONTEND=noninteractive

TEST_USER=${STRATA_TEST_USER:-strata-test}
PROFILE=${STRATA_DEB_PROFILE:-dev}
SOCKET_DIR=/run/strata-deb-test
SOCKET=$SOCKET_DIR/helper.sock
UNITS=(strata-helper.socket strata-helper.service strata-prune.service strata-prune.timer)
UNIT_DIR=/lib/systemd/system

failed=()
step() { printf '\n---- %s\n' "$*"; }
fail() { echo "FAIL: $*" >&2; failed+=("$*"); }
ok() { echo "ok: $*"; }
check() { # check DESCRIPTION COMMAND...: runs COMMAND, a failure if it fails
  local what=$1; shift
  if "$@"; then ok "$what"; else fail "$what"; fi
}

[ "$(id -u)" -eq 0 ] || { echo "test-deb.sh: run as root (it installs a package)" >&2; exit 1; }
for t in dpkg-deb dpkg-architecture dpkg-shlibdeps man apt-get lintian systemd-analyze systemd-socket-activate setpriv prlimit runuser flock strip; do
  command -v "$t" >/dev/null || fail "tool $t is missing"
done
id -u "$TEST_USER" >/dev/null 2>&1 || fail "user $TEST_USER is missing (scripts/test.sh creates it)"
# The package is installed system-wide: one package test at a time on a machine (several
# checkouts' `make test` may overlap); a second one waits for the first. Descriptor 8
# holds the lock: what may outlive this script (the helper, the suite's registries) is
# started without it.
exec 8>/run/lock/strata-deb-test.lock
if ! flock -n 8; then
  echo "another package test runs on this machine: waiting for /run/lock/strata-deb-test.lock"
  flock 8
fi
if dpkg-query -W -f='${Status}' strata 2>/dev/null | grep -q installed; then
  fail "the strata package is already installed: remove it first"
fi
((${#failed[@]} == 0)) || { printf 'FAILED: %s\n' "${failed[@]}"; exit 1; }
systemd_running=false
[ -d /run/systemd/system ] && systemd_running=true
echo "PID 1: $(ps -o comm= -p 1); systemd running: $systemd_running"

helper_pid=
work=$(mktemp -d /tmp/strata-deb-test.XXXX)
chmod 755 "$work"
cleanup() {
  [ -n "$helper_pid" ] && kill "$helper_pid" 2>/dev/null
  testenv_fuse_umount
  dpkg-statoverride --remove /usr/libexec/strata/strata-helper >/dev/null 2>&1
  # A test that stopped half-way leaves no package behind.
  if dpkg-query -W -f='${Status}' strata 2>/dev/null | grep -q installed; then
    apt-get purge -y -q strata >/dev/null 2>&1 || echo "could not purge strata" >&2
  fi
  rm -rf "$work" "$SOCKET_DIR"
  if [ -n "$saved_store" ] && [ ! -e /var/lib/strata ]; then
    mv "$saved_store" /var/lib/strata && echo "put the earlier /var/lib/strata back"
  fi
}
trap cleanup EXIT
# A purge removes /var/lib/strata: keep a store that is already there aside, and put it
# back at the end.
saved_store=
if [ -e /var/lib/strata ]; then
  saved_store=/var/lib/strata.before-deb-test.$$
  mv /var/lib/strata "$saved_store" && echo "moved the existing /var/lib/strata to $saved_store for the test"
fi

# ---- 1. build and install
step "build the .deb ($PROFILE profile)"
if ! deb=$(packaging/build-deb.sh --profile "$PROFILE" | tail -1) || [ ! -f "$deb" ]; then
  fail "packaging/build-deb.sh"
  printf 'FAILED: %s\n' "${failed[@]}"; exit 1
fi
echo "$deb: $(du -h "$deb" | cut -f1)"
case $(basename "$deb") in
  strata_*_"$(dpkg-architecture -qDEB_HOST_ARCH)".deb) ok "file name $(basename "$deb")" ;;
  *) fail "file name $(basename "$deb") is not strata_VERSION_ARCH.deb" ;;
esac

step "apt-get install $deb"
cp "$deb" "$work/"
if ! apt-get install -y -q "$work/$(basename "$deb")" >"$work/apt.log" 2>&1; then
  cat "$work/apt.log" >&2
  fail "apt-get install"
  printf 'FAILED: %s\n' "${failed[@]}"; exit 1
fi
dpkg -L strata | sort >"$work/files"
echo "$(wc -l <"$work/files") paths installed"

# ---- 2. what is where
step "files: place, owner, mode"
# PATH MODE: every package file that is not a directory must be listed or match a glob.
expected=(
  "/usr/bin/strata 755"
  "/usr/libexec/strata/strata-helper 755"
  "$UNIT_DIR/strata-helper.socket 644"
  "$UNIT_DIR/strata-helper.service 644"
  "$UNIT_DIR/strata-prune.service 644"
  "$UNIT_DIR/strata-prune.timer 644"
  "/usr/lib/sysusers.d/strata-helper.conf 644"
  "/usr/lib/tmpfiles.d/strata.conf 644"
  "/var/lib/strata 700"
  "/usr/share/man/man1/strata.1.gz 644"
  "/usr/share/man/man1/strata-run.1.gz 644"
  "/usr/share/man/man1/strata-image-prune.1.gz 644"
  "/usr/share/man/man5/strata-config.toml.5.gz 644"
  "/usr/share/bash-completion/completions/strata 644"
  "/usr/share/zsh/vendor-completions/_strata 644"
  "/usr/share/fish/vendor_completions.d/strata.fish 644"
  "/usr/share/doc/strata/README.md 644"
  "/usr/share/doc/strata/strata-helper/README.md 644"
  "/usr/share/doc/strata/changelog.gz 644"
  "/usr/share/doc/strata/copyright 644"
  "/usr/share/doc/strata/examples/config.toml 644"
)
for e in "${expected[@]}"; do
  set -- $e
  if ! grep -qx "$1" "$work/files"; then fail "$1 is not in the package"; continue; fi
  got=$(stat -c '%a %U:%G' "$1" 2>/dev/null)
  [ "$got" = "$2 root:root" ] || fail "$1: mode/owner $got, expected $2 root:root"
done
unlisted=0
while read -r f; do
  [ -L "$f" ] && continue # /lib and the like on a merged-/usr system
  [ -d "$f" ] && [ "$f" != /var/lib/strata ] && {
    [ "$(stat -c '%a %U:%G' "$f")" = "755 root:root" ] || fail "directory $f: $(stat -c '%a %U:%G' "$f")"
    continue
  }
  listed=false
  for e in "${expected[@]}"; do [ "${e% *}" = "$f" ] && listed=true; done
  $listed && continue
  case $f in
    /usr/share/man/man1/strata*.1.gz | /usr/share/doc/strata/* | /usr/share/lintian/overrides/strata)
      [ "$(stat -c '%a %U:%G' "$f")" = "644 root:root" ] || fail "$f: $(stat -c '%a %U:%G' "$f")" ;;
    *) fail "unexpected file $f"; unlisted=$((unlisted + 1)) ;;
  esac
done <"$work/files"
setid=$(xargs -d '\n' stat -c '%A %n' <"$work/files" | grep -E '^...[sS]|^......[sS]')
[ -z "$setid" ] || fail "setuid or setgid files: $setid"
check "no setuid or setgid bit" test -z "$setid"
check "every subcommand has a man page" \
  test "$(grep -c '^/usr/share/man/man1/strata.*\.1\.gz$' "$work/files")" -ge 40
check "strata-helper is not on PATH" bash -c '! command -v strata-helper'
check "the man pages say where the configuration is" \
  bash -c 'zcat /usr/share/man/man1/strata.1.gz | grep -q "/etc/strata/config.toml" && zcat /usr/share/man/man5/strata-config.toml.5.gz | grep -q "helper.*socket"'
check "strata completion bash is the installed completion" \
  cmp -s <(/usr/bin/strata completion bash) /usr/share/bash-completion/completions/strata
check "strata completion zsh is the installed completion" \
  cmp -s <(/usr/bin/strata completion zsh) /usr/share/zsh/vendor-completions/_strata
check "strata completion fish is the installed completion" \
  cmp -s <(/usr/bin/strata completion fish) /usr/share/fish/vendor_completions.d/strata.fish
check "the bash completion parses and completes subcommands" runuser -u "$TEST_USER" -- bash -c \
  'source /usr/share/bash-completion/completions/strata && COMP_WORDS=(strata ima) COMP_CWORD=1 && _strata strata ima strata && [[ " ${COMPREPLY[*]} " == *" image "* ]] && [[ " ${COMPREPLY[*]} " == *" images "* ]]'
check "strata completion refuses an unknown shell" bash -c '! /usr/bin/strata completion tcsh 2>/dev/null'

step "the helper's user, /run/strata, the units' state"
check "system user strata-helper with no login shell" \
  bash -c 'getent passwd strata-helper | grep -q ":/usr/sbin/nologin$" && [ "$(id -u strata-helper)" -lt 1000 ]'
check "/run/strata is 0755 root:root" test "$(stat -c '%a %U:%G' /run/strata 2>/dev/null)" = "755 root:root"
check "strata-helper.socket is enabled" test -L /etc/systemd/system/sockets.target.wants/strata-helper.socket
check "strata-prune.timer is not enabled" test ! -e /etc/systemd/system/timers.target.wants/strata-prune.timer
if $systemd_running; then
  check "strata-helper.socket is active" systemctl is-active --quiet strata-helper.socket
  check "strata-prune.timer is inactive" bash -c '! systemctl is-active --quiet strata-prune.timer'
fi

# ---- 3. lint
step "lintian"
if lintian --fail-on error,warning --display-level '>=warning' "$deb" >"$work/lintian.log" 2>&1; then
  ok "lintian: no errors or warnings"
else
  fail "lintian"
fi
cat "$work/lintian.log"

step "systemd-analyze verify and security"
for u in "${UNITS[@]}"; do
  if out=$(systemd-analyze verify "$UNIT_DIR/$u" 2>&1) && [ -z "$out" ]; then
    ok "systemd-analyze verify $u"
  else
    echo "$out" >&2
    fail "systemd-analyze verify $u"
  fi
done
security=$(systemd-analyze security --offline=true "$UNIT_DIR/strata-helper.service" 2>&1)
score=$(sed -n 's/.*Overall exposure level for strata-helper.service: \([0-9.]*\).*/\1/p' <<<"$security")
echo "strata-helper.service exposure: ${score:-none}"
check "strata-helper.service exposure ${score:-?} is 3.0 or less" \
  python3 -c "import sys; sys.exit(0 if '$score' and float('$score') <= 3.0 else 1)"

# ---- 4. the installed helper, started as systemd would
step "strata-helper under systemd-socket-activate"
unit_value() { sed -n "s/^$1=//p" "$UNIT_DIR/strata-helper.service" | tail -1; }
user=$(unit_value User)
caps=$(unit_value AmbientCapabilities | tr 'A-Z' 'a-z' | sed 's/cap_/+/g; s/ /,/g')
bound=$(unit_value CapabilityBoundingSet | tr 'A-Z' 'a-z' | sed 's/cap_/+/g; s/ /,/g')
exec_start=$(unit_value ExecStart)
nnp=$(unit_value NoNewPrivileges)
nofile=$(unit_value LimitNOFILE)
echo "unit: User=$user caps $caps bounding $bound NoNewPrivileges=$nnp LimitNOFILE=$nofile ExecStart=$exec_start"
# systemd may raise the limit; a root without CAP_SYS_RESOURCE (a container's, as on the
# test machine) may not go over its own hard limit.
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$nofile" ]; then
  echo "this machine's hard descriptor limit $hard is under the unit's $nofile: the helper gets $hard"
  nofile=$hard
fi
mkdir -p "$SOCKET_DIR" && chmod 755 "$SOCKET_DIR"
nnp_flag=()
[ "$nnp" = yes ] && nnp_flag=(--no-new-privs)
# The listening socket is made by systemd-socket-activate (as root, like systemd), which
# execs prlimit (the unit's descriptor limit), which execs setpriv (all the same
# process), which becomes the unit's user with its capabilities and execs the helper,
# which finds the socket in LISTEN_FDS with LISTEN_PID its own.
# shellcheck disable=SC2086
systemd-socket-activate -l "$SOCKET" -- prlimit --nofile="$nofile:$nofile" setpriv --reuid="$user" --regid="$user" --clear-groups \
  --inh-caps=-all,"$caps" --ambient-caps=-all,"$caps" --bounding-set=-all,"$bound" "${nnp_flag[@]}" \
  $exec_start </dev/null >"$work/helper.log" 2>&1 8>&- &
helper_pid=$!
for _ in $(seq 100); do [ -S "$SOCKET" ] && break; sleep 0.1; done
chmod 0666 "$SOCKET" 2>/dev/null # the unit's SocketMode
# Like systemd without Accept=, systemd-socket-activate starts the service at the first
# connection: make one (the helper logs it as a client that hung up).
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.close()' "$SOCKET" ||
  fail "connecting to $SOCKET"
for _ in $(seq 100); do grep -q "strata-helper .*: serving" "$work/helper.log" && break; sleep 0.1; done
if kill -0 "$helper_pid" 2>/dev/null && [ -S "$SOCKET" ]; then
  ok "strata-helper runs (pid $helper_pid) on $SOCKET"
  status=/proc/$helper_pid/status
  check "the helper runs as $user" test "$(awk '/^Uid:/ {print $2}' "$status")" = "$(id -u "$user")"
  check "the helper has NoNewPrivs" test "$(awk '/^NoNewPrivs:/ {print $2}' "$status")" = 1
  check "the helper's descriptor limit is the unit's LimitNOFILE, or this machine's hard limit ($nofile)" \
    test "$(awk '/^Max open files/ {print $4 ":" $5}' "/proc/$helper_pid/limits")" = "$nofile:$nofile"
  want=$(python3 - "$bound" <<'PY'
import sys
names = {"chown": 0, "dac_override": 1, "fowner": 3, "setfcap": 31, "sys_admin": 21, "mknod": 27}
print("%016x" % sum(1 << names[c.lstrip("+")] for c in sys.argv[1].split(",")))
PY
)
  check "the helper's effective capabilities are the unit's ($want)" \
    test "$(awk '/^CapEff:/ {print $2}' "$status")" = "$want"
  check "the helper got the socket from LISTEN_FDS" grep -q "serving the systemd socket" "$work/helper.log"
else
  fail "strata-helper did not start under systemd-socket-activate"
  cat "$work/helper.log" >&2
fi

step "containers as $TEST_USER through the installed helper"
home=$(getent passwd "$TEST_USER" | cut -d: -f6)
as_user() {
  (cd "$work" && runuser -u "$TEST_USER" -- env -i HOME="$home" USER="$TEST_USER" LOGNAME="$TEST_USER" \
    PATH=/usr/bin:/bin XDG_CONFIG_HOME="$work/config" "$@")
}
# The user's configuration names the test's socket and a store under $work (so that no
# store of the test user's own is touched); config-systemd leaves the socket default.
user_store="$work/user-store"
mkdir -p "$work/config/strata" "$work/config-systemd/strata" "$user_store"
chown "$TEST_USER:" "$user_store"
printf 'helper-socket = "%s"\npull = "never"\nroot = "%s"\n' "$SOCKET" "$user_store" >"$work/config/strata/config.toml"
printf 'root = "%s"\n' "$user_store" >"$work/config-systemd/strata/config.toml"
chmod -R a+rX "$work/config" "$work/config-systemd"
rootfs="$work/rootfs.tar"
if scripts/make-busybox-rootfs.sh "$rootfs" >"$work/rootfs.log" 2>&1; then
  chmod 644 "$rootfs"
else
  cat "$work/rootfs.log" >&2
  fail "scripts/make-busybox-rootfs.sh"
fi
check "$TEST_USER: strata import" as_user /usr/bin/strata import "$rootfs" deb-test:1
out=$(as_user /usr/bin/strata run --rm deb-test:1 /bin/sh -c 'echo hello from $(id -u)' 2>&1)
check "$TEST_USER: strata run through the helper ($out)" test "$out" = "hello from 0"
info=$(as_user /usr/bin/strata info 2>&1)
check "$TEST_USER: strata info names the config file read and a helper that answers" \
  bash -c "grep -q '$work/config/strata/config.toml' <<<\"\$1\" && grep -q 'socket $SOCKET (answers)' <<<\"\$1\"" _ "$info"
echo "$info" | sed -n '/^Setup:/,$p'
check "$TEST_USER's store is the configured root" test -d "$user_store/layers"
if $systemd_running; then
  out=$(as_user env XDG_CONFIG_HOME="$work/config-systemd" /usr/bin/strata run --rm --pull never deb-test:1 /bin/echo systemd 2>&1)
  check "$TEST_USER: strata run through systemd's strata-helper.socket ($out)" test "$out" = systemd
fi

step "root: strata run with the installed binary"
check "root: strata import" /usr/bin/strata import "$rootfs" deb-test:1
out=$(/usr/bin/strata run --rm deb-test:1 /bin/echo root 2>&1)
check "root: strata run ($out)" test "$out" = root
check "root's store is /var/lib/strata" test -d /var/lib/strata/layers
check "root: strata image prune -f (what strata-prune.service runs)" /usr/bin/strata image prune -f

step "configuration files: system, user, precedence, errors"
# /etc/strata/config.toml moves root's store (the system file's root applies to root
# only); the user's file wins over it key by key; an unknown key names file, line, key.
# An administrator's file is kept aside and put back.
sys_cfg=/etc/strata/config.toml
[ -e "$sys_cfg" ] && mv "$sys_cfg" "$work/config.toml.saved"
etc_created=false
[ -d /etc/strata ] || etc_created=true
mkdir -p /etc/strata
printf 'root = "%s"\npull = "always"\n' "$work/system-root" >"$sys_cfg"
check "root: the system file's root is root's store" \
  bash -c "env -u XDG_CONFIG_HOME HOME=/nonexistent /usr/bin/strata info | grep -q 'Root Dir: $work/system-root'"
# A command that only reads refuses a --root directory that does not exist (a mistyped
# path), so this one is made first.
mkdir -p "$work/flag-root"
check "root: --root wins over the system file" \
  bash -c "env -u XDG_CONFIG_HOME HOME=/nonexistent /usr/bin/strata --root '$work/flag-root' info | grep -q 'Root Dir: $work/flag-root'"
check "root: STRATA_ROOT wins over the system file" \
  bash -c "env -u XDG_CONFIG_HOME HOME=/nonexistent STRATA_ROOT='$work/env-root' /usr/bin/strata info | grep -q 'Root Dir: $work/env-root'"
info=$(as_user /usr/bin/strata info 2>&1)
check "$TEST_USER: the system root does not apply, the user's does; info lists both files" \
  bash -c "grep -q 'Root Dir: $user_store' <<<\"\$1\" && grep -q '^  $sys_cfg' <<<\"\$1\" && grep -q '^  $work/config/strata/config.toml' <<<\"\$1\"" _ "$info"
out=$(as_user /usr/bin/strata run --rm deb-test:1 /bin/echo user-pull-never 2>&1)
check "$TEST_USER: the user's pull = never wins over the system's always ($out)" test "$out" = user-pull-never
printf 'pull = "never"\nregistry-mirror = ["https://m.example"]\n' >"$work/config/strata/config.toml"
out=$(as_user /usr/bin/strata images 2>&1); rc=$?
check "an unknown key is an error naming the file, line and key (exit $rc: $out)" \
  bash -c "[ $rc -eq 1 ] && grep -q '^Error: invalid $work/config/strata/config.toml line 2: key registry-mirror: unknown field' <<<\"\$1\"" _ "$out"
printf 'helper-socket = "%s"\npull = "never"\nroot = "%s"\n' "$SOCKET" "$user_store" >"$work/config/strata/config.toml"
rm -f "$sys_cfg"
[ -e "$work/config.toml.saved" ] && mv "$work/config.toml.saved" "$sys_cfg"
$etc_created && rmdir /etc/strata

# ---- the integration suite, against the installed binaries
# The whole suite (every module of tests/integration) runs three times with
# STRATA_BIN=/usr/bin/strata and STRATA_HELPER_BIN=/usr/libexec/strata/strata-helper:
# as root; as $TEST_USER through the installed helper started above; and (step 5) as
# $TEST_USER through the setuid mode. The user passes run in the clean environment of
# scripts/test.sh's user pass (scripts/lib-testenv.sh), not in as_user's configuration.
# What a pass leaves out is in its list below: a libtest --skip filter, then why; each
# list is printed with its pass, and the pass's own count of what it filtered out.
# shellcheck disable=SC2034 # the skip lists are read through suite's nameref
DOCKER_SKIP="build_docker::  these compare the builder with a dockerd's classic builder, which only scripts/test.sh's root pass starts (around the build tree's suite; the package's strata is built from the same sources)"
skip_root=("$DOCKER_SKIP")
# shellcheck disable=SC2034
skip_socket=(
  "$DOCKER_SKIP"
  "setuid::  the setuid mode's tests need the helper setuid root: they run in the setuid pass, against the installed helper made so by dpkg-statoverride"
)
# shellcheck disable=SC2034
skip_setuid=(
  "$DOCKER_SKIP"
  "helper::  these speak the protocol to the service's socket (as a user they take STRATA_HELPER_SOCKET, which answers nothing in this pass); they run against the installed service in the socket pass, and setuid:: covers the same requests through \`once\`"
)
suite_pass=0
# suite NAME SKIPS COMMAND...: runs the integration binary by COMMAND (the binary and its
# filters are appended), with the --skip filters of the array named SKIPS; a failure
# shows the end of the log and the failed tests.
suite() {
  local name=$1 e args=(-q) log
  local -n skips=$2
  shift 2
  suite_pass=$((suite_pass + 1))
  log="$work/suite-$suite_pass.log"
  echo "$name: left out (${#skips[@]}):"
  for e in "${skips[@]}"; do
    echo "  --skip ${e%%  *}  because ${e#*  }"
    args+=(--skip "${e%%  *}")
  done
  local t0=$SECONDS
  if "$@" "$work/integration" "${args[@]}" >"$log" 2>&1 8>&-; then
    ok "integration suite $name: $(grep -o '[0-9]* passed.*filtered out' "$log" | tail -1) ($((SECONDS - t0))s)"
  else
    grep -A200 '^failures:$' "$log" | tail -60 >&2
    fail "integration suite $name ($(grep -o '[0-9]* passed.*filtered out' "$log" | tail -1); log: $log)"
  fi
}
step "the integration suite against /usr/bin/strata: build"
if exe=$(cargo test -p strata-tests --test integration --no-run --message-format=json 2>"$work/build.err" |
  python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l) if l.startswith("{") else {}
    if m.get("reason") == "compiler-artifact" and m.get("executable"): print(m["executable"])' | tail -1) && [ -n "$exe" ]; then
  cp "$exe" "$work/integration" && chmod 755 "$work/integration"
  ok "built $exe"
else
  cat "$work/build.err" >&2; fail "building the integration tests"
fi
installed_bins=(STRATA_BIN=/usr/bin/strata STRATA_HELPER_BIN=/usr/libexec/strata/strata-helper)
mkdir -p "$work/tmp" "$work/tmp-root" && chown "$TEST_USER:" "$work/tmp" && chmod 700 "$work/tmp"
testenv_fuse_mount "$TEST_USER" "$SOCKET_DIR/fuse"
if [ -x "$work/integration" ]; then
  step "the integration suite as root"
  suite "as root" skip_root env -i -C "$work/tmp-root" HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    TMPDIR="$work/tmp-root" ${STRATA_KEEP_TMP:+STRATA_KEEP_TMP=1} "${installed_bins[@]}"
  step "the integration suite as $TEST_USER through the installed helper (systemd-socket-activate)"
  suite "as $TEST_USER through the helper's socket" skip_socket testenv_as_user "$TEST_USER" "$work/tmp" \
    "${installed_bins[@]}" STRATA_HELPER_SOCKET="$SOCKET" "${testenv_fuse_vars[@]}"
fi

kill "$helper_pid" 2>/dev/null; wait "$helper_pid" 2>/dev/null; helper_pid=
echo "helper log:"; sed 's/^/  /' "$work/helper.log" | tail -5

step "the setuid mode: dpkg-statoverride, no helper socket, containers and the integration suite as $TEST_USER"
# As an administrator without systemd would: the installed helper setuid root, and no
# socket answering (STRATA_HELPER_SOCKET names a path nothing listens on).
installed_helper=/usr/libexec/strata/strata-helper
no_socket="$work/no-helper.sock"
check "dpkg-statoverride --update --add root root 4755 $installed_helper" \
  dpkg-statoverride --update --add root root 4755 "$installed_helper"
check "$installed_helper is setuid root (4755 root:root)" test "$(stat -c '%a %U:%G' "$installed_helper")" = "4755 root:root"
check "nothing listens on $no_socket" test ! -e "$no_socket"
out=$(as_user env STRATA_HELPER_SOCKET="$no_socket" /usr/bin/strata run --rm deb-test:1 /bin/sh -c 'echo setuid mode $(id -u)' 2>&1)
check "$TEST_USER: strata run through the setuid helper ($out)" test "$out" = "setuid mode 0"
out=$(as_user "$installed_helper" serve --socket "$work/tmp/root.sock" 2>&1); rc=$?
check "$TEST_USER: the setuid helper refuses serve (exit $rc: $out)" \
  bash -c "[ $rc -ne 0 ] && grep -q 'refusing to run \"serve\" setuid' <<<\"\$1\" && [ ! -e '$work/tmp/root.sock' ]" _ "$out"
if [ -x "$work/integration" ]; then
  suite "as $TEST_USER through the setuid helper" skip_setuid testenv_as_user "$TEST_USER" "$work/tmp" \
    "${installed_bins[@]}" STRATA_HELPER_SOCKET="$no_socket" STRATA_TEST_SETUID_HELPER="$installed_helper" \
    "${testenv_fuse_vars[@]}"
fi
testenv_fuse_umount
check "dpkg-statoverride --remove $installed_helper" dpkg-statoverride --remove "$installed_helper"
chmod 0755 "$installed_helper"
check "$installed_helper is back to 0755" test "$(stat -c %a "$installed_helper")" = 755

# ---- 6. remove and purge
step "apt-get remove, then purge"
if apt-get remove -y -q strata >"$work/remove.log" 2>&1; then ok "apt-get remove"; else cat "$work/remove.log" >&2; fail "apt-get remove"; fi
check "/usr/bin/strata is gone after remove" test ! -e /usr/bin/strata
check "root's store is kept on remove" test -d /var/lib/strata/layers
if $systemd_running; then
  check "strata-helper.socket is stopped after remove" bash -c '! systemctl is-active --quiet strata-helper.socket'
fi
if apt-get purge -y -q strata >"$work/purge.log" 2>&1; then ok "apt-get purge"; else cat "$work/purge.log" >&2; fail "apt-get purge"; fi
check "purge says it removes /var/lib/strata" grep -q "removing root's image store /var/lib/strata" "$work/purge.log"
check "the package is gone" bash -c '! dpkg-query -W -f="\${Status}" strata 2>/dev/null | grep -q installed'
left=$(while read -r f; do [ -e "$f" ] && [ ! -d "$f" ] && echo "$f"; done <"$work/files")
[ -z "$left" ] || echo "left: $left" >&2
check "no package file is left" test -z "$left"
for d in /var/lib/strata /run/strata /usr/libexec/strata /usr/share/doc/strata; do
  check "$d is gone" test ! -e "$d"
done
enabled=$(find /etc/systemd/system /var/lib/systemd/deb-systemd-helper-enabled /var/lib/systemd/deb-systemd-helper-masked \
  -name '*strata*' 2>/dev/null)
[ -z "$enabled" ] || echo "left: $enabled" >&2
check "no unit links or deb-systemd-helper state are left" test -z "$enabled"
check "$TEST_USER's store is left alone" test -d "$user_store/layers"

printf '\n---- package test summary\n'
if ((${#failed[@]})); then
  printf 'FAILED: %s\n' "${failed[@]}"
  exit 1
fi
echo "package test: all checks passed"
