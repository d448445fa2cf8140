#!/usr/bin/env bash
# Builds a Debian bookworm minbase image with Python and npm layers and measures the
# scanner against plain decompression. Needs root and the `debootstrap` package.
#   bash crates/portcullis-scan/benches/debian.sh [WORKDIR]
set -euo pipefail
work=${1:-/tmp/portcullis-scan-bench}
here=$(cd "$(dirname "$0")/../../.." && pwd)
mkdir -p "$work"
if [ ! -d "$work/rootfs/var/lib/dpkg" ]; then
  debootstrap --variant=minbase bookworm "$work/rootfs" http://deb.debian.org/debian
fi
tar --numeric-owner -C "$work/rootfs" -cf "$work/base.tar" .
rm -rf "$work/layout" && mkdir -p "$work/layout"
cd "$here"
cargo run --release -q -p portcullis-scan --example bench -- make "$work/base.tar" "$work/layout"
cargo run --release -q -p portcullis-scan --example bench -- run "$work/layout" 5
# With the OSV bundle, also time the full scan including matching (warm database).
if [ -n "${OSV_DIR:-}" ]; then
  cargo run --release -q -p portcullis-scan --example bench -- import "$work/data" "$OSV_DIR"/*.zip
  cargo run --release -q -p portcullis-scan --example bench -- run "$work/layout" 5 "$work/data"
fi
