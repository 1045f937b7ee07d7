#!/bin/bash
# Builds strata_VERSION_ARCH.deb (`make deb`): stages the package's tree under
# target/deb/stage from the release binaries, generated man pages and completions, and
# the files in packaging/ and systemd/, then `dpkg-deb --build --root-owner-group`.
# See packaging/README.md for why a staged tree rather than debhelper or cargo-deb.
#
#   packaging/build-deb.sh [--profile release|dev]   (default release)
#
# Prints the path of the .deb on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${HOME:-/root}/.cargo/bin:$PATH"

profile=release
if [ "${1:-}" = --profile ]; then profile=${2:?--profile needs a value}; fi
case $profile in
  release) bin_dir=release ;;
  dev) bin_dir=debug ;;
  *) echo "build-deb.sh: unknown profile $profile (release or dev)" >&2; exit 2 ;;
esac

for tool in dpkg-deb dpkg-architecture dpkg-shlibdeps strip gzip; do
  command -v "$tool" >/dev/null || { echo "build-deb.sh: $tool is missing (apt-get install dpkg-dev binutils)" >&2; exit 1; }
done

cargo build --profile "$profile" -p strata -p strata-helper --bins >&2
target=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
bins="$target/$bin_dir"
version=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json,sys; print([p for p in json.load(sys.stdin)["packages"] if p["name"]=="strata"][0]["version"])')
arch=$(dpkg-architecture -qDEB_HOST_ARCH)

out="$target/deb"
stage="$out/stage"
rm -rf "$stage"
mkdir -p "$stage/DEBIAN"
umask 022

# Binaries, stripped: strata on PATH, the helper not.
install -D -m 0755 "$bins/strata" "$stage/usr/bin/strata"
install -D -m 0755 "$bins/strata-helper" "$stage/usr/libexec/strata/strata-helper"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$stage/usr/bin/strata" "$stage/usr/libexec/strata/strata-helper"

# Units, sysusers, tmpfiles.
for u in strata-helper.socket strata-helper.service strata-prune.service strata-prune.timer; do
  install -D -m 0644 "systemd/$u" "$stage/lib/systemd/system/$u"
done
install -D -m 0644 systemd/strata-helper.sysusers.conf "$stage/usr/lib/sysusers.d/strata-helper.conf"
install -D -m 0644 packaging/strata.tmpfiles "$stage/usr/lib/tmpfiles.d/strata.conf"

# Root's store: created empty, only root may look inside.
install -d -m 0700 "$stage/var/lib/strata"

# Man pages and completions, from the same clap definitions strata parses with.
gen="$out/gen"
rm -rf "$gen"
"$bins/strata-docgen" man "$gen/man" >&2
"$bins/strata-docgen" completions "$gen/completions" >&2
for page in "$gen"/man/*.1; do
  install -D -m 0644 "$page" "$stage/usr/share/man/man1/$(basename "$page")"
done
install -D -m 0644 "$gen/man/strata-config.toml.5" "$stage/usr/share/man/man5/strata-config.toml.5"
gzip -9n "$stage"/usr/share/man/man*/*
install -D -m 0644 "$gen/completions/strata.bash" "$stage/usr/share/bash-completion/completions/strata"
install -D -m 0644 "$gen/completions/_strata" "$stage/usr/share/zsh/vendor-completions/_strata"
install -D -m 0644 "$gen/completions/strata.fish" "$stage/usr/share/fish/vendor_completions.d/strata.fish"

# Documentation.
doc="$stage/usr/share/doc/strata"
install -D -m 0644 README.md "$doc/README.md"
install -D -m 0644 privhelper/README.md "$doc/strata-helper/README.md"
install -D -m 0644 docs/architecture.md "$doc/architecture.md"
install -D -m 0644 packaging/config.toml.example "$doc/examples/config.toml"
install -D -m 0644 packaging/copyright "$doc/copyright"
gzip -9n -c packaging/changelog >"$doc/changelog.gz"
chmod 0644 "$doc/changelog.gz"
install -D -m 0644 packaging/lintian-overrides "$stage/usr/share/lintian/overrides/strata"

# Control: the shared libraries the binaries need (dpkg-shlibdeps, which wants a
# debian/control to sit next to), their size, maintainer scripts.
shl="$out/shlibdeps"
mkdir -p "$shl/debian"
printf 'Source: strata\n\nPackage: strata\nArchitecture: any\n' >"$shl/debian/control"
depends=$(cd "$shl" && dpkg-shlibdeps -O "$stage/usr/bin/strata" "$stage/usr/libexec/strata/strata-helper" |
  sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "build-deb.sh: dpkg-shlibdeps found no dependencies" >&2; exit 1; }
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
  -e "s/@DEPENDS@/$depends/" packaging/debian/control.in >"$stage/DEBIAN/control"
for s in postinst prerm postrm; do
  install -m 0755 "packaging/debian/$s" "$stage/DEBIAN/$s"
done
(cd "$stage" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z | xargs -0 md5sum) >"$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/md5sums"

deb="$out/strata_${version}_${arch}.deb"
rm -f "$deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >&2
echo "$deb"
