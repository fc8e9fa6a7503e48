"""Griptape's ``ParameterVideo``: a video parameter (type ``VideoUrlArtifact``) with its UI options
(values stored as given: ``_media``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from griptape_nodes import _compat
from griptape_nodes.exe_types.param_types._media import MediaParameter, flag

__all__ = ["ParameterVideo"]


class ParameterVideo(MediaParameter):
    # Griptape's keywords, each a separate argument as node code passes them; the rest go to Parameter.
    def __init__(
        self,
        name: str,
        tooltip: str | None = None,
        *,
        pulse_on_run: bool = False,
        clickable_file_browser: bool = True,
        webcam_capture_video: bool = False,
        edit_video: bool = False,
        accept_any: bool = True,
        **keywords: Any,
    ) -> None:
        flags = {
            "pulse_on_run": pulse_on_run,
            "clickable_file_browser": clickable_file_browser,
            "webcam_capture_video": webcam_capture_video,
            "edit_video": edit_video,
        }
        super().__init__(name, tooltip, "VideoUrlArtifact", flags, accept_any=accept_any, keywords=keywords)

    pulse_on_run = flag("pulse_on_run")
    clickable_file_browser = flag("clickable_file_browser")
    webcam_capture_video = flag("webcam_capture_video")
    edit_video = flag("edit_video")


if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        raise _compat.missing(__name__, name)
