"""Griptape's ``SeedParameter``: a ``seed`` (int, default 42) and a ``randomize_seed`` (bool) on a node.

The node calls ``add_input_parameters()`` in ``__init__`` (inside a ``with ParameterGroup`` block,
``inside_param_group=True``, the group adopts them instead), forwards its ``after_value_set`` so
that randomizing makes the seed an output only, and calls ``preprocess()`` at the start of
``process``: with ``randomize_seed`` on, a fresh random seed is set and published. ``get_seed()``
is the seed to use.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any, Protocol

import nodeisle
from griptape_nodes import _compat
from griptape_nodes.exe_types.core_types import ParameterMode
from griptape_nodes.exe_types.param_types.parameter_bool import ParameterBool
from griptape_nodes.exe_types.param_types.parameter_int import ParameterInt

__all__ = ["SeedParameter"]


class _Node(Protocol):
    def add_parameter(self, parameter: nodeisle.Parameter) -> None: ...

    def remove_parameter_element_by_name(self, element_name: str) -> None: ...

    def get_parameter_by_name(self, name: str) -> nodeisle.Parameter | None: ...

    def get_parameter_value(self, param_name: str) -> Any: ...

    def set_parameter_value(self, param_name: str, value: Any) -> Any: ...

    def publish_update_to_parameter(self, parameter_name: str, value: Any) -> None: ...


class SeedParameter:
    def __init__(self, node: _Node, max_seed: int = 2**32 - 1) -> None:
        self._node = node
        self._max_seed = max_seed

    def add_input_parameters(self, *, inside_param_group: bool = False) -> None:
        randomize = ParameterBool(name="randomize_seed", tooltip="randomize the seed on each run", default_value=False)
        seed = ParameterInt(name="seed", tooltip="the seed to use for the generation", default_value=42)
        if not inside_param_group:  # inside a `with ParameterGroup` block the group adopts them
            self._node.add_parameter(randomize)
            self._node.add_parameter(seed)

    def remove_input_parameters(self) -> None:
        self._node.remove_parameter_element_by_name("randomize_seed")
        self._node.remove_parameter_element_by_name("seed")

    def after_value_set(self, parameter: nodeisle.Parameter, value: Any) -> None:
        """Randomizing makes ``seed`` an output only; not randomizing makes it editable again."""
        if parameter.name != "randomize_seed":
            return
        seed = self._node.get_parameter_by_name("seed")
        if seed is None:
            raise RuntimeError("Seed parameter not found")
        # a tuple suits both a Griptape parameter (which keeps a set) and one rebuilt from its spec
        seed.allowed_modes = (ParameterMode.OUTPUT,) if value else tuple(ParameterMode)

    def preprocess(self) -> None:
        if self._node.get_parameter_value("randomize_seed"):
            seed = random.randint(0, self._max_seed)  # a generation seed, not a secret
            self._node.set_parameter_value("seed", seed)
            self._node.publish_update_to_parameter("seed", seed)

    def get_seed(self) -> int:
        return int(self._node.get_parameter_value("seed"))


if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        raise _compat.missing(__name__, name)
