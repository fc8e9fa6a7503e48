"""Griptape's ``AsyncResult``: a ``process()`` generator that yields callables; each runs in a thread
off the event loop and its result (or its exception) is sent back into the generator."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator
from typing import Any, TypeVar

__all__ = ["AsyncResult", "drive"]

T = TypeVar("T")

#: What a generator ``process`` is: it yields callables and is sent each one's result. Generic in the
#: callables' result, as in Griptape, so libraries may annotate ``-> AsyncResult[None]``; bare
#: ``AsyncResult`` means ``AsyncResult[Any]``.
AsyncResult = Generator[Callable[[], T], T, None]


def _step(generator: AsyncResult[Any], value: Any, error: BaseException | None) -> tuple[bool, Any]:
    """Resume ``generator`` with a value or an exception; (True, None) once it has finished."""
    try:
        return False, generator.throw(error) if error is not None else generator.send(value)
    except StopIteration:
        return True, None


def _call(fn: Callable[[], T]) -> tuple[T | None, BaseException | None]:
    try:
        return fn(), None
    except Exception as exc:  # sent back into the generator, which may handle it
        return None, exc


async def drive(generator: AsyncResult[Any]) -> None:
    """Run a generator ``process``: the generator and each callable it yields, in threads."""
    done, yielded = await asyncio.to_thread(_step, generator, None, None)
    while not done:
        if not callable(yielded):
            generator.close()
            raise TypeError(f"a generator process() must yield callables, it yielded {type(yielded).__name__}")
        value, error = await asyncio.to_thread(_call, yielded)
        done, yielded = await asyncio.to_thread(_step, generator, value, error)
