#!/bin/bash
# A Docker engine for the container tests, idempotently: nothing if one answers; else Debian's
# docker.io is installed (if missing) and dockerd started in the background without touching
# the network (--bridge=none --iptables=false). Exit 0 when `docker info` answers; otherwise
# prints why on stderr and exits 1 (the tests then skip with that reason). An engine started here
# has its pid in $PIDFILE, and docker-down.sh stops exactly that one; one that was already
# running (a developer's) is left alone.
set -uo pipefail
LOG=${DOCKERD_LOG:-/var/log/composefs-dockerd.log}
PIDFILE=/run/composefs-test-dockerd.pid
engine_up() { timeout 10 docker info >/dev/null 2>&1 || timeout 10 curl -sf --unix-socket /var/run/docker.sock http://localhost/_ping >/dev/null 2>&1; }
engine_up && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "no Docker engine answers and starting one needs root" >&2
    exit 1
fi
if ! command -v dockerd >/dev/null; then
    echo "container tests: installing docker.io" >&2
    export DEBIAN_FRONTEND=noninteractive
    { apt-get install -y -qq --no-install-recommends docker.io >&2 \
        || { apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends docker.io >&2; }; } \
        || { echo "cannot install docker.io" >&2; exit 1; }
fi
command -v docker >/dev/null || { echo "docker.io installed no docker client" >&2; exit 1; }
if ! pgrep -x dockerd >/dev/null; then
    # containerd comes with docker.io; dockerd starts its own when none runs
    setsid nohup dockerd --bridge=none --iptables=false --ip6tables=false > "$LOG" 2>&1 < /dev/null &
    echo $! > "$PIDFILE"   # setsid and nohup exec: this is dockerd's pid
fi
for _ in $(seq 60); do
    engine_up && exit 0
    sleep 0.5
done
echo "dockerd did not come up; last lines of $LOG:" >&2
tail -n 5 "$LOG" >&2
exit 1
