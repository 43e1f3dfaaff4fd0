#!/bin/bash
# Builds the local test image composefs-it:local (no registry): the same minimal root as the
# kernel matrix guests (busybox, a jlinked runtime, the project's jars, the scenarios) plus the
# test tree at /tree, imported with `docker import`. Rebuilt when the jars or scripts change.
set -euo pipefail
REPO=$(dirname "$(dirname "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")")")
. "$REPO/it-tests/lib/build.sh"
. "$REPO/it-tests/lib/rootfs.sh"
CACHE=${KERNEL_CACHE:-/var/cache/composefs-kernels}
IMAGE=${1:-composefs-it:local}
ensure_built
jdk=$(find_jdk)
runtime=$(jlinked_runtime "$jdk" "$CACHE")
stamp=$(cat "$REPO"/mount-helper/target/mount-helper-*.jar "$REPO"/mount-helper/target/lib/*.jar \
    "$REPO/it-tests/kernel/scenarios.sh" "$REPO/it-tests/lib/rootfs.sh" | sha256sum | cut -c1-16)
if [ "$(docker image inspect -f '{{index .Config.Labels "stamp"}}' "$IMAGE" 2>/dev/null)" = "$stamp" ]; then
    exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
populate_rootfs "$work/root" "$runtime"
make_tree "$work/root/tree"
ln -s busybox "$work/root/bin/sh"
tar -C "$work/root" --numeric-owner --xattrs -c . | docker import \
    -c 'CMD ["/bin/sh", "-c", "/bin/busybox --install -s /bin && cp -a /tree /data/src && CFS=/cfs/composefs DATA=/data WORK=/tmp sh /scenarios.sh"]' \
    -c "LABEL stamp=$stamp" -c 'ENV PATH=/bin' - "$IMAGE" >/dev/null
echo "built $IMAGE" >&2
