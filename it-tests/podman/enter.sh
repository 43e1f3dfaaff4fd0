#!/bin/bash
# Runs COMMAND... as root inside root file system ROOT, in a private mount namespace with its own
# /proc, /sys, a pure cgroup2 hierarchy (crun refuses the hybrid one of these hosts), /dev and a
# fresh /run and /tmp, entered with pivot_root (under chroot, podman import fails to remount /
# and podman exec lands in the host's /).
#   enter.sh ROOT COMMAND...
set -euo pipefail
root=$1
shift
exec unshare --mount --propagation private -- /bin/bash -euc '
root=$1; shift
mount --bind "$root" "$root"
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
mount -t cgroup2 cgroup2 "$root/sys/fs/cgroup"
mount --rbind /dev "$root/dev"
mount -t tmpfs -o mode=755 tmpfs "$root/run"
mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
mkdir -p "$root/.old-root"
cd "$root"
pivot_root . .old-root
cd /
umount -l /.old-root
rmdir /.old-root
exec /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 "$@"
' enter "$root" "$@"
