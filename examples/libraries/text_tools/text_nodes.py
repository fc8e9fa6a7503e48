"""Example nodes written against the nodeisle node API only."""

import asyncio
import os
import sys

from nodeisle import BaseNode, Options, Parameter, ParameterMode

IN = {ParameterMode.INPUT, ParameterMode.PROPERTY}
OUT = {ParameterMode.OUTPUT}


class Echo(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("text", type="str", default_value="", tooltip="Text to pass on", allowed_modes=IN))
        self.add_parameter(Parameter("result", type="str", tooltip="The same text", allowed_modes=OUT))

    def process(self):
        self.parameter_output_values["result"] = self.parameter_values["text"]


class Upper(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("text", type="str", default_value="", allowed_modes=IN))
        self.add_parameter(Parameter("result", type="str", allowed_modes=OUT))

    def process(self):
        self.parameter_output_values["result"] = str(self.parameter_values["text"]).upper()


class SlowReverse(BaseNode):
    """An async process: it awaits without blocking the engine."""

    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("text", type="str", default_value="", allowed_modes=IN))
        self.add_parameter(Parameter("delay", type="float", default_value=0.05, allowed_modes=IN))
        self.add_parameter(Parameter("result", type="str", allowed_modes=OUT))

    async def process(self):
        await asyncio.sleep(float(self.parameter_values["delay"]))
        self.parameter_output_values["result"] = str(self.parameter_values["text"])[::-1]


def _at_least_one(parameter, value):
    if value < 1:
        raise ValueError(f"{parameter.name} must be at least 1, got {value}")


class Repeat(BaseNode):
    """A converter (int) and a validator (>= 1) on `times`."""

    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("text", type="str", default_value="", allowed_modes=IN))
        self.add_parameter(Parameter("times", type="int", default_value=2, allowed_modes=IN,
                                     converters=[int], validators=[_at_least_one]))
        self.add_parameter(Parameter("separator", type="str", default_value=" ", allowed_modes=IN))
        self.add_parameter(Parameter("result", type="str", allowed_modes=OUT))

    def process(self):
        times = self.parameter_values["times"]
        self.parameter_output_values["result"] = self.parameter_values["separator"].join(
            [self.parameter_values["text"]] * times)


class Decorate(BaseNode):
    """A trait: Options restricts `style` to a list of choices."""

    STYLES = {"brackets": "[{}]", "stars": "*{}*", "quotes": '"{}"'}

    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("text", type="str", default_value="", allowed_modes=IN))
        self.add_parameter(Parameter("style", type="str", default_value="brackets", allowed_modes=IN,
                                     traits=[Options(choices=list(self.STYLES))]))
        self.add_parameter(Parameter("result", type="str", allowed_modes=OUT))

    def process(self):
        self.parameter_output_values["result"] = self.STYLES[self.parameter_values["style"]].format(
            self.parameter_values["text"])


class Split(BaseNode):
    """Dynamic parameters: setting `parts` adds or removes outputs part_1 .. part_N (after_value_set)."""

    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("text", type="str", default_value="", allowed_modes=IN))
        self.add_parameter(Parameter("parts", type="int", default_value=1, allowed_modes=IN, converters=[int]))
        self.add_parameter(Parameter("part_1", type="str", allowed_modes=OUT))

    def after_value_set(self, parameter, value):
        if parameter.name != "parts":
            return
        wanted = {f"part_{i}" for i in range(1, value + 1)}
        for existing in [p.name for p in self.parameters if p.name.startswith("part_")]:
            if existing not in wanted:
                self.remove_parameter_element(existing)
        for i in range(1, value + 1):
            if self.get_parameter_by_name(f"part_{i}") is None:
                self.add_parameter(Parameter(f"part_{i}", type="str", allowed_modes=OUT))

    def process(self):
        parts = self.parameter_values["parts"]
        words = str(self.parameter_values["text"]).split()
        chunk = max(1, -(-len(words) // parts))
        for i in range(parts):
            self.parameter_output_values[f"part_{i + 1}"] = " ".join(words[i * chunk:(i + 1) * chunk])


class Join(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("left", type="str", default_value="", allowed_modes=IN))
        self.add_parameter(Parameter("right", type="str", default_value="", allowed_modes=IN))
        self.add_parameter(Parameter("separator", type="str", default_value=" + ", allowed_modes=IN))
        self.add_parameter(Parameter("result", type="str", allowed_modes=OUT))

    def process(self):
        v = self.parameter_values
        self.parameter_output_values["result"] = f"{v['left']}{v['separator']}{v['right']}"


class WhereAmI(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("pid", type="int", allowed_modes=OUT))
        self.add_parameter(Parameter("prefix", type="str", allowed_modes=OUT))

    def process(self):
        self.parameter_output_values["pid"] = os.getpid()
        self.parameter_output_values["prefix"] = sys.prefix
