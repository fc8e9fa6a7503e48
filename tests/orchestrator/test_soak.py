"""Load: 1,000 concurrent executions over 4 isolated libraries, with failures and worker crashes.

Marked slow; CI runs it (about half a minute on the 2-core machine).
"""

from __future__ import annotations

import asyncio
import gc
import os
from pathlib import Path
from typing import Any

import pytest

from nodeisle.orchestrator.engine import Orchestrator, build_orchestrator
from nodeisle.requests import CreateNodeRequest, ExecuteNodeRequest, RegisterLibraryRequest
from tests.conftest import run, write_library

NODES = '''
import os, random, time
from nodeisle import BaseNode, Parameter, ParameterMode
IN, OUT = {ParameterMode.INPUT}, {ParameterMode.OUTPUT}
class Job(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("i", type="int", default_value=0, allowed_modes=IN))
        self.add_parameter(Parameter("mode", type="str", default_value="ok", allowed_modes=IN))
        self.add_parameter(Parameter("payload", type="any", allowed_modes=IN))
        self.add_parameter(Parameter("echo", type="any", allowed_modes=OUT))
        self.add_parameter(Parameter("pid", type="int", allowed_modes=OUT))
    def process(self):
        time.sleep(random.random() * 0.01)
        i, mode = self.parameter_values["i"], self.parameter_values["mode"]
        if mode == "raise":
            raise ValueError(f"job {i} raised on purpose")
        if mode == "crash":
            os._exit(3)
        self.parameter_output_values["echo"] = {"i": i, "payload": self.parameter_values["payload"]}
        self.parameter_output_values["pid"] = os.getpid()
'''
LIBRARIES = 4
JOBS = 1000


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def plan(i: int) -> str:
    if i % 200 == 199 and i % LIBRARIES == LIBRARIES - 1:
        return "crash"  # only the last library crashes, a handful of times
    return "raise" if i % 7 == 3 else "ok"


async def job(o: Orchestrator, i: int) -> tuple[int, Any]:
    mode = plan(i)
    node = f"job{i % LIBRARIES}"
    result = await o.handle_async(ExecuteNodeRequest(
        node_name=node, parameter_values={"i": i, "mode": mode, "payload": bytes([i % 256]) * (i % 5000)}))
    return i, result


@pytest.mark.slow
def test_thousand_concurrent_executions_complete_correlated_and_memory_returns(
    tmp_path: Path, offline_home: Path
) -> None:
    libs = [write_library(tmp_path, f"Soak {n}", NODES, ["Job"]) for n in range(LIBRARIES)]

    async def body() -> None:
        async with build_orchestrator(config_flags={"crash_limit": 100}) as o:
            for n, lib in enumerate(libs):
                assert (await o.handle_async(RegisterLibraryRequest(path=str(lib), mode="isolated"))).succeeded
                await o.handle_async(CreateNodeRequest(node_type="Job", library_name=f"Soak {n}", node_name=f"job{n}"))
            # Warm up (imports, buffers, worker pools), then measure the baseline.
            for i, result in await asyncio.gather(*(job(o, i) for i in range(0, 200, 7))):
                assert result.succeeded or plan(i) == "raise"
            gc.collect()
            baseline = rss_bytes()
            results = await asyncio.gather(*(job(o, i) for i in range(JOBS)))
            assert [i for i, _ in results] == list(range(JOBS)), "every request gets exactly one answer"
            crashed_alongside = 0
            for i, result in results:
                mode = plan(i)
                if mode != "crash" and result.error is not None and result.error.type == "WorkerCrashed":
                    # In flight on the crashing library's worker when it died: failed, and says why.
                    assert i % LIBRARIES == LIBRARIES - 1 and "exited with code 3" in result.message, result
                    crashed_alongside += 1
                elif mode == "ok":
                    assert result.succeeded, result.message
                    assert result.parameter_output_values["echo"] == {"i": i, "payload": bytes([i % 256]) * (i % 5000)}
                elif mode == "raise":
                    assert not result.succeeded and result.error.type == "ValueError"
                    assert f"job {i} raised on purpose" in result.error.message
                else:
                    assert not result.succeeded and result.error.type == "WorkerCrashed"
                    assert "exited with code 3" in result.message
            assert crashed_alongside < JOBS // LIBRARIES
            del results
            gc.collect()
            growth = rss_bytes() - baseline
            assert growth < 40 * 2**20, f"orchestrator memory grew by {growth / 2**20:.1f} MiB after the soak"
    run(body(), timeout=300)
