"""What every command shares: exit codes, running a coroutine without waiting for library threads,
and the ``-c KEY=VALUE`` config layer."""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import os
import sys
import threading
from collections.abc import Coroutine
from typing import Any, NoReturn, TypeVar

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130

T = TypeVar("T")


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Like asyncio.run, but never waits for threads still running library code (see ``main``)."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    executor = concurrent.futures.ThreadPoolExecutor(max_workers=64, thread_name_prefix="node")
    loop.set_default_executor(executor)
    try:
        return loop.run_until_complete(coro)
    finally:
        try:
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            if tasks:
                loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            executor.shutdown(wait=False, cancel_futures=True)
            asyncio.set_event_loop(None)
            loop.close()


def lingering_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon and t.is_alive()]


def exit_now(code: int) -> NoReturn:
    """Exit without waiting for threads: a cancelled plain process() may still run in one."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def config_flags(args: argparse.Namespace) -> dict[str, Any]:
    """``-c KEY=VALUE`` flags: the highest config layer, for this command only."""
    from nodeisle.config.store import parse_flags

    return parse_flags(getattr(args, "config_flags", None))
