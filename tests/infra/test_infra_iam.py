"""IAM: no wildcard actions anywhere, and each function can do only what its part of the flow needs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from facesvg import names

pytestmark = pytest.mark.infra


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    statements = document["Statement"]
    return statements if isinstance(statements, list) else [statements]


def _listify(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _all_policy_statements(synth: Any) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    for logical, resource in synth.resources.items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Policy" or "PolicyDocument" in props:
            out += [(logical, s) for s in _statements(props["PolicyDocument"])]
        for inline in props.get("Policies", []) if resource["Type"] == "AWS::IAM::Role" else []:
            out += [(logical, s) for s in _statements(inline["PolicyDocument"])]
    return out


def test_no_policy_has_a_wildcard_action(synth: Any) -> None:
    statements = _all_policy_statements(synth)
    assert len(statements) > 10
    for logical, statement in statements:
        assert "NotAction" not in statement, logical
        if statement["Effect"] == "Deny":
            # the only denies are the TLS guards: s3:* / sqs:* without TLS, or TLS older than 1.2
            assert statement["Condition"] in (
                {"Bool": {"aws:SecureTransport": "false"}},
                {"NumericLessThan": {"s3:TlsVersion": 1.2}},
            ), logical
            continue
        for action in _listify(statement.get("Action", [])):
            assert action != "*" and not action.endswith(":*"), f"{logical}: {action}"


def test_resource_star_only_for_actions_without_resource_level_permissions(synth: Any) -> None:
    allowed = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
    for logical, statement in _all_policy_statements(synth):
        if statement["Effect"] == "Allow" and "*" in _listify(statement.get("Resource")):
            actions = set(_listify(statement["Action"]))
            if "BucketNotificationsHandler" in logical:
                assert actions == {"s3:PutBucketNotification"}  # CDK's own helper
                continue
            assert actions <= allowed, f"{logical}: {actions}"


def _grants(synth: Any, fn: Any) -> list[tuple[str, str]]:
    """(action, resource as JSON text) pairs the function's role is allowed."""
    role = {"Ref": synth.logical_id(fn.role)}
    pairs: list[tuple[str, str]] = []
    for policy in synth.of_type("AWS::IAM::Policy").values():
        props = policy["Properties"]
        if role not in props["Roles"]:
            continue
        for statement in _statements(props["PolicyDocument"]):
            if statement["Effect"] != "Allow":
                continue
            for action in _listify(statement["Action"]):
                for resource in _listify(statement["Resource"]):
                    pairs.append((action, json.dumps(resource)))
    return pairs


def _can(pairs: list[tuple[str, str]], action: str, key_prefix: str | None = None) -> bool:
    return any(a == action and (key_prefix is None or f"/{key_prefix}*" in r) for a, r in pairs)


@pytest.fixture(scope="module")
def grants(synth: Any) -> dict[str, list[tuple[str, str]]]:
    stack = synth.stack
    return {
        "submit": _grants(synth, stack.api.submit),
        "status": _grants(synth, stack.api.status),
        "ingest": _grants(synth, stack.processing.ingest),
        "process": _grants(synth, stack.processing.process),
    }


INPUTS, RESULTS, INCOMING = names.PREFIX_INPUTS, names.PREFIX_RESULTS, names.PREFIX_INCOMING


def test_submit_writes_inputs_and_enqueues_only(grants: dict[str, Any]) -> None:
    submit = grants["submit"]
    assert _can(submit, "s3:PutObject", INPUTS)
    assert not _can(submit, "s3:PutObject", RESULTS)
    assert not _can(submit, "s3:PutObject", INCOMING)
    assert not any(a.startswith("s3:DeleteObject") for a, _ in submit)
    assert _can(submit, "sqs:SendMessage")
    assert not _can(submit, "sqs:ReceiveMessage")
    assert not _can(submit, "s3:GetObject*", INPUTS)


def test_status_only_reads(grants: dict[str, Any]) -> None:
    status = grants["status"]
    assert _can(status, "dynamodb:GetItem")
    assert _can(status, "s3:GetObject*", RESULTS)  # presigned URLs are signed with this role
    writes = (
        "s3:PutObject",
        "s3:DeleteObject*",
        "sqs:SendMessage",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    )
    assert not [a for a, _ in status if a in writes]
    assert not _can(status, "s3:GetObject*", INPUTS)


def test_process_reads_inputs_and_writes_results(grants: dict[str, Any]) -> None:
    process = grants["process"]
    assert _can(process, "s3:GetObject*", INPUTS)
    assert _can(process, "s3:PutObject", RESULTS)
    assert not _can(process, "s3:PutObject", INPUTS)
    assert not _can(process, "sqs:SendMessage")
    assert _can(process, "sqs:ReceiveMessage") and _can(process, "sqs:DeleteMessage")
    assert _can(process, "dynamodb:UpdateItem")


def test_ingest_reads_the_drop_folder_and_starts_jobs(grants: dict[str, Any]) -> None:
    ingest = grants["ingest"]
    assert _can(ingest, "s3:GetObject*", INCOMING)
    assert _can(ingest, "s3:PutObject", INPUTS)
    assert _can(ingest, "sqs:SendMessage")
    assert not _can(ingest, "s3:PutObject", INCOMING)


def test_nobody_deletes_inputs_or_the_drop_folder(grants: dict[str, Any]) -> None:
    for name, pairs in grants.items():
        for prefix in (INPUTS, INCOMING):
            assert not _can(pairs, "s3:DeleteObject*", prefix), name
