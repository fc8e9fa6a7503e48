"""The request classes, and docs/python-api.md, which lists every one of them and cannot drift from them."""

from __future__ import annotations

import dataclasses
import re

import pytest

from nodeisle.requests import REQUEST_TYPES, Request, Result
from tests.conftest import REPO

DOC = REPO / "docs" / "python-api.md"


def signature(cls: type[Request]) -> str:
    """``Name(required, optional=default)``: how the doc writes a request's fields."""
    parts = []
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        if f.default is not dataclasses.MISSING:
            parts.append(f"{f.name}={f.default!r}")
        elif f.default_factory is not dataclasses.MISSING:
            parts.append(f"{f.name}={f.default_factory()!r}")
        else:
            parts.append(f.name)
    return f"{cls.__name__}({', '.join(parts)})"


def answer(cls: type[Result]) -> str:
    """``Name``, then the fields a result adds to ``succeeded`` and ``message``."""
    extra = [f"`{f.name}`" for f in dataclasses.fields(cls) if f.name not in ("succeeded", "message")]
    return f"`{cls.__name__}`" + (": " + ", ".join(extra) if extra else "")


@pytest.mark.parametrize("cls", REQUEST_TYPES, ids=[c.__name__ for c in REQUEST_TYPES])
def test_the_python_api_doc_lists_every_request_with_its_fields_and_result(cls: type[Request]) -> None:
    row = f"| `{signature(cls)}` | {answer(cls.result_type)} | "
    rows = [line for line in DOC.read_text().splitlines() if line.startswith(f"| `{cls.__name__}(")]
    assert len(rows) == 1, f"docs/python-api.md needs exactly one table row for {cls.__name__}, starting {row!r}"
    assert rows[0].startswith(row), f"docs/python-api.md is out of date; the row should start {row!r}"


def test_the_python_api_doc_names_no_request_that_does_not_exist() -> None:
    named = set(re.findall(r"\b[A-Z]\w*Request\b", DOC.read_text()))
    assert named - {cls.__name__ for cls in REQUEST_TYPES} == set()


def test_every_request_class_in_the_module_is_registered() -> None:
    import nodeisle.requests as module

    public = {obj for name, obj in vars(module).items()
              if isinstance(obj, type) and issubclass(obj, Request) and obj is not Request and not name.startswith("_")}
    assert public == set(REQUEST_TYPES)


def test_a_library_mode_is_one_enum_read_from_any_case_and_crossing_the_bus_as_its_word() -> None:
    from nodeisle.bus import codec
    from nodeisle.config.settings import LibraryMode as SettingsMode
    from nodeisle.requests import WIRE_TYPES, LibraryMode, RegisterLibraryRequest, SetLibraryModeRequest

    assert SettingsMode is LibraryMode
    assert RegisterLibraryRequest(path="p", mode="Isolated").mode is LibraryMode.ISOLATED  # type: ignore[arg-type]
    assert RegisterLibraryRequest(path="p", mode="").mode is None  # type: ignore[arg-type]
    switch = SetLibraryModeRequest(library_name="L", mode=" SHARED ")  # type: ignore[arg-type]
    assert switch.mode is LibraryMode.SHARED
    tree, attachments = codec.encode(switch, WIRE_TYPES)
    assert tree["fields"]["mode"] == "shared"
    decoded = codec.decode(tree, attachments, WIRE_TYPES)
    assert decoded == switch and decoded.mode is LibraryMode.SHARED
    # A wrong word is kept as given: the orchestrator answers it with a failure listing the accepted words.
    assert SetLibraryModeRequest(library_name="L", mode="sideways").mode == "sideways"  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="expected 'shared' or 'isolated'"):
        LibraryMode.parse("sideways")
