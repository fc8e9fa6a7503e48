"""The payload bench library's node: copied into the bench's work directory as its ``nodes.py``."""

from __future__ import annotations

from typing import Any

from nodeisle import BaseNode, Parameter, ParameterMode


class Echo(BaseNode):
    """Returns its input unchanged: the payload goes into the worker and comes back."""

    def __init__(self, name: str, metadata: dict[str, Any] | None = None) -> None:
        super().__init__(name, metadata)
        self.add_parameter(Parameter("data", type="any", allowed_modes={ParameterMode.INPUT}))
        self.add_parameter(Parameter("data_out", type="any", allowed_modes={ParameterMode.OUTPUT}))

    def process(self) -> None:
        self.parameter_output_values["data_out"] = self.parameter_values["data"]
