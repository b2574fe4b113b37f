"""The SAM template keeps the promises the handlers rely on (cfn-lint runs in `sam validate`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    decode = pytest.importorskip("cfnlint.decode").decode
    parsed, matches = decode(str(ROOT / "template.yaml"))
    assert not matches
    return dict(parsed)


def _resources(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def test_both_functions_share_one_image_and_differ_only_in_command(template):
    functions = _resources(template, "AWS::Serverless::Function")
    api, batch = functions["ApiFunction"], functions["BatchFunction"]

    assert api["Metadata"] == batch["Metadata"]
    assert api["Metadata"]["Dockerfile"] == "Dockerfile.lambda"
    assert api["Properties"]["PackageType"] == batch["Properties"]["PackageType"] == "Image"
    assert api["Properties"]["ImageConfig"]["Command"] == ["api.app.lambda_handler"]
    assert batch["Properties"]["ImageConfig"]["Command"] == ["batch.app.lambda_handler"]


def test_commands_name_handlers_that_exist():
    import api.app
    import batch.app

    assert callable(api.app.lambda_handler)
    assert callable(batch.app.lambda_handler)


def test_queue_visibility_is_at_least_six_function_timeouts(template):
    timeouts = template["Mappings"]["BatchTimeouts"]
    allowed = template["Parameters"]["BatchTimeout"]["AllowedValues"]

    assert sorted(timeouts, key=int) == sorted(allowed, key=int)
    for row in timeouts.values():
        assert row["Visibility"] >= 6 * row["Function"]


def test_failing_messages_end_in_the_dead_letter_queue(template):
    queue = template["Resources"]["IncomingQueue"]["Properties"]
    event = template["Resources"]["BatchFunction"]["Properties"]["Events"]["IncomingPhotos"]

    assert "DeadLetterQueue" in str(queue["RedrivePolicy"]["deadLetterTargetArn"])
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_only_incoming_triggers_the_batch(template):
    bucket = template["Resources"]["PhotoBucket"]["Properties"]
    (notification,) = bucket["NotificationConfiguration"]["QueueConfigurations"]
    rules = notification["Filter"]["S3Key"]["Rules"]

    assert rules == [{"Name": "prefix", "Value": "incoming/"}]
    prefixes = {r["Prefix"] for r in bucket["LifecycleConfiguration"]["Rules"]}
    assert prefixes == {"incoming/", "results/"}


def test_bucket_is_private_encrypted_and_tls_only(template):
    bucket = template["Resources"]["PhotoBucket"]["Properties"]
    policy = template["Resources"]["PhotoBucketPolicy"]["Properties"]["PolicyDocument"]

    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    (deny,) = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_api_accepts_binary_photos_and_multipart(template):
    api = template["Resources"]["Api"]["Properties"]

    assert {"image~1jpeg", "image~1png", "image~1webp", "multipart~1form-data"} <= set(
        api["BinaryMediaTypes"]
    )


def test_every_route_of_the_app_is_wired_in_the_template(template):
    import api.app

    events = template["Resources"]["ApiFunction"]["Properties"]["Events"].values()
    wired = {(e["Properties"]["Method"].upper(), e["Properties"]["Path"]) for e in events}
    routes = {
        (route.method.upper(), route.openapi_path)
        for route in api.app.app._static_routes + api.app.app._dynamic_routes
    }

    assert wired == routes
    assert ("POST", "/ocr/license-plate") in routes


def test_the_api_key_guards_the_reading_routes_only_when_enabled(template):
    body = template["Resources"]["Api"]["Properties"]["DefinitionBody"]
    guarded = {
        (method.upper(), path)
        for path, operations in body["paths"].items()
        for method, operation in operations.items()
        if "security" in operation
    }

    assert guarded == {
        ("POST", "/ocr/license-plate"),
        ("POST", "/warmup"),
        ("POST", "/uploads"),
        ("GET", "/results/{result_id}"),
    }
    for path, operations in body["paths"].items():
        for operation in operations.values():
            condition, when_on, when_off = operation["security"]["Fn::If"]
            assert (condition, when_on, when_off) == ("UseApiKey", [{"api_key": []}], []), path
    for name in ("ApiUsagePlan", "ApiKey", "ApiUsagePlanKey"):
        assert template["Resources"][name]["Condition"] == "UseApiKey"
    assert template["Parameters"]["EnableApiKey"]["Default"] == "false"


def test_only_the_functions_may_read_the_gemini_key(template):
    policy = template["Resources"]["GeminiSecretPolicy"]["Properties"]["ResourcePolicy"]
    (deny,) = policy["Statement"]

    assert deny["Effect"] == "Deny"
    assert deny["Action"] == "secretsmanager:GetSecretValue"
    readers = deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
    assert readers == [
        {"Fn::GetAtt": ["ApiFunctionRole", "Arn"]},
        {"Fn::GetAtt": ["BatchFunctionRole", "Arn"]},
    ]
