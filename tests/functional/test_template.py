"""The SAM template keeps the promises the handlers rely on (cfn-lint runs in `sam validate`)."""

from __future__ import annotations

import json
import re
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
    assert prefixes == {"incoming/", "results/", "anonymized/"}


def test_bucket_is_private_encrypted_and_tls_only(template):
    bucket = template["Resources"]["PhotoBucket"]["Properties"]
    policy = template["Resources"]["PhotoBucketPolicy"]["Properties"]["PolicyDocument"]

    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    (deny,) = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_api_accepts_every_photo_type_and_multipart_as_binary(template):
    from plate_ocr.formats import ImageType

    api = template["Resources"]["Api"]["Properties"]
    expected = {t.value.replace("/", "~1") for t in ImageType} | {"multipart~1form-data"}

    assert set(api["BinaryMediaTypes"]) == expected


def test_every_route_of_the_app_is_wired_in_the_template(template):
    import api.app

    events = template["Resources"]["ApiFunction"]["Properties"]["Events"].values()
    wired = {(e["Properties"]["Method"].upper(), e["Properties"]["Path"]) for e in events}
    routes = {
        (method, re.sub(r"<(\w+)>", r"{\1}", rule))
        for method, rule in api.app.app.declared_routes()
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
        ("POST", "/anonymize"),
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


# --- issue 12: alarms, concurrency, least privilege, TLS, access logs, security headers -------


def _statements(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    """The role's statements; one behind a condition (Fn::If) as it is when the condition holds."""
    policies = template["Resources"][role]["Properties"]["Policies"]
    statements = [s for p in policies for s in p["PolicyDocument"]["Statement"]]
    return [s["Fn::If"][1] if "Fn::If" in s else s for s in statements]


def test_the_dead_letter_alarm_notifies_a_topic_with_an_optional_email(template):
    resources = template["Resources"]
    alarm = resources["DeadLetterAlarm"]["Properties"]
    subscription = resources["AlarmEmailSubscription"]

    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    assert resources["AlarmTopic"]["Type"] == "AWS::SNS::Topic"
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}
    assert template["Parameters"]["AlarmEmail"]["Default"] == ""


def test_the_api_reserves_a_parameterised_concurrency(template):
    parameter = template["Parameters"]["ApiReservedConcurrency"]
    api = template["Resources"]["ApiFunction"]["Properties"]

    assert parameter["Default"] == 10
    assert api["ReservedConcurrentExecutions"] == {
        "Fn::If": [
            "ReserveApiConcurrency",
            {"Ref": "ApiReservedConcurrency"},
            {"Ref": "AWS::NoValue"},
        ]
    }


def test_only_the_batch_may_list_the_bucket_and_only_its_prefixes(template):
    # The internet-facing API function may not list keys (photo file names) at all; a listing
    # that sends no prefix would pass StringLikeIfExists.
    api = [s for s in _statements(template, "ApiFunctionRole") if "s3:ListBucket" in s["Action"]]
    (listing,) = [
        s for s in _statements(template, "BatchFunctionRole") if s["Action"] == "s3:ListBucket"
    ]

    assert api == []
    assert listing["Condition"] == {
        "StringLikeIfExists": {"s3:prefix": ["incoming/*", "results/*"]}
    }


@pytest.mark.parametrize("role", ["ApiFunctionRole", "BatchFunctionRole"])
def test_a_gemini_key_under_a_customer_kms_key_can_be_decrypted_through_secrets_manager(
    template, role
):
    (decrypt,) = [s for s in _statements(template, role) if s["Action"] == "kms:Decrypt"]
    policies = template["Resources"][role]["Properties"]["Policies"]
    raw = [s for p in policies for s in p["PolicyDocument"]["Statement"] if "Fn::If" in s]

    assert decrypt["Resource"] == {"Ref": "GeminiSecretKmsKeyArn"}
    assert decrypt["Condition"]["StringEquals"]["kms:ViaService"] == {
        "Fn::Sub": "secretsmanager.${AWS::Region}.amazonaws.com"
    }
    assert any(s["Fn::If"][0] == "DecryptGeminiSecret" for s in raw)


def test_the_web_page_may_post_large_photos_to_the_bucket(template):
    (rule,) = template["Resources"]["PhotoBucket"]["Properties"]["CorsConfiguration"]["CorsRules"]

    # The page is served from the API's own origin, whatever CorsOrigin names.
    assert {"Fn::Sub": "https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}"} in rule[
        "AllowedOrigins"
    ]


def test_a_batch_of_slow_records_fits_the_batch_functions_timeout(template):
    from plate_ocr.batch import RECORD_MARGIN_SECONDS

    parameters = template["Parameters"]
    function = template["Resources"]["BatchFunction"]["Properties"]
    size = function["Events"]["IncomingPhotos"]["Properties"]["BatchSize"]
    timeout = int(parameters["BatchTimeout"]["Default"])
    record = parameters["ReadTimeoutSeconds"]["Default"]

    assert size * record + RECORD_MARGIN_SECONDS <= timeout
    assert parameters["MaxReceiveCount"]["Default"] >= 5


def test_an_unread_backlog_raises_an_alarm(template):
    alarm = template["Resources"]["IncomingBacklogAlarm"]["Properties"]

    assert alarm["MetricName"] == "ApproximateAgeOfOldestMessage"
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["IncomingQueue", "QueueName"]}}
    ]
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]


@pytest.mark.parametrize("role", ["ApiFunctionRole", "BatchFunctionRole"])
def test_roles_have_no_managed_policies_and_only_xray_on_every_resource(template, role):
    properties = template["Resources"][role]["Properties"]
    function = role.removesuffix("Role")

    assert "ManagedPolicyArns" not in properties
    assert template["Resources"][function]["Properties"]["Role"] == {"Fn::GetAtt": [role, "Arn"]}
    on_everything = [s for s in _statements(template, role) if s["Resource"] == "*"]
    assert [sorted(s["Action"]) for s in on_everything] == [
        ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]
    ]
    (logs,) = [s for s in _statements(template, role) if "logs:PutLogEvents" in s["Action"]]
    assert (
        f"/aws/lambda/plate-ocr-${{Stage}}-{function.removesuffix('Function').lower()}:*"
        in (logs["Resource"]["Fn::Sub"])
    )


def test_the_dead_letter_queue_accepts_tls_only(template):
    policy = template["Resources"]["DeadLetterQueuePolicy"]["Properties"]

    assert policy["Queues"] == [{"Ref": "DeadLetterQueue"}]
    (deny,) = policy["PolicyDocument"]["Statement"]
    assert (deny["Effect"], deny["Condition"]) == (
        "Deny",
        {"Bool": {"aws:SecureTransport": "false"}},
    )


def test_api_access_logs_are_switched_by_a_parameter(template):
    api = template["Resources"]["Api"]["Properties"]

    assert template["Parameters"]["EnableAccessLogs"]["AllowedValues"] == ["true", "false"]
    assert template["Conditions"]["UseAccessLogs"] == {
        "Fn::Equals": [{"Ref": "EnableAccessLogs"}, "true"]
    }
    assert api["AccessLogSetting"]["Fn::If"][0] == "UseAccessLogs"
    assert template["Resources"]["ApiAccessLogGroup"]["Condition"] == "UseAccessLogs"


def test_api_gateway_errors_send_the_security_headers(template):
    responses = template["Resources"]["Api"]["Properties"]["DefinitionBody"][
        "x-amazon-apigateway-gateway-responses"
    ]

    from plate_ocr.errors import SECURITY_HEADERS

    # The policy is left out: a static header value is quoted in single quotes, which the policy
    # holds, and a JSON error body is never rendered.
    expected = {
        f"gatewayresponse.header.{name}": f"'{value}'"
        for name, value in SECURITY_HEADERS.items()
        if name != "Content-Security-Policy"
    }
    for response in responses.values():
        parameters = response["responseParameters"]
        assert {k: v for k, v in parameters.items() if k in expected} == expected
        # The API's error shape: {error, message, request_id}.
        body = json.loads(
            response["responseTemplates"]["application/json"].replace(
                "$context.error.messageString", '"text"'
            )
        )
        assert set(body) == {"error", "message", "request_id"}


# --- issue 13: blurred copies, events -----------------------------------------------------------


def test_blurred_copies_expire_and_may_be_written_only_when_switched_on(template):
    rules = template["Resources"]["PhotoBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    policies = template["Resources"]["BatchFunctionRole"]["Properties"]["Policies"]
    (conditional,) = [
        s
        for p in policies
        for s in p["PolicyDocument"]["Statement"]
        if "Fn::If" in s and s["Fn::If"][0] == "WriteAnonymized"
    ]

    (rule,) = [r for r in rules if r["Prefix"] == "anonymized/"]
    assert rule["ExpirationInDays"] == {"Ref": "AnonymizedExpirationDays"}
    condition, statement, otherwise = conditional["Fn::If"]
    assert (condition, otherwise) == ("WriteAnonymized", {"Ref": "AWS::NoValue"})
    assert statement["Action"] == "s3:PutObject"
    assert statement["Resource"]["Fn::Sub"].endswith("/anonymized/*")
    assert template["Parameters"]["WriteAnonymizedCopies"]["Default"] == "false"


def test_the_batch_may_put_events_on_the_one_bus_the_parameter_names(template):
    api = [s for s in _statements(template, "ApiFunctionRole") if "events" in str(s["Action"])]
    (publish,) = [s for s in _statements(template, "BatchFunctionRole") if "events" in str(s)]

    assert not api
    assert publish["Action"] == "events:PutEvents"
    assert publish["Resource"] == {
        "Fn::Sub": (
            "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:"
            "event-bus/${EventBusName}"
        )
    }
    assert template["Parameters"]["EventBusName"]["Default"] == "default"
    environment = template["Globals"]["Function"]["Environment"]["Variables"]
    assert environment["PLATE_OCR_EVENT_BUS_NAME"] == {"Ref": "EventBusName"}


def test_the_bucket_prefixes_are_the_settings_everywhere_the_template_names_them(template):
    # The prefixes live in plate_ocr.config; the template repeats them in the functions'
    # environment, the lifecycle rules, the trigger's filter and the roles' resources, none of
    # which can read the others. A prefix changed in one place only must fail here.
    from plate_ocr.config import Settings

    defaults = {
        name: Settings.model_fields[f"{name}_prefix"].default
        for name in ("incoming", "results", "anonymized")
    }
    environment = template["Globals"]["Function"]["Environment"]["Variables"]
    for name, prefix in defaults.items():
        assert environment[f"PLATE_OCR_{name.upper()}_PREFIX"] == prefix
    bucket = template["Resources"]["PhotoBucket"]["Properties"]
    rules = {r["Id"]: r["Prefix"] for r in bucket["LifecycleConfiguration"]["Rules"]}
    assert rules == {
        "ExpireIncomingPhotos": defaults["incoming"],
        "ExpireResults": defaults["results"],
        "ExpireAnonymizedCopies": defaults["anonymized"],
    }
    (trigger,) = bucket["NotificationConfiguration"]["QueueConfigurations"]
    assert trigger["Filter"]["S3Key"]["Rules"] == [
        {"Name": "prefix", "Value": defaults["incoming"]}
    ]
    text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    object_prefixes = set(re.findall(r"-\$\{AWS::Region\}/([a-z]+/)\*", text))
    assert object_prefixes == set(defaults.values())


def test_every_mention_of_the_bucket_spells_the_buckets_own_name(template):
    # The bucket's name is repeated where a !Ref would close a dependency loop (the roles' and the
    # queue policy's resources, the functions' environment). A name changed in one place only
    # must fail here, not in a deployed stack that reads one bucket and writes another.
    name = template["Resources"]["PhotoBucket"]["Properties"]["BucketName"]["Fn::Sub"]
    environment = template["Globals"]["Function"]["Environment"]["Variables"]
    assert environment["PLATE_OCR_BUCKET_NAME"] == {"Fn::Sub": name}
    text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    spelled = re.findall(r"s3:::([^/\"]+)", text)
    assert len(spelled) >= 5
    assert set(spelled) == {name}
