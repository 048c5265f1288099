#!/usr/bin/env bash
# Build the serving image and smoke-test one container of it on loopback.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/container/smoke.sh [--base-image IMAGE] [--tag TAG] [--pip-cert FILE]
                                  [--no-cache] [--json FILE]

Builds the serving image from ./Dockerfile, runs it with gRPC enabled (`aezoo serve
--grpc-port 8001`), publishing ports 8000 and 8001 on 127.0.0.1 only, and checks:
  build      `docker build` succeeds (BuildKit; pip inside the build reaches PyPI)
  non-root   the server process (pid 1 in the container) runs with uid != 0
  ready      GET /health/ready answers 200
  healthcheck the image's HEALTHCHECK command succeeds inside the container
  encode     POST /v1/models/sda-mnist/encode with one 784-pixel sample answers 200
             with 200 codes
  grpc       the published gRPC port accepts a TCP connection from the host, and the
             standard gRPC health service answers SERVING inside the container
  no-torch   `import torch` fails inside the image
and prints the build time and the image size. The container is always removed; the
image is kept (TAG), so a second run reuses the build cache.

Options:
  --base-image IMAGE  BASE_IMAGE of the build. Default aezoo-base:bookworm, made from
                      Debian's archive by scripts/container/base_image.sh when missing
                      (no image registry needed). python:3.11-slim where Docker Hub is
                      reachable.
  --tag TAG           image to build (default aezoo:smoke)
  --pip-cert FILE     CA bundle for pip inside the build, for a TLS-intercepting proxy
                      (default $PIP_CERT when set). Passed as a BuildKit secret: it is
                      never stored in the image.
  --no-cache          build without the layer cache (a cold build's time)
  --json FILE         also write the results as JSON

Needs a running Docker daemon (scripts/container/dockerd.sh start), python3 and curl.
DOCKER names the docker client; default: the first of docker, /usr/bin/docker that can
run BuildKit builds (the buildx plugin, or a client older than 23).
Exit status: 0 all checks pass, 1 a check failed, 2 bad usage, 3 no Docker daemon.
Time bounds: 10 min for the base image, 20 min for the build, 2 min to become ready.
EOF
}

repo=$(cd "$(dirname "$0")/../.." && pwd)
base=aezoo-base:bookworm
tag=aezoo:smoke
pip_cert=${PIP_CERT:-}
no_cache=()
json=
while [ $# -gt 0 ]; do
  case "$1" in
    --base-image) base=$2; shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    --pip-cert) pip_cert=$2; shift 2 ;;
    --no-cache) no_cache=(--no-cache); shift ;;
    --json) json=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "smoke.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

buildkit_client() {
  if [ -n "${DOCKER:-}" ]; then echo "$DOCKER"; return; fi
  local c major
  for c in docker /usr/bin/docker; do
    command -v "$c" >/dev/null || continue
    if "$c" buildx version >/dev/null 2>&1; then echo "$c"; return; fi
    major=$("$c" --version | sed -E 's/^Docker version ([0-9]+).*/\1/')
    if [ "$major" -lt 23 ] 2>/dev/null; then echo "$c"; return; fi
  done
  echo "smoke.sh: no docker client that can run BuildKit builds (need buildx or docker < 23)" >&2
  exit 2
}
docker=$(buildkit_client)
export DOCKER=$docker
if ! "$docker" info >/dev/null 2>&1; then
  echo "smoke.sh: no Docker daemon answers ($docker info); start one: scripts/container/dockerd.sh start" >&2
  exit 3
fi

work=$(mktemp -d)
container=aezoo-smoke-$$
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  "$docker" rm -f "$container" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

failed=0
declare -A result=([image]="$tag" [base_image]="$base")
check() { # name, passed (0/1), detail
  if [ "$2" = 1 ]; then echo "ok    $1: $3"; else echo "FAIL  $1: $3"; failed=1; fi
  result[$1]=$2
}
finish() {
  if [ -n "$json" ]; then
    for k in "${!result[@]}"; do printf '%s=%s\n' "$k" "${result[$k]}"; done | python3 -c '
import json, sys
out = {}
for line in sys.stdin:
    k, v = line.rstrip("\n").split("=", 1)
    out[k] = int(v) if v.lstrip("-").isdigit() else v
json.dump(dict(sorted(out.items())), open(sys.argv[1], "w"), indent=2)' "$json"
  fi
  [ "$failed" = 0 ] && echo "smoke: all checks passed" || echo "smoke: FAILED"
  exit "$failed"
}

# -- base image and build ---------------------------------------------------------------
if [ "$base" = aezoo-base:bookworm ]; then
  timeout 600 "$repo/scripts/container/base_image.sh" --tag "$base"
fi
secret=()
if [ -n "$pip_cert" ]; then secret=(--secret "id=pip-cert,src=$pip_cert"); fi
echo "building $tag from BASE_IMAGE=$base (log: $work/build.log) ..."
start=$SECONDS
if DOCKER_BUILDKIT=1 timeout 1200 "$docker" build --progress=plain "${no_cache[@]}" \
  "${secret[@]}" --build-arg "BASE_IMAGE=$base" -t "$tag" "$repo" >"$work/build.log" 2>&1; then
  build_ok=1
else
  build_ok=0
  tail -n 30 "$work/build.log"
fi
result[build_s]=$((SECONDS - start))
check build "$build_ok" "docker build in ${result[build_s]} s"
[ "$build_ok" = 1 ] || finish
result[image_size_bytes]=$("$docker" image inspect -f '{{.Size}}' "$tag")
result[base_size_bytes]=$("$docker" image inspect -f '{{.Size}}' "$base")
echo "image size: $tag $((result[image_size_bytes] / 1000000)) MB" \
  "(base $base $((result[base_size_bytes] / 1000000)) MB)"

# -- run on loopback ----------------------------------------------------------------------
"$docker" run -d --name "$container" -p 127.0.0.1::8000 -p 127.0.0.1::8001 "$tag" \
  aezoo serve --host 0.0.0.0 --port 8000 --grpc-port 8001 >/dev/null
address=$("$docker" port "$container" 8000/tcp | head -n 1)
grpc_address=$("$docker" port "$container" 8001/tcp | head -n 1)
echo "container $container on http://$address"
start=$SECONDS
status=000
for _ in $(seq 120); do
  status=$(curl -s -o "$work/ready.json" -w '%{http_code}' --max-time 5 "http://$address/health/ready") || true
  [ "$status" = 200 ] && break
  [ "$("$docker" inspect -f '{{.State.Running}}' "$container")" = true ] || break
  sleep 1
done
result[ready_status]=$status
result[ready_s]=$((SECONDS - start))
check ready "$([ "$status" = 200 ] && echo 1 || echo 0)" \
  "GET /health/ready -> $status after ${result[ready_s]} s: $(cat "$work/ready.json" 2>/dev/null)"
if [ "$status" != 200 ]; then
  "$docker" logs --tail 30 "$container" 2>&1
  finish
fi

uid=$("$docker" exec "$container" stat -c %u /proc/1)
result[uid]=$uid
check non-root "$([ "$uid" != 0 ] && echo 1 || echo 0)" "server process uid $uid"

healthcheck=$("$docker" inspect -f '{{index .Config.Healthcheck.Test 1}}' "$container")
hc_ok=$("$docker" exec "$container" sh -c "$healthcheck" >/dev/null 2>&1 && echo 1 || echo 0)
check healthcheck "$hc_ok" "$healthcheck"

python3 -c 'import json; print(json.dumps({"inputs": [[(i % 28) / 27 for i in range(784)]]}))' \
  >"$work/encode.json"
status=$(curl -s -o "$work/codes.json" -w '%{http_code}' --max-time 30 \
  -H 'Content-Type: application/json' --data-binary "@$work/encode.json" \
  "http://$address/v1/models/sda-mnist/encode") || true
n_codes=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["codes"][0]))' \
  "$work/codes.json" 2>/dev/null) || n_codes=0
result[encode_status]=$status
result[n_codes]=$n_codes
check encode "$([ "$status" = 200 ] && [ "$n_codes" = 200 ] && echo 1 || echo 0)" \
  "POST /v1/models/sda-mnist/encode (1 x 784) -> $status, $n_codes codes"

# gRPC: published (a TCP connect from the host) and serving (grpc.health.v1 inside the image,
# whose Python has grpcio-health-checking from the [grpc] extra; the host's python3 may not).
tcp_ok=$(python3 -c 'import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
socket.create_connection((host, int(port)), timeout=5).close()
print(1)' "$grpc_address" 2>/dev/null) || tcp_ok=0
health=$("$docker" exec "$container" python -c 'import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
channel = grpc.insecure_channel("127.0.0.1:8001")
stub = health_pb2_grpc.HealthStub(channel)
print(health_pb2.HealthCheckResponse.ServingStatus.Name(
    stub.Check(health_pb2.HealthCheckRequest(), timeout=10).status))' 2>&1 | tail -n 1) || true
result[grpc_health]=$health
check grpc "$([ "$tcp_ok" = 1 ] && [ "$health" = SERVING ] && echo 1 || echo 0)" \
  "port 8001 published at ${grpc_address:-nowhere} (tcp connect: $tcp_ok), health: $health"

torch_err=$("$docker" exec "$container" python -c 'import torch' 2>&1) && torch_err="imported"
check no-torch "$(grep -q "No module named 'torch'" <<<"$torch_err" && echo 1 || echo 0)" \
  "import torch: $(tail -n 1 <<<"$torch_err")"

finish
