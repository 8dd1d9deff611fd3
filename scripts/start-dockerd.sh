#!/usr/bin/env bash
# Starts a Docker daemon fit for corral's `docker` backend when none answers on the socket: user namespace
# remapping on (root in a container is the unprivileged `dockremap` range outside), no iptables, no bridge.
#   scripts/start-dockerd.sh          start it if needed; prints "started PID" or "running"
#   scripts/start-dockerd.sh --stop   stop the daemon this script started (and only that one)
set -euo pipefail

SOCKET="${CORRAL_DOCKER_SOCKET:-/var/run/docker.sock}"
STATE_DIR="${CORRAL_DOCKERD_STATE:-/var/lib/corral-dockerd}"
LOG="${CORRAL_DOCKERD_LOG:-/var/log/corral-dockerd.log}"
PIDFILE="$STATE_DIR/dockerd.pid"
START_TIMEOUT_S=60

die() { printf 'start-dockerd: %s\n' "$*" >&2; exit 1; }
answers() { curl -fsS --max-time 2 --unix-socket "$SOCKET" http://docker/_ping >/dev/null 2>&1; }

if [ "${1:-}" = "--stop" ]; then
  [ -f "$PIDFILE" ] || exit 0
  pid=$(cat "$PIDFILE")
  # only a dockerd we started: the pid must still be a dockerd
  if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "dockerd" ]; then
    kill -TERM "$pid"
    for _ in $(seq 1 "$START_TIMEOUT_S"); do [ -d "/proc/$pid" ] || break; sleep 1; done
  fi
  rm -f "$PIDFILE"
  exit 0
fi

# gVisor as an optional runtime (`docker.runtime: runsc`); ptrace works in nested VMs where KVM hangs;
# --host-uds=open lets the runtime connect to the gateway's Unix socket (it creates none).
runtimes='{}'
if command -v runsc >/dev/null; then
  runtimes="{\"runsc\": {\"path\": \"$(command -v runsc)\", \"runtimeArgs\": [\"--platform=ptrace\", \"--network=none\", \"--host-uds=open\"]}}"
fi
config=$(
  cat <<EOF
{
  "userns-remap": "default",
  "iptables": false,
  "ip-masq": false,
  "bridge": "none",
  "runtimes": $runtimes
}
EOF
)

if answers; then
  # a daemon this script started from an older config (e.g. runsc without --network=none) is restarted
  if [ -f "$PIDFILE" ] && [ "$(cat "/proc/$(cat "$PIDFILE")/comm" 2>/dev/null)" = "dockerd" ] &&
    [ "$config" != "$(cat "$STATE_DIR/daemon.json" 2>/dev/null)" ]; then
    "$0" --stop
  else
    echo running
    exit 0
  fi
fi
[ "$(id -u)" -eq 0 ] || die "dockerd must be started as root: sudo $0"
command -v dockerd >/dev/null || die "dockerd is missing: apt-get install -y docker.io"
command -v curl >/dev/null || die "curl is missing: apt-get install -y curl"

mkdir -p "$STATE_DIR"
printf '%s\n' "$config" >"$STATE_DIR/daemon.json"

# setsid: the daemon outlives this script and the CI step's process group
setsid dockerd --config-file "$STATE_DIR/daemon.json" --host "unix://$SOCKET" --pidfile "$PIDFILE" \
  >>"$LOG" 2>&1 </dev/null &
pid=$!
for _ in $(seq 1 $((START_TIMEOUT_S * 4))); do
  if answers; then echo "started $pid"; exit 0; fi
  [ -d "/proc/$pid" ] || die "dockerd exited; see $LOG: $(tail -n 3 "$LOG")"
  sleep 0.25
done
die "dockerd did not answer on $SOCKET within ${START_TIMEOUT_S}s; see $LOG"
