"""The orchestrator⇄worker messages cross the codec by name, with what is inside them."""

from __future__ import annotations

import json

from nodeisle.bus import codec
from nodeisle.node.connections import ConnectionChange
from nodeisle.node.hosting import NodeInvocation
from nodeisle.node.spec import ParameterMode, ParameterSpec
from nodeisle.wire.messages import BUS_TYPES, ApplyConnection, ConnectionApplied


def cross(value: object) -> object:
    tree, attachments = codec.encode(value, BUS_TYPES)
    return codec.decode(json.loads(json.dumps(tree)), [bytes(a) for a in attachments], BUS_TYPES)


def test_apply_connection_and_its_answer_round_trip() -> None:
    source = (ParameterSpec("out", "str", None, "", (ParameterMode.OUTPUT,)),)
    message = ApplyConnection(
        NodeInvocation("Sink", "sink", {"k": 1}, (ParameterSpec("a"),), {"a": b"\x00\x01"}),
        ConnectionChange(True, "src", "Source", "Lib", source, "out", "a"),
    )
    assert ApplyConnection.answer_type is ConnectionApplied
    back = cross(message)
    assert back == message and type(back.change.source_parameters[0]) is ParameterSpec  # type: ignore[attr-defined]
    answer = ConnectionApplied(specs=(ParameterSpec("a"), ParameterSpec("via_a", "str")))
    assert cross(answer) == answer
