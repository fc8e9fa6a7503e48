"""The pyisolate driver of the peer rows: the same trivial call and 16 MB float32 array as ours.

Run by file path on the interpreter of pyisolate's own venv (``python -P peer_driver.py EXT_DIR
VENV_ROOT CALLS MEGABYTES NUMPY_PIN``; ``-P`` keeps this file's folder off ``sys.path``), never
imported by nodeisle. Prints one JSON line: pyisolate's version, its load time, the trivial calls'
seconds, the array's seconds and whether the array came back intact.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any


async def measure(ext_dir: str, venv_root: str, calls: int, megabytes: int, numpy_pin: str) -> dict[str, Any]:
    sys.path.insert(0, ext_dir)
    import numpy
    import pyisolate
    from bench_extension import BenchExtension  # peer_extension.py, copied into EXT_DIR

    manager = pyisolate.ExtensionManager(BenchExtension, pyisolate.ExtensionManagerConfig(venv_root_path=venv_root))
    started = time.perf_counter()
    ext = manager.load_extension(pyisolate.ExtensionConfig(
        name="nodeisle_bench", module_path=ext_dir, isolated=True, dependencies=[numpy_pin], apis=[],
        share_torch=False, share_cuda_ipc=False, execution_model="sealed_worker",
        sandbox_mode=pyisolate.SandboxMode.DISABLED))
    assert await ext.echo(0) == 0
    load = time.perf_counter() - started
    trivial = []
    for i in range(calls):
        started = time.perf_counter()
        await ext.echo(i)
        trivial.append(time.perf_counter() - started)
    array = numpy.random.default_rng(0).random(megabytes * 1_000_000 // 4, dtype=numpy.float32)
    started = time.perf_counter()
    back = numpy.asarray(await ext.echo(array), dtype=numpy.float32)
    array_s = time.perf_counter() - started
    same = back.shape == array.shape and bool(numpy.array_equal(back, array))
    ext.stop()
    return {"version": pyisolate.__version__, "load_s": load, "trivial_s": trivial, "array_s": [array_s],
            "array_ok": same}


if __name__ == "__main__":
    ext_dir, venv_root, numpy_pin = sys.argv[1], sys.argv[2], sys.argv[5]
    calls, megabytes = int(sys.argv[3]), int(sys.argv[4])
    print(json.dumps(asyncio.run(measure(ext_dir, venv_root, calls, megabytes, numpy_pin))))
