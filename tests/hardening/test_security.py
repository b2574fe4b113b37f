"""Security promises: justified scanner skips, the API key switch, docs and CORS by parameter,
presigned uploads bounded in key, type, size and time. The scanners themselves run in
scripts/security-scan.sh; the Gemini key in logs is tested in test_faults.py.
"""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from hardening_support import ROOT, http, run_handler_script
from moto import mock_aws

from plate_ocr.config import Settings
from plate_ocr.storage import S3Store

REGION = "ap-northeast-2"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    decode = pytest.importorskip("cfnlint.decode").decode
    parsed, matches = decode(str(ROOT / "template.yaml"))
    assert not matches
    return dict(parsed)


def test_every_skipped_finding_is_justified_in_the_template(template):
    skipped = 0
    for name, resource in template["Resources"].items():
        metadata = resource.get("Metadata", {})
        for skip in metadata.get("checkov", {}).get("skip", []):
            skipped += 1
            assert skip["id"].startswith("CKV_"), name
            assert len(skip.get("comment", "")) > 40, (name, skip["id"])
        ignored = metadata.get("cfn-lint", {}).get("config", {}).get("ignore_checks", [])
        # cfn-lint ignores carry their reason as a YAML comment next to them
        assert set(ignored) <= {"ES2000", "ES6000", "ES7000"}, (name, ignored)
    assert skipped > 0


def _translate(template: dict[str, Any], **parameters: str) -> dict[str, Any]:
    """template.yaml through the SAM transform (offline), as CloudFormation would receive it."""
    transform = pytest.importorskip("samtranslator.translator.transform").transform
    document = json.loads(json.dumps(template, default=str))
    for function in ("ApiFunction", "BatchFunction"):
        # `sam build` sets this; the transform refuses an image function without it.
        document["Resources"][function]["Properties"]["ImageUri"] = (
            f"123456789012.dkr.ecr.{REGION}.amazonaws.com/plate-ocr:latest"
        )

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    return dict(transform(document, parameters, NoManagedPolicies()))


def _resolve(value: Any, conditions: dict[str, bool]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"Fn::If"}:
            name, when_true, when_false = value["Fn::If"]
            return _resolve(when_true if conditions[name] else when_false, conditions)
        return {k: _resolve(v, conditions) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, conditions) for v in value]
    return value


@pytest.mark.parametrize("enabled", [True, False], ids=["api-key-on", "api-key-off"])
def test_the_api_key_switch_guards_the_reading_routes_of_the_deployed_api(template, enabled):
    # GIVEN the template as the SAM transform hands it to CloudFormation
    out = _translate(template, EnableApiKey=str(enabled).lower())
    (rest,) = [r for r in out["Resources"].values() if r["Type"] == "AWS::ApiGateway::RestApi"]
    body = _resolve(rest["Properties"]["Body"], {"UseApiKey": enabled})

    # THEN the operations that cost money need x-api-key exactly when the switch is on
    guarded = {
        (method.upper(), path)
        for path, operations in body["paths"].items()
        for method, operation in operations.items()
        if operation.get("security")
    }
    reading = {
        ("POST", "/ocr/license-plate"),
        ("POST", "/anonymize"),
        ("POST", "/warmup"),
        ("POST", "/uploads"),
        ("GET", "/results/{result_id}"),
    }
    assert guarded == (reading if enabled else set())
    assert body["components"]["securitySchemes"]["api_key"] == {
        "type": "apiKey",
        "name": "x-api-key",
        "in": "header",
    }
    # AND each guarded operation still reaches the function (the merge kept the integration)
    for method, path in reading:
        integration = body["paths"][path][method.lower()]["x-amazon-apigateway-integration"]
        assert integration["type"] == "aws_proxy"
    # AND the key exists, in a usage plan on the API's stage, only when the switch is on
    plans = {
        k: v for k, v in out["Resources"].items() if v["Type"].startswith("AWS::ApiGateway::Usage")
    }
    assert {v.get("Condition") for v in plans.values()} == {"UseApiKey"}
    plan = out["Resources"]["ApiUsagePlan"]["Properties"]
    assert plan["ApiStages"] == [{"ApiId": {"Ref": "Api"}, "Stage": {"Ref": "ApiStage"}}]
    assert "ApiStage" in out["Resources"]


def test_swagger_ui_is_switched_by_a_parameter(template):
    env = template["Globals"]["Function"]["Environment"]["Variables"]

    assert env["PLATE_OCR_ENABLE_DOCS"] == {"Ref": "EnableDocs"}
    assert template["Parameters"]["EnableDocs"]["AllowedValues"] == ["true", "false"]
    assert Settings(_env_file=None, enable_docs="false").enable_docs is False  # type: ignore[call-arg]


def test_with_docs_off_the_server_hides_swagger_and_the_document(
    server, api, monkeypatch, settings
):
    monkeypatch.setattr(api, "settings", settings.model_copy(update={"enable_docs": False}))

    for path in ("/docs", "/openapi.json"):
        reply = http(f"{server.url}{path}")
        assert reply.status == 404
        assert b"swagger" not in reply.body.lower()
    assert http(f"{server.url}/healthz").status == 200


def test_cors_origin_is_one_parameter_everywhere(template):
    resources = template["Resources"]
    api = resources["Api"]["Properties"]
    bucket_cors = resources["PhotoBucket"]["Properties"]["CorsConfiguration"]["CorsRules"]
    env = template["Globals"]["Function"]["Environment"]["Variables"]

    assert api["Cors"]["AllowOrigin"] == {"Fn::Sub": "'${CorsOrigin}'"}
    for response in api["DefinitionBody"]["x-amazon-apigateway-gateway-responses"].values():
        origin = response["responseParameters"][
            "gatewayresponse.header.Access-Control-Allow-Origin"
        ]
        assert origin == {"Fn::Sub": "'${CorsOrigin}'"}
    # The bucket also takes posts from the page itself, which the API's own origin serves.
    assert [rule["AllowedOrigins"] for rule in bucket_cors] == [
        [
            {"Ref": "CorsOrigin"},
            {"Fn::Sub": "https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}"},
        ]
    ]
    assert env["CORS_ORIGINS"] == {"Ref": "CorsOrigin"}


def test_a_narrowed_cors_origin_is_granted_to_that_origin_only(tmp_path):
    # The CORS configuration is built when the handler is imported: a fresh process.
    script = (
        "import json\n"
        "import api.app\n"
        "from plate_ocr.localserver import make_api_event, LambdaContext\n"
        "for origin in ('https://plates.example.kr', 'https://evil.example'):\n"
        "    event = make_api_event('OPTIONS', '/ocr/license-plate', headers={\n"
        "        'Origin': origin, 'Access-Control-Request-Method': 'POST'})\n"
        "    r = api.app.lambda_handler(event, LambdaContext())\n"
        "    headers = {k.lower(): v for k, v in (r.get('multiValueHeaders') or {}).items()}\n"
        "    print(json.dumps(headers.get('access-control-allow-origin')))\n"
    )
    lines = run_handler_script(script, tmp_path, CORS_ORIGINS="https://plates.example.kr")
    granted, refused = [json.loads(x) for x in lines]
    assert granted == ["https://plates.example.kr"]
    assert refused in (None, [])


def test_presigned_uploads_are_bounded_in_key_type_size_and_time(template):
    settings = Settings(bucket_name="plate-ocr-sec-test", upload_expires_seconds=300)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(
            Bucket="plate-ocr-sec-test", CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        before = datetime.now(UTC)
        upload = S3Store(s3, settings).presign_upload("image/png")

    policy = json.loads(base64.b64decode(upload.fields["policy"]))
    conditions = policy["conditions"]
    # exactly one key, under incoming/, named by the server (no starts-with wildcard)
    assert {"key": upload.key} in conditions
    assert upload.key.startswith("incoming/") and "/" not in upload.key.removeprefix("incoming/")
    assert not [c for c in conditions if isinstance(c, list) and c[0] == "starts-with"]
    # exactly the declared image type, and 1 byte to the limit
    assert {"Content-Type": "image/png"} in conditions
    assert ["content-length-range", 1, settings.max_image_bytes] in conditions
    # a short life
    expires = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    assert 0 < (expires - before).total_seconds() <= settings.upload_expires_seconds + 5
    # AND the role that signs it may write only under incoming/ (a policy cannot widen the role)
    role = template["Resources"]["ApiFunctionRole"]["Properties"]
    statements = role["Policies"][0]["PolicyDocument"]["Statement"]
    # (a statement behind a condition, Fn::If, as it is when the condition holds)
    statements = [s["Fn::If"][1] if "Fn::If" in s else s for s in statements]
    puts = [s for s in statements if "s3:PutObject" in str(s["Action"])]
    assert len(puts) == 1
    assert str(puts[0]["Resource"]["Fn::Sub"]).endswith("/incoming/*")


@pytest.mark.parametrize(("code", "missing"), [("AccessDenied", True), ("NoSuchKey", True)])
def test_a_result_not_written_yet_is_none_whether_s3_says_404_or_403(code, missing):
    # The API's role may not list the bucket (template.yaml), so S3 answers 403 for a result
    # that is not there yet; other errors still raise.
    from botocore.exceptions import ClientError

    from plate_ocr.storage import S3Store

    class Client:
        def __init__(self, error: str) -> None:
            self.error = error

        def get_object(self, **kwargs: object) -> None:
            raise ClientError({"Error": {"Code": self.error, "Message": "x"}}, "GetObject")

    settings = Settings(bucket_name="plate-ocr-sec-test")
    assert (S3Store(Client(code), settings).get_result("0" * 32) is None) is missing
    with pytest.raises(ClientError):
        S3Store(Client("InternalError"), settings).get_result("0" * 32)
