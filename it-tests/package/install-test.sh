#!/bin/bash
# Installs the built package in clean Debian root file systems (no JDK) and uses it there as a
# user would; unpacks the tarball in a directory with a space in its name and runs it as a
# non-root user. Prints "ok: ..." per check, "FAIL: ..." and exits 1 at the first failure.
#   install-test.sh REPO WORK SUITE...      (as root; WORK is removed on exit)
set -euo pipefail
REPO=$1 WORK=$2
shift 2
SUITES=("$@")
deb=$(ls "$REPO"/packaging/target/composefs-java_*_amd64.deb)
tarball=$(ls "$REPO"/packaging/target/composefs-java-*-linux-x86_64.tar.gz)
mkdir -p "$WORK"

mounts=()
cleanup() {
    local m
    for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
        umount -R -l "${mounts[$i]}" 2>/dev/null || true
    done
    rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
ok() { echo "ok: $*"; }

# The same tree everywhere: inline and stored files, a symlink, a hardlink, a setuid file, xattrs.
make_tree() {
    local s=$1
    mkdir -p "$s/etc" "$s/usr/bin" "$s/usr/share/doc" "$s/var/empty"
    echo "composefs-test" > "$s/etc/hostname"
    seq 1 3000 > "$s/usr/share/doc/README"
    head -c 300000 /dev/urandom > "$s/usr/bin/tool"
    chmod 4755 "$s/usr/bin/tool"
    cp "$s/usr/bin/tool" "$s/usr/bin/tool-copy"
    ln -s tool "$s/usr/bin/sh"
    ln "$s/usr/share/doc/README" "$s/usr/share/doc/README.hardlink"
    setfattr -n user.test -v yes "$s/etc/hostname"
    touch -h -d @1700000000 $(find "$s" -depth)
}

# The checkout's digest of the tree: what the package must reproduce.
tree=$WORK/tree
make_tree "$tree"
want=$("$REPO/bin/mkcomposefs" --print-digest-only "$tree")

# Runs a command in root file system $1, with a clean environment (/proc and /dev from the host).
in_root() {
    local root=$1
    shift
    chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@"
}

for suite in "${SUITES[@]}"; do
    root=$WORK/$suite
    echo "== $suite: mmdebstrap --variant=minbase"
    mmdebstrap --quiet --variant=minbase --include=attr "$suite" "$root" >"$WORK/$suite.log" 2>&1 \
        || { tail -20 "$WORK/$suite.log"; fail "$suite: mmdebstrap"; }
    mount --rbind /dev "$root/dev"; mount --make-rprivate "$root/dev"; mounts+=("$root/dev")
    mount -t proc proc "$root/proc"; mounts+=("$root/proc")
    in_root "$root" sh -c 'command -v java' >/dev/null && fail "$suite: a java is installed in the clean root"
    cp "$deb" "$root/tmp/composefs-java.deb"
    in_root "$root" dpkg -i /tmp/composefs-java.deb >"$WORK/dpkg.log" 2>&1 || { cat "$WORK/dpkg.log"; fail "$suite: dpkg -i"; }
    ok "$suite: dpkg -i installs the package, with no JDK on the system"
    in_root "$root" dpkg -L composefs-java | sort > "$WORK/files"
    # every file root's and writable by root only
    bad=$(cd "$root" && xargs -a "$WORK/files" -d '\n' find 2>/dev/null -maxdepth 0 \( ! -uid 0 -o ! -gid 0 -o \( -perm /022 ! -type l \) \) -print || true)
    [ -z "$bad" ] || fail "$suite: files not root's or writable by others: $bad"
    ok "$suite: every installed file is root's and writable by root only"
    for f in /usr/bin/mkcomposefs /usr/bin/composefs-info /usr/bin/composefs-dump /usr/bin/composefs \
             /usr/bin/composefs-fuse /usr/share/man/man1/composefs-fuse.1.gz \
             /usr/share/bash-completion/completions/composefs-fuse \
             /usr/sbin/mount.composefs /usr/share/man/man1/mkcomposefs.1.gz /usr/share/man/man1/composefs-info.1.gz \
             /usr/share/man/man1/composefs.1.gz /usr/share/man/man1/composefs-oci-hook.1.gz \
             /usr/share/man/man8/mount.composefs.8.gz /usr/share/bash-completion/completions/mkcomposefs \
             /usr/share/bash-completion/completions/composefs /usr/share/containers/oci/hooks.d/composefs.json; do
        grep -qxF "$f" "$WORK/files" || fail "$suite: the package lacks $f"
    done
    page=$(zcat "$root/usr/share/man/man8/mount.composefs.8.gz")
    [[ $page == '.TH "MOUNT.COMPOSEFS" 8 '* ]] || fail "$suite: mount.composefs.8 is no section 8 page"
    in_root "$root" bash -c '. /usr/share/bash-completion/completions/mkcomposefs; COMP_WORDS=(mkcomposefs --digest-s); COMP_CWORD=1;
        compopt() { :; }; _mkcomposefs; [ "${COMPREPLY[*]}" = --digest-store= ]' || fail "$suite: mkcomposefs completion"
    ok "$suite: commands, man pages (mount.composefs in section 8), completion and the hooks.d entry are installed"

    # Nothing the commands do writes under /usr.
    find "$root/usr" -printf '%p %T@ %s\n' | sort > "$WORK/usr.before"
    cp -a "$tree" "$root/srv/tree"
    got=$(in_root "$root" mkcomposefs --digest-store=/srv/store --print-digest /srv/tree /srv/image.cfs)
    [ "$got" = "$want" ] || fail "$suite: mkcomposefs digest $got, the checkout's $want"
    ok "$suite: mkcomposefs gives the checkout's digest ($got)"
    listing=$(in_root "$root" composefs-info ls /srv/image.cfs) && grep -q '^/usr/bin/tool' <<<"$listing" \
        || fail "$suite: composefs-info ls"
    mkdir "$root/mnt/c"
    # hostile VM options: any of them reaching the VM would stop it or load an agent
    in_root "$root" env JAVA_TOOL_OPTIONS=-javaagent:/nonexistent.jar _JAVA_OPTIONS=-Xmx1k JDK_JAVA_OPTIONS=-Xbogus \
        JAVA_AOT_OPTIONS=-XX:AOTMode=bogus CLASSPATH=/nonexistent COMPOSEFS_TIMING_FILE=/usr/timing \
        mount -t composefs /srv/image.cfs /mnt/c -o basedir=/srv/store >"$WORK/mount.log" 2>&1 \
        || { cat "$WORK/mount.log"; fail "$suite: mount -t composefs through mount(8) with hostile JAVA_* variables"; }
    mounts+=("$root/mnt/c")
    grep -qF " $root/mnt/c " /proc/self/mountinfo || fail "$suite: /mnt/c is not mounted"
    diff -r --no-dereference "$tree" "$root/mnt/c" || fail "$suite: the mounted tree differs from the source"
    [ "$(getfattr --only-values -n user.test "$root/mnt/c/etc/hostname")" = yes ] || fail "$suite: xattr lost"
    umount "$root/mnt/c"
    unset 'mounts[-1]'
    ok "$suite: mount -t composefs through mount(8) mounts the image; hostile JAVA_* variables do not reach the helper"
    # FUSE through the installed commands: mount(8) with -o fuse, and composefs-fuse itself
    mkdir -p "$root/mnt/f"
    in_root "$root" mount -t composefs /srv/image.cfs /mnt/f -o basedir=/srv/store,fuse >"$WORK/fuse.log" 2>&1 \
        || { cat "$WORK/fuse.log"; fail "$suite: mount -t composefs -o fuse"; }
    mounts+=("$root/mnt/f")
    grep -F " $root/mnt/f " /proc/self/mountinfo | grep -q " - fuse.composefs " \
        || fail "$suite: /mnt/f is not a FUSE mount"
    diff -r --no-dereference "$tree" "$root/mnt/f" || fail "$suite: the tree through FUSE differs from the source"
    umount "$root/mnt/f"
    in_root "$root" composefs-fuse -o source=/srv/image.cfs,basedir=/srv/store /mnt/f >"$WORK/fuse.log" 2>&1 \
        || { cat "$WORK/fuse.log"; fail "$suite: composefs-fuse"; }
    [ "$(getfattr --only-values -n user.test "$root/mnt/f/etc/hostname")" = yes ] || fail "$suite: xattr lost through FUSE"
    umount "$root/mnt/f"
    unset 'mounts[-1]'
    ok "$suite: mount -t composefs -o fuse and composefs-fuse serve the image through FUSE"
    out=$(in_root "$root" env JAVA_TOOL_OPTIONS=-javaagent:/nonexistent.jar /usr/lib/composefs-java/libexec/composefs --version)
    [[ $out == *composefs-java* ]] || fail "$suite: the OCI hook's launcher took JAVA_TOOL_OPTIONS: $out"
    ok "$suite: the OCI hook's launcher ignores JAVA_TOOL_OPTIONS"
    rm -rf "$root/srv/store" "$root/srv/image.cfs" "$root/srv/tree"
    find "$root/usr" -printf '%p %T@ %s\n' | sort > "$WORK/usr.after"
    diff "$WORK/usr.before" "$WORK/usr.after" || fail "$suite: running the commands changed /usr"
    ok "$suite: running the commands wrote nothing under /usr"

    in_root "$root" dpkg -r composefs-java >"$WORK/dpkg.log" 2>&1 || { cat "$WORK/dpkg.log"; fail "$suite: dpkg -r"; }
    left=$(while read -r f; do [ "$f" = /. ] || [ ! -e "$root$f" ] || [ -d "$root$f" ] && continue; echo "$f"; done < "$WORK/files")
    [ -z "$left" ] || fail "$suite: dpkg -r left $left"
    [ ! -e "$root/usr/lib/composefs-java" ] || fail "$suite: dpkg -r left /usr/lib/composefs-java"
    ok "$suite: dpkg -r removes every file"
    for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount -R -l "${mounts[$i]}"; done
    mounts=()
    rm -rf --one-file-system "$root"
done

# The tarball, unpacked by a non-root user in a directory with a space in its name.
user=65534
dir="$WORK/user dir"
mkdir -p "$dir"
chown "$user:$user" "$dir" "$WORK"
chmod 755 "$WORK"
as_user() { setpriv --reuid=$user --regid=$user --clear-groups -- env -i PATH=/usr/bin:/bin HOME="$dir" "$@"; }
as_user tar -xzf "$tarball" -C "$dir"
top=$(ls "$dir")
got=$(cd / && as_user "$dir/$top/bin/mkcomposefs" --print-digest-only "$tree")
[ "$got" = "$want" ] || fail "tarball: mkcomposefs digest $got, the checkout's $want"
as_user ln -s "$dir/$top/bin/composefs-info" "$dir/info-link"
out=$(as_user "$dir/info-link" --version) && [[ $out == "composefs-info (composefs-java) "* ]] \
    || fail "tarball: a launcher run through a symlink: $out"
as_user env JAVA_TOOL_OPTIONS=-XX:AOTMode=on "$dir/$top/bin/mkcomposefs" --print-digest-only "$tree" >/dev/null 2>&1 \
    || fail "tarball: mkcomposefs does not map its trained cache (-XX:AOTMode=on)"
ok "tarball: unpacked in '$dir' by uid $user, its mkcomposefs gives the checkout's digest with its trained cache"
