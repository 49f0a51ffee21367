"""Settings: a deployed function without its resource variables fails at init, naming them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from facesvg import names
from facesvg.service.settings import MissingSetting, Settings

ROOT = Path(__file__).resolve().parents[3]
DEPLOYED = {
    names.ENV_BUCKET: "facesvg-prod-data",
    names.ENV_TABLE: "facesvg-prod-jobs",
    names.ENV_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/123456789012/facesvg-jobs",
}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for variable in (*DEPLOYED, "AWS_LAMBDA_FUNCTION_NAME"):
        monkeypatch.delenv(variable, raising=False)
    return monkeypatch


def test_locally_the_defaults_stand(clean_env: pytest.MonkeyPatch) -> None:
    settings = Settings()
    assert settings.bucket == names.BUCKET_NAME
    assert settings.table == names.TABLE_NAME


@pytest.mark.parametrize("absent", sorted(DEPLOYED))
def test_in_lambda_a_missing_resource_variable_is_named(clean_env: pytest.MonkeyPatch, absent: str) -> None:
    clean_env.setenv("AWS_LAMBDA_FUNCTION_NAME", "facesvg-submit")
    for variable, value in DEPLOYED.items():
        if variable != absent:
            clean_env.setenv(variable, value)
    with pytest.raises(MissingSetting, match=absent) as raised:
        Settings()
    assert [v for v in DEPLOYED if v in str(raised.value)] == [absent]


def test_in_lambda_an_empty_variable_is_missing(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("AWS_LAMBDA_FUNCTION_NAME", "facesvg-status")
    for variable, value in DEPLOYED.items():
        clean_env.setenv(variable, value)
    clean_env.setenv(names.ENV_BUCKET, " ")
    with pytest.raises(MissingSetting, match=names.ENV_BUCKET):
        Settings()


def test_in_lambda_with_its_variables_the_settings_are_read(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("AWS_LAMBDA_FUNCTION_NAME", "facesvg-process")
    for variable, value in DEPLOYED.items():
        clean_env.setenv(variable, value)
    settings = Settings()
    assert (settings.bucket, settings.table) == ("facesvg-prod-data", "facesvg-prod-jobs")


def test_a_handler_deployed_without_its_bucket_fails_at_init_naming_it() -> None:
    handler = ROOT / "functions" / "submit" / "handler.py"
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FACESVG_", "POWERTOOLS_"))}
    environ.update(
        {
            "AWS_LAMBDA_FUNCTION_NAME": "facesvg-submit",
            "AWS_REGION": "us-east-1",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "PYTHONPATH": f"{ROOT / 'layers'}{os.pathsep}{ROOT}",
            **{k: v for k, v in DEPLOYED.items() if k != names.ENV_BUCKET},
        }
    )
    code = (
        "import importlib.util\n"
        f"spec = importlib.util.spec_from_file_location('handler', {str(handler)!r})\n"
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=environ, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode != 0
    assert f"MissingSetting: {names.ENV_BUCKET} not set" in result.stderr
