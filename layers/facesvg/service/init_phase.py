"""A handler module's Lambda init phase, without garbage collection.

Everything made while a handler module is imported (modules, classes, pydantic validators, SDK
configuration) lives as long as the execution environment, so the collector's passes during the
imports find nothing and cost ~25 ms of every cold start (``make bench-cold``). Each handler calls
``begin()`` before its imports and ``end()`` after its init: the collector is off in between, and
what the init made is frozen (``gc.freeze``: never scanned again), so later collections only look
at what invocations make. Only in Lambda (``LAMBDA_TASK_ROOT`` set): the local runtime and the tests
import handler modules into a long-lived process whose other objects must stay collectable.
"""

from __future__ import annotations

import gc
import os


def _in_lambda() -> bool:
    # observability.in_lambda's rule, not imported from there: this module runs before any import
    return bool(os.environ.get("LAMBDA_TASK_ROOT"))


def begin() -> None:
    if _in_lambda():
        gc.disable()


def end() -> None:
    if _in_lambda():
        gc.freeze()
        gc.enable()
