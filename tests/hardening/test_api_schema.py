"""schemathesis against the app's own OpenAPI, served by the local server: no 5xx, answers match it.

The document is fetched over HTTP from the running server (what a client sees), and every
operation in it gets a bounded number of generated requests, valid and invalid ones. Engines are
fakes and S3 is moto, so the run is fast and deterministic (``derandomize``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

schemathesis = pytest.importorskip("schemathesis")
from hardening_support import BOX, FUNCTIONS_DIR  # noqa: E402
from moto import mock_aws  # noqa: E402

from plate_ocr import lifecycle, storage  # noqa: E402
from plate_ocr.config import Settings  # noqa: E402
from plate_ocr.localserver import make_server  # noqa: E402
from plate_ocr.pipeline import Pipeline  # noqa: E402
from plate_ocr.storage import S3Store  # noqa: E402
from tests.support.calibration import weakest_char  # noqa: E402
from tests.support.fakes import FakeFallback, FakeLocator, FakeRecognizer  # noqa: E402

REGION = "ap-northeast-2"
BUCKET = "plate-ocr-schema-test"
#: Generated requests per operation; PLATE_OCR_SCHEMA_EXAMPLES raises it for a longer local run.
EXAMPLES = int(os.getenv("PLATE_OCR_SCHEMA_EXAMPLES", "40"))


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import api.app as module
    import api.docs

    config = Settings(
        bucket_name=BUCKET,
        model_dir=tmp_path_factory.mktemp("no-models"),
        timeout_seconds=10,
    )
    pipeline = Pipeline(
        [FakeLocator(box=BOX)],
        FakeRecognizer(),
        weakest_char,
        fallback=FakeFallback(),
        settings=config,
    )
    with mock_aws(), pytest.MonkeyPatch.context() as patch:
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        patch.setattr(module, "settings", config)
        patch.setattr(lifecycle, "get_pipeline", lambda: pipeline)
        patch.setattr(lifecycle, "warm_up", lambda: 0.01)
        patch.setattr(storage, "get_store", lambda: S3Store(s3, config))
        patch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
        api.docs.openapi_document.cache_clear()
        httpd = make_server("127.0.0.1", 0, "api.app.lambda_handler", FUNCTIONS_DIR)
        thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        host, port = httpd.server_address[:2]
        yield f"http://{host!s}:{port}"
        httpd.shutdown()
        httpd.server_close()
        api.docs.openapi_document.cache_clear()


def test_the_api_keeps_its_openapi_promises(base_url: str, tmp_path: Path) -> None:
    # GIVEN the document the running server publishes
    # WHEN schemathesis sends a bounded number of generated requests to every operation
    # (its CLI: the pytest plugin of this release does not run under pytest 9)
    command = [
        str(Path(sys.executable).with_name("st")),
        "--config-file",
        str(Path(__file__).with_name("schemathesis.toml")),
        "run",
        f"{base_url}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        str(EXAMPLES),
        "--generation-deterministic",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-failures",
        "20",
        "--request-timeout",
        "20",
        "--workers",
        "1",
        "--no-color",
    ]
    run = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=tmp_path,  # its .schemathesis/ cache stays out of the checkout
    )

    # THEN no 5xx, only listed statuses, content types and bodies as documented
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
