"""Images among a node's outputs, shown as images: PNG/JPEG/GIF/WebP bytes, and image files or
Griptape-style image artifacts whose URL is a ``file://`` URL inside the engine's static-files area.

The page never gets a path to ask for. Each image the editor shows is remembered here under a key
(the SHA-256 of its bytes, or of its resolved path) and the page loads ``/media/<key>``, a route
behind the editor's token like every other. A key names only what an output held, so no request
can read an arbitrary file: a ``file://`` URL outside the static-files area, or not an image by its
first bytes, is shown as text. The store keeps the last :data:`CAPACITY` images.
"""

from __future__ import annotations

import collections
import hashlib
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CAPACITY = 256  # images kept for the page; an older one's key answers 404 (re-run to see it again)
MAX_FILE_BYTES = 64 * 1024 * 1024
SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def image_type(head: bytes) -> str | None:
    """The image's media type from its first bytes, or None when they are not an image shown inline."""
    for signature, mime in SIGNATURES:
        if head.startswith(signature):
            return mime
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


@dataclass(frozen=True)
class Image:
    mime: str
    data: bytes | None = None  # bytes an output held
    path: Path | None = None  # or a file of the static-files area


class MediaStore:
    """The images the page was told about, by key; :meth:`describe` turns an output value into one."""

    def __init__(self, static_root: Path | None) -> None:
        self.static_root = static_root.resolve() if static_root is not None else None
        self._images: collections.OrderedDict[str, Image] = collections.OrderedDict()

    def __repr__(self) -> str:
        return f"MediaStore({len(self._images)} images, static files in {self.static_root})"

    def get(self, key: str) -> Image | None:
        return self._images.get(key)

    def _keep(self, key: str, image: Image) -> dict[str, Any]:
        self._images[key] = image
        self._images.move_to_end(key)
        while len(self._images) > CAPACITY:
            self._images.popitem(last=False)
        return {"$type": "image", "mime": image.mime, "src": f"/media/{key}"}

    def describe(self, value: Any) -> dict[str, Any] | None:
        """``{"$type": "image", "mime", "src"}`` when ``value`` is an image the page can show, else None."""
        if isinstance(value, (bytes, bytearray)):
            data = bytes(value)
            mime = image_type(data[:16])
            if mime is None:
                return None
            return self._keep(hashlib.sha256(data).hexdigest(), Image(mime, data=data))
        inner = artifact_value(value)
        if inner is not None:
            return self.describe(inner)
        if not isinstance(value, str) or not value.startswith("file://"):
            return None
        url = value
        path = self._static_file(url)
        if path is None:
            return None
        try:
            with path.open("rb") as file:
                mime = image_type(file.read(16))
        except OSError:
            return None
        if mime is None:
            return None
        return self._keep(hashlib.sha256(str(path).encode()).hexdigest(), Image(mime, path=path)) | {
            "url": url}

    def _static_file(self, url: str) -> Path | None:
        """The file a ``file://`` URL names when it lies inside the static-files area, else None."""
        if self.static_root is None or not url.startswith("file://"):
            return None
        parsed = urllib.parse.urlsplit(url)
        if parsed.netloc not in ("", "localhost"):
            return None
        path = Path(urllib.request.url2pathname(parsed.path)).resolve()
        if not path.is_relative_to(self.static_root) or not path.is_file():
            return None
        if path.stat().st_size > MAX_FILE_BYTES:
            return None
        return path


def artifact_value(value: Any) -> Any:
    """What a Griptape-style image artifact holds (``ImageArtifact`` bytes, ``ImageUrlArtifact`` URL),
    or its dict form's ``value``; None for anything else."""
    if isinstance(value, (str, bytes, bytearray)):
        return None
    if isinstance(value, dict):
        kind, inner = value.get("type"), value.get("value")
    else:
        kind, inner = type(value).__name__, getattr(value, "value", None)
    if isinstance(kind, str) and "Image" in kind and isinstance(inner, (str, bytes, bytearray)):
        return inner
    return None
