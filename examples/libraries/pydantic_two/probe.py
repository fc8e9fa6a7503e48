"""Validates a record with whichever pydantic this library's environment holds."""

from nodeisle import BaseNode, Parameter, ParameterMode


class PydanticProbe(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("age", type="any", default_value="42", allowed_modes={ParameterMode.INPUT}))
        self.add_parameter(Parameter("pydantic_version", type="str", allowed_modes={ParameterMode.OUTPUT}))
        self.add_parameter(Parameter("record", type="dict", allowed_modes={ParameterMode.OUTPUT}))
        self.add_parameter(Parameter("api", type="str", allowed_modes={ParameterMode.OUTPUT}))

    def process(self):
        import pydantic

        class Person(pydantic.BaseModel):
            age: int

        person = Person(age=self.parameter_values["age"])
        if hasattr(person, "model_dump"):  # pydantic 2
            self.parameter_output_values["record"] = person.model_dump()
            self.parameter_output_values["api"] = "model_dump()"
        else:  # pydantic 1
            self.parameter_output_values["record"] = person.dict()
            self.parameter_output_values["api"] = "dict()"
        self.parameter_output_values["pydantic_version"] = str(pydantic.VERSION)
