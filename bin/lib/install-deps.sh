#!/bin/bash
# Installs the Debian packages the build and tests use, only those missing: gcc and the kernel
# and libc headers (binding probe), fsverity-utils (reference digests), attr (getfattr: xattrs
# read independently of our bindings), maven, openssl, runc and crun; umoci, skopeo,
# docker-registry and mmdebstrap for the OCI image tests; a static busybox for test images;
# fuse3 for rootless FUSE mounts; python3 and erofs-utils for upstream's FUSE test script.
set -euo pipefail
need=()
command -v gcc >/dev/null || need+=(gcc)
dpkg -s linux-libc-dev >/dev/null 2>&1 || need+=(linux-libc-dev)
dpkg -s libc6-dev >/dev/null 2>&1 || need+=(libc6-dev)
command -v fsverity >/dev/null || need+=(fsverity)
command -v getfattr >/dev/null || need+=(attr)
command -v mvn >/dev/null || need+=(maven)
command -v openssl >/dev/null || need+=(openssl)      # signature tests: keys, certificates, cms -verify
command -v runc >/dev/null || need+=(runc)            # runtime hook tests
command -v crun >/dev/null || need+=(crun)
command -v nsenter >/dev/null || need+=(util-linux)   # the hook enters a container's mount namespace
command -v umoci >/dev/null || need+=(umoci)          # OCI tests: build test images, the reference unpack
command -v skopeo >/dev/null || need+=(skopeo)        # ... copy them to archives, layouts and the registry
command -v docker-registry >/dev/null || need+=(docker-registry)  # ... the registry (started by the tests)
command -v mmdebstrap >/dev/null || need+=(mmdebstrap) # Debian root file systems: an image layer, the package's install test
command -v groff >/dev/null || need+=(groff-base)     # renders the generated man pages in a test
command -v strace >/dev/null || need+=(strace)        # a launcher test: which files a run opens
command -v systemd-analyze >/dev/null || need+=(systemd) # unit files checked by systemd-analyze verify (not run as PID 1)
command -v mkfs.xfs >/dev/null || need+=(xfsprogs)    # an ingest test: a store that reflinks (XFS)
[ -x /usr/bin/fusermount3 ] || need+=(fuse3)           # FUSE mounts by a user who is not root
command -v curl >/dev/null || need+=(curl)             # ... fetched from Debian's archive
[ -x /usr/bin/python3 ] || need+=(python3)             # upstream's test scripts (gendir, dumpdir)
command -v fsck.erofs >/dev/null || need+=(erofs-utils) # ... which check images with fsck.erofs where it is there
{ [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; } || need+=(busybox-static) # the kernel matrix's guests, the podman test's image
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "composefs: missing packages ${need[*]}; install them (as root: apt-get install ${need[*]})" >&2
        exit 1
    fi
    echo "composefs: installing ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    # Packages must not start services (docker-registry's would listen on :5000 where systemd
    # runs): a policy-rc.d refusing every start, only for this install and only if none exists.
    policy=
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        policy=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\nexit 101\n' > "$policy"
        chmod 755 "$policy"
    fi
    trap '[ -z "$policy" ] || rm -f "$policy"' EXIT
    apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi
# The build needs a JDK >= 22 (Maven's toolchains plugin finds it under /usr/lib/jvm, or through
# JAVA_HOME); Debian 13 packages openjdk-25, Debian 12 has none newer than 17.
REPO=$(dirname "$(dirname "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")")")
. "$REPO/it-tests/lib/build.sh"
if ! find_jdk >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && apt-cache show openjdk-25-jdk-headless >/dev/null 2>&1; then
        echo "composefs: installing openjdk-25-jdk-headless" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openjdk-25-jdk-headless >&2
    else
        echo "composefs: no JDK >= 22 with jlink found (JAVA_HOME, /usr/lib/jvm): install one" \
             "(Debian 13: apt-get install openjdk-25-jdk-headless; Debian 12: Temurin 25)" >&2
        exit 1
    fi
fi
