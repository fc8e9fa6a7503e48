"""Tiny pure-Python wheels built at test time, without network and without setuptools.

A wheel is a zip holding the package, ``<name>-<version>.dist-info/{METADATA,WHEEL,RECORD}``;
RECORD lists every other file with its urlsafe-base64 sha256 (no padding) and size.
"""

from __future__ import annotations

import base64
import hashlib
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(
    dest_dir: Path,
    name: str,
    version: str,
    module_source: str | None = None,
    *,
    requires: Sequence[str] = (),
) -> Path:
    """Write ``<name>-<version>-py3-none-any.whl`` into ``dest_dir`` and return its path.

    The wheel holds one package ``<name>`` whose ``__init__.py`` is ``module_source``
    (default: ``__version__ = "<version>"``); ``requires`` become ``Requires-Dist`` lines.
    """
    dist = re.sub(r"[-_.]+", "_", name).lower()
    dist_info = f"{dist}-{version}.dist-info"
    if module_source is None:
        module_source = f'__version__ = "{version}"\n'
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    metadata += "".join(f"Requires-Dist: {req}\n" for req in requires)
    files = {
        f"{dist}/__init__.py": module_source.encode(),
        f"{dist_info}/METADATA": metadata.encode(),
        f"{dist_info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: nodeisle-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = [f"{path},{_record_hash(data)},{len(data)}" for path, data in files.items()]
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    dest_dir.mkdir(parents=True, exist_ok=True)
    wheel = dest_dir / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path, data in files.items():
            zf.writestr(path, data)
    return wheel
