"""The local runtime's worker supervision, piece by piece (issue 14.1): a ``ProcessFunction`` whose
process dies is replaced (idle or mid-invocation, ``WorkerCrashed``), and the SQS event source
leaves a crashed batch in flight for ``crash_visibility_seconds`` (never deleted, never failed).
The whole story on a running stack: ``test_worker_crash.py``."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from facesvg.local.lambdas import FunctionTimedOut, ProcessFunction, WorkerCrashed
from facesvg.local.pollers import SqsEventSource

HANDLER = """
import os, time

def lambda_handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {"pid": os.getpid()}
"""


@pytest.fixture
def function(tmp_path: Path) -> Any:
    (tmp_path / "echo").mkdir()
    (tmp_path / "echo" / "handler.py").write_text(HANDLER)
    fn = ProcessFunction("echo", directory=tmp_path, timeout_seconds=30)
    fn.wait_ready()
    try:
        yield fn
    finally:
        fn.stop()


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # a zombie counts as gone: /proc/<pid>/stat says Z
    return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"


def test_a_worker_killed_while_idle_is_replaced_before_the_next_event(function: Any) -> None:
    first = function.invoke({})["pid"]
    os.kill(first, signal.SIGKILL)
    time.sleep(0.2)
    second = function.invoke({})["pid"]
    assert second != first and function.restarts == 1 and function.pid == second


def test_a_worker_killed_mid_invocation_raises_worker_crashed_and_is_replaced(function: Any) -> None:
    victim = function.pid
    outcome: list[BaseException | Any] = []

    def call() -> None:
        try:
            outcome.append(function.invoke({"sleep": 30}))
        except BaseException as exc:
            outcome.append(exc)

    caller = threading.Thread(target=call, name="test-invoke")
    caller.start()
    time.sleep(0.5)
    os.kill(victim, signal.SIGKILL)
    caller.join(timeout=30)
    assert not caller.is_alive()
    [crash] = outcome
    assert isinstance(crash, WorkerCrashed) and crash.exit_code == -signal.SIGKILL and crash.replaced
    assert function.invoke({})["pid"] == function.pid != victim
    assert function.restarts == 1


def test_an_invocation_past_the_timeout_is_ended_and_its_worker_replaced(tmp_path: Path) -> None:
    """A hung render holds its worker for at most the function's timeout, as in Lambda (and so never
    outlives its lease, which equals the timeout): the process is killed and replaced, and the
    event source sees a crash (the batch returns when its visibility ends)."""
    (tmp_path / "echo").mkdir()
    (tmp_path / "echo" / "handler.py").write_text(HANDLER)
    fn = ProcessFunction("echo", directory=tmp_path, timeout_seconds=1.0)
    fn.wait_ready()
    try:
        hung = fn.pid
        started = time.monotonic()
        with pytest.raises(FunctionTimedOut, match=r"timed out after 1\.00 seconds") as caught:
            fn.invoke({"sleep": 30})
        assert 1.0 <= time.monotonic() - started < 10
        assert isinstance(caught.value, WorkerCrashed) and caught.value.replaced
        assert _gone(hung) and fn.restarts == 1
        assert fn.invoke({"sleep": 0.1})["pid"] == fn.pid != hung  # the replacement answers
    finally:
        fn.stop()


def test_a_worker_that_cannot_be_replaced_is_a_crash_and_is_tried_again(
    function: Any, tmp_path: Path
) -> None:
    handler = tmp_path / "echo" / "handler.py"
    handler.write_text("raise ImportError('broken deploy')\n")  # the replacement dies on start
    os.kill(function.pid, signal.SIGKILL)
    time.sleep(0.2)
    with pytest.raises(WorkerCrashed) as info:
        function.invoke({})
    assert not info.value.replaced
    handler.write_text(HANDLER)
    assert function.invoke({})["pid"] == function.pid  # the next invocation starts one
    assert function.restarts == 2


def test_stop_leaves_no_worker_process(tmp_path: Path) -> None:
    (tmp_path / "echo").mkdir()
    (tmp_path / "echo" / "handler.py").write_text(HANDLER)
    fn = ProcessFunction("echo", directory=tmp_path, timeout_seconds=30)
    fn.wait_ready()
    os.kill(fn.pid, signal.SIGKILL)
    time.sleep(0.2)
    fn.invoke({})
    pid = fn.pid
    fn.stop()
    assert _gone(pid)
    with pytest.raises(RuntimeError, match="stopped"):
        fn.invoke({})


class RecordingSqs:
    def __init__(self, messages: list[dict[str, Any]]) -> None:
        self.messages = messages
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def receive_message(self, **kwargs: Any) -> dict[str, Any]:
        out, self.messages = self.messages, []
        return {"Messages": out}

    def delete_message_batch(self, **kwargs: Any) -> None:
        self.calls.append(("delete_message_batch", kwargs))

    def change_message_visibility(self, **kwargs: Any) -> None:
        self.calls.append(("change_message_visibility", kwargs))


def _messages(n: int) -> list[dict[str, Any]]:
    return [{"MessageId": f"m{i}", "ReceiptHandle": f"r{i}", "Body": "{}"} for i in range(n)]


def _crash(event: dict[str, Any]) -> Any:
    raise WorkerCrashed("process", -9, replaced=True)


@pytest.mark.parametrize("crash_visibility", [61, None])
def test_a_crashed_batch_is_neither_deleted_nor_failed(crash_visibility: int | None) -> None:
    sqs = RecordingSqs(_messages(3))
    source = SqsEventSource(
        sqs,
        "q",
        "arn:q",
        _crash,
        threading.Event(),
        retry_delay_seconds=1,
        crash_visibility_seconds=crash_visibility,
    )
    source.poll_once()
    assert source.crashes == 1
    if crash_visibility is None:  # Lambda's behaviour: the queue's visibility timeout brings it back
        assert sqs.calls == []
    else:  # past the dead worker's lease, never the 1 s retry delay of a failed record
        assert sqs.calls == [
            (
                "change_message_visibility",
                {"QueueUrl": "q", "ReceiptHandle": f"r{i}", "VisibilityTimeout": 61},
            )
            for i in range(3)
        ]


def test_a_failed_invocation_still_retries_after_the_retry_delay() -> None:
    sqs = RecordingSqs(_messages(1))

    def fail(event: dict[str, Any]) -> Any:
        raise RuntimeError("boom")

    source = SqsEventSource(
        sqs, "q", "arn:q", fail, threading.Event(), retry_delay_seconds=1, crash_visibility_seconds=61
    )
    source.poll_once()
    assert sqs.calls == [
        ("change_message_visibility", {"QueueUrl": "q", "ReceiptHandle": "r0", "VisibilityTimeout": 1})
    ]


def test_the_lease_visibility_and_receive_arithmetic_holds_for_the_stack_config() -> None:
    """The numbers local/README.md ("When a render worker dies") relies on, from the config the CDK
    stack and the local runtime both build from (cdk.json)."""
    from facesvg.stack_config import QUEUE_RETENTION_DAYS, StackConfig

    config = StackConfig.from_cdk_json()
    lease, visibility = config.lease_seconds, config.visibility_timeout_seconds
    assert lease == config.process_timeout_seconds  # the lease ends when Lambda would kill the render
    assert lease < visibility  # AWS: a crashed batch returns after its lease ended
    assert lease + 1 <= visibility  # local: the crash visibility (lease + retry delay) is within it
    assert config.max_receive_count >= 2  # a crash costs one receive; one must be left to retry
    # every receive, each a visibility timeout apart in the worst case, fits in the retention
    assert config.max_receive_count * visibility < QUEUE_RETENTION_DAYS * 86400
    assert (lease, visibility, config.max_receive_count) == (60, 360, 3)  # as documented
