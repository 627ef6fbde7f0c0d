#!/usr/bin/env bash
# Builds the Debian package with `cargo deb` (cargo-deb: `cargo install
# --locked cargo-deb`, which scripts/test.sh does when it is missing). What goes
# in is `[package.metadata.deb]` in switch/Cargo.toml: the switch and agent
# binaries (stripped, as Debian ships them: the release profile keeps debug = 1),
# switch.service, /etc/switch/switch.toml (a conffile), switch(8), and the
# maintainer scripts in scripts/package/debian/.
# Usage: scripts/package/deb.sh [cargo deb options]
#   default: a release build of both binaries, the .deb in target/debian/
#   e.g. --output DIR, or --profile dev --no-build --fast (the test: its debug binaries)
# Prints the path of the .deb on stdout (the last line).
set -euo pipefail
cd "$(dirname "$0")/../.."
exec cargo deb -p switch --locked --strip "$@"
