#!/bin/bash
# podman 5 (Debian 13) with containers-storage's composefs backend and this project's package as
# its mkcomposefs, in a root file system made for the test: see flow.sh for the checks.
#   podman-test.sh REPO WORK REGISTRY      (as root; REGISTRY: host:port on 127.0.0.1; WORK is removed on exit)
set -euo pipefail
REPO=$1 WORK=$2 REGISTRY=$3
deb=$(ls "$REPO"/packaging/target/composefs-java_*_amd64.deb)
root=$WORK/root
cleanup() {
    # anything podman left running in the root (conmon, a container) goes with it
    local p
    for p in /proc/[0-9]*; do
        [ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] && kill -9 "${p#/proc/}" 2>/dev/null || true
    done
    rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK"

echo "== a trixie root with podman, upstream's composefs and this package"
"$REPO/it-tests/lib/trixie-root.sh" "$root" --podman --package "$deb"
echo "== a Debian 13 minbase tree for the second image"
mmdebstrap --quiet --variant=minbase trixie "$WORK/minbase" >"$WORK/minbase.log" 2>&1 \
    || { tail -20 "$WORK/minbase.log"; echo "FAIL: mmdebstrap minbase"; exit 1; }
# ./ first (see flow.sh)
tar -C "$WORK/minbase" --numeric-owner -cf "$root/srv/minbase.tar" .
rm -rf --one-file-system "$WORK/minbase"
# a static busybox for the small image (bin/lib/install-deps.sh installs busybox-static)
ldd /bin/busybox >/dev/null 2>&1 && { echo "FAIL: /bin/busybox is not static"; exit 1; }
cp /bin/busybox "$root/srv/busybox"
cp "$REPO/it-tests/podman/flow.sh" "$root/srv/flow.sh"
echo "== podman"
"$REPO/it-tests/podman/enter.sh" "$root" /srv/flow.sh "$REGISTRY"
