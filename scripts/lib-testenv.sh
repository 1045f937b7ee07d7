# shellcheck shell=bash
# The environment the tests run in as the unprivileged test user, shared by
# scripts/test.sh (the build tree's binaries) and packaging/test-deb.sh (the installed
# package's): source it, then call the functions. Run as root.
#
#   testenv_as_user USER DIR [VAR=VALUE...] COMMAND...
#       runs COMMAND as USER in DIR with a clean environment: HOME, USER, LOGNAME, a
#       system PATH, TMPDIR=DIR (which USER must own), STRATA_KEEP_TMP when the caller
#       has it, plus the VAR=VALUE words given (env reads them);
#   testenv_fuse_mount USER DIR
#       mounts an empty FUSE filesystem owned by USER on DIR (no server: the kernel
#       answers statfs itself, as the mount does not allow root), for the helper's FUSE
#       refusal test, which users cannot mount on every machine; on success sets
#       testenv_fuse_vars=(STRATA_TEST_FUSE_DIR=DIR), else leaves it empty and says why;
#   testenv_fuse_umount
#       unmounts it again.

# shellcheck disable=SC2034 # read by the scripts that source this file
testenv_fuse_vars=()
testenv_fuse_dir=

testenv_as_user() {
  local user=$1 dir=$2 home
  shift 2
  home=$(getent passwd "$user" | cut -d: -f6)
  (cd "$dir" && runuser -u "$user" -- env -i HOME="$home" USER="$user" LOGNAME="$user" \
    PATH=/usr/sbin:/usr/bin:/sbin:/bin TMPDIR="$dir" ${STRATA_KEEP_TMP:+STRATA_KEEP_TMP=1} "$@")
}

testenv_fuse_mount() {
  local user=$1 dir=$2
  testenv_fuse_vars=()
  if [ ! -e /dev/fuse ]; then
    echo "no /dev/fuse: the FUSE refusal test will say it did not run" >&2
    return 0
  fi
  mkdir -p "$dir"
  if mount -i -t fuse -o "fd=3,rootmode=40000,user_id=$(id -u "$user"),group_id=$(id -g "$user"),nosuid,nodev" \
    strata-test-fuse "$dir" 3<>/dev/fuse; then
    testenv_fuse_dir=$dir
    testenv_fuse_vars=(STRATA_TEST_FUSE_DIR="$dir")
    echo "FUSE directory for $user: $dir"
  else
    echo "could not mount a FUSE directory on $dir" >&2
  fi
}

testenv_fuse_umount() {
  [ -n "$testenv_fuse_dir" ] || return 0
  umount -l "$testenv_fuse_dir" || echo "umount $testenv_fuse_dir failed" >&2
  rmdir "$testenv_fuse_dir" 2>/dev/null
  testenv_fuse_dir=
  # shellcheck disable=SC2034 # read by the scripts that source this file
  testenv_fuse_vars=()
}
