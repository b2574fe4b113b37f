#!/usr/bin/env bash
# `make container-test`: builds Dockerfile.lambda and runs both functions under `sam local invoke`
# (tests/container), S3 and Secrets Manager served by a moto server on the Docker bridge; then prints
# one COLD_START line per function. Everything it starts (dockerd, moto, the wheel server, containers)
# is stopped on exit; the images stay, so the next run reuses the cached layers.
#
# Environment (all optional):
#   BASE_IMAGE    base of the image. Default: a stand-in made by scripts/make-base-image.sh, because
#                 public.ecr.aws cannot be reached here; give public.ecr.aws/lambda/python:3.12 where
#                 it can (then the image is the one AWS runs, Python 3.12).
#   TORCH_SPEC    the torch requirement (Makefile: the CUDA 2.14.1 build on this machine's disk).
#   PIP_SOURCES   "local": serve the file:// indexes of `pip config list` to the build (the default
#                 when there are any); "default": the Dockerfile's own (PyPI + PyTorch's CPU index).
#   IMAGE         tag of the built image (default plate-ocr-lambda:ci).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
BIN="$ROOT/.venv/bin"
IMAGE="${IMAGE:-plate-ocr-lambda:ci}"
STANDIN="plate-ocr/lambda-python-standin:bookworm"
TORCH_SPEC="${TORCH_SPEC:-torch==2.14.1 torchvision==0.29.1}"
WORK="$(mktemp -d /tmp/container-test.XXXXXX)"
DOCKERD_PID=""
MOTO_PID=""
WHEELS_PID=""

say() { printf 'container-test: %s\n' "$*" >&2; }
skip() {
    printf '\n%s\n%s\n%s\n\n' "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" \
        "!!! container-test SKIPPED: $*" \
        "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
    # In CI the image must be built and invoked: a skip there would let an unbuilt image land.
    [ "${CI:-}" = true ] && exit 1
    exit 0
}

cleanup() {
    local rc=$?
    set +e
    [ -n "$WHEELS_PID" ] && kill "$WHEELS_PID" 2>/dev/null && wait "$WHEELS_PID" 2>/dev/null
    [ -n "$MOTO_PID" ] && kill "$MOTO_PID" 2>/dev/null && wait "$MOTO_PID" 2>/dev/null
    if docker info >/dev/null 2>&1; then
        # Containers of this image (sam local invoke runs them from IMAGE's :rapid-x86_64 tag) that an
        # interrupted run left behind.
        local repo="${IMAGE%:*}" left
        left="$(docker ps -aq --filter "ancestor=$IMAGE" --filter "ancestor=$repo:rapid-x86_64")"
        [ -n "$left" ] && docker rm -f $left >/dev/null
    fi
    if [ -n "$DOCKERD_PID" ]; then
        say "stopping the Docker daemon it started (pid $DOCKERD_PID)"
        kill "$DOCKERD_PID" 2>/dev/null
        for _ in $(seq 1 30); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 1; done
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- Docker
if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "installing Docker from Debian packages (docker.io)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >"$WORK/apt.log" 2>&1 \
            || { apt-get update -qq >/dev/null 2>&1 \
                 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >"$WORK/apt.log" 2>&1; } \
            || skip "Docker is not installed and apt-get could not install it ($(tail -1 "$WORK/apt.log"))"
    else
        skip "Docker is not installed and this user cannot install it (needs root and apt-get)"
    fi
fi
if ! docker info >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] || skip "the Docker daemon is not running and only root can start it"
    say "starting the Docker daemon"
    # No iptables rules, no masquerading: containers reach this machine (the bridge) and nothing else.
    # The default bridge stays: sam local invoke talks to the container through a port published on it.
    dockerd --iptables=false --ip-masq=false >"$WORK/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
    docker info >/dev/null 2>&1 \
        || skip "the Docker daemon cannot run here: $(tail -3 "$WORK/dockerd.log" | tr '\n' ' ')"
fi
if [ ! -x "$BIN/sam" ]; then
    say "installing aws-sam-cli into .venv"
    "$BIN/pip" install -q aws-sam-cli || { say "aws-sam-cli could not be installed"; exit 1; }
fi

# ---------------------------------------------------------------- Image
if [ -z "${BASE_IMAGE:-}" ]; then
    bash scripts/make-base-image.sh "$STANDIN"
    BASE_IMAGE="$STANDIN"
fi

build_args=(--build-arg "BASE_IMAGE=$BASE_IMAGE" --build-arg "TORCH_SPEC=$TORCH_SPEC")
mkdir -p build/container
rm -f build/container/pip-ca.crt
# Where TLS to the package index is intercepted pip needs this machine's CA bundle.
ca="${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}"
[ -f "$ca" ] && cp "$ca" build/container/pip-ca.crt
sources="${PIP_SOURCES:-}"
if [ -z "$sources" ]; then
    if "$BIN/python" scripts/wheel-server.py --check >/dev/null 2>&1; then sources=local; else sources=default; fi
fi
if [ "$sources" = local ]; then
    "$BIN/python" scripts/wheel-server.py --port "${WHEEL_PORT:-38471}" >"$WORK/wheels.url" 2>"$WORK/wheels.log" &
    WHEELS_PID=$!
    for _ in $(seq 1 50); do [ -s "$WORK/wheels.url" ] && break; sleep 0.1; done
    [ -s "$WORK/wheels.url" ] || { say "the wheel server did not start: $(cat "$WORK/wheels.log")"; exit 1; }
    build_args+=(--build-arg "PIP_EXTRA_INDEX_URL=$(head -1 "$WORK/wheels.url")")
fi

say "building $IMAGE from $BASE_IMAGE (packages: $sources; $TORCH_SPEC)"
started=$(date +%s)
if ! nice -n 10 docker build --force-rm --network host -f Dockerfile.lambda "${build_args[@]}" -t "$IMAGE" . \
    >"$WORK/build.log" 2>&1; then
    tail -40 "$WORK/build.log" >&2
    say "docker build failed"
    exit 1
fi
say "built in $(( $(date +%s) - started )) s"
if [ -n "$WHEELS_PID" ]; then kill "$WHEELS_PID"; wait "$WHEELS_PID" 2>/dev/null || true; WHEELS_PID=""; fi
docker image prune -f >/dev/null  # the untagged layers an earlier build of the same tag left
size_mb=$(( $(docker image inspect --format '{{.Size}}' "$IMAGE") / 1000000 ))
expect_model=0
[ -f models/korplate.pth ] && expect_model=1

# ---------------------------------------------------------------- AWS on moto, on the bridge
# The bridge's address on this machine: what containers reach it by (Docker does not always record it
# in the network's IPAM config, so it is read off the interface).
bridge_if="$(docker network inspect bridge --format '{{index .Options "com.docker.network.bridge.name"}}')"
gateway="$("$BIN/python" - "${bridge_if:-docker0}" <<'EOF'
import fcntl, socket, struct, sys
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
request = struct.pack("256s", sys.argv[1][:15].encode())
print(socket.inet_ntoa(fcntl.ioctl(sock.fileno(), 0x8915, request)[20:24]))  # SIOCGIFADDR
EOF
)" || gateway=""
[ -n "$gateway" ] || { say "no IPv4 address on the Docker bridge ${bridge_if:-docker0}"; exit 1; }
moto_port="$("$BIN/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$BIN/moto_server" -H "$gateway" -p "$moto_port" >"$WORK/moto.log" 2>&1 &
MOTO_PID=$!
"$BIN/python" - "http://$gateway:$moto_port/moto-api/" <<'EOF' \
    || { say "the moto server did not start: $(tail -3 "$WORK/moto.log")"; exit 1; }
import sys, time, urllib.request
for _ in range(150):
    try:
        urllib.request.urlopen(sys.argv[1], timeout=1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
EOF

# ---------------------------------------------------------------- sam local invoke
[ "$expect_model" = 1 ] || say "models/korplate.pth is absent: reading events must answer 503 model_unavailable"
set +e
PLATE_OCR_IMAGE="$IMAGE" \
PLATE_OCR_AWS_ENDPOINT="http://$gateway:$moto_port" \
PLATE_OCR_EXPECT_MODEL="$expect_model" \
PLATE_OCR_COLD_START_FILE="$WORK/cold-start.txt" \
    "$BIN/pytest" -m container -q -p no:cacheprovider tests/container "$@"
status=$?
set -e

echo "IMAGE $IMAGE base=$BASE_IMAGE size_mb=$size_mb model=$([ "$expect_model" = 1 ] && echo yes || echo absent)"
if [ -s "$WORK/cold-start.txt" ]; then
    grep '^COLD_START ' "$WORK/cold-start.txt"
    grep '^# ' "$WORK/cold-start.txt" | sed 's/^# /container-test: figures from /' >&2 || true
fi
exit "$status"
