"""Fixtures of the container tests: the image, moto (S3, Secrets Manager) and `sam local invoke`.

See samlocal.py for what scripts/container-test.sh passes in the environment.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from samlocal import (
    BUCKET,
    REGION,
    ROOT,
    SAM,
    SECRET_ID,
    ColdStart,
    SamLocal,
    closed_port,
    free_port,
    local_template,
    wait_for_http,
)


@pytest.fixture(scope="session")
def image() -> str:
    name = os.environ.get("PLATE_OCR_IMAGE")
    if not name:
        pytest.skip("container tests run through `make container-test` (PLATE_OCR_IMAGE unset)")
    if shutil.which("docker") is None:
        pytest.skip("no docker client")
    return name


@pytest.fixture(scope="session")
def expect_model() -> bool:
    return os.environ.get("PLATE_OCR_EXPECT_MODEL") == "1"


@pytest.fixture(scope="session")
def aws_endpoint(image: str) -> str:
    endpoint = os.environ.get("PLATE_OCR_AWS_ENDPOINT")
    if not endpoint:
        pytest.skip("PLATE_OCR_AWS_ENDPOINT (the moto server) is not set")
    return endpoint


@pytest.fixture(scope="session")
def s3(aws_endpoint: str) -> Any:
    client = boto3.client("s3", region_name=REGION, endpoint_url=aws_endpoint)
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
    return client


@pytest.fixture(scope="session")
def gemini_secret(aws_endpoint: str) -> str:
    client = boto3.client("secretsmanager", region_name=REGION, endpoint_url=aws_endpoint)
    with contextlib.suppress(client.exceptions.ResourceExistsException):
        client.create_secret(Name=SECRET_ID, SecretString=json.dumps({"api_key": "not-a-real-key"}))
    return SECRET_ID


@pytest.fixture(scope="session")
def function_env(aws_endpoint: str, s3: Any, gemini_secret: str) -> dict[str, str]:
    """The variables the functions run with: AWS on moto, stage 2 aimed at a closed port."""
    # The moto server listens on the bridge address, which containers reach.
    gateway = urlsplit(aws_endpoint).hostname or "172.17.0.1"
    return {
        "AWS_ENDPOINT_URL": aws_endpoint,
        "PLATE_OCR_BUCKET_NAME": BUCKET,
        "PLATE_OCR_GEMINI_SECRET_ID": gemini_secret,
        "PLATE_OCR_GEMINI_BASE_URL": f"http://{gateway}:{closed_port(gateway)}",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "LOG_LEVEL": "INFO",
    }


@pytest.fixture(scope="session")
def sam(image: str, function_env: dict[str, str], tmp_path_factory: Any) -> SamLocal:
    source = ROOT / "template.yaml"
    if not source.is_file():
        pytest.fail("template.yaml is missing")
    work = tmp_path_factory.mktemp("sam")
    template = work / "template.yaml"
    local_template(source, image, template)
    env_vars = work / "env.json"
    env_vars.write_text(json.dumps({"Parameters": function_env}), encoding="utf-8")
    repo = image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
    _prime(image)
    return SamLocal(template, env_vars, f"{repo}:rapid-x86_64")


#: Imports the function's heavy packages and reads the models, as the functions' init does.
_PRIME = (
    "import os, sys, pathlib; sys.path.insert(0, os.environ.get('LAMBDA_TASK_ROOT', '/var/task')); "
    "import torch, cv2, easyocr, plate_ocr.pipeline; "
    "models = pathlib.Path(os.environ['PLATE_OCR_MODEL_DIR']); "
    "[p.read_bytes() for p in models.iterdir() if p.is_file()]"
)


def _prime(image: str) -> None:
    """Reads the image's heavy files once before the first timed container.

    Once (2026-12-01), with the image from the build cache, the first container's init ran past the
    29 s function timeout, where it takes about 3 s; most likely torch, OpenCV and the models were
    cold on disk, which says nothing about the function. The cold-start figures come from later
    containers, so they are the same with or without this. A failure here is left to the tests.
    """
    with contextlib.suppress(subprocess.TimeoutExpired):
        subprocess.run(
            ["docker", "run", "--rm", "--entrypoint", "python3", image, "-c", _PRIME],
            capture_output=True,
            timeout=300,
            check=False,
        )


@pytest.fixture
def start_api(sam: SamLocal, tmp_path: Path) -> Iterator[str]:
    """`sam local start-api` on a free loopback port; its base URL."""
    port = free_port()
    log = (tmp_path / "start-api.log").open("w")
    cmd = [
        SAM, "local", "start-api",
        "--template-file", str(sam.template),
        "--env-vars", str(sam.env_vars),
        "--skip-pull-image",
        "--region", REGION,
        "--host", "127.0.0.1",
        "--port", str(port),
    ]  # fmt: skip
    proc = subprocess.Popen(
        cmd,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0", "AWS_DEFAULT_REGION": REGION},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        # A path no route has: SAM answers it itself, without starting a function container.
        wait_for_http(f"{base}/__readiness_probe", 120, proc)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="session")
def cold_starts() -> Iterator[dict[str, ColdStart]]:
    found: dict[str, ColdStart] = {}
    yield found
    target = os.environ.get("PLATE_OCR_COLD_START_FILE")
    lines = [cs.line() for cs in found.values()]
    notes = [f"# {cs.function}: {cs.sources}" for cs in found.values()]
    if target:
        Path(target).write_text("\n".join(lines + notes) + "\n", encoding="utf-8")
