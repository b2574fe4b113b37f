"""Faults behind the API, each answered with a defined status, never a 500, and no secret in logs.

Stage 2 runs the real google-genai client against a loopback stand-in for Gemini (429, 500, a
timeout, malformed answers); Secrets Manager is moto with IAM enforced (access denied); the model
directory is missing for the real pipeline lifecycle. The batch path's S3 faults are in
test_batch_redelivery.py.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from hardening_support import BOX, http, run_handler_script
from moto import mock_aws
from moto import settings as moto_settings
from moto.core.authorization import ActionAuthenticatorMixin

from plate_ocr import gemini as gemini_module
from plate_ocr import lifecycle
from plate_ocr.config import Settings
from plate_ocr.gemini import GeminiReader, build_fallback
from plate_ocr.pipeline import Pipeline
from tests.support.calibration import weakest_char
from tests.support.fakes import PLATE, FakeLocator, FakeRecognizer
from tests.support.gemini_stand_in import GeminiStandIn, gemini_answer

KEY = "AIzaSy-hardening-key-that-must-never-be-logged-42"
REGION = "ap-northeast-2"


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gemini_module, "RETRY_INITIAL_DELAY", 0.01)
    monkeypatch.setattr(gemini_module, "RETRY_JITTER", 0.0)


@pytest.fixture
def debug_logs(api: Any, caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Everything at DEBUG: the handler's JSON logs (LOG_LEVEL=DEBUG), plate_ocr, third parties."""
    previous = api.logger.log_level
    api.logger.setLevel("DEBUG")
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="plate_ocr")
    yield caplog
    api.logger.setLevel(previous)


def _read(server: Any, photo: bytes) -> Any:
    reply = http(
        f"{server.url}/ocr/license-plate", data=photo, headers={"Content-Type": "image/jpeg"}
    )
    assert reply.status == 200, reply.body[:300]
    return reply.json()


def _stage_two_pipeline(monkeypatch: pytest.MonkeyPatch, reader: Any, settings: Settings) -> None:
    # Stage 1 reads nothing, so every request asks stage 2.
    pipeline = Pipeline(
        [FakeLocator(box=BOX)], FakeRecognizer(text=""), weakest_char, reader, settings=settings
    )
    monkeypatch.setattr(lifecycle, "get_pipeline", lambda: pipeline)


GEMINI_FAULTS = {
    "429-rate-limited": ((429, {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}}, 0.0),),
    "500-server-error": ((500, {"error": {"code": 500, "status": "INTERNAL"}}, 0.0),),
    "503-then-429": (
        (503, {"error": {"code": 503, "status": "UNAVAILABLE"}}, 0.0),
        (429, {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}}, 0.0),
    ),
    "timeout": ((200, gemini_answer({"plate_number": PLATE}), 3.0),),
    "malformed-json-text": ((200, gemini_answer("{plate_number: 12가"), 0.0),),
    "not-a-plate": ((200, gemini_answer({"plate_number": "DROP TABLE", "confidence": 1}), 0.0),),
    "body-not-json": ((200, b"<html>proxy error</html>", 0.0),),
    "no-candidates": ((200, {"candidates": []}, 0.0),),
}


@pytest.mark.parametrize("name", list(GEMINI_FAULTS), ids=list(GEMINI_FAULTS))
def test_gemini_faults_give_a_200_without_a_plate_and_never_log_the_key(
    server, photo, settings, monkeypatch, capfd, debug_logs, name
):
    # GIVEN Gemini answering with the fault (the last answer repeats)
    replies = GEMINI_FAULTS[name]
    with GeminiStandIn(lambda n: replies[min(n, len(replies)) - 1]) as gemini:
        config = settings.model_copy(
            update={
                "gemini_base_url": gemini.url,
                "gemini_timeout_seconds": 1.0,
                "gemini_max_attempts": 2,
            }
        )
        _stage_two_pipeline(monkeypatch, GeminiReader(config, lambda: KEY), config)

        # WHEN a photo that stage 1 cannot read is sent
        body = _read(server, photo)

    # THEN the answer says no plate and why, and the key reached Gemini but not the logs
    assert body["success"] is False
    assert body["stage_id"] == "failed"
    assert body["stage2_status"].startswith("error:") or body["stage2_status"] in (
        "no_plate",
        "invalid_plate",
    )
    assert gemini.calls and all(c.headers["x-goog-api-key"] == KEY for c in gemini.calls)
    assert len(gemini.calls) <= config.gemini_max_attempts
    out, err = capfd.readouterr()
    assert "gemini" in (out + debug_logs.text).lower()  # the fallback did log
    assert KEY not in out + err + debug_logs.text


def test_a_successful_fallback_logs_neither_the_key_nor_the_plate_at_info(
    server, photo, settings, monkeypatch, capfd, caplog
):
    caplog.set_level(logging.INFO)
    answer = gemini_answer({"plate_number": PLATE, "confidence": 0.9})
    with GeminiStandIn(lambda n: (200, answer, 0.0)) as gemini:
        config = settings.model_copy(update={"gemini_base_url": gemini.url})
        _stage_two_pipeline(monkeypatch, GeminiReader(config, lambda: KEY), config)

        body = _read(server, photo)

    assert (body["stage_id"], body["plate_number"]) == ("stage2", PLATE)
    out, err = capfd.readouterr()
    logs = out + err + caplog.text
    assert KEY not in logs
    assert PLATE not in logs


# --- Secrets Manager --------------------------------------------------------------------------


@pytest.fixture
def denied_secret(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A secret holding the key, and credentials of a role that may not read it (IAM enforced)."""
    # The first 4 calls set the scene; from then on moto checks IAM like AWS (what moto's
    # set_initial_no_auth_action_count decorator does, for a fixture).
    monkeypatch.setattr(moto_settings, "INITIAL_NO_AUTH_ACTION_COUNT", 4)
    monkeypatch.setattr(ActionAuthenticatorMixin, "request_count", 0)
    with mock_aws():
        secrets = boto3.client("secretsmanager", region_name=REGION)
        value = json.dumps({"api_key": KEY})
        arn = secrets.create_secret(Name="plate-ocr/h/gemini", SecretString=value)["ARN"]
        iam = boto3.client("iam", region_name=REGION)
        iam.create_user(UserName="api-function")
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
        }
        iam.put_user_policy(
            UserName="api-function", PolicyName="no-secrets", PolicyDocument=json.dumps(policy)
        )
        key = iam.create_access_key(UserName="api-function")["AccessKey"]
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
        monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
        monkeypatch.delenv("AWS_SECURITY_TOKEN", raising=False)
        yield arn


def test_secrets_manager_access_denied_skips_stage_two_without_failing_the_request(
    server, photo, settings, monkeypatch, capfd, caplog, denied_secret
):
    caplog.set_level(logging.DEBUG, logger="plate_ocr")
    with GeminiStandIn(lambda n: (200, gemini_answer({"plate_number": PLATE}), 0.0)) as gemini:
        config = settings.model_copy(
            update={"gemini_secret_id": denied_secret, "gemini_base_url": gemini.url}
        )
        _stage_two_pipeline(monkeypatch, build_fallback(config), config)

        # WHEN two photos need stage 2 and the role may not read the secret
        first, second = _read(server, photo), _read(server, photo)

    # THEN both are answered (no plate, stage 2 reported as a secret error), Gemini is not called
    for body in (first, second):
        assert (body["success"], body["stage2_status"]) == (False, "error:secret")
    assert gemini.calls == []
    out, err = capfd.readouterr()
    assert "gemini key unavailable" in caplog.text
    assert KEY not in out + err + caplog.text


# --- the model directory is missing -----------------------------------------------------------


def test_a_missing_model_directory_gives_503_and_an_error_status_not_a_crash(
    bare_server, photo, tmp_path, monkeypatch
):
    # GIVEN the production lifecycle pointed at a model directory that does not exist
    missing = Settings(model_dir=tmp_path / "no-such-dir")
    monkeypatch.setattr(lifecycle, "get_settings", lambda: missing)
    builds: list[int] = []
    real_build = lifecycle._build

    def counting_build(settings: Settings) -> Pipeline:
        builds.append(1)
        return real_build(settings)

    monkeypatch.setattr(lifecycle, "_build", counting_build)
    url = bare_server.url

    # WHEN the process serves, and photos are sent
    assert http(f"{url}/healthz").status == 200
    replies = [
        http(f"{url}/ocr/license-plate", data=photo, headers={"Content-Type": "image/jpeg"})
        for _ in range(3)
    ]
    status = http(f"{url}/status")
    warmup = http(f"{url}/warmup", method="POST")
    dry_run = http(
        f"{url}/ocr/license-plate?dryRun=true", data=photo, headers={"Content-Type": "image/jpeg"}
    )

    # THEN every read is a clear 503, /status says error and why, nothing crashed
    for reply in [*replies, warmup]:
        assert reply.status == 503
        assert reply.json()["error"] == "model_unavailable"
        assert "korplate.pth" in reply.json()["message"]
    assert status.status == 200
    assert status.json()["status"] == "error"
    assert "korplate.pth" in status.json()["detail"]
    # AND the failed load is not retried on every request (no load loop)
    assert len(builds) == 1
    # AND what needs no model still works
    assert dry_run.status == 200
    assert http(f"{url}/healthz").status == 200


def test_the_handlers_start_without_a_model_directory(tmp_path):
    # A Lambda whose init raises is restarted in a loop; the handlers must import and answer.
    script = (
        "import api.app, batch.app\n"
        "from plate_ocr.localserver import make_api_event, LambdaContext\n"
        "r = api.app.lambda_handler(make_api_event('GET', '/status'), LambdaContext())\n"
        "print(r['statusCode'])\n"
        "r = api.app.lambda_handler(make_api_event('POST', '/warmup'), LambdaContext())\n"
        "print(r['statusCode'], r['body'])\n"
    )
    lines = run_handler_script(script, tmp_path, PLATE_OCR_MODEL_DIR=str(tmp_path / "no-such-dir"))
    assert lines[0] == "200"
    assert lines[1].startswith("503") and "model_unavailable" in lines[1]
