#!/bin/bash
# The one test command (`make test`, and CI through .ci/run). As root it:
#   1. builds the workspace and runs `cargo test --workspace` as root, with a private
#      dockerd (STRATA_TEST_DOCKER_HOST) that tests/integration/build_docker.rs compares with;
#   2. makes sure the unprivileged user strata-test exists, with a subordinate id range;
#   3. starts strata-helper as root on /run/strata-test.XXXX/helper.sock and runs every test
#      executable again as strata-test, with a clean environment and STRATA_HELPER_SOCKET;
#   4. runs `make demo` with the debug binaries as root and as strata-test (through that
#      helper, without one, and with DEMO_USER), and checks `make install DESTDIR=...`
#      and `make uninstall` for PREFIX=/usr and /usr/local.
# Every step runs even when an earlier one failed; the exit status is non-zero if any did.
# Not as root, it does step 1 only (and says so).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
# shellcheck source=scripts/lib-testenv.sh
. scripts/lib-testenv.sh
export PATH="${HOME:-/root}/.cargo/bin:$PATH"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

TEST_USER=strata-test
SUB_START=200000
SUB_COUNT=65536

section() { printf '\n==================== %s ====================\n' "$*"; }
failed=()

# `make install` into a staging root with PREFIX=$1 places every file where the units and
# the README say, with its mode, the service starting the installed helper; `make
# uninstall` removes every one. Uses the binaries in $ci/bin. Says what is wrong.
check_install() {
  local prefix=$1 dest rc=0 f mode got unit=$1/lib/systemd/system
  local helper=$1/libexec/strata/strata-helper
  dest=$(mktemp -d /tmp/strata-install.XXXX)
  if ! make -s install DESTDIR="$dest" PREFIX="$prefix" STRATA_BIN="$ci/bin/strata"; then
    echo "make install PREFIX=$prefix failed" >&2; rm -rf "$dest"; return 1
  fi
  local want="755 $prefix/bin/strata
755 $helper
644 $unit/strata-helper.socket
644 $unit/strata-helper.service
644 $prefix/lib/sysusers.d/strata-helper.conf
644 $prefix/lib/tmpfiles.d/strata.conf"
  while read -r mode f; do
    if ! got=$(stat -c %a "$dest$f" 2>/dev/null); then echo "not installed: $f" >&2; rc=1
    elif [ "$got" != "$mode" ]; then echo "$f: mode $got, not $mode" >&2; rc=1; fi
  done <<<"$want"
  # The man pages strata-docgen generates (one per subcommand, here a sample) and the
  # completions, 0644.
  local pages="$prefix/share/man/man1/strata.1 $prefix/share/man/man1/strata-run.1
$prefix/share/man/man1/strata-image-pull.1 $prefix/share/man/man5/strata-config.toml.5
$prefix/share/bash-completion/completions/strata $prefix/share/zsh/vendor-completions/_strata
$prefix/share/fish/vendor_completions.d/strata.fish"
  for f in $pages; do
    if ! got=$(stat -c %a "$dest$f" 2>/dev/null); then echo "not installed: $f" >&2; rc=1
    elif [ "$got" != 644 ]; then echo "$f: mode $got, not 644" >&2; rc=1; fi
  done
  [ "$(find "$dest$prefix/share/man" -name 'strata*' | wc -l)" -ge 10 ] ||
    { echo "fewer than 10 man pages installed under $prefix/share/man" >&2; rc=1; }
  man -l "$dest$prefix/share/man/man1/strata-run.1" 2>/dev/null | grep -q -- '--rm' ||
    { echo "$prefix/share/man/man1/strata-run.1 does not document --rm" >&2; rc=1; }
  grep -q 'strata' "$dest$prefix/share/bash-completion/completions/strata" ||
    { echo "the bash completion is empty" >&2; rc=1; }
  # Nothing else.
  while read -r f; do
    case "$f" in
      "$prefix"/share/man/man[1-8]/strata*|"$prefix"/share/bash-completion/completions/strata) ;;
      "$prefix"/share/zsh/vendor-completions/_strata|"$prefix"/share/fish/vendor_completions.d/strata.fish) ;;
      *) grep -qx "[0-9]* $f" <<<"$want" || { echo "installed but not expected: $f" >&2; rc=1; } ;;
    esac
  done < <(cd "$dest" && find . ! -type d | sed 's/^\.//')
  cmp -s "$dest$prefix/bin/strata" "$ci/bin/strata" || { echo "$prefix/bin/strata is not the strata built" >&2; rc=1; }
  cmp -s "$dest$helper" "$ci/bin/strata-helper" || { echo "$helper is not the strata-helper built" >&2; rc=1; }
  got=$(sed -n 's/^ExecStart=//p' "$dest$unit/strata-helper.service")
  [ "$got" = "$helper serve" ] || { echo "strata-helper.service: ExecStart=$got, not $helper serve" >&2; rc=1; }
  grep -qx 'ListenStream=/run/strata/helper.sock' "$dest$unit/strata-helper.socket" ||
    { echo "strata-helper.socket does not listen on /run/strata/helper.sock" >&2; rc=1; }
  grep -qx 'd /run/strata 0755 root root -' "$dest$prefix/lib/tmpfiles.d/strata.conf" ||
    { echo "the tmpfiles entry does not make /run/strata" >&2; rc=1; }
  if ! grep -qx 'User=strata-helper' "$dest$unit/strata-helper.service" ||
     ! grep -q '^u strata-helper ' "$dest$prefix/lib/sysusers.d/strata-helper.conf"; then
    echo "the service's user is not the one the sysusers entry makes" >&2; rc=1
  fi
  "$dest$prefix/bin/strata" version >/dev/null || { echo "the installed strata does not run" >&2; rc=1; }
  if ! make -s uninstall DESTDIR="$dest" PREFIX="$prefix"; then echo "make uninstall failed" >&2; rc=1; fi
  f=$(cd "$dest" && find . ! -type d)
  [ -z "$f" ] || { echo "left by make uninstall: $f" >&2; rc=1; }
  [ ! -e "$dest$prefix/libexec/strata" ] || { echo "make uninstall left $prefix/libexec/strata" >&2; rc=1; }
  f=$(cd "$dest" && find . -mindepth 1 -type d -path '*/share/*' | sed 's/^\.//')
  [ -z "$f" ] || { echo "make uninstall left the directories $f" >&2; rc=1; }
  rm -rf "$dest"
  ((rc == 0)) && echo "make install and make uninstall with PREFIX=$prefix: every file in place, then gone"
  return $rc
}

# ---- a private dockerd for tests/integration/build_docker.rs (issue 11) ----
# Those tests build the same Dockerfiles with strata and with docker's classic builder
# (DOCKER_BUILDKIT=0; BuildKit needs a network bridge this machine lacks) and compare the
# images. As root, start_test_dockerd starts a dockerd of this run's own: no iptables, no
# bridge, overlay2 (vfs where overlay2 fails), its data on a small tmpfs in a mktemp
# directory, a private unix socket exported as STRATA_TEST_DOCKER_HOST; stop_test_dockerd
# stops it and removes everything. Only the root pass reaches it (see the strata-test pass).
test_dockerd_dir= test_dockerd_pid=
start_test_dockerd() {
  local d driver
  command -v dockerd >/dev/null && command -v docker >/dev/null ||
    { echo "dockerd or docker is missing (scripts/deps.sh test installs docker.io)" >&2; return 1; }
  d=$(mktemp -d /tmp/strata-dockerd.XXXX) && test_dockerd_dir=$d || return 1
  mount -t tmpfs -o size=2g,mode=0700 strata-test-dockerd "$d" || return 1
  for driver in overlay2 vfs; do
    rm -rf "${d:?}/data" "$d/exec"; mkdir -p "$d/data" "$d/exec"
    dockerd --iptables=false --bridge=none --storage-driver="$driver" --data-root "$d/data" \
      --exec-root "$d/exec" --pidfile "$d/dockerd.pid" --host "unix://$d/docker.sock" \
      </dev/null >"$d/dockerd-$driver.log" 2>&1 &
    test_dockerd_pid=$!
    for _ in $(seq 150); do
      kill -0 "$test_dockerd_pid" 2>/dev/null || break
      if DOCKER_HOST="unix://$d/docker.sock" docker info >/dev/null 2>&1; then
        export STRATA_TEST_DOCKER_HOST="unix://$d/docker.sock"
        echo "dockerd $(dockerd --version | awk '{print $3}' | tr -d ,) ($driver, pid $test_dockerd_pid) on $STRATA_TEST_DOCKER_HOST"
        return 0
      fi
      sleep 0.2
    done
    echo "dockerd with $driver did not start; its log:" >&2; tail -n 20 "$d/dockerd-$driver.log" >&2
    stop_test_dockerd_process
  done
  return 1
}
stop_test_dockerd_process() {
  [ -n "$test_dockerd_pid" ] || return 0
  kill "$test_dockerd_pid" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$test_dockerd_pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$test_dockerd_pid" 2>/dev/null
  wait "$test_dockerd_pid" 2>/dev/null
  test_dockerd_pid=
}
stop_test_dockerd() {
  stop_test_dockerd_process
  unset STRATA_TEST_DOCKER_HOST
  [ -n "$test_dockerd_dir" ] || return 0
  # Whatever dockerd left mounted below its data (overlay2 layers, container shm).
  grep -o " $test_dockerd_dir/[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m"; done
  umount -l "$test_dockerd_dir" 2>/dev/null
  rm -rf "$test_dockerd_dir"
  test_dockerd_dir=
}
# ---- end of the private dockerd ----

section "cargo build --workspace"
if ! cargo build --workspace; then
  failed+=("cargo build")
fi

section "cargo test --workspace (as $(id -un))"
if [ "$(id -u)" -eq 0 ]; then
  trap stop_test_dockerd EXIT
  start_test_dockerd || failed+=("private dockerd for build_docker")
  cargo test --workspace --no-fail-fast || failed+=("cargo test as $(id -un)")
  stop_test_dockerd
  trap - EXIT
else
  # Not root: no dockerd of our own, so the comparisons with docker (build_docker::) are
  # left out here, visibly; they fail when run without scripts/test.sh as root.
  echo "not root: build_docker:: (strata's builder compared with dockerd's) is not run"
  cargo test --workspace --no-fail-fast -- --skip build_docker:: || failed+=("cargo test as $(id -un)")
fi

if [ "$(id -u)" -ne 0 ]; then
  section "unprivileged run skipped"
  echo "not root: the run as user $TEST_USER needs root to set up (runuser, useradd)"
else
  section "user $TEST_USER"
  if ! id -u "$TEST_USER" >/dev/null 2>&1; then
    useradd --create-home --shell /bin/bash --user-group "$TEST_USER"
  fi
  # The bridge network of an ordinary user (pasta) opens /dev/net/tun, which udev makes
  # 0666; machines without udev may have it 0600.
  if [ -c /dev/net/tun ] && [ "$(stat -c %a /dev/net/tun)" != 666 ]; then
    chmod 0666 /dev/net/tun && echo "/dev/net/tun: mode 0666, as udev makes it"
  fi
  home=$(getent passwd "$TEST_USER" | cut -d: -f6)
  mkdir -p "$home" && chown "$TEST_USER:" "$home"
  for f in subuid subgid; do
    touch "/etc/$f"
    if ! grep -q "^$TEST_USER:" "/etc/$f"; then
      if [ $f = subuid ]; then opt=--add-subuids; else opt=--add-subgids; fi
      usermod "$opt" "$SUB_START-$((SUB_START + SUB_COUNT - 1))" "$TEST_USER" 2>/dev/null ||
        echo "$TEST_USER:$SUB_START:$SUB_COUNT" >>"/etc/$f"
    fi
    echo "/etc/$f: $(grep "^$TEST_USER:" "/etc/$f" | tr '\n' ' ')"
  done

  section "test executables"
  list=$(mktemp)
  if ! cargo test --workspace --no-run --message-format=json >"$list.json" 2>"$list.err"; then
    cat "$list.err" >&2
    failed+=("cargo test --no-run")
  fi
  python3 - "$list.json" >"$list" <<'PY'
import json, sys
seen = set()
for line in open(sys.argv[1]):
    line = line.strip()
    if not line.startswith("{"):
        continue
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("profile", {}).get("test") and m.get("executable"):
        if m["executable"] not in seen:
            seen.add(m["executable"])
            print(m["executable"])
PY
  target=$(cargo metadata --format-version 1 --no-deps |
           python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  ci=$(mktemp -d /tmp/strata-ci.XXXX)
  chmod 755 "$ci"
  mkdir -p "$ci/bin" "$ci/tmp"
  chown "$TEST_USER:" "$ci/tmp"
  chmod 700 "$ci/tmp"
  for b in strata strata-helper strata-docgen; do
    if [ -x "$target/debug/$b" ]; then cp "$target/debug/$b" "$ci/bin/"; fi
  done
  while read -r exe; do
    [ -n "$exe" ] && cp "$exe" "$ci/bin/"
  done <"$list"
  chmod -R a+rX "$ci/bin"
  # The helper's setuid mode (tests/integration/setuid.rs): a setuid-root copy, as an
  # administrator would make it with dpkg-statoverride.
  mkdir -p "$ci/setuid" && chmod 755 "$ci/setuid"
  if [ -x "$ci/bin/strata-helper" ]; then
    cp "$ci/bin/strata-helper" "$ci/setuid/" && chmod 4755 "$ci/setuid/strata-helper"
  fi
  echo "copied to $ci/bin:"; ls "$ci/bin"
  [ -x "$ci/bin/strata" ] || echo "warning: no strata binary was built" >&2

  # The unprivileged tests reach the privileged mount helper the way users do: through
  # its socket. Start it here, as root, on a socket strata-test can reach.
  section "strata-helper for $TEST_USER"
  run_dir=$(mktemp -d /run/strata-test.XXXX)   # one per run: several runs may share a machine
  helper_sock=$run_dir/helper.sock
  helper_log="$ci/helper.log"
  helper_pid=
  mkdir -p "$(dirname "$helper_sock")" && chmod 755 "$(dirname "$helper_sock")"
  if [ -x "$ci/bin/strata-helper" ]; then
    "$ci/bin/strata-helper" serve --socket "$helper_sock" --timeout 3 </dev/null 2>"$helper_log" &
    helper_pid=$!
    trap '[ -n "$helper_pid" ] && kill "$helper_pid" 2>/dev/null' EXIT
    for _ in $(seq 100); do [ -S "$helper_sock" ] && break; sleep 0.1; done
  fi
  if [ -S "$helper_sock" ] && kill -0 "$helper_pid" 2>/dev/null; then
    echo "strata-helper (pid $helper_pid) listening on $helper_sock"
  else
    echo "strata-helper did not start; its log:" >&2; cat "$helper_log" >&2 2>/dev/null
    failed+=("strata-helper start")
  fi

  # A FUSE directory owned by strata-test, for the helper's FUSE refusal test.
  testenv_fuse_mount "$TEST_USER" "$run_dir/fuse"

  section "cargo tests as $TEST_USER"
  # build_docker:: compares with the root pass's private dockerd, which strata-test cannot
  # reach (its socket is root's, and the daemon is stopped by then): left out here.
  echo "build_docker:: (the builder compared with dockerd's) runs in the root pass only"
  while read -r exe; do
    [ -n "$exe" ] || continue
    name=$(basename "$exe")
    echo
    echo "---- $name (as $TEST_USER)"
    testenv_as_user "$TEST_USER" "$ci/tmp" STRATA_BIN="$ci/bin/strata" STRATA_HELPER_SOCKET="$helper_sock" \
      STRATA_TEST_SETUID_HELPER="$ci/setuid/strata-helper" "${testenv_fuse_vars[@]}" "$ci/bin/$name" \
      --skip build_docker::
    rc=$?
    if [ $rc -ne 0 ]; then
      echo "---- $name as $TEST_USER: FAILED (exit $rc)"
      failed+=("$name as $TEST_USER")
    fi
  done <"$list"
  testenv_fuse_umount

  # An ordinary user's resource limits through a systemd user scope (issue 14); the
  # script's first line says whether this machine can test the scope or only the refusal.
  section "resource limits as $TEST_USER (scripts/test-cgroup-scope.sh)"
  scripts/test-cgroup-scope.sh "$ci/bin/strata" "$helper_sock" "$TEST_USER" ||
    failed+=("resource limits as $TEST_USER")

  # `make demo` with the binaries built above: as root, as $TEST_USER through the helper
  # (from a copy of the Makefile and scripts, as the user may not read this tree), as
  # $TEST_USER with no helper (it must say what to run), and as root for $TEST_USER
  # (DEMO_USER: it starts a helper of its own).
  section "make demo (as root)"
  make -s demo STRATA_BIN="$ci/bin/strata" || failed+=("make demo as root")

  section "make demo (as $TEST_USER)"
  mkdir -p "$ci/src" && cp -r Makefile scripts "$ci/src/" && chmod -R a+rX "$ci/src"
  as_test_user() { testenv_as_user "$TEST_USER" "$ci/tmp" "$@"; }
  as_test_user make -s -C "$ci/src" demo STRATA_BIN="$ci/bin/strata" STRATA_HELPER_SOCKET="$helper_sock" ||
    failed+=("make demo as $TEST_USER")
  left=$(find "$ci/tmp" -maxdepth 1 -name 'strata-demo*')
  [ -z "$left" ] || { echo "make demo left $left" >&2; failed+=("make demo as $TEST_USER: files left"); }

  section "make demo (as $TEST_USER, no helper)"
  out=$(as_test_user make -s -C "$ci/src" demo STRATA_BIN="$ci/bin/strata" \
          STRATA_HELPER_SOCKET="$ci/tmp/no-helper.sock" 2>&1)
  rc=$?
  echo "$out"
  if [ $rc -eq 0 ] || [[ "$out" != *"no strata-helper answers on $ci/tmp/no-helper.sock"*"strata-helper serve --socket"* ]]; then
    failed+=("make demo as $TEST_USER without a helper: no failure saying what to run")
  fi

  section "make demo DEMO_USER=$TEST_USER (as root)"
  make -s demo DEMO_USER="$TEST_USER" STRATA_BIN="$ci/bin/strata" || failed+=("make demo DEMO_USER=$TEST_USER")

  section "make install DESTDIR=... and make uninstall"
  for prefix in /usr /usr/local; do
    check_install "$prefix" || failed+=("make install PREFIX=$prefix")
  done
  if [ -n "$helper_pid" ]; then
    kill "$helper_pid" 2>/dev/null; wait "$helper_pid" 2>/dev/null
    helper_pid=
    rm -f "$helper_sock"
    section "strata-helper log (requests from $TEST_USER)"
    cat "$helper_log"
  fi
  rmdir "$(dirname "$helper_sock")" 2>/dev/null
  rm -f "$list" "$list.json" "$list.err"
  if [ -z "${STRATA_KEEP_TMP:-}" ]; then rm -rf "$ci"; else echo "kept $ci"; fi
fi

# ---- The Debian package, built, installed, used, removed and purged (issue 12) ----
if [ "$(id -u)" -eq 0 ]; then
  section "Debian package (packaging/test-deb.sh)"
  if ! packaging/test-deb.sh; then
    failed+=("Debian package")
  fi
fi
# ---- end of the Debian package step ----

section "summary"
if ((${#failed[@]})); then
  printf 'FAILED: %s\n' "${failed[@]}"
  exit 1
fi
echo "all test steps passed"
