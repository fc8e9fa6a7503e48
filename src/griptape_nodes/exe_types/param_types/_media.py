"""What Griptape's media parameters (``ParameterImage``, ``ParameterVideo``, ``ParameterAudio``) share:
a parameter of one artifact type whose UI flags are ``ui_options`` keys.

Griptape's artifacts come from the ``griptape`` framework, which nodeisle does not provide: values
are stored as given (an artifact object when the library's env has ``griptape``, else a URL, path
or dict), not converted. With ``accept_any`` (the default) ``input_types`` is ``["any"]``, else the
artifact type. A flag is present in ``ui_options`` only while it is on (setting it False removes it,
as in Griptape), and an output-only parameter has no file browser.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from griptape_nodes.exe_types.core_types import Parameter

__all__ = ["MediaParameter", "flag"]


class MediaParameter(Parameter):
    """A parameter of type ``artifact``; its subclasses give Griptape's keyword names for the flags."""

    def __init__(
        self,
        name: str,
        tooltip: str | None,
        artifact: str,
        flags: Mapping[str, bool],
        *,
        accept_any: bool,
        keywords: dict[str, Any],
    ) -> None:
        options = dict(keywords.pop("ui_options", None) or {})
        for key, on in flags.items():
            if on:
                options[key] = True
        if not keywords.get("allow_input", True) and not keywords.get("allow_property", True):
            options.pop("clickable_file_browser", None)  # nothing to browse for an output-only parameter
        for ignored in ("type", "input_types", "output_type"):  # fixed by the artifact, as in Griptape
            keywords.pop(ignored, None)
        super().__init__(
            name=name,
            tooltip=tooltip,
            type=artifact,
            input_types=["any"] if accept_any else [artifact],
            output_type=artifact,
            ui_options=options,
            **keywords,
        )


def flag(key: str) -> property:
    """A boolean property backed by the ``ui_options`` key ``key``."""

    def get(self: Parameter) -> bool:
        return bool(self.ui_options.get(key, False))

    def put(self: Parameter, value: bool) -> None:
        options = dict(self.ui_options)
        if value:
            options[key] = True
        else:
            options.pop(key, None)
        self.ui_options = options

    return property(get, put, doc=f"whether ui_options[{key!r}] is on")
