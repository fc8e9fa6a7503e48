"""Images among outputs: recognised by their bytes, static-files URLs only, served by key never by path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nodeisle.editor import media
from nodeisle.editor.media import MediaStore, artifact_value, image_type
from nodeisle.editor.wire import to_json

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 24
JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 24


class ImageUrlArtifact:  # the shape of Griptape's artifact: a class named so, holding its URL in .value
    def __init__(self, value: str) -> None:
        self.value = value


def test_image_types_are_read_from_the_first_bytes() -> None:
    assert image_type(PNG) == "image/png" and image_type(JPEG) == "image/jpeg"
    assert image_type(b"GIF89a....") == "image/gif" and image_type(b"RIFF\0\0\0\0WEBPVP8 ") == "image/webp"
    assert image_type(b"plain text") is None and image_type(b"") is None


def test_bytes_and_artifacts_become_images_with_a_key(tmp_path: Path) -> None:
    store = MediaStore(tmp_path)
    shown = store.describe(PNG)
    assert shown is not None and shown["$type"] == "image" and shown["mime"] == "image/png"
    image = store.get(shown["src"].removeprefix("/media/"))
    assert image is not None and image.data == PNG
    assert store.describe(b"not an image") is None and store.describe(42) is None
    assert store.describe({"type": "ImageArtifact", "value": JPEG})["mime"] == "image/jpeg"  # type: ignore[index]
    assert artifact_value({"type": "TextArtifact", "value": "x"}) is None


def test_only_files_of_the_static_files_area_are_images(tmp_path: Path) -> None:
    area = tmp_path / "static_files" / "Lib"
    area.mkdir(parents=True)
    (area / "a.png").write_bytes(PNG)
    (area / "notes.txt").write_bytes(b"hello")
    (tmp_path / "secret.png").write_bytes(PNG)
    store = MediaStore(tmp_path / "static_files")
    inside = (area / "a.png").as_uri()
    for value in (inside, ImageUrlArtifact(inside), {"type": "ImageUrlArtifact", "value": inside}):
        shown = store.describe(value)
        assert shown is not None and shown["url"] == inside, value
        image = store.get(shown["src"].removeprefix("/media/"))
        assert image is not None and image.path == (area / "a.png").resolve()
    escaping = f"file://{area}/../../secret.png"
    for refused in ((tmp_path / "secret.png").as_uri(), escaping, (area / "notes.txt").as_uri(),
                    (area / "missing.png").as_uri(), "file://elsewhere/a.png", "https://example.com/a.png"):
        assert store.describe(refused) is None, refused
    assert MediaStore(None).describe(inside) is None


def test_the_store_keeps_the_last_images_only(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(media, "CAPACITY", 2)
    store = MediaStore(tmp_path)
    keys = [store.describe(PNG + bytes([i]))["src"].removeprefix("/media/") for i in range(3)]  # type: ignore[index]
    assert store.get(keys[0]) is None and store.get(keys[2]) is not None


def test_to_json_shows_images_inside_outputs(tmp_path: Path) -> None:
    store = MediaStore(tmp_path)
    data = to_json({"picture": PNG, "n": 1, "text": "file:// is not enough"}, store)
    assert data["picture"]["$type"] == "image" and data["n"] == 1 and data["text"] == "file:// is not enough"
    assert to_json({"picture": PNG})["picture"]["$type"] == "bytes"  # without a store: as `nodeisle run --json`
