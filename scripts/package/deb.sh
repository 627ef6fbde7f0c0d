#!/usr/bin/env bash
# Builds the Debian package of the switch with dpkg-deb (no cargo-deb: it is
# one more tool to install, and this is all it would do): the binary, the
# systemd unit, the default config as a conffile, the man page.
# Usage: scripts/package/deb.sh [--binary PATH] [--out DIR]
#   --binary  package this switch binary (the tests pass their debug build);
#             default: `cargo build --release -p switch` and target/release/switch
#   --out     where the .deb goes (default: target/package)
# Prints the path of the .deb on stdout.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
binary=""
out="$repo/target/package"
while (($#)); do
    case "$1" in
        --binary) binary="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        *) echo "deb.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
if [ -z "$binary" ]; then
    (cd "$repo" && cargo build --release -p switch --locked -q)
    binary="$repo/target/release/switch"
fi
[ -x "$binary" ] || { echo "deb.sh: $binary is not an executable" >&2; exit 1; }

# The version is the workspace's; the binary must agree (a stale --binary would lie).
version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml" | head -n1)"
[ "$("$binary" --version)" = "switch $version" ] || { echo "deb.sh: $binary is not switch $version" >&2; exit 1; }
arch="$(dpkg --print-architecture)"
package=roamswitch

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
root="$stage/$package"
install -d "$root/DEBIAN" "$root/usr/bin" "$root/lib/systemd/system" "$root/etc/switch" \
    "$root/usr/share/man/man8" "$root/usr/share/doc/$package"
# Stripped, as Debian ships binaries (what dh_strip does for debhelper packages).
install -m 0755 -s "$binary" "$root/usr/bin/switch"
install -m 0644 "$here/switch.service" "$root/lib/systemd/system/switch.service"
install -m 0644 "$here/switch.toml" "$root/etc/switch/switch.toml"
gzip -9n <"$here/switch.8" >"$root/usr/share/man/man8/switch.8.gz"
printf 'roamswitch\nLicense: Apache-2.0 (/usr/share/common-licenses/Apache-2.0)\n' >"$root/usr/share/doc/$package/copyright"
install -m 0644 "$here/debian/conffiles" "$root/DEBIAN/conffiles"
install -m 0755 "$here/debian/postinst" "$here/debian/prerm" "$here/debian/postrm" "$root/DEBIAN/"
size="$(du -sk --exclude=DEBIAN "$root" | cut -f1)"
cat >"$root/DEBIAN/control" <<CONTROL
Package: $package
Version: $version
Architecture: $arch
Maintainer: roamswitch developers <roamswitch@localhost>
Installed-Size: $size
Depends: libc6 (>= 2.34), libgcc-s1, adduser
Section: net
Priority: optional
Description: SIP switch for phones behind NATs and firewalls they do not control
 Registrar, B2BUA and RTP relay in one binary (switch), with a systemd unit
 (switch.service, enabled but not started: set the domain in
 /etc/switch/switch.toml first), Prometheus metrics and HEP v3 tracing.
CONTROL
mkdir -p "$out"
deb="$out/${package}_${version}_${arch}.deb"
dpkg-deb --root-owner-group --build "$root" "$deb" >/dev/null
echo "$deb"
