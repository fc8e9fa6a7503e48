"""Griptape's ``ParameterAudio``: an audio parameter (type ``AudioUrlArtifact``) with its UI options
(values stored as given: ``_media``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from griptape_nodes import _compat
from griptape_nodes.exe_types.param_types._media import MediaParameter, flag

__all__ = ["ParameterAudio"]


class ParameterAudio(MediaParameter):
    # Griptape's keywords, each a separate argument as node code passes them; the rest go to Parameter.
    def __init__(
        self,
        name: str,
        tooltip: str | None = None,
        *,
        pulse_on_run: bool = False,
        clickable_file_browser: bool = True,
        microphone_capture_audio: bool = False,
        edit_audio: bool = False,
        accept_any: bool = True,
        **keywords: Any,
    ) -> None:
        flags = {
            "pulse_on_run": pulse_on_run,
            "clickable_file_browser": clickable_file_browser,
            "microphone_capture_audio": microphone_capture_audio,
            "edit_audio": edit_audio,
        }
        super().__init__(name, tooltip, "AudioUrlArtifact", flags, accept_any=accept_any, keywords=keywords)

    pulse_on_run = flag("pulse_on_run")
    clickable_file_browser = flag("clickable_file_browser")
    microphone_capture_audio = flag("microphone_capture_audio")
    edit_audio = flag("edit_audio")


if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        raise _compat.missing(__name__, name)
