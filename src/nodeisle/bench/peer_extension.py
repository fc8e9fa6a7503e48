"""The pyisolate extension of the peer rows: one async method that returns its argument.

Copied into the bench's work directory as ``bench_extension.py``, where pyisolate loads it in its
own sealed worker; it is never imported by nodeisle (pyisolate is not one of its dependencies).
"""

from __future__ import annotations

from typing import Any

from pyisolate import ExtensionBase


class BenchExtension(ExtensionBase):  # type: ignore[misc]  # pyisolate ships no type information
    async def echo(self, value: Any) -> Any:
        return value
