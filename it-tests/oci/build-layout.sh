#!/bin/bash
# Builds OCI image layouts for the OCI import tests with umoci (and GNU tar for the one layer
# umoci would never write: whiteouts before and after entries of their own layer, an opaque
# marker, PAX long names, binary xattrs). Run as root (devices, ownership, trusted.* xattrs).
#
#   build-layout.sh LAYOUT    -> LAYOUT:base (3 layers), LAYOUT:app (base + 1 layer, sharing base's)
set -euo pipefail
L=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

umoci init --layout "$L"
umoci new --image "$L:base"

# layer 1: every inode type, hardlinks, xattrs, odd names, owners, modes, a large file
umoci unpack --image "$L:base" "$work/b1" >/dev/null
R=$work/b1/rootfs
mkdir -p "$R/etc" "$R/usr/bin" "$R/usr/lib" "$R/opq/sub" "$R/del" "$R/srv/data"
echo hello > "$R/etc/small"
head -c 300000 /dev/urandom > "$R/usr/bin/big"
cp "$R/usr/bin/big" "$R/usr/bin/big-copy"
ln "$R/usr/bin/big" "$R/usr/bin/big-link"
ln "$R/usr/bin/big" "$R/usr/lib/big-link2"
head -c 2000000 /dev/urandom > "$R/usr/lib/large.so"
ln -s ../usr/bin/big "$R/etc/sym"
ln -s /nonexistent/dangling "$R/etc/dangling"
mknod "$R/etc/cdev" c 1 3
mknod "$R/etc/bdev" b 7 0
mkfifo "$R/etc/fifo"
setfattr -n user.test -v abc "$R/etc/small"
setfattr -n trusted.bin -v 0x80ff00fe "$R/usr/bin/big-copy"
setfattr -n user.dir -v 0x01 "$R/usr"
head -c 5000 /dev/urandom > "$R/opq/sub/f"
echo lower > "$R/opq/lower"
echo gone > "$R/del/gone"
echo stays-here-because-the-whiteout-is-for-another-name-in-the-dir-ok > "$R/del/keep"
printf 'caf\xe9' > "$R/$(printf 'name-\xff\xe9')"
chown 1234:5678 "$R/srv/data"
chmod 2750 "$R/srv/data"
echo owned > "$R/srv/data/file"
chown 65534:65534 "$R/srv/data/file"
chmod 4711 "$R/usr/bin/big"
long=$(printf 'd%.0s' {1..120})
mkdir -p "$R/$long/$long"
echo deep > "$R/$long/$long/$(printf 'f%.0s' {1..200})"
touch -h -d '2001-02-03 04:05:06.123456789' "$R/etc/sym" "$R/etc/small"
ln -s usr/lib "$R/lib"                  # merged-/usr style: layer 3 puts members below these
ln -s ../lib/../lib/./ "$R/etc/liblink"      # lib/.. is usr: the kernel resolves lib first
echo "removed by a whiteout below a symlink" > "$R/usr/lib/doomed"
umoci repack --image "$L:base" "$work/b1" >/dev/null

# layer 2 (umoci's own diff): a removed file, a replaced directory, changed content and mode
umoci unpack --image "$L:base" "$work/b2" >/dev/null
R=$work/b2/rootfs
rm "$R/del/gone"
rm -rf "$R/opq/sub"
mkdir "$R/opq/sub"
echo new > "$R/opq/sub/g"
echo changed-content-that-is-longer-than-sixty-four-bytes-for-sure-yes-indeed > "$R/etc/small"
chmod 0700 "$R/usr/lib/large.so"
umoci repack --image "$L:base" "$work/b2" >/dev/null

# layer 3, written by GNU tar: whiteouts before and after this layer's own entries of the same
# name (they act on lower layers only), an opaque directory whose marker comes last, a hardlink
# to a lower layer's file, a directory replacing a file.
T=$work/t3
mkdir -p "$T/opq" "$T/etc" "$T/del" "$T/usr/bin" "$T/lib" "$T/etc/liblink"
echo "written below the lower layer's lib -> usr/lib" > "$T/lib/from-layer3"
echo "written below a chain of symlinks with .. in it" > "$T/etc/liblink/via-chain"
touch "$T/lib/.wh.doomed"
echo "layer three" > "$T/opq/new"
touch "$T/opq/.wh..wh..opq"
echo "recreated after its whiteout" > "$T/etc/fifo"
touch "$T/etc/.wh.fifo"
touch "$T/del/.wh.keep"
echo "recreated before its whiteout" > "$T/del/keep"
touch "$T/etc/.wh.dangling"
mkdir -p "$T/etc/sym"
echo "a directory where a symlink was" > "$T/etc/sym/inside"
(cd "$T" && tar --numeric-owner --owner=0 --group=0 --xattrs --format=pax --no-recursion -cf "$work/layer3.tar" \
    opq opq/new opq/.wh..wh..opq etc etc/.wh.fifo etc/fifo del del/keep del/.wh.keep etc/.wh.dangling \
    etc/sym etc/sym/inside lib/from-layer3 lib/.wh.doomed etc/liblink/via-chain)
# a hardlink to a file of a lower layer: GNU tar cannot write one without the file, so append
# its header by hand with tar's --transform trick: archive a same-named link pair, keep the link.
mkdir -p "$work/hl/usr/bin"
echo x > "$work/hl/usr/bin/big"
ln "$work/hl/usr/bin/big" "$work/hl/usr/bin/big-link3"
(cd "$work/hl" && tar --numeric-owner --owner=0 --group=0 --format=pax -cf "$work/hl.tar" usr/bin/big usr/bin/big-link3)
tar --delete -f "$work/hl.tar" usr/bin/big
tar -Af "$work/layer3.tar" "$work/hl.tar"
# a hardlink to a file of this layer that the layer then replaces (tar -r appends the new x):
# extracted in order, y keeps the first x
mkdir -p "$work/rl/relink"
echo "the first version of x, long enough to be an object in the store, 1" > "$work/rl/relink/x"
ln "$work/rl/relink/x" "$work/rl/relink/y"
(cd "$work/rl" && tar --numeric-owner --owner=0 --group=0 --format=pax --no-recursion -cf "$work/rl.tar" \
    relink relink/x relink/y)
rm "$work/rl/relink/x"
echo "the second version of x, long enough to be an object in the store, 2" > "$work/rl/relink/x"
(cd "$work/rl" && tar --numeric-owner --owner=0 --group=0 --format=pax -rf "$work/rl.tar" relink/x)
tar -Af "$work/layer3.tar" "$work/rl.tar"
umoci raw add-layer --image "$L:base" "$work/layer3.tar"

# app: base plus one layer, so the two images share every blob of base
umoci tag --image "$L:base" app
umoci unpack --image "$L:app" "$work/b4" >/dev/null
R=$work/b4/rootfs
mkdir -p "$R/app"
head -c 400000 /dev/urandom > "$R/app/server"
cp "$R/usr/lib/large.so" "$R/app/bundled.so"
umoci repack --image "$L:app" "$work/b4" >/dev/null
