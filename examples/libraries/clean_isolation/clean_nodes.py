"""The jobs of broken_isolation, done so they behave the same Shared and Isolated.

- __init__ only declares parameters: no file reads, no subprocesses, no requests.
- Cleaning and validation happen inside process, where the worker runs them on the real value.
- The parameter list changes while a value is set (after_value_set), never inside process.
- Data from other nodes arrives through connections into input parameters.
"""

import functools
import json
from pathlib import Path

from nodeisle import BaseNode, Parameter, ParameterMode

IN = {ParameterMode.INPUT, ParameterMode.PROPERTY}
OUT = {ParameterMode.OUTPUT}
LANGUAGES = ("en", "fr", "de")


@functools.cache
def _greetings():
    """Read once per process, on first use inside process (not during the schema probe)."""
    with open(Path(__file__).with_name("greetings.json"), encoding="utf-8") as file:
        return json.load(file)


class Greeting(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("language", type="str", default_value="en", allowed_modes=IN,
                                     tooltip=f"one of {', '.join(LANGUAGES)}"))
        self.add_parameter(Parameter("greeting", type="str", allowed_modes=OUT))

    def process(self):
        language = self.parameter_values["language"]
        if language not in LANGUAGES:
            raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, got {language!r}")
        self.parameter_output_values["greeting"] = _greetings()[language]


class Slugify(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("text", type="str", default_value="Hello World", allowed_modes=IN))
        self.add_parameter(Parameter("separator", type="str", default_value="-", allowed_modes=IN,
                                     tooltip="'-' or '_'"))
        self.add_parameter(Parameter("slug", type="str", allowed_modes=OUT))

    def process(self):
        text = str(self.parameter_values["text"]).strip()  # the transform, re-run where the node executes
        separator = self.parameter_values["separator"]
        if not text:
            raise ValueError("text must not be blank")
        if separator not in ("-", "_"):
            raise ValueError(f"separator must be '-' or '_', got {separator!r}")
        self.parameter_output_values["slug"] = separator.join(text.lower().split())


class Split(BaseNode):
    """Setting `parts` adds or removes outputs part_1 .. part_N during hydration, which propagates."""

    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("text", type="str", default_value="one two", allowed_modes=IN))
        self.add_parameter(Parameter("parts", type="int", default_value=2, allowed_modes=IN))
        for i in (1, 2):  # the outputs for the default of `parts`; after_value_set keeps them in step
            self.add_parameter(Parameter(f"part_{i}", type="str", allowed_modes=OUT))

    def after_value_set(self, parameter, value):
        if parameter.name != "parts":
            return
        count = max(1, int(value))
        for existing in [p.name for p in self.parameters if p.name.startswith("part_")]:
            if int(existing.removeprefix("part_")) > count:
                self.remove_parameter_element(existing)
        for i in range(1, count + 1):
            if self.get_parameter_by_name(f"part_{i}") is None:
                self.add_parameter(Parameter(f"part_{i}", type="str", allowed_modes=OUT))

    def process(self):
        count = max(1, int(self.parameter_values["parts"]))
        words = str(self.parameter_values["text"]).split()
        size = max(1, -(-len(words) // count))
        for i in range(count):
            self.parameter_output_values[f"part_{i + 1}"] = " ".join(words[i * size:(i + 1) * size])


class Describe(BaseNode):
    """Connect another node's output to `text`: the value arrives with the execution, no round trip."""

    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("text", type="str", default_value="", allowed_modes=IN))
        self.add_parameter(Parameter("words", type="int", allowed_modes=OUT))
        self.add_parameter(Parameter("characters", type="int", allowed_modes=OUT))

    def process(self):
        text = str(self.parameter_values["text"])
        self.parameter_output_values["words"] = len(text.split())
        self.parameter_output_values["characters"] = len(text)
