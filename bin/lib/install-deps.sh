#!/bin/bash
# Installs the Debian packages the build and tests use, only those missing: gcc and the kernel
# and libc headers (binding probe), fsverity-utils (reference digests), attr (getfattr: xattrs
# read independently of our bindings), maven, openssl, runc and crun.
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
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "composefs: missing packages ${need[*]}; install them (as root: apt-get install ${need[*]})" >&2
        exit 1
    fi
    echo "composefs: installing ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi
REPO=$(dirname "$(dirname "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")")")
. "$REPO/bin/lib/common.sh"
find_jdk >/dev/null
