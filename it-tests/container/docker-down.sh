#!/bin/bash
# Stops the Docker engine docker-up.sh started (by the pid it recorded, after checking that the
# pid is still a dockerd); dockerd stops the containerd it started. An engine docker-up.sh did
# not start is left running.
set -uo pipefail
PIDFILE=/run/composefs-test-dockerd.pid
[ -f "$PIDFILE" ] || exit 0
pid=$(cat "$PIDFILE")
if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ]; then
    kill -TERM "$pid"
    for _ in $(seq 100); do
        [ -d "/proc/$pid" ] || break
        sleep 0.2
    done
    [ -d "/proc/$pid" ] && kill -KILL "$pid"
fi
rm -f "$PIDFILE"
