"""Patterns found by running public Griptape libraries unchanged (docs/griptape-compat.md, "Tried on
public libraries"), each in a fixture library written in their style, Shared and Isolated.

- ``def process(self) -> AsyncResult[None]`` (suno, googleai): Griptape's ``AsyncResult`` is generic
  in the yielded callables' result, so subscripting it at import time must work.
- ``ParameterVideo`` (hyperreal's ComfyUI node, HMB's Seedance node) and ``ParameterAudio``: media
  parameters like ``ParameterImage``, their UI flags ``ui_options`` keys that setters turn on and off.
- Result payloads a library defines with ``WorkflowNotAlteredMixin`` (OpenColorIO's request handlers):
  the mixins set ``altered_workflow_state``, which every ``ResultPayload`` has.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nodeisle.requests import ListRegisteredLibrariesRequest
from tests.conftest import run, write_library
from tests.griptape_nodes.test_libraries import create, execute, ok, start

NODES = '''
from dataclasses import dataclass
from typing import Any

from griptape_nodes.exe_types.core_types import Parameter, ParameterMode
from griptape_nodes.exe_types.node_types import AsyncResult, ControlNode, DataNode, SuccessFailureNode
from griptape_nodes.exe_types.param_types.parameter_audio import ParameterAudio
from griptape_nodes.exe_types.param_types.parameter_video import ParameterVideo
from griptape_nodes.retained_mode.events.base_events import (
    ResultPayloadFailure,
    ResultPayloadSuccess,
    WorkflowAlteredMixin,
    WorkflowNotAlteredMixin,
)


class TypedJob(DataNode):
    """Annotated as googleai's generators are; the annotation is evaluated when the class is made."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_parameter(Parameter(name="word", type="str", default_value="hi", tooltip="In"))
        self.add_parameter(Parameter(name="loud", output_type="str", tooltip="Out", allowed_modes={ParameterMode.OUTPUT}))

    def process(self) -> AsyncResult[None]:
        word: Any = yield lambda: self.get_parameter_value("word").upper()
        self.parameter_output_values["loud"] = word


class TypedStatusJob(SuccessFailureNode):
    """As suno's node: a SuccessFailureNode whose process is annotated ``AsyncResult[str]``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_parameter(Parameter(name="n", type="int", default_value=3, tooltip="In"))
        self.add_parameter(Parameter(name="stars", output_type="str", tooltip="Out", allowed_modes={ParameterMode.OUTPUT}))

    def process(self) -> AsyncResult[str]:
        stars = yield lambda: "*" * self.get_parameter_value("n")
        self.parameter_output_values["stars"] = stars


class ClipMaker(ControlNode):
    """As hyperreal's ComfyUI node declares its video output, plus an audio input."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_parameter(ParameterAudio(name="track", tooltip="Audio", microphone_capture_audio=True))
        self.add_parameter(
            ParameterVideo(
                name="video_url",
                tooltip="Generated video",
                allowed_modes={ParameterMode.OUTPUT, ParameterMode.PROPERTY},
                settable=False,
                ui_options={"pulse_on_run": True},
            )
        )
        self.add_parameter(Parameter(name="flags", output_type="dict", tooltip="Out", allowed_modes={ParameterMode.OUTPUT}))

    def process(self) -> None:
        video = self.get_parameter_by_name("video_url")
        audio = self.get_parameter_by_name("track")
        video.edit_video = True
        video.pulse_on_run = False
        self.parameter_output_values["video_url"] = {"type": "VideoUrlArtifact", "value": f"{self.get_parameter_value('track')}.mp4"}
        self.parameter_output_values["flags"] = {
            "video": [video.type, video.input_types, video.output_type, sorted(video.ui_options)],
            "audio": [audio.type, audio.input_types, audio.microphone_capture_audio, audio.edit_audio,
                      audio.clickable_file_browser],
        }


@dataclass
class TransformDone(WorkflowNotAlteredMixin, ResultPayloadSuccess):
    """Shaped as OpenColorIO's ColorspaceTransformResultSuccess."""

    image: str = ""


@dataclass
class TransformFailed(WorkflowNotAlteredMixin, ResultPayloadFailure):
    pass


@dataclass
class GraphChanged(WorkflowAlteredMixin, ResultPayloadSuccess):
    pass


class Transform(DataNode):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_parameter(Parameter(name="answers", output_type="list", tooltip="Out", allowed_modes={ParameterMode.OUTPUT}))

    def process(self) -> None:
        done = TransformDone(image="out.exr", result_details="converted")
        failed = TransformFailed(result_details="no config", exception=ValueError("no config"))
        self.parameter_output_values["answers"] = [
            [done.succeeded(), done.altered_workflow_state, done.image, done.result_details],
            [failed.failed(), failed.altered_workflow_state, str(failed.exception)],
            [GraphChanged().altered_workflow_state, ResultPayloadSuccess().altered_workflow_state],
        ]


ANNOTATIONS = (AsyncResult[None], AsyncResult[int], AsyncResult)  # at import, as modules do
'''
CLASSES = ["TypedJob", "TypedStatusJob", "ClipMaker", "Transform"]


@pytest.fixture
def library(tmp_path: Path) -> Path:
    return write_library(tmp_path / "libs", "Public Patterns", NODES, CLASSES)


@pytest.fixture(params=["shared", "isolated", "isolated-subprocess"])
def mode(request: pytest.FixtureRequest, offline_home: Path) -> str:
    return str(request.param)


def test_a_process_annotated_with_a_subscripted_async_result_loads_and_runs(library: Path, mode: str) -> None:
    async def body() -> None:
        o = await start(library, mode)
        try:
            libraries = ok(await o.handle_async(ListRegisteredLibrariesRequest())).libraries
            (info,) = [lib for lib in libraries if lib.name == "Public Patterns"]
            assert info.dropped == [] and sorted(info.node_types) == sorted(CLASSES)
            await create(o, "TypedJob", "job")
            await create(o, "TypedStatusJob", "status")
            assert (await execute(o, "job", word="ada"))["loud"] == "ADA"
            assert (await execute(o, "status", n=2))["stars"] == "**"
        finally:
            await o.close()

    run(body())


def test_video_and_audio_parameters_are_media_parameters_with_switchable_flags(library: Path, mode: str) -> None:
    async def body() -> None:
        o = await start(library, mode)
        try:
            await create(o, "ClipMaker", "clip")
            outputs = await execute(o, "clip", track="song")
            assert outputs["video_url"] == {"type": "VideoUrlArtifact", "value": "song.mp4"}
            assert outputs["flags"] == {
                # set after construction: edit_video on, pulse_on_run off; output/property keeps the browser
                "video": ["VideoUrlArtifact", ["any"], "VideoUrlArtifact", ["clickable_file_browser", "edit_video"]],
                "audio": ["AudioUrlArtifact", ["any"], True, False, True],
            }
        finally:
            await o.close()

    run(body())


def test_results_a_library_defines_with_the_workflow_mixins_say_whether_the_workflow_changed(
    library: Path, mode: str
) -> None:
    async def body() -> None:
        o = await start(library, mode)
        try:
            await create(o, "Transform", "transform")
            assert (await execute(o, "transform"))["answers"] == [
                [True, False, "out.exr", "converted"],
                [True, False, "no config"],
                [True, False],
            ]
        finally:
            await o.close()

    run(body())
