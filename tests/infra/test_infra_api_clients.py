"""API clients (``facesvg:apiClients``): one API key per client, each in a usage plan over the
stage, one output per client; the stack's original key and plan keep their logical ids (a key
replaced on update would get a new value and lock its client out)."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.infra

# The logical ids a deployment made before facesvg:apiClients existed has: never to change.
ORIGINAL_KEY = "ApiRestApiApiKey9EAA04CC"
ORIGINAL_PLAN = "ApiRestApiUsagePlan2A40902F"
ORIGINAL_PLAN_KEY = "ApiRestApiUsagePlanUsagePlanKeyResourceFaceSvgApiRestApiApiKey5934C875B5EC2184"
KEY_TYPES = ("AWS::ApiGateway::ApiKey", "AWS::ApiGateway::UsagePlan", "AWS::ApiGateway::UsagePlanKey")

CLIENTS = [
    "qoves",
    {"name": "acme-eu", "throttleRateLimit": 5, "throttleBurstLimit": 8, "quotaPerDay": 1000},
    {"name": "old-partner", "enabled": False},
]


@pytest.fixture(scope="module")
def three(synth_with: Any) -> Any:
    return synth_with(apiClients=CLIENTS)


def _key_resources(synth: Any) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in synth.resources.items() if v["Type"] in KEY_TYPES}


def _stage_ref(synth: Any) -> dict[str, str]:
    return {"Ref": synth.logical_id(synth.stack.api.rest_api.deployment_stage)}


def test_the_default_config_keeps_the_original_key_and_plan_unchanged(synth: Any) -> None:
    """cdk.json's default (one client, ``default``): the same three resources, ids and properties
    as before clients existed, so upgrading changes nothing about the key a deployment hands out."""
    assert [c.name for c in synth.stack.config.api_clients] == ["default"]
    rest_api = {"Ref": synth.logical_id(synth.stack.api.rest_api)}
    stage = _stage_ref(synth)
    tags = [{"Key": "service", "Value": "facesvg"}]
    assert _key_resources(synth) == {
        ORIGINAL_KEY: {
            "Type": "AWS::ApiGateway::ApiKey",
            "Properties": {
                "Description": "facesvg API key (value: see docs/deploy.md)",
                "Enabled": True,
                "StageKeys": [{"RestApiId": rest_api, "StageName": stage}],
                "Tags": tags,
            },
        },
        ORIGINAL_PLAN: {
            "Type": "AWS::ApiGateway::UsagePlan",
            "Properties": {
                "ApiStages": [{"ApiId": rest_api, "Stage": stage, "Throttle": {}}],
                "Description": "facesvg default plan",
                "Tags": tags,
                "Throttle": {"BurstLimit": 20, "RateLimit": 10},
            },
        },
        ORIGINAL_PLAN_KEY: {
            "Type": "AWS::ApiGateway::UsagePlanKey",
            "Properties": {
                "KeyId": {"Ref": ORIGINAL_KEY},
                "KeyType": "API_KEY",
                "UsagePlanId": {"Ref": ORIGINAL_PLAN},
            },
        },
    }
    assert synth.logical_id(synth.stack.api.api_key) == ORIGINAL_KEY
    assert synth.json["Outputs"]["ApiKeyId"]["Value"] == {"Ref": ORIGINAL_KEY}
    assert synth.json["Outputs"]["ApiKeyIdDefault"]["Value"] == {"Ref": ORIGINAL_KEY}


def test_each_client_has_its_own_key_in_a_plan_over_the_stage(three: Any) -> None:
    keys = three.of_type("AWS::ApiGateway::ApiKey")
    plans = three.of_type("AWS::ApiGateway::UsagePlan")
    plan_keys = three.of_type("AWS::ApiGateway::UsagePlanKey")
    assert len(keys) == len(plans) == len(plan_keys) == 3
    by_client = {name: three.logical_id(key) for name, key in three.stack.api.api_keys.items()}
    assert set(by_client) == {"qoves", "acme-eu", "old-partner"}
    assert set(by_client.values()) == set(keys)
    # each key is in exactly one plan, and every plan covers the stage
    assert sorted(pk["Properties"]["KeyId"]["Ref"] for pk in plan_keys.values()) == sorted(keys)
    stage = _stage_ref(three)
    for plan in plans.values():
        assert [s["Stage"] for s in plan["Properties"]["ApiStages"]] == [stage]
    for logical, key in keys.items():
        assert [s["StageName"] for s in key["Properties"]["StageKeys"]] == [stage], logical
        assert "Value" not in key["Properties"] and "Name" not in key["Properties"]  # generated
    # the first client keeps the original key and plan, whatever its name
    assert by_client["qoves"] == ORIGINAL_KEY
    assert three.logical_id(three.stack.api.usage_plans["qoves"]) == ORIGINAL_PLAN
    assert ORIGINAL_PLAN_KEY in plan_keys
    assert "client qoves" in keys[ORIGINAL_KEY]["Properties"]["Description"]


def test_client_limits_default_to_the_stack_s_and_can_be_overridden(three: Any) -> None:
    config = three.stack.config

    def plan(name: str) -> dict[str, Any]:
        props: dict[str, Any] = three.resources[three.logical_id(three.stack.api.usage_plans[name])][
            "Properties"
        ]
        return props

    assert plan("qoves")["Throttle"] == {
        "RateLimit": config.throttle_rate_limit,
        "BurstLimit": config.throttle_burst_limit,
    }
    assert "Quota" not in plan("qoves")
    assert plan("acme-eu")["Throttle"] == {"RateLimit": 5, "BurstLimit": 8}
    assert plan("acme-eu")["Quota"] == {"Limit": 1000, "Period": "DAY"}
    keys = {
        name: three.resources[three.logical_id(k)]["Properties"]
        for name, k in three.stack.api.api_keys.items()
    }
    assert keys["qoves"]["Enabled"] is True
    assert keys["old-partner"]["Enabled"] is False  # kept, refused by API Gateway


def test_one_output_per_client_gives_the_key_id_never_the_value(three: Any) -> None:
    outputs = three.json["Outputs"]
    expected = {"ApiKeyIdQoves": "qoves", "ApiKeyIdAcmeEu": "acme-eu", "ApiKeyIdOldPartner": "old-partner"}
    for output_id, name in expected.items():
        assert outputs[output_id]["Value"] == {"Ref": three.logical_id(three.stack.api.api_keys[name])}
        assert f"client {name}" in outputs[output_id]["Description"]
        assert "get-api-key --include-value" in outputs[output_id]["Description"]
    assert outputs["ApiKeyId"]["Value"] == {"Ref": ORIGINAL_KEY}  # the first client's, as before
    # nothing else about keys is output (CloudFormation has no attribute with a key's value; a Ref
    # is the id)
    assert {k for k in outputs if k.startswith("ApiKey")} == {"ApiKeyId", *expected}


def test_the_stage_still_requires_a_key_on_every_method_with_several_clients(three: Any) -> None:
    for method in three.of_type("AWS::ApiGateway::Method").values():
        props = method["Properties"]
        if props["HttpMethod"] != "OPTIONS":
            assert props["ApiKeyRequired"] is True


def test_clients_come_from_cdk_json_or_the_command_line() -> None:
    import aws_cdk as cdk

    from infra.config import ApiClient, StackConfig

    def clients(raw: Any) -> tuple[ApiClient, ...]:
        return StackConfig.from_context(cdk.App(context={"facesvg:apiClients": raw}).node).api_clients

    assert clients(None) == (ApiClient("default"),)
    assert clients(["qoves", "acme-eu"]) == (ApiClient("qoves"), ApiClient("acme-eu"))
    assert clients("qoves, acme-eu") == clients(["qoves", "acme-eu"])  # -c facesvg:apiClients=a,b
    assert clients('["qoves", {"name": "b2", "quotaPerDay": 5}]') == (  # -c with JSON
        ApiClient("qoves"),
        ApiClient("b2", quota_per_day=5),
    )
    assert clients([{"name": "x", "throttleRateLimit": 2, "enabled": False}]) == (
        ApiClient("x", throttle_rate_limit=2.0, enabled=False),
    )
    assert ApiClient("acme-eu-2").id_suffix == "AcmeEu2"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param([], "at least one client", id="empty"),
        pytest.param(["Qoves"], "client name 'Qoves' is not allowed", id="uppercase"),
        pytest.param(["a b"], "client name 'a b' is not allowed", id="space"),
        pytest.param(["../x"], "client name '../x' is not allowed", id="path"),
        pytest.param(["-x"], "client name '-x' is not allowed", id="leading-hyphen"),
        pytest.param(["x-"], "client name 'x-' is not allowed", id="trailing-hyphen"),
        pytest.param(["a--b"], "client name 'a--b' is not allowed", id="double-hyphen"),
        pytest.param(["1x"], "client name '1x' is not allowed", id="leading-digit"),
        pytest.param(["x" * 33], "is not allowed", id="too-long"),
        pytest.param([""], "client name '' is not allowed", id="blank"),
        pytest.param(["qoves", "qoves"], "client 'qoves' is listed twice", id="duplicate"),
        pytest.param(["acme-eu", "acmeeu"], "client 'acmeeu' is listed beside 'acme-eu'", id="same-ids"),
        pytest.param([["x"]], "each client is a name or an object with a 'name'", id="nested-list"),
        pytest.param([{"nme": "x"}], "each client is a name or an object with a 'name'", id="no-name"),
        pytest.param([{"name": "x", "quota": 5}], "unknown field(s) quota", id="unknown-field"),
        pytest.param([{"name": "x", "quotaPerDay": "5"}], "quotaPerDay='5' is not a valid int", id="str-int"),
        pytest.param([{"name": "x", "quotaPerDay": 0}], "quotaPerDay must be at least 1", id="zero-quota"),
        pytest.param(
            [{"name": "x", "throttleRateLimit": 0}], "throttleRateLimit must be above 0", id="zero-rate"
        ),
        pytest.param([{"name": "x", "enabled": "no"}], "enabled='no' is not a valid bool", id="str-bool"),
        pytest.param(
            [{"name": "x", "throttleRateLimit": 50}],
            "throttleRateLimit 50.0 is above the stage's facesvg:throttleRateLimit 10.0",
            id="above-stage",
        ),
        pytest.param(["x"] * 51, "at most 50", id="too-many"),
        pytest.param('["x"', "not valid JSON", id="bad-json"),
        pytest.param({"name": "x"}, "must be a list of client names", id="not-a-list"),
    ],
)
def test_bad_clients_are_refused_with_a_clear_message(raw: Any, message: str) -> None:
    import aws_cdk as cdk

    from infra.config import StackConfig

    with pytest.raises(ValueError, match="facesvg:apiClients") as info:
        StackConfig.from_context(cdk.App(context={"facesvg:apiClients": raw}).node)
    assert message in str(info.value)


def test_a_bad_client_fails_the_synth_before_any_resource(synth_with: Any) -> None:
    with pytest.raises(ValueError, match="client name 'Bad Name' is not allowed"):
        synth_with(apiClients=["qoves", "Bad Name"])
