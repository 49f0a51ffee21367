"""The emulator's patches to moto (facesvg.local.moto_patches) hook into moto's and werkzeug's
internals, pinned by uv.lock. Each must apply to the locked versions, and a missing target must
fail loudly, naming the hook, never be skipped. Run in fresh interpreters: the patches are for the
emulator processes, not this one."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )


def test_every_patch_applies_to_the_locked_moto() -> None:
    code = """
import io
from facesvg.local import moto_patches
moto_patches.apply(speedups=True)
from moto import backends
from moto.dynamodb import models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.responses import DynamoHandler
from moto.s3.responses import S3Response
from werkzeug.wsgi import LimitedStream
for owner, name in [(backends, "list_of_moto_modules"), (DynamoHandler, "call_action"),
                    (S3Response, "key_response"), (DynamoDBBackend, "transact_write_items"),
                    (LimitedStream, "readall")]:
    assert getattr(getattr(owner, name), "_facesvg_patch", False), (owner, name)
assert moto_patches._applied_copy(models)
# readall's fast path reads werkzeug's own fields; without them it would quietly fall back
stream = LimitedStream(io.BytesIO(b"abc"), 3)
assert hasattr(stream, "_stream") and hasattr(stream, "_pos"), "werkzeug LimitedStream._stream/_pos"
assert stream.readall() == b"abc"
"""
    result = _run(code)
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.parametrize(
    ("target", "hook"),
    [
        ("from moto.s3.responses import S3Response as O; O.key_response = None", "S3Response.key_response"),
        (
            "from moto.dynamodb.responses import DynamoHandler as O; O.call_action = None",
            "DynamoHandler.call_action",
        ),
        ("from werkzeug.wsgi import LimitedStream as O; del O.on_disconnect", "LimitedStream.on_disconnect"),
        ("from moto.dynamodb import models; models.copy = object()", "moto.dynamodb.models.copy"),
    ],
)
def test_a_missing_internal_fails_naming_the_hook(target: str, hook: str) -> None:
    result = _run(f"{target}\nfrom facesvg.local import moto_patches\nmoto_patches.apply(speedups=True)")
    assert result.returncode != 0
    assert "MotoHookMissing" in result.stderr and hook in result.stderr, result.stderr[-1500:]
