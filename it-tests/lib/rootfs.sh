# Shared by it-tests/kernel-matrix (qemu initramfs) and it-tests/container/build-image.sh
# (docker import): a minimal root filesystem that runs the project's jars and the scenarios.
# Sourced; needs REPO.

# The tree under test in $1 (small: a JVM start in a TCG guest costs about a second). The
# tamper scenario relies on the two zz-tamper-* files.
make_tree() {
    local s=$1
    mkdir -p "$s/big" "$s/dir/empty" "$s/dir/nested"
    echo "inline" > "$s/small"
    head -c 200000 /dev/urandom > "$s/big/file1"
    head -c 5000 /dev/urandom > "$s/big/file2"
    # over 1 MiB: a new store copies it first, hashing on the way, then seals it (ObjectStore.FromFd without a digest)
    head -c 1500000 /dev/urandom > "$s/big/file3"
    head -c 8193 /dev/urandom > "$s/zz-tamper-content"
    head -c 12288 /dev/urandom > "$s/zz-tamper-noverity"
    printf 'owned by a group\n%.0s' $(seq 10) > "$s/owned"
    chown 0:1234 "$s/owned"
    chmod 4750 "$s/big/file2"
    ln -s ../big/file1 "$s/dir/link"
    ln "$s/big/file1" "$s/dir/nested/hardlink"
    echo nested > "$s/dir/nested/x"
    touch -h -d @1700000000 $(find "$s" -depth)
}

# A java.base runtime jlinked from JDK $1, cached under $2; prints its path.
jlinked_runtime() {
    local jdk=$1 runtime="$2/runtime-$(basename "$1")"
    if [ ! -x "$runtime/bin/java" ]; then
        echo "it-tests: jlinking a java.base runtime from $jdk" >&2
        rm -rf "$runtime.tmp"
        mkdir -p "$2"
        "$jdk/bin/jlink" --add-modules java.base --strip-debug --no-header-files --no-man-pages \
            --generate-cds-archive --output "$runtime.tmp" > "$2/jlink.log" 2>&1 || { cat "$2/jlink.log" >&2; return 1; }
        mv "$runtime.tmp" "$runtime"
    fi
    echo "$runtime"
}

# A static busybox with insmod at /bin/busybox (all the tools the guests and the container
# image have), installed if missing: the container test may well run before the kernel matrix.
ensure_busybox() {
    if [ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx insmod && ! ldd /bin/busybox >/dev/null 2>&1; then
        return 0
    fi
    echo "it-tests: installing busybox-static" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends busybox-static >&2 \
        || { apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends busybox-static >&2; }
}

# Fills root $1 with busybox, the runtime $2 and the glibc it links against, the jars, the
# scenarios and /cfs/composefs (runs 'composefs PROGRAM ARGS...').
populate_rootfs() {
    local root=$1 runtime=$2 lib
    ensure_busybox
    mkdir -p "$root"/{bin,proc,sys,dev,tmp,data,cfs/lib}
    cp /bin/busybox "$root/bin/busybox"
    cp -a "$runtime" "$root/rt"
    for lib in $(find "$runtime" -type f \( -name '*.so' -o -path '*/bin/*' \) -exec ldd {} \; 2>/dev/null \
            | grep -o '/[^ ]*\.so[^ ]*' | sort -u); do
        mkdir -p "$root$(dirname "$lib")"
        cp -L "$lib" "$root$lib"
    done
    cp "$REPO"/mount-helper/target/mount-helper-*.jar "$root/cfs/mount-helper.jar"
    cp "$REPO"/mount-helper/target/lib/*.jar "$root/cfs/lib/"
    cp "$REPO/it-tests/kernel/scenarios.sh" "$root/scenarios.sh"
    cat > "$root/cfs/composefs" <<'EOF'
#!/bin/sh
exec /rt/bin/java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:-UsePerfData -Xshare:auto -Xlog:disable \
    --enable-native-access=ALL-UNNAMED -jar /cfs/mount-helper.jar composefs "$@"
EOF
    chmod +x "$root/cfs/composefs"
}
