#!/bin/bash
# Builds composefs-systemd:local (no registry): a Debian bookworm root with systemd as PID 1
# (mmdebstrap --variant=minbase, cached), plus a jlinked runtime, the project's jars,
# /cfs/composefs (runs 'composefs PROGRAM ARGS...') and /sbin/mount.composefs, which mount(8)
# calls for -t composefs. Imported with `docker import`; rebuilt when the jars change.
set -euo pipefail
REPO=$(dirname "$(dirname "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")")")
. "$REPO/it-tests/lib/build.sh"
. "$REPO/it-tests/lib/rootfs.sh"
CACHE=${KERNEL_CACHE:-/var/cache/composefs-kernels}
IMAGE=${1:-composefs-systemd:local}
ensure_built
jdk=$(find_jdk)
runtime=$(jlinked_runtime "$jdk" "$CACHE")
base=$CACHE/systemd-bookworm.tar
if [ ! -f "$base" ]; then
    if ! command -v mmdebstrap >/dev/null; then
        echo "systemd image: installing mmdebstrap" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -qq --no-install-recommends mmdebstrap >&2 \
            || { apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends mmdebstrap >&2; }
    fi
    echo "systemd image: mmdebstrap bookworm (systemd, util-linux, dbus)" >&2
    mkdir -p "$CACHE"
    # the .tar ending tells mmdebstrap to write a tarball
    mmdebstrap --quiet --variant=minbase --include=systemd,systemd-sysv,util-linux,mount,dbus bookworm \
        "${base%.tar}.tmp.tar" >&2
    mv "${base%.tar}.tmp.tar" "$base"
fi
stamp=$(cat "$base" "$REPO"/mount-helper/target/mount-helper-*.jar "$REPO"/mount-helper/target/lib/*.jar \
    "${BASH_SOURCE[0]}" | sha256sum | cut -c1-16)
if [ "$(docker image inspect -f '{{index .Config.Labels "stamp"}}' "$IMAGE" 2>/dev/null)" = "$stamp" ]; then
    exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/root/cfs/lib" "$work/root/data"
tar -C "$work/root" -xf "$base"
cp -a "$runtime" "$work/root/rt"
cp "$REPO"/mount-helper/target/mount-helper-*.jar "$work/root/cfs/mount-helper.jar"
cp "$REPO"/mount-helper/target/lib/*.jar "$work/root/cfs/lib/"
cat > "$work/root/cfs/composefs" <<'EOS'
#!/bin/sh
exec /rt/bin/java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:-UsePerfData -Xshare:auto -Xlog:disable \
    --enable-native-access=ALL-UNNAMED -jar /cfs/mount-helper.jar composefs "$@"
EOS
cat > "$work/root/sbin/mount.composefs" <<'EOS'
#!/bin/sh
exec /cfs/composefs mount.composefs "$@"
EOS
chmod +x "$work/root/cfs/composefs" "$work/root/sbin/mount.composefs"
tar -C "$work/root" --numeric-owner --xattrs -c . | docker import -c "LABEL stamp=$stamp" \
    -c 'CMD ["/lib/systemd/systemd"]' -c 'ENV container=docker' - "$IMAGE" >/dev/null
echo "built $IMAGE" >&2
