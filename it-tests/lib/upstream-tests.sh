#!/bin/bash
# upstream-tests.sh DIR: upstream composefs 1.0.8's tests/ directory (its test scripts, gendir,
# dumpdir) from Debian's source package, unpacked into DIR/tests. The tarball is checked
# against the sha256 that Debian's Sources index publishes for it, and kept in DIR for the
# next run.
set -euo pipefail
dir=$1
url=http://deb.debian.org/debian/pool/main/c/composefs/composefs_1.0.8.orig.tar.gz
sha256=2b2b11f9a25744c82e9e12b098eefd0ab42d56ae6322634c15f966b3a64926ef
mkdir -p "$dir"
tarball=$dir/composefs_1.0.8.orig.tar.gz
if ! echo "$sha256  $tarball" | sha256sum -c --status 2>/dev/null; then
    curl -sSf --retry 3 -o "$tarball.part" "$url"
    echo "$sha256  $tarball.part" | sha256sum -c --status || { echo "$url: not the tarball Debian publishes" >&2; exit 1; }
    mv "$tarball.part" "$tarball"
fi
rm -rf "$dir/tests"
tar -xzf "$tarball" -C "$dir" --strip-components=1 composefs-1.0.8/tests
