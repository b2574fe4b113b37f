#!/usr/bin/env bash
# Makes a stand-in for public.ecr.aws/lambda/python where container registries cannot be reached.
#
# Debian bookworm (debootstrap, minbase) + its python3 (3.11, not the 3.12 of the AWS image) + pip +
# awslambdaric, with the entrypoint contract of the AWS base image:
#   ENTRYPOINT ["/lambda-entrypoint.sh"], CMD ["<module>.<function>"], WORKDIR /var/task,
#   LAMBDA_TASK_ROOT=/var/task, LAMBDA_RUNTIME_DIR=/var/runtime, /var/runtime/bootstrap.
# /lambda-entrypoint.sh runs the bootstrap when AWS_LAMBDA_RUNTIME_API is set (under Lambda, or under the
# emulator that `sam local invoke` mounts at /var/rapid and puts in front of the entrypoint), else it starts
# the emulator at /usr/local/bin/aws-lambda-rie (copied from the aws-sam-cli package) so that
# `docker run -p 9000:8080 IMAGE` answers on /2015-03-31/functions/function/invocations as the AWS image does.
#
# Usage: scripts/make-base-image.sh [IMAGE_NAME]   (default plate-ocr/lambda-python-standin:bookworm)
# Needs root, debootstrap and a running Docker daemon. Set FORCE=1 to rebuild an existing image.
set -euo pipefail

IMAGE="${1:-plate-ocr/lambda-python-standin:bookworm}"
SUITE="${SUITE:-bookworm}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
HERE="$(cd "$(dirname "$0")/.." && pwd)"
PIP_PY="${PIP_PY:-$HERE/.venv/bin/python}"
[ -x "$PIP_PY" ] || PIP_PY="$(command -v python3)"

if [ "${FORCE:-0}" != 1 ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
    echo "base image $IMAGE exists (FORCE=1 rebuilds it)"
    exit 0
fi
command -v debootstrap >/dev/null || {
    echo "make-base-image: installing debootstrap" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
}

ROOT="$(mktemp -d /tmp/lambda-base.XXXXXX)"
trap 'rm -rf "$ROOT"' EXIT

echo "make-base-image: debootstrap $SUITE into $ROOT"
debootstrap --variant=minbase --include=python3,python3-pip,ca-certificates \
    "$SUITE" "$ROOT" "$MIRROR" >"$ROOT.log" 2>&1 || { tail -20 "$ROOT.log"; exit 1; }
rm -f "$ROOT.log"

PYVER="$(chroot "$ROOT" /usr/bin/python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"

# The AWS image's interpreter lives in /var/lang/bin and its Python is not marked externally managed.
mkdir -p "$ROOT/var/lang/bin" "$ROOT/var/runtime" "$ROOT/var/task" "$ROOT/opt/python"
for name in python python3 "python$PYVER"; do ln -sf /usr/bin/python3 "$ROOT/var/lang/bin/$name"; done
printf '#!/bin/sh\nexec /usr/bin/python3 -m pip "$@"\n' >"$ROOT/var/lang/bin/pip"
chmod 755 "$ROOT/var/lang/bin/pip"
rm -f "$ROOT"/usr/lib/python3*/EXTERNALLY-MANAGED

# awslambdaric is fetched here (the chroot has no network set up) as wheels for the chroot's Python.
"$PIP_PY" -m pip install --quiet --no-compile --target "$ROOT/var/runtime" \
    --only-binary=:all: --implementation cp --python-version "$PYVER" \
    --platform manylinux2014_x86_64 awslambdaric 2> >(grep -v "is ignored: it is neither" >&2)

cat >"$ROOT/lambda-entrypoint.sh" <<'EOF'
#!/bin/sh
# Same contract as the AWS base image: one argument, the handler.
if [ $# -ne 1 ]; then
  echo "entrypoint requires the handler name to be the first argument" 1>&2
  exit 142
fi
export _HANDLER="$1"

RUNTIME_ENTRYPOINT=/var/runtime/bootstrap
if [ -z "${AWS_LAMBDA_RUNTIME_API}" ]; then
  exec /usr/local/bin/aws-lambda-rie $RUNTIME_ENTRYPOINT
else
  exec $RUNTIME_ENTRYPOINT
fi
EOF

cat >"$ROOT/var/runtime/bootstrap" <<EOF
#!/bin/sh
export AWS_EXECUTION_ENV=AWS_Lambda_python$PYVER
exec /var/lang/bin/python$PYVER /var/runtime/bootstrap.py
EOF

# sys.path as in the AWS image: the task root first, then layers (/opt/python), then the runtime.
cat >"$ROOT/var/runtime/bootstrap.py" <<'EOF'
import os
import site
import sys

runtime_dir = os.path.dirname(os.path.abspath(__file__))
if runtime_dir in sys.path:
    sys.path.remove(runtime_dir)
task_root = os.environ.get("LAMBDA_TASK_ROOT", "/var/task")
version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
sys.path.insert(0, task_root)
site.addsitedir(f"/opt/python/lib/{version}/site-packages")
site.addsitedir("/opt/python")
sys.path.append(runtime_dir)

from awslambdaric.__main__ import main  # noqa: E402

main([sys.argv[0], os.environ["_HANDLER"]])
EOF
chmod 755 "$ROOT/lambda-entrypoint.sh" "$ROOT/var/runtime/bootstrap"

# The emulator for plain `docker run`, as the AWS image ships it (sam local invoke mounts its own).
RIE="$("$PIP_PY" -c 'import pathlib, samcli; print(pathlib.Path(samcli.__file__).parent / "local/rapid/aws-lambda-rie-x86_64")' 2>/dev/null || true)"
if [ -n "$RIE" ] && [ -f "$RIE" ]; then
    install -m 755 "$RIE" "$ROOT/usr/local/bin/aws-lambda-rie"
else
    echo "make-base-image: aws-sam-cli not found, no /usr/local/bin/aws-lambda-rie (plain docker run needs it)" >&2
fi

rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/* "$ROOT"/usr/share/doc \
    "$ROOT"/usr/share/man "$ROOT"/usr/share/locale

echo "make-base-image: importing $IMAGE"
tar -C "$ROOT" -c . | docker import \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV TZ=:/etc/localtime' \
    --change 'ENV PATH=/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin' \
    --change 'ENV LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib' \
    --change 'ENV LAMBDA_TASK_ROOT=/var/task' \
    --change 'ENV LAMBDA_RUNTIME_DIR=/var/runtime' \
    --change 'WORKDIR /var/task' \
    --change 'ENTRYPOINT ["/lambda-entrypoint.sh"]' \
    --change 'CMD ["app.handler"]' \
    - "$IMAGE" >/dev/null
docker image inspect --format 'make-base-image: {{.RepoTags}} {{.Size}} bytes' "$IMAGE"
