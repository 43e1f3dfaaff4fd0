#!/bin/bash
# `vagrant validate` on the top-level Vagrantfile, installing Debian's vagrant and its libvirt
# provider first if missing (without a provider, validate refuses before reading the file).
set -euo pipefail
REPO=$(dirname "$(dirname "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")")")
need=()
command -v vagrant >/dev/null || need+=(vagrant)
dpkg -s vagrant-libvirt >/dev/null 2>&1 || need+=(vagrant-libvirt)
if [ ${#need[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || { echo "vagrant validate: needs ${need[*]} (apt-get install as root)" >&2; exit 2; }
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends "${need[@]}" >&2 \
        || { apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends "${need[@]}" >&2; }
fi
cd "$REPO"
exec vagrant validate
