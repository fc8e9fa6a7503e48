"""The worker process itself: launch config, admission, refusal on both sides."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from nodeisle.orchestrator.workers import WorkerHub, WorkerProcess
from nodeisle.worker.runtime import EXIT_BAD_LAUNCH, EXIT_HANDSHAKE_REFUSED, LaunchConfig
from tests.conftest import TEXT_TOOLS, run


def test_bad_launch_config_exits_with_a_message() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "nodeisle.worker"], input="not json\n", capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == EXIT_BAD_LAUNCH and "bad launch config" in proc.stderr


def test_launch_config_repr_hides_the_token() -> None:
    config = LaunchConfig(url="ws://127.0.0.1:1/bus", token="s3cret-token", worker_id="ab12", manifest="/m.json")
    assert "s3cret-token" not in repr(config)


def test_worker_with_a_wrong_token_is_refused_on_both_sides(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)

    async def body() -> None:
        async def handler(worker: object, name: str, payload: object) -> object:
            return None

        hub = WorkerHub(handler)
        await hub.ensure_started()
        worker = WorkerProcess(
            "Text Tools",
            Path(sys.executable),
            TEXT_TOOLS / "griptape-nodes-library.json",
            env={"PATH": "/usr/bin:/bin"},
        )
        hub.register(worker)
        try:
            with pytest.raises(Exception, match="failed to start") as info:
                await worker.start(hub.url, "wrong-token", timeout=20)
            assert f"exited with code {EXIT_HANDSHAKE_REFUSED}" in str(info.value)
            assert "HTTP 401" in str(info.value) and "missing or wrong token" in str(info.value)
        finally:
            await hub.close()

    run(body(), timeout=40)
    assert any("refused a connection" in r.getMessage() and "wrong token" in r.getMessage() for r in caplog.records)


def test_worker_started_by_the_hub_is_admitted_and_reports_its_schema() -> None:
    async def body() -> None:
        async def handler(worker: object, name: str, payload: object) -> object:
            return None

        hub = WorkerHub(handler)
        await hub.ensure_started()
        assert hub.url.startswith("ws://127.0.0.1:")
        worker = WorkerProcess(
            "Text Tools",
            Path(sys.executable),
            TEXT_TOOLS / "griptape-nodes-library.json",
            env={"PATH": "/usr/bin:/bin"},
        )
        credential = hub.register(worker)
        try:
            ready = await worker.start(hub.url, credential, timeout=20)
            assert {s.class_name for s in ready.schemas} >= {"Echo", "Split", "Repeat"}
            with open(f"/proc/{ready.pid}/stat") as stat:  # the runtime runs below the process started: its guard
                assert int(stat.read().rpartition(")")[2].split()[1]) == worker.process.pid  # type: ignore[union-attr]
        finally:
            await hub.close()
        assert worker.process is not None and worker.process.returncode is not None

    run(body(), timeout=40)
    asyncio.set_event_loop(None)


def test_output_before_the_sealed_line_is_logged_and_the_worker_still_starts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Regression (review): a line printed before the handshake (a .pth file, say) stopped the launch silently."""
    caplog.set_level(logging.INFO)
    chatty = tmp_path / "python"
    chatty.write_text(f"#!/bin/sh\necho 'hello from a .pth file'\nexec {sys.executable} \"$@\"\n")
    chatty.chmod(0o755)

    async def body() -> None:
        async def handler(worker: object, name: str, payload: object) -> object:
            return None

        hub = WorkerHub(handler)
        await hub.ensure_started()
        worker = WorkerProcess("Text Tools", chatty, TEXT_TOOLS / "griptape-nodes-library.json",
                               env={"PATH": "/usr/bin:/bin"})
        credential = hub.register(worker)
        try:
            ready = await worker.start(hub.url, credential, timeout=20)
            assert {s.class_name for s in ready.schemas} >= {"Echo"}
        finally:
            await hub.close()

    run(body(), timeout=40)
    assert any("hello from a .pth file" in r.getMessage() for r in caplog.records)


def test_a_read_the_workers_views_answer_needs_no_wait_even_from_its_event_loop() -> None:
    """An async process may read config and secrets with the synchronous handle_request (Griptape's managers
    do); what must cross the bus still says to await ahandle_request."""
    from nodeisle.errors import NotConnectedError
    from nodeisle.requests import GetSecretValueRequest, GetSecretValueResult, ListFlowsRequest, Request, Result
    from nodeisle.worker.runtime import Forwarder

    def views(request: Request) -> Result | None:
        if isinstance(request, GetSecretValueRequest) and request.key == "HELD":
            return GetSecretValueResult(value="from-the-view")
        return None

    async def body() -> None:
        forwarder = Forwarder(None, asyncio.get_running_loop(), views)  # type: ignore[arg-type]  # never forwards here
        answer = forwarder.handle_sync(GetSecretValueRequest(key="HELD"))
        assert isinstance(answer, GetSecretValueResult) and answer.value == "from-the-view"
        for request in (GetSecretValueRequest(key="NOT_HELD"), ListFlowsRequest()):
            with pytest.raises(NotConnectedError, match="would block the worker's event loop"):
                forwarder.handle_sync(request)

    run(body())
