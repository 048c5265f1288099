#!/usr/bin/env bash
# Start or stop a Docker daemon (Debian's docker.io) for the container smoke test.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/container/dockerd.sh start|stop

start  If a Docker daemon already answers, prints "dockerd: already running" and does
       nothing. Else starts dockerd in the background (default socket and data root, so
       images stay cached between runs; log and pid file in $AEZOO_DOCKERD_DIR, default
       /tmp/aezoo-dockerd), waits up to 60 s for it to answer and prints
       "dockerd: started pid N". Extra daemon flags come from $DOCKERD_FLAGS (for example
       "--storage-driver vfs" where overlayfs cannot be mounted).
       Exit status 3 means no daemon can be started here; the reason is printed last.
stop   Stops the daemon that `start` started (its pid file); any other daemon is left alone.

Needs root. DOCKER names the docker client (default: docker).
EOF
}

dir=${AEZOO_DOCKERD_DIR:-/tmp/aezoo-dockerd}
docker=${DOCKER:-docker}
cannot() { echo "dockerd: cannot start: $*" >&2; exit 3; }

start() {
  if "$docker" info >/dev/null 2>&1; then
    echo "dockerd: already running"
    return
  fi
  command -v dockerd >/dev/null || cannot "dockerd not installed (apt-get install docker.io)"
  [ "$(id -u)" = 0 ] || cannot "dockerd needs root (uid is $(id -u))"
  mkdir -p "$dir"
  # shellcheck disable=SC2086  # DOCKERD_FLAGS is a list of flags
  nohup dockerd --pidfile "$dir/dockerd.pid" ${DOCKERD_FLAGS:-} >"$dir/dockerd.log" 2>&1 &
  local pid=$!
  for _ in $(seq 60); do
    if "$docker" info >/dev/null 2>&1; then
      echo "dockerd: started pid $pid (log $dir/dockerd.log)"
      return
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      cannot "dockerd exited ($dir/dockerd.log): $(grep -E '^failed to start daemon|level=(fatal|error)' \
        "$dir/dockerd.log" | tail -n 1)"
    fi
    sleep 1
  done
  kill "$pid" 2>/dev/null || true
  cannot "dockerd did not answer within 60 s (log $dir/dockerd.log)"
}

stop() {
  [ -s "$dir/dockerd.pid" ] || { echo "dockerd: none started by this script"; return; }
  local pid
  pid=$(cat "$dir/dockerd.pid")
  if kill "$pid" 2>/dev/null; then
    # dockerd stops its containers and its containerd before it exits.
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill -0 "$pid" 2>/dev/null && { echo "dockerd: pid $pid still running after 30 s" >&2; exit 1; }
  fi
  rm -f "$dir/dockerd.pid"
  echo "dockerd: stopped pid $pid"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  -h | --help) usage ;;
  *) usage >&2; exit 2 ;;
esac
