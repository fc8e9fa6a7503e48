"""The trivial bench library's nodes: copied into the bench's work directory as its ``nodes.py``."""

from __future__ import annotations

import os
from typing import Any

from nodeisle import BaseNode, Parameter, ParameterMode


class Add(BaseNode):
    """The trivial node: one int in, one int out."""

    def __init__(self, name: str, metadata: dict[str, Any] | None = None) -> None:
        super().__init__(name, metadata)
        self.add_parameter(Parameter("x", type="int", default_value=0, allowed_modes={ParameterMode.INPUT}))
        self.add_parameter(Parameter("y", type="int", allowed_modes={ParameterMode.OUTPUT}))

    def process(self) -> None:
        self.parameter_output_values["y"] = self.parameter_values["x"] + 1


class Pid(BaseNode):
    def __init__(self, name: str, metadata: dict[str, Any] | None = None) -> None:
        super().__init__(name, metadata)
        self.add_parameter(Parameter("pid", type="int", allowed_modes={ParameterMode.OUTPUT}))

    def process(self) -> None:
        self.parameter_output_values["pid"] = os.getpid()
