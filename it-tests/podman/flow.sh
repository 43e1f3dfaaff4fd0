#!/bin/bash
# Runs inside the trixie root (enter.sh): podman with containers-storage's composefs backend and
# this project's mkcomposefs as its helper. Images are built in a storage of their own (vfs, no
# composefs), pushed to the registry REGISTRY as gzip and zstd:chunked, then pulled into the
# composefs-backed storage, run, and each layer's blob compared with upstream's.
# Prints "ok: ..." per check; "FAIL: ..." and exit 1 at the first failure.
#   flow.sh REGISTRY        (files from podman-test.sh under /srv)
set -euo pipefail
reg=$1
fail() { echo "FAIL: $*"; exit 1; }
ok() { echo "ok: $*"; }

mkdir -p /etc/containers
cat > /etc/containers/storage.conf <<'EOF'
[storage]
driver = "overlay"
runroot = "/run/containers/storage"
graphroot = "/var/lib/containers/storage"
[storage.options.pull_options]
enable_partial_images = "true"
convert_images = "true"
use_hard_links = "false"
[storage.options.overlay]
use_composefs = "true"
EOF
cat > /etc/containers/containers.conf <<'EOF'
[containers]
log_driver = "k8s-file"
cgroups = "disabled"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
[ "$(command -v mkcomposefs)" = /usr/bin/mkcomposefs ] && mkcomposefs --version | grep -q composefs-java \
    || fail "mkcomposefs on PATH is not this project's"

# The small image: a static busybox to run, and every file type but sockets (tar has none).
s=/srv/small
mkdir -p $s/bin $s/data/dir/nested $s/data/emptydir
cp /srv/busybox $s/bin/busybox
for t in sh sleep cat; do ln -s busybox $s/bin/$t; done
echo hello > $s/data/inline
head -c 100000 /dev/urandom > $s/data/big
head -c 5000 /dev/urandom > $s/data/dir/nested/small
: > $s/data/empty
ln $s/data/big $s/data/big-hardlink
ln -s ../inline $s/data/dir/symlink
setfattr -n user.test -v value $s/data/inline
setfattr -n user.other -v "$(printf 'two\tparts')" $s/data/dir
chmod 4755 $s/data/big
chmod 0600 $s/data/dir/nested/small
chown 1234:5678 $s/data/dir/nested/small
mknod $s/data/null c 1 3
mknod $s/data/block b 7 200
touch -h -d @1700000000 $(find $s -depth)
# ./ first: containers-storage sends an empty dump for a layer whose ./ entry is not first
tar -C $s --xattrs --xattrs-include='user.*' --numeric-owner -cf /srv/small.tar .
mkfifo $s/data/fifo
touch -h -d @1700000000 $s/data $s/data/fifo
tar -C $s --xattrs --xattrs-include='user.*' --numeric-owner -cf /srv/small-fifo.tar .

build=(podman --root /var/lib/build-storage --runroot /run/build-storage --storage-driver vfs)
push() { # IMAGE TAR COMPRESSION TAG
    "${build[@]}" import -q "$2" "localhost/$1" >/dev/null
    "${build[@]}" push -q --tls-verify=false --compression-format "$3" --force-compression "localhost/$1" "$reg/$1:$4" \
        || fail "push $1 as $3"
}
push small /srv/small.tar gzip gzip
push small /srv/small.tar zstd:chunked zstd
push small-fifo /srv/small-fifo.tar gzip gzip
push minbase /srv/minbase.tar gzip gzip
push minbase /srv/minbase.tar zstd:chunked zstd
ok "images built in a storage of their own and pushed to $reg as gzip and zstd:chunked"

# Each compression in a storage of its own (podman shares a layer between the two pulls
# otherwise): the zstd:chunked pulls first, finding /usr/bin/mkcomposefs by themselves; then,
# with all removed, the gzip pulls through a wrapper that keeps each dump podman sends, named by
# the blob mkcomposefs writes (podman gives it the blob file as standard output).
mkdir -p /srv/capture /srv/dumps
cat > /srv/capture/mkcomposefs <<'EOF'
#!/bin/sh
blob=$(readlink /proc/$$/fd/1)
n=$(echo "$blob" | md5sum | cut -c1-16)
echo "$blob" > /srv/dumps/$n.blob
tee /srv/dumps/$n.dump | /usr/bin/mkcomposefs "$@"
EOF
chmod 755 /srv/capture/mkcomposefs

# (a directory's size is its file system's business)
stats() {
    cd "$1" && find data bin -path data/fifo -prune -o -type d -printf '%p %M %U %G %T@\n' \
        -o -printf '%p %M %U %G %s %T@ %l\n' | sort
}

# The small image as a container sees it: podman mount of a created container.
check_small() {
    local tag=$1 mnt
    podman create -q --name "small-$tag" --network=none "$reg/small:$tag" /bin/sleep 600 >/dev/null
    mnt=$(podman mount "small-$tag")
    # (devices and the fifo: diff -r reports them always; stats and stat %t:%T below check them)
    diff -r --no-dereference --exclude=fifo --exclude=null --exclude=block $s/data "$mnt/data" \
        || fail "small:$tag: the tree differs from the source"
    diff <(stats $s) <(stats "$mnt") || fail "small:$tag: modes, owners, sizes, times or targets differ"
    [ "$(stat -c %i "$mnt/data/big")" = "$(stat -c %i "$mnt/data/big-hardlink")" ] || fail "small:$tag: the hardlink is a copy"
    [ "$(stat -c %h "$mnt/data/big")" = 2 ] || fail "small:$tag: the hardlink count is $(stat -c %h "$mnt/data/big")"
    [ "$(stat -c %t:%T "$mnt/data/null")" = 1:3 ] && [ "$(stat -c %t:%T "$mnt/data/block")" = 7:c8 ] \
        || fail "small:$tag: device numbers"
    [ "$(getfattr --absolute-names --only-values -n user.test "$mnt/data/inline")" = value ] \
        && [ "$(getfattr --absolute-names --only-values -n user.other "$mnt/data/dir")" = "$(printf 'two\tparts')" ] || fail "small:$tag: xattrs"
    podman umount "small-$tag" >/dev/null
    ok "small:$tag: files, modes, owners, times, device numbers, hardlinks and xattrs as in the source"
}

# run -d, exec, and the container's root in mountinfo
check_live() {
    local tag=$1 merged line pid
    podman run -d -q --name "live-$tag" --network=none "$reg/small:$tag" /bin/sleep 600 >/dev/null || fail "podman run -d"
    [ "$(podman exec "live-$tag" /bin/cat /data/inline)" = hello ] || fail "small:$tag: podman exec"
    [ "$(podman exec "live-$tag" /bin/busybox sha256sum /data/big | cut -d' ' -f1)" = "$(sha256sum < $s/data/big | cut -d' ' -f1)" ] \
        || fail "small:$tag: podman exec: the stored file's content"
    merged=$(podman inspect "live-$tag" --format '{{.GraphDriver.Data.MergedDir}}')
    line=$(grep -F " $merged " /proc/self/mountinfo) || fail "the container's root $merged is not in mountinfo"
    echo "  $line" | cut -c1-300
    # composefs: the layer's blob mounted as the lower layer, its objects as a data-only layer (::)
    [[ $line == *" overlay "* && $line == *lowerdir=*/composefs-layers/*::* && $line == *metacopy=on* && $line == *redirect_dir=on* ]] \
        || fail "small:$tag: the container's root is not a composefs overlay (data-only lower, metacopy, redirects)"
    pid=$(podman inspect "live-$tag" --format '{{.State.Pid}}')
    [ "$(cat /proc/$pid/root/data/inline)" = hello ] || fail "small:$tag: the container's process does not see the image"
    podman rm -f -t 0 "live-$tag" >/dev/null
    ok "small:$tag: podman run -d and podman exec work; the container's root is a composefs overlay in mountinfo"
}

check_minbase() {
    local tag=$1 out
    out=$(podman run --rm --network=none "$reg/minbase:$tag" sh -c 'dpkg --verify && echo verified && ls /usr/bin | wc -l') \
        || fail "minbase:$tag: dpkg --verify: $out"
    [[ $out == verified* ]] || fail "minbase:$tag: dpkg --verify found: $out"
    ok "minbase:$tag: a Debian 13 minbase runs, and dpkg --verify finds every packaged file intact ($(tail -1 <<<"$out") in /usr/bin)"
}

# every blob survives upstream's dump and rebuild unchanged
check_rebuild() {
    local blob
    for blob in $1; do
        upstream-composefs-info dump "$blob" > /tmp/blob.dump || fail "upstream's composefs-info can't read $blob"
        upstream-mkcomposefs --from-file /tmp/blob.dump /tmp/rebuilt.blob
        cmp -s /tmp/rebuilt.blob "$blob" || fail "upstream rebuilds $blob differently from its own dump of it"
    done
}

blobs() { find /var/lib/containers/storage/overlay -name composefs.blob | sort; }

for i in small:zstd minbase:zstd; do
    podman pull -q --tls-verify=false "$reg/$i" >/dev/null || fail "podman pull $i (zstd:chunked)"
done
[ "$(blobs | wc -l)" = 2 ] || fail "composefs blobs after the zstd:chunked pulls: $(blobs)"
ok "zstd:chunked: podman pulled 2 images and converted each layer into a composefs blob with /usr/bin/mkcomposefs"
check_rebuild "$(blobs)"
ok "zstd:chunked: each blob is rebuilt byte for byte by upstream from upstream's dump of it"
check_small zstd
check_live zstd
check_minbase zstd
podman rm -a -f -t 0 >/dev/null
podman rmi -a -f >/dev/null
[ -z "$(blobs)" ] || fail "blobs left after podman rmi -a: $(blobs)"

for i in small:gzip small-fifo:gzip minbase:gzip; do
    PATH=/srv/capture:$PATH podman pull -q --tls-verify=false "$reg/$i" >/dev/null || fail "podman pull $i"
done
[ "$(blobs | wc -l)" = 3 ] && [ "$(ls /srv/dumps/*.dump | wc -l)" = 3 ] \
    || fail "gzip: $(ls /srv/dumps/*.dump | wc -l) dumps and blobs $(blobs)"
ok "gzip: podman pulled 3 images, each layer converted into a composefs blob"
# Upstream as the oracle: the dumps podman sent, through upstream's mkcomposefs, give our blobs.
for d in /srv/dumps/*.dump; do
    blob=$(cat "${d%.dump}.blob")
    upstream-mkcomposefs --from-file "$d" /tmp/upstream.blob || fail "upstream's mkcomposefs refused podman's dump $d"
    cmp -s /tmp/upstream.blob "$blob" || fail "blob $blob differs from upstream's for the same dump"
    echo "  $(wc -l < "$d") entries: $(sha256sum < "$blob" | cut -c1-16)"
done
ok "gzip: the dump podman sent for each layer gives upstream's bytes (3 layers)"
check_rebuild "$(blobs)"
check_small gzip
mnt=$(podman mount "$(podman create -q --network=none "$reg/small-fifo:gzip" /bin/true)")
[ -p "$mnt/data/fifo" ] || fail "small-fifo: no fifo"
ok "small-fifo:gzip: the fifo is there"
check_live gzip
check_minbase gzip
podman rm -a -f -t 0 >/dev/null
podman rmi -a -f >/dev/null
