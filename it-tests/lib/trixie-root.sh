#!/bin/bash
# Makes ROOT, a Debian 13 (trixie) root file system with upstream's composefs 1.0.8 beside it as
# the oracle: Debian forky's composefs and libcomposefs1 packages unpacked under /opt/upstream,
# run as upstream-mkcomposefs and upstream-composefs-info. --podman adds podman and crun from
# trixie; --package DEB installs this project's package with dpkg, so /usr/bin/mkcomposefs is ours.
#   trixie-root.sh ROOT [--podman] [--package DEB]          (as root; ROOT must not exist)
set -euo pipefail
root=$1
shift
deb=
podman=
while [ $# -gt 0 ]; do
    case $1 in
        --podman) podman=1; shift ;;
        --package) deb=$2; shift 2 ;;
        *) echo "trixie-root: unknown option $1" >&2; exit 1 ;;
    esac
done
[ ! -e "$root" ] || { echo "trixie-root: $root exists" >&2; exit 1; }

include=ca-certificates,attr
[ -z "$podman" ] || include=$include,podman,crun
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# forky only for upstream's composefs (no release before it packages it); trixie for the rest.
# forky's Release file has been seen expired on mirrors: the date check is off.
mmdebstrap --quiet --variant=minbase --include="$include" \
    --aptopt='APT::Default-Release "trixie"' --aptopt='Acquire::Check-Valid-Until "false"' \
    --customize-hook='chroot "$1" sh -ec "cd /tmp && apt-get download -q composefs libcomposefs1 >/dev/null
        for d in composefs_*.deb libcomposefs1_*.deb; do dpkg-deb -x \$d /opt/upstream; done
        rm -f composefs_*.deb libcomposefs1_*.deb"' \
    trixie "$root" "deb http://deb.debian.org/debian trixie main" "deb http://deb.debian.org/debian forky main" \
    >"$log" 2>&1 || { tail -30 "$log" >&2; echo "trixie-root: mmdebstrap failed" >&2; exit 1; }

for tool in mkcomposefs composefs-info; do
    cat > "$root/usr/local/bin/upstream-$tool" <<EOF
#!/bin/sh
LD_LIBRARY_PATH=/opt/upstream/usr/lib/x86_64-linux-gnu exec /opt/upstream/usr/bin/$tool "\$@"
EOF
    chmod 755 "$root/usr/local/bin/upstream-$tool"
done
usage=$(chroot "$root" upstream-mkcomposefs --help 2>&1 || true) # its --help exits 1
[[ $usage == *--from-file* ]] || { echo "trixie-root: upstream's mkcomposefs does not run in $root: $usage" >&2; exit 1; }

if [ -n "$deb" ]; then
    cp "$deb" "$root/tmp/composefs-java.deb"
    chroot "$root" dpkg -i /tmp/composefs-java.deb >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
    rm "$root/tmp/composefs-java.deb"
fi
