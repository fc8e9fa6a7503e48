"""Griptape's ``ParameterImage``: an image parameter (type ``ImageUrlArtifact``) with its UI options.

Griptape's artifacts come from the ``griptape`` framework, which nodeisle does not provide: values
are stored as given (an artifact object when the library's env has ``griptape``, else a URL, path
or dict), not converted. With ``accept_any`` (the default) its ``input_types`` is ``["any"]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from griptape_nodes import _compat
from griptape_nodes.exe_types.core_types import Parameter

__all__ = ["ParameterImage"]

_FLAGS = ("pulse_on_run", "clickable_file_browser", "webcam_capture_image", "edit_mask")


class ParameterImage(Parameter):
    # Griptape's keywords, each a separate argument as node code passes them; the rest go to Parameter.
    def __init__(  # noqa: PLR0913
        self,
        name: str,
        tooltip: str | None = None,
        *,
        type: str = "ImageUrlArtifact",
        input_types: list[str] | None = None,
        output_type: str = "ImageUrlArtifact",
        ui_options: dict[str, Any] | None = None,
        pulse_on_run: bool = False,
        clickable_file_browser: bool = True,
        webcam_capture_image: bool = False,
        edit_mask: bool = False,
        accept_any: bool = True,
        **keywords: Any,
    ) -> None:
        options = dict(ui_options or {})
        flags = (pulse_on_run, clickable_file_browser, webcam_capture_image, edit_mask)
        for key, on in zip(_FLAGS, flags, strict=True):
            if on:
                options[key] = True
        if not keywords.get("allow_input", True) and not keywords.get("allow_property", True):
            options.pop("clickable_file_browser", None)  # nothing to browse for an output-only image
        super().__init__(
            name=name,
            tooltip=tooltip,
            type="ImageUrlArtifact",
            input_types=["any"] if accept_any else ["ImageUrlArtifact"],
            output_type="ImageUrlArtifact",
            ui_options=options,
            **keywords,
        )

    def _flag(self, key: str) -> bool:
        return bool(self.ui_options.get(key, False))

    @property
    def pulse_on_run(self) -> bool:
        return self._flag("pulse_on_run")

    @property
    def clickable_file_browser(self) -> bool:
        return self._flag("clickable_file_browser")

    @property
    def webcam_capture_image(self) -> bool:
        return self._flag("webcam_capture_image")

    @property
    def edit_mask(self) -> bool:
        return self._flag("edit_mask")


if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        raise _compat.missing(__name__, name)
