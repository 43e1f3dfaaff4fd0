#!/bin/bash
# What the kernel matrix needs on the host, installed idempotently: qemu, a static busybox for
# the guests' initramfs, cpio, e2fsprogs (ext4 with -O verity), and the Debian kernels
# themselves (6.1 from bookworm, 6.12 from bookworm-backports), downloaded as .debs into
# $KERNEL_CACHE (default /var/cache/composefs-kernels) and unpacked there.
set -euo pipefail
CACHE=${KERNEL_CACHE:-/var/cache/composefs-kernels}
export DEBIAN_FRONTEND=noninteractive
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
[ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx insmod && file -L /bin/busybox 2>/dev/null | grep -q static \
    || dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)
command -v cpio >/dev/null || need+=(cpio)
command -v mkfs.ext4 >/dev/null || need+=(e2fsprogs)
command -v xz >/dev/null || need+=(xz-utils)
command -v zstd >/dev/null || need+=(zstd)
command -v file >/dev/null || need+=(file)
command -v openssl >/dev/null || need+=(openssl)
backports=/etc/apt/sources.list.d/composefs-bookworm-backports.list
updated=
if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "deb http://deb.debian.org/debian bookworm-backports main" > "$backports"
    apt-get update -qq >&2
    updated=1
fi
if [ ${#need[@]} -gt 0 ]; then
    echo "kernel-matrix: installing ${need[*]}" >&2
    [ -n "$updated" ] || apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

# The newest linux-image-X-amd64 (unsigned flavour package) of a suite, e.g. 6.1 or 6.12.
image_package() { # $1 = major.minor, $2 = apt target release or ""
    apt-cache search --names-only "^linux-image-$1\.[0-9.+~a-z-]*-amd64-unsigned\$" 2>/dev/null \
        | awk '{print $1}' | grep -v -e "-dbg" -e "-rt-" -e "-cloud-" | sort -V | tail -n1
}
mkdir -p "$CACHE"
for v in 6.1 6.12; do
    [ -f "$CACHE/$v/vmlinuz" ] && continue
    pkg=$(image_package "$v")
    if [ -z "$pkg" ]; then
        [ -n "$updated" ] || { apt-get update -qq >&2; updated=1; }
        pkg=$(image_package "$v")
    fi
    [ -n "$pkg" ] || { echo "kernel-matrix: no linux-image $v package found in apt" >&2; exit 1; }
    echo "kernel-matrix: downloading $pkg" >&2
    rm -rf "$CACHE/$v.tmp" && mkdir -p "$CACHE/$v.tmp"
    (cd "$CACHE/$v.tmp" && chown _apt "$CACHE/$v.tmp" 2>/dev/null; apt-get download -qq "$pkg" >&2)
    dpkg-deb -x "$CACHE/$v.tmp"/*.deb "$CACHE/$v.tmp/root"
    cp "$CACHE/$v.tmp"/root/boot/vmlinuz-* "$CACHE/$v.tmp/vmlinuz"
    mv "$CACHE/$v.tmp/root/lib/modules"/* "$CACHE/$v.tmp/modules"
    rm -rf "$CACHE/$v.tmp/root" "$CACHE/$v.tmp"/*.deb
    rm -rf "$CACHE/$v" && mv "$CACHE/$v.tmp" "$CACHE/$v"
done

# The 2023 composefs kernel module (../shared/kernel-driver/composefs-module, a test component
# kept outside the project) built for the cached 6.1 kernel, as $CACHE/6.1/composefs.ko: the
# headers, common headers and kbuild packages of exactly that kernel's version, unpacked, and
# the module built from a scratch copy of its source. Skipped, and the row says so, when the
# source is not there.
REPO=$(dirname "$(dirname "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")")")
module_src=${COMPOSEFS_KERNEL_DRIVER:-$REPO/../shared/kernel-driver}/composefs-module
if [ ! -f "$CACHE/6.1/composefs.ko" ] && [ -f "$module_src/cfs.c" ]; then
    command -v make >/dev/null || apt-get install -y -qq --no-install-recommends make >&2
    # the kernel release the cached modules were built for, e.g. 6.1.0-57-amd64
    ko=$(find "$CACHE/6.1/modules/kernel" -name 'loop.ko*' | head -n1)
    rel=$(case $ko in *.xz) xz -dc "$ko" ;; *.zst) zstd -qdc "$ko" ;; *) cat "$ko" ;; esac \
        | tr '\0' '\n' | sed -n 's/^vermagic=\([^ ]*\).*/\1/p' | head -n1)
    ver=$(apt-cache show "linux-headers-$rel" 2>/dev/null | sed -n 's/^Version: //p' | head -n1)
    [ -n "$ver" ] || { apt-get update -qq >&2; ver=$(apt-cache show "linux-headers-$rel" | sed -n 's/^Version: //p' | head -n1); }
    [ -n "$ver" ] || { echo "kernel-matrix: no linux-headers-$rel package in apt" >&2; exit 1; }
    echo "kernel-matrix: building the composefs module for $rel (headers $ver)" >&2
    b=$CACHE/6.1-module.tmp
    rm -rf "$b" && mkdir -p "$b/debs" && chown _apt "$b/debs" 2>/dev/null || true
    (cd "$b/debs" && apt-get download -qq "linux-headers-$rel=$ver" "linux-headers-${rel%-amd64}-common=$ver" \
        "linux-kbuild-6.1=$ver" >&2)
    for d in "$b"/debs/*.deb; do dpkg-deb -x "$d" "$b/root"; done
    # the headers' Makefile includes the common headers by absolute path: point it at the unpacked copy
    sed -i "s|^include /usr/src/|include $b/root/usr/src/|" "$b/root/usr/src/linux-headers-$rel/Makefile"
    cp -r "$module_src" "$b/module" && chmod -R u+w "$b/module"
    make -s -C "$b/root/usr/src/linux-headers-$rel" M="$b/module" modules >&2
    cp "$b/module/composefs.ko" "$CACHE/6.1/composefs.ko.tmp" && mv "$CACHE/6.1/composefs.ko.tmp" "$CACHE/6.1/composefs.ko"
    rm -rf "$b"
fi
