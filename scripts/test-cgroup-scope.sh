#!/bin/bash
# test-cgroup-scope.sh STRATA HELPER_SOCKET USER (as root, from scripts/test.sh):
# an ordinary user's resource limits (-m, --cpus, --pids-limit; issue 14).
# - Where systemd is PID 1 and the controllers are on a unified cgroup v2 hierarchy, it
#   starts a systemd user manager for USER (loginctl enable-linger), runs a container with
#   limits as USER and checks memory.max, pids.max and cpu.max in the container's cgroup,
#   which must be under a strata-PID.scope; then it puts lingering back as it was.
# - Everywhere, it checks the refusal without a user manager (XDG_RUNTIME_DIR pointing at
#   none): exit 125 and the reason.
# It says on its first line which case this machine allows ("cgroup scope: ..."): a
# machine without systemd as PID 1 or with hybrid cgroups cannot test the scope, and
# the line says so instead of passing silently.
set -uo pipefail
cd "$(dirname "$0")/.."
strata=${1:?usage: $0 STRATA HELPER_SOCKET USER} sock=${2:?} user=${3:?}
uid=$(id -u "$user")
work=$(mktemp -d /tmp/strata-scope.XXXX)
chmod 755 "$work"
linger_was=$(loginctl show-user "$user" -p Linger --value 2>/dev/null || echo no)
cleanup() {
  [ "${linger_set:-0}" = 1 ] && [ "$linger_was" != yes ] && loginctl disable-linger "$user"
  rm -rf "$work"
}
trap cleanup EXIT
failed=0
fail() { echo "cgroup scope: FAILED: $*" >&2; failed=1; }
store=$work/store
mkdir -m 700 "$store" && chown "$user:" "$store"
scripts/make-busybox-rootfs.sh "$work/bb.tar" >/dev/null && chmod 644 "$work/bb.tar"
as_user() {
  runuser -u "$user" -- env -i HOME="$work" PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    STRATA_ROOT="$store" STRATA_HELPER_SOCKET="$sock" "$@"
}
as_user "$strata" import "$work/bb.tar" bb >/dev/null || { fail "import"; exit 1; }

pid1=$(ps -p 1 -o comm= 2>/dev/null)
v2=0
grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null && v2=1
if [ -d /run/systemd/system ] && ((v2)); then
  echo "cgroup scope: systemd is PID 1 and cgroup v2 is unified: testing the limits in a user scope"
  loginctl enable-linger "$user" && linger_set=1
  for _ in $(seq 100); do [ -S "/run/user/$uid/systemd/private" ] && break; sleep 0.1; done
  id=$(as_user XDG_RUNTIME_DIR="/run/user/$uid" "$strata" run -d --network none \
         -m 64m --pids-limit 20 --cpus 0.5 bb sleep 60) || fail "run -d with limits as $user"
  if [ -n "$id" ]; then
    pid=$(as_user "$strata" inspect -f '{{.State.Pid}}' "$id")
    rel=$(sed -n 's/^0:://p' "/proc/$pid/cgroup")
    dir=/sys/fs/cgroup$rel
    echo "container cgroup: $dir"
    case $rel in */strata-*.scope/"$id") ;; *) fail "not in a strata scope: $rel" ;; esac
    [ "$(cat "$dir/memory.max")" = 67108864 ] || fail "memory.max: $(cat "$dir/memory.max")"
    [ "$(cat "$dir/pids.max")" = 20 ] || fail "pids.max: $(cat "$dir/pids.max")"
    [ "$(cat "$dir/cpu.max")" = "50000 100000" ] || fail "cpu.max: $(cat "$dir/cpu.max")"
    as_user "$strata" rm -f "$id" >/dev/null || fail "rm -f"
  fi
else
  why=
  [ -d /run/systemd/system ] || why="systemd is not PID 1 here (PID 1 is ${pid1:-unknown})"
  ((v2)) || why="${why:+$why; }the cgroup controllers are not on a unified v2 hierarchy ($(stat -fc %T /sys/fs/cgroup) on /sys/fs/cgroup)"
  echo "cgroup scope: NOT TESTED on this machine: $why. Only the refusal is tested."
fi

out=$(as_user XDG_RUNTIME_DIR="$work/no-manager" "$strata" run --rm --network none -m 64m bb true 2>&1)
rc=$?
echo "without a user manager: exit $rc: $out"
[ $rc = 125 ] || fail "refusal exit $rc"
case $out in
  "Error: resource limits (--memory, --cpus, --pids-limit) need"*) ;;
  *) fail "refusal message: $out" ;;
esac
if ((v2)); then want="no systemd user manager is running for you"; else want="not on a unified cgroup v2 hierarchy"; fi
[[ $out == *"$want"* ]] || fail "the refusal does not say \"$want\""
exit $failed
