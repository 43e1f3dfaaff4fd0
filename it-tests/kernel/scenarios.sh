#!/bin/sh
# The orchestrator's integration scenarios, run on one kernel: inside a qemu guest (busybox sh,
# from the initramfs /init) or on the host. POSIX sh only. Prints one line per scenario:
#   @@RESULT|SCENARIO|PASS or FAIL or SKIP|reason
# Environment: CFS (command running 'composefs PROGRAM ARGS...'), DATA (a writable directory on
# the filesystem under test, holding src/, the tree to image), WORK (scratch, tmpfs is fine).
set -u
: "${CFS:?}" "${DATA:?}" "${WORK:?}"
src=$DATA/src
store=$DATA/store
img=$DATA/image.cfs
mnt=$WORK/mnt
mkdir -p "$mnt"

result() {
    echo "@@RESULT|$1|$2|$3"
    if [ "$2" = FAIL ]; then # the helper's words and the kernel's, for the log
        [ -f "$WORK/out" ] && sed "s/^/@@LOG $1: /" "$WORK/out"
        dmesg 2>/dev/null | tail -n 5 | sed "s/^/@@LOG $1: dmesg: /"
    fi
}

# Mount table and loop devices, to prove that every scenario leaves nothing behind.
state() { cut -d' ' -f5 /proc/self/mountinfo; for l in /sys/block/loop*/loop/backing_file; do [ -f "$l" ] && cat "$l"; done; }

listing() { # one line per entry: name, type+mode, owner, size (not for directories), mtime, link target
    (cd "$1" && find . | sort | while IFS= read -r p; do
        if [ -d "$p" ] && [ ! -L "$p" ]; then stat -c '%n %f %u %g %Y' "$p"; else stat -c '%n %f %u %g %s %Y' "$p"; fi
        if [ -L "$p" ]; then echo "  -> $(readlink "$p")"; fi
    done)
}
same_tree() { [ "$(listing "$1")" = "$(listing "$2")" ] && diff -r "$1" "$2" >/dev/null 2>&1; }
first_line() { sed -n 's/^mount.composefs: //; s/; nothing was mounted$//p' "$1" | tail -n1; }

helper() { $CFS mount.composefs "$@" > "$WORK/out" 2>&1; }
strategy() { sed -n 's/.* via //p' "$WORK/out" | tail -n1; }

# scenario NAME FUNCTION: runs it, then checks that the mount table and loop devices are as before.
scenario() {
    before=$(state)
    "$2"
    umount "$mnt" 2>/dev/null
    i=0
    while [ "$(state)" != "$before" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    if [ "$(state)" != "$before" ]; then
        result "$1-cleanup" FAIL "left behind: $(echo "$before" > "$WORK/before"; state | grep -vxF -f "$WORK/before" | tr '\n' ' ')"
    fi
}

build() {
    if $CFS mkcomposefs --digest-store="$store" --print-digest "$src" "$img" > "$WORK/digest" 2> "$WORK/build.err"; then
        DIGEST=$(cat "$WORK/digest")
        sealed="objects fs-verity sealed"
        grep -q "does not support fs-verity" "$WORK/build.err" && sealed="store has no fs-verity: objects not sealed"
        result build PASS "$(find "$store" -type f | wc -l) objects, $sealed"
    else
        result build FAIL "$(head -n1 "$WORK/build.err")"
        exit 1
    fi
}

plain() {
    if helper -v "$img" "$mnt" -o basedir="$store"; then
        STRATEGY=$(strategy)
        if same_tree "$src" "$mnt"; then result plain PASS "$STRATEGY"; else result plain FAIL "mounted tree differs ($STRATEGY)"; fi
    else
        result plain FAIL "$(first_line "$WORK/out")"
    fi
}

fallback() { # the pre-data-only-layer path: only taken where the kernel needs it
    case $STRATEGY in
        *"stores as lower layers"*) result pre-6.5-fallback PASS "$STRATEGY: same tree as the source" ;;
        "") result pre-6.5-fallback FAIL "plain mount failed" ;;
        *) result pre-6.5-fallback SKIP "kernel has data-only layers (took: $STRATEGY)" ;;
    esac
}

digest_good() {
    if helper "$img" "$mnt" -o basedir="$store",digest="$DIGEST"; then
        if same_tree "$src" "$mnt"; then result digest-good PASS "digest= with verity enforced"; else result digest-good FAIL "tree differs"; fi
    elif grep -q "verity requested but" "$WORK/out"; then
        why=$(first_line "$WORK/out")
        umount "$mnt" 2>/dev/null
        if helper "$img" "$mnt" -o basedir="$store",digest="$DIGEST",tryverity && same_tree "$src" "$mnt"; then
            result digest-good PASS "image digest checked (tryverity: objects unverified: ${why#verity requested but })"
        else
            result digest-good FAIL "$(first_line "$WORK/out")"
        fi
    else
        result digest-good FAIL "$(first_line "$WORK/out")"
    fi
}

digest_bad() {
    bad=$(echo "$DIGEST" | sed 's/^./0/'); [ "$bad" = "$DIGEST" ] && bad=$(echo "$DIGEST" | sed 's/^./1/')
    helper "$img" "$mnt" -o basedir="$store",digest="$bad"
    rc=$?
    if [ $rc = 32 ] && grep -q "wrong fs-verity digest" "$WORK/out" && ! grep -q " $mnt " /proc/self/mountinfo; then
        result digest-bad PASS "refused, exit 32"
    else
        result digest-bad FAIL "exit $rc: $(first_line "$WORK/out")"
    fi
}

VERITY=no
STRATEGY=
verity() {
    if helper "$img" "$mnt" -o basedir="$store",verity; then
        if same_tree "$src" "$mnt"; then VERITY=yes; result verity PASS "verity=require on every object"; else result verity FAIL "tree differs"; fi
    elif [ $? = 32 ] && grep -q "verity requested but" "$WORK/out"; then
        result verity SKIP "refused as it must be: $(first_line "$WORK/out" | sed 's/verity requested but //; s/; nothing was mounted//')"
    else
        result verity FAIL "$(first_line "$WORK/out")"
    fi
}

# tampered_copy SRC STORE COPY: COPY is STORE (hardlinked: the objects keep their fs-verity) with
# the object of SRC/zz-tamper-content holding other content, and the one of zz-tamper-noverity
# the right content without fs-verity
tampered_copy() {
    rm -rf "$3"; cp -al "$2" "$3"
    obj() { d=$($CFS composefs-info measure-file "$1/$2"); echo "$3/$(echo "$d" | cut -c1-2)/$(echo "$d" | cut -c3-)"; }
    changed=$(obj "$1" zz-tamper-content "$3")
    unsealed=$(obj "$1" zz-tamper-noverity "$3")
    rm -f "$changed" "$unsealed"
    { cat "$1/zz-tamper-content"; echo tampered; } > "$changed"
    cat "$1/zz-tamper-noverity" > "$unsealed"
}

tamper() { # an object with other content, and one with the right content but no fs-verity: EIO under verity
    if [ $VERITY != yes ]; then result verity-tamper SKIP "no fs-verity enforcement on this kernel/store"; return; fi
    t=$DATA/store-tampered
    tampered_copy "$src" "$store" "$t"
    if ! helper "$img" "$mnt" -o basedir="$t",verity; then
        result verity-tamper FAIL "mount refused: $(first_line "$WORK/out")"; return
    fi
    e1=$(cat "$mnt/zz-tamper-content" 2>&1 >/dev/null)
    e2=$(cat "$mnt/zz-tamper-noverity" 2>&1 >/dev/null)
    if echo "$e1" | grep -q "I/O error\|Input/output error" && echo "$e2" | grep -q "I/O error\|Input/output error" && cmp -s "$src/big/file1" "$mnt/big/file1"; then
        result verity-tamper PASS "EIO for changed content and for a missing fs-verity; other files read"
    else
        result verity-tamper FAIL "changed: '${e1:-read fine}', unsealed: '${e2:-read fine}'"
    fi
}

# composefs-fuse: the same tree as the source; under verity a changed object gives EIO (measured
# by the kernel where the store has fs-verity), and an unsealed one with the right content is
# computed and served
fuse_plain() {
    if [ ! -c /dev/fuse ]; then result fuse SKIP "no /dev/fuse on this kernel"; return; fi
    if ! $CFS composefs-fuse -o source="$img",basedir="$store" "$mnt" > "$WORK/out" 2>&1; then
        result fuse FAIL "$(tail -n1 "$WORK/out")"; return
    fi
    if same_tree "$src" "$mnt"; then result fuse PASS "composefs-fuse shows the source tree"; else result fuse FAIL "mounted tree differs"; fi
}

fuse_tamper() {
    if [ ! -c /dev/fuse ]; then result fuse-verity-tamper SKIP "no /dev/fuse on this kernel"; return; fi
    t=$DATA/store-tampered-fuse
    tampered_copy "$src" "$store" "$t"
    if ! $CFS composefs-fuse -o source="$img",basedir="$t",verity "$mnt" > "$WORK/out" 2>&1; then
        result fuse-verity-tamper FAIL "$(tail -n1 "$WORK/out")"; return
    fi
    e1=$(cat "$mnt/zz-tamper-content" 2>&1 >/dev/null)
    if echo "$e1" | grep -q "I/O error\|Input/output error" && cmp -s "$src/zz-tamper-noverity" "$mnt/zz-tamper-noverity" \
            && cmp -s "$src/big/file1" "$mnt/big/file1"; then
        how="sealed objects measured by FS_IOC_MEASURE_VERITY"
        [ "$sealed" = "objects fs-verity sealed" ] || how="no fs-verity in this store: digests computed"
        result fuse-verity-tamper PASS "EIO for changed content, an unsealed object checked by its content, other files read ($how)"
    else
        result fuse-verity-tamper FAIL "changed: '${e1:-read fine}'"
    fi
}

idmap() {
    if helper "$img" "$mnt" -o basedir="$store",uidmap=0:100000:65536; then
        u=$(stat -c %u "$mnt/small"); g=$(stat -c %g "$mnt/owned")
        if [ "$u" = 100000 ] && [ "$g" = $((100000 + $(stat -c %g "$src/owned"))) ] && cmp -s "$src/big/file1" "$mnt/big/file1"; then
            result idmap PASS "uid 0 -> 100000, gid shifted alike"
        else
            result idmap FAIL "owners $u/$g under uidmap=0:100000:65536"
        fi
    else
        result idmap FAIL "$(first_line "$WORK/out")"
    fi
}

upper() {
    rw=$WORK/rw; rm -rf "$rw"; mkdir -p "$rw"
    mount -t tmpfs tmpfs "$rw" && mkdir "$rw/upper" "$rw/work"
    src_listing=$(listing "$src")
    if helper "$img" "$mnt" -o basedir="$store",upperdir="$rw/upper",workdir="$rw/work"; then
        echo written > "$mnt/new-file" && echo changed > "$mnt/small"
        if [ "$(cat "$rw/upper/new-file" 2>/dev/null)" = written ] && [ "$(cat "$rw/upper/small" 2>/dev/null)" = changed ] \
            && [ "$(listing "$src")" = "$src_listing" ]; then
            result upperdir PASS "writes in upperdir only"
        else
            result upperdir FAIL "writes did not land in upperdir"
        fi
    else
        result upperdir FAIL "$(first_line "$WORK/out")"
    fi
    umount "$mnt" 2>/dev/null
    umount "$rw"
}

# ---- the kernel composefs driver (the 2023 module, loaded in the 6.1+composefs guest) ----
# A root-owned copy of the tree: the module shows every file as owned by the mounter, so the
# orchestrator uses it only for such images (the mixed-owner tree above falls back, saying why).
droot=$DATA/src-root
dstore=$DATA/store-root
dimg=$DATA/image-root.cfs
fstype_of() { awk -v m="$1" '$5 == m { for (i = 7; i <= NF; i++) if ($i == "-") { print $(i + 1); exit } }' /proc/self/mountinfo; }
via_driver() { case $(strategy) in *"composefs kernel driver"*) return 0 ;; *) return 1 ;; esac; }
why_not() { grep -o 'but [^;]*; using overlayfs\|driver refused the mount ([^)]*)' "$WORK/out" | head -n1; }

driver_build() {
    rm -rf "$droot" "$dstore"
    cp -a "$src" "$droot" && chown -R 0:0 "$droot"
    if $CFS mkcomposefs --digest-store="$dstore" --print-digest "$droot" "$dimg" > "$WORK/ddigest" 2> "$WORK/out"; then
        DDIGEST=$(cat "$WORK/ddigest")
        result driver-build PASS "root-owned tree with inline files, $(find "$dstore" -type f | wc -l) objects"
    else
        result driver-build FAIL "$(head -n1 "$WORK/out")"
        return 1
    fi
}

d_plain() {
    if ! helper -v "$dimg" "$mnt" -o basedir="$dstore"; then result driver-plain FAIL "$(first_line "$WORK/out")"; return; fi
    if ! via_driver; then result driver-plain FAIL "took $(strategy): $(why_not)"; return; fi
    fs=$(fstype_of "$mnt")
    if [ "$fs" != composefs ]; then result driver-plain FAIL "mountinfo shows fstype $fs"; return; fi
    if same_tree "$droot" "$mnt"; then
        result driver-plain PASS "$(strategy), fstype composefs, inline files read through objects"
    else
        result driver-plain FAIL "mounted tree differs from the source"
    fi
}

d_cache() {
    if helper -v "$dimg" "$mnt" -o basedir="$dstore" && via_driver && grep -q "(cached, reused)" "$WORK/out" \
        && [ "$(ls "$dstore/descriptors" | wc -l)" = 1 ]; then
        result driver-cache PASS "second mount reused $dstore/descriptors/$(ls "$dstore/descriptors" | cut -c1-12)..."
    else
        result driver-cache FAIL "$(grep -o 'descriptor [^,]*' "$WORK/out" | head -n1)"
    fi
}

d_digest_good() {
    if helper -v "$dimg" "$mnt" -o basedir="$dstore",digest="$DDIGEST" && via_driver && same_tree "$droot" "$mnt"; then
        if grep -q "passed: the kernel checks the descriptor" "$WORK/out"; then
            result driver-digest-good PASS "image digest checked, descriptor digest= enforced by the kernel"
        else
            result driver-digest-good PASS "image digest checked in userspace (descriptor file without fs-verity)"
        fi
    else
        result driver-digest-good FAIL "$(first_line "$WORK/out") $(why_not)"
    fi
}

d_digest_bad() {
    bad=$(echo "$DDIGEST" | sed 's/^./0/'); [ "$bad" = "$DDIGEST" ] && bad=$(echo "$DDIGEST" | sed 's/^./1/')
    helper "$dimg" "$mnt" -o basedir="$dstore",digest="$bad"
    rc=$?
    if [ $rc = 32 ] && grep -q "wrong fs-verity digest" "$WORK/out" && [ -z "$(fstype_of "$mnt")" ]; then
        result driver-digest-bad PASS "refused, exit 32"
    else
        result driver-digest-bad FAIL "exit $rc: $(first_line "$WORK/out")"
    fi
}

DVERITY=no
d_verity() {
    if helper -v "$dimg" "$mnt" -o basedir="$dstore",verity; then
        if via_driver && grep -q "verity_check=2" "$WORK/out" && same_tree "$droot" "$mnt"; then
            DVERITY=yes; result driver-verity PASS "verity_check=2, every object sealed (inline ones too)"
        else
            result driver-verity FAIL "took $(strategy): $(why_not)"
        fi
    elif grep -q "verity requested but" "$WORK/out"; then
        result driver-verity SKIP "refused as it must be: $(first_line "$WORK/out" | sed 's/verity requested but //')"
    else
        result driver-verity FAIL "$(first_line "$WORK/out")"
    fi
}

d_tamper() {
    if [ $DVERITY != yes ]; then result driver-tamper SKIP "no fs-verity enforcement through the driver here"; return; fi
    t=$DATA/store-root-tampered
    tampered_copy "$droot" "$dstore" "$t"
    if ! helper -v "$dimg" "$mnt" -o basedir="$t",verity || ! via_driver; then
        result driver-tamper FAIL "not mounted through the driver: $(first_line "$WORK/out") $(why_not)"; return
    fi
    e1=$(cat "$mnt/zz-tamper-content" 2>&1 >/dev/null)
    e2=$(cat "$mnt/zz-tamper-noverity" 2>&1 >/dev/null)
    if echo "$e1" | grep -q "I/O error\|Input/output error" && echo "$e2" | grep -q "I/O error\|Input/output error" \
        && cmp -s "$droot/big/file1" "$mnt/big/file1"; then
        result driver-tamper PASS "EIO for changed content and for a missing fs-verity; other files read"
    else
        result driver-tamper FAIL "changed: '${e1:-read fine}', unsealed: '${e2:-read fine}'"
    fi
}

d_idmap() {
    if ! helper -v "$dimg" "$mnt" -o basedir="$dstore",uidmap=0:100000:65536; then
        result driver-idmap FAIL "$(first_line "$WORK/out")"; return
    fi
    u=$(stat -c %u "$mnt/small")
    if [ "$u" != 100000 ]; then result driver-idmap FAIL "owner $u under uidmap=0:100000:65536 ($(strategy))"; return; fi
    if via_driver; then
        result driver-idmap PASS "idmapped by the driver"
    elif grep -q "driver refused the mount" "$WORK/out"; then
        result driver-idmap PASS "the module takes no idmapped mount ($(grep -o 'mount_setattr([^)]*): [A-Z]*' "$WORK/out" | head -n1)): overlayfs, owners shifted"
    else
        result driver-idmap FAIL "took $(strategy): $(why_not)"
    fi
}

d_upper() {
    rw=$WORK/drw; rm -rf "$rw"; mkdir -p "$rw"
    mount -t tmpfs tmpfs "$rw" && mkdir "$rw/upper" "$rw/work"
    if helper -v "$dimg" "$mnt" -o basedir="$dstore",upperdir="$rw/upper",workdir="$rw/work" \
        && grep -q "upperdir= needs overlayfs" "$WORK/out" && echo x > "$mnt/new" && [ -f "$rw/upper/new" ]; then
        result driver-upperdir PASS "overlayfs, because: $(why_not | sed 's/^but //; s/; using overlayfs//')"
    else
        result driver-upperdir FAIL "$(first_line "$WORK/out") $(why_not)"
    fi
    umount "$mnt" 2>/dev/null
    umount "$rw"
}

d_owners() { # the mixed-owner tree: the driver would show it wrong
    if helper -v "$img" "$mnt" -o basedir="$store" && ! via_driver && grep -q "owned by the mounter" "$WORK/out" \
        && same_tree "$src" "$mnt"; then
        result driver-owners PASS "overlayfs, because: $(why_not | sed 's/^but //; s/; using overlayfs//')"
    else
        result driver-owners FAIL "took $(strategy): $(first_line "$WORK/out")"
    fi
}

d_gc() { # the cached descriptor is kept while its image is named, collected when not
    if ! $CFS store gc "$dstore" "$dimg" > "$WORK/out" 2>&1 || [ "$(ls "$dstore/descriptors" | wc -l)" != 1 ]; then
        result driver-gc FAIL "kept image: $(tail -n1 "$WORK/out")"; return
    fi
    if $CFS store gc "$dstore" "$img" > "$WORK/out" 2>&1 && [ -z "$(ls "$dstore/descriptors")" ]; then
        result driver-gc PASS "descriptor kept with its image, removed without it"
    else
        result driver-gc FAIL "other image: $(tail -n1 "$WORK/out")"
    fi
}

d_unload() { # nothing holds the module once everything is unmounted
    if rmmod composefs 2>"$WORK/out" && ! grep -qw composefs /proc/filesystems; then
        result driver-unload PASS "rmmod composefs after the scenarios"
    else
        result driver-unload FAIL "rmmod: $(cat "$WORK/out")"
    fi
}

# ---- kernel built-in fs-verity signatures (composefs enable-verity) ----
builtin_sig() {
    d=$DATA/sig
    if [ ! -f "$d/good.sig" ]; then result builtin-sig SKIP "no signature material here (made for the guests)"; return; fi
    if [ ! -f /proc/sys/fs/verity/require_signatures ]; then
        result builtin-sig SKIP "kernel without CONFIG_FS_VERITY_BUILTIN_SIGNATURES"; return
    fi
    $CFS enable-verity --signature="$d/good.sig" "$d/nokey" > "$WORK/out" 2>&1
    if ! grep -q ENOKEY "$WORK/out"; then result builtin-sig FAIL "before the certificate is loaded: $(cat "$WORK/out")"; return; fi
    if ! $CFS enable-verity --load-cert="$d/cert.der" > "$WORK/out" 2>&1; then
        result builtin-sig FAIL "loading the certificate: $(cat "$WORK/out")"; return
    fi
    if ! $CFS enable-verity --signature="$d/good.sig" "$d/good" > "$WORK/out" 2>&1; then
        result builtin-sig FAIL "the right signature: $(cat "$WORK/out")"; return
    fi
    $CFS enable-verity --read-signature "$d/good" > "$WORK/readback" 2> "$WORK/out"
    if ! cmp -s "$WORK/readback" "$d/good.sig"; then result builtin-sig FAIL "read back differs: $(cat "$WORK/out")"; return; fi
    $CFS enable-verity --signature="$d/mismatched.sig" "$d/rejected" > "$WORK/out" 2>&1
    if ! grep -q EKEYREJECTED "$WORK/out"; then result builtin-sig FAIL "another key's signature: $(cat "$WORK/out")"; return; fi
    result builtin-sig PASS "ENOKEY before the certificate is in .fs-verity, accepted and read back after, EKEYREJECTED for another key"
}

build
scenario plain plain
scenario pre-6.5-fallback fallback
scenario digest-good digest_good
scenario digest-bad digest_bad
scenario verity verity
scenario verity-tamper tamper
scenario idmap idmap
scenario upperdir upper
scenario fuse fuse_plain
scenario fuse-verity-tamper fuse_tamper
builtin_sig
if grep -qw composefs /proc/filesystems; then
    if driver_build; then
        scenario driver-plain d_plain
        scenario driver-cache d_cache
        scenario driver-digest-good d_digest_good
        scenario driver-digest-bad d_digest_bad
        scenario driver-verity d_verity
        scenario driver-tamper d_tamper
        scenario driver-idmap d_idmap
        scenario driver-upperdir d_upper
        scenario driver-owners d_owners
        scenario driver-gc d_gc
        [ -d /sys/module/composefs ] && d_unload
    fi
else
    result driver SKIP "no composefs filesystem registered (the 2023 module is loaded only in the 6.1+composefs row)"
fi
echo "@@DONE"
