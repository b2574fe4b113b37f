"""Shared test set-up: the handlers importable as in the image, and an AWS environment that is fake.

The image copies functions/ to LAMBDA_TASK_ROOT, so handlers import as ``api.app`` and
``batch.app``; putting functions/ on sys.path here gives the tests the same names. The AWS variables
are set before any handler or boto3 client is built: no test may reach a real account.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ROOT / "functions"
if str(FUNCTIONS) not in sys.path:
    sys.path.insert(0, str(FUNCTIONS))

for name, value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "ap-northeast-2",
    "AWS_REGION": "ap-northeast-2",
    "POWERTOOLS_SERVICE_NAME": "plate-ocr-test",
    "POWERTOOLS_METRICS_NAMESPACE": "PlateOcrTest",
    "POWERTOOLS_TRACE_DISABLED": "true",
}.items():
    os.environ[name] = value
# A developer's real profile must not leak into the tests.
os.environ.pop("AWS_PROFILE", None)


def pytest_configure(config: pytest.Config) -> None:
    # Routes that publish no business metric (healthz, docs) make Powertools warn on every call.
    config.addinivalue_line(
        "filterwarnings", "ignore:No application metrics to publish:UserWarning"
    )
