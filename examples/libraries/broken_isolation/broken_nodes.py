"""Nodes that work Shared and misbehave Isolated: one isolation mistake each.

Run `nodeisle check examples/libraries/broken_isolation` to see every one named with its line, and
compare with examples/libraries/clean_isolation, which does the same jobs the supported way.
"""

import json
import subprocess
import sys
from pathlib import Path

import nodeisle
from nodeisle import BaseNode, Options, Parameter, ParameterMode
from nodeisle.requests import GetParameterValueRequest, ListConnectionsForNodeRequest, ListFlowsRequest

IN = {ParameterMode.INPUT, ParameterMode.PROPERTY}
OUT = {ParameterMode.OUTPUT}


class FlowAwareInit(BaseNode):
    """reentrant-bus-in-init: a request from __init__. The class is dropped from the schema."""

    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        flows = nodeisle.handle_request(ListFlowsRequest())
        self.add_parameter(Parameter("flow", type="str", default_value=(flows.flow_names or [""])[0], allowed_modes=IN))

    def process(self):
        self.parameter_output_values["flow"] = self.parameter_values["flow"]


class GreetingFromFile(BaseNode):
    """I/O in __init__: the file is read during the schema probe and again for every execution."""

    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        with open(Path(__file__).with_name("greetings.json"), encoding="utf-8") as file:
            self.greetings = json.load(file)
        self.add_parameter(Parameter("language", type="str", default_value="en", allowed_modes=IN))
        self.add_parameter(Parameter("greeting", type="str", allowed_modes=OUT))

    def process(self):
        self.parameter_output_values["greeting"] = self.greetings[self.parameter_values["language"]]


class ToolVersion(BaseNode):
    """I/O in __init__: a subprocess started during the schema probe."""

    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        found = subprocess.run([sys.executable, "--version"], capture_output=True, text=True, check=False)
        self.add_parameter(Parameter("version", type="str", default_value=found.stdout.strip(), allowed_modes=OUT))

    def process(self):
        self.parameter_output_values["version"] = self.get_parameter_by_name("version").default_value


def _not_blank(parameter, value):
    if not value:
        raise ValueError(f"{parameter.name} must not be blank")


class Slugify(BaseNode):
    """parameter-behaviors-dropped-in-schema: a converter, a validator and a trait the orchestrator never runs."""

    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("text", type="str", default_value="Hello World", allowed_modes=IN,
                                     converters=[str.strip], validators=[_not_blank]))
        self.add_parameter(Parameter("separator", type="str", default_value="-", allowed_modes=IN,
                                     traits=[Options(choices=["-", "_"])]))
        self.add_parameter(Parameter("slug", type="str", allowed_modes=OUT))

    def process(self):
        words = self.parameter_values["text"].lower().split()
        self.parameter_output_values["slug"] = self.parameter_values["separator"].join(words)


class SplitInProcess(BaseNode):
    """parameter-mutation-during-aprocess: outputs added inside process never reach the orchestrator."""

    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("text", type="str", default_value="one two", allowed_modes=IN))

    def process(self):
        for i, word in enumerate(self.parameter_values["text"].split(), 1):
            self.add_parameter(Parameter(f"part_{i}", type="str", allowed_modes=OUT))
            self.parameter_output_values[f"part_{i}"] = word


class NeighbourCount(BaseNode):
    """worker-reach-into-orchestrator: reads flow state inside process instead of taking it as an input."""

    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("source", type="str", default_value="", allowed_modes=IN))
        self.add_parameter(Parameter("incoming", type="int", allowed_modes=OUT))
        self.add_parameter(Parameter("source_text", type="str", allowed_modes=OUT))

    def process(self):
        connections = nodeisle.handle_request(ListConnectionsForNodeRequest(node_name=self.name))
        self.parameter_output_values["incoming"] = len(connections.incoming)
        other = nodeisle.handle_request(
            GetParameterValueRequest(node_name=self.parameter_values["source"], parameter_name="text"))
        self.parameter_output_values["source_text"] = other.value if other.succeeded else ""
