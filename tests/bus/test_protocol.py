"""The sans-I/O bus protocol: literal frames in, literal frames and events out."""

from __future__ import annotations

import contextlib
import itertools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nodeisle.bus.protocol import (
    BusProtocol,
    IncomingCancel,
    IncomingRequest,
    IncomingResponse,
    OversizedMessage,
)
from nodeisle.errors import ProtocolError

GOOD_REQUEST = '{"t":"req","id":1,"name":"ping","body":null,"sizes":[]}'
GOOD_REQUEST_EVENT = IncomingRequest(1, "ping", None, [])


def frames_of(proto: BusProtocol) -> list[str | bytes]:
    """The queued frames with binary ones as bytes, so they compare to literals."""
    return [f if isinstance(f, str) else bytes(f) for f in proto.data_to_send()]


def feed(proto: BusProtocol, *frames: str | bytes) -> list[object]:
    events: list[object] = []
    for frame in frames:
        events.extend(proto.receive(frame))
    return events


_FRESH_IDS = itertools.count(10**9)


def assert_still_usable(proto: BusProtocol) -> None:
    """A well-formed request (with an id above any used so far, as ids only grow) is delivered."""
    request_id = next(_FRESH_IDS)
    good = GOOD_REQUEST.replace('"id":1,', f'"id":{request_id},')
    assert proto.receive(good) == [IncomingRequest(request_id, "ping", None, [])]
    proto.send_response(request_id, True, None)
    proto.data_to_send()


# -- sending ----------------------------------------------------------------------------------------
def test_request_is_one_text_frame_with_sizes() -> None:
    proto = BusProtocol()
    assert proto.send_request("ping", {"x": 1}) == 1
    assert frames_of(proto) == ['{"t":"req","id":1,"name":"ping","body":{"x":1},"sizes":[]}']
    assert proto.pending == {1}


def test_request_ids_increase_per_request() -> None:
    proto = BusProtocol()
    assert [proto.send_request("a", None), proto.send_request("b", None)] == [1, 2]


def test_attachments_follow_their_header_in_chunks_of_chunk_size() -> None:
    proto = BusProtocol(chunk_size=4)
    proto.send_request("put", {"$ni": "bytes", "ref": 0}, [memoryview(b"0123456789")])
    assert frames_of(proto) == [
        '{"t":"req","id":1,"name":"put","body":{"$ni":"bytes","ref":0},"sizes":[10]}',
        b"0123", b"4567", b"89",
    ]


def test_each_attachment_starts_a_new_chunk_and_empty_ones_send_no_frame() -> None:
    proto = BusProtocol(chunk_size=4)
    proto.send_request("put", None, [memoryview(b"abc"), memoryview(b""), memoryview(b"defgh")])
    assert frames_of(proto) == ['{"t":"req","id":1,"name":"put","body":null,"sizes":[3,0,5]}', b"abc", b"defg", b"h"]


def test_non_byte_memoryview_attachment_is_sized_in_bytes() -> None:
    proto = BusProtocol()
    proto.send_request("put", None, [memoryview(b"\x00" * 8).cast("d")])
    frames = frames_of(proto)
    assert json.loads(frames[0])["sizes"] == [8]
    assert frames[1:] == [b"\x00" * 8]


def test_response_frame() -> None:
    proto = BusProtocol()
    proto.receive('{"t":"req","id":5,"name":"ping"}')
    proto.send_response(5, True, "pong", [memoryview(b"xy")])
    assert frames_of(proto) == ['{"t":"res","id":5,"ok":true,"body":"pong","sizes":[2]}', b"xy"]


def test_cancel_frame_for_a_pending_request_stops_awaiting_it() -> None:
    proto = BusProtocol()
    proto.send_request("slow", None)
    proto.data_to_send()
    proto.send_cancel(1)
    assert frames_of(proto) == ['{"t":"cancel","id":1}']
    assert proto.pending == frozenset()


def test_cancel_of_an_unknown_request_sends_nothing() -> None:
    proto = BusProtocol()
    proto.send_cancel(42)
    assert frames_of(proto) == []


def test_unserializable_body_leaves_protocol_unchanged() -> None:
    proto = BusProtocol()
    with pytest.raises(TypeError):
        proto.send_request("bad", object())
    assert proto.pending == frozenset()
    assert frames_of(proto) == []


@pytest.mark.parametrize("option", ["chunk_size", "max_text", "max_attachments"])
def test_limits_must_be_positive(option: str) -> None:
    with pytest.raises(ValueError, match=option):
        BusProtocol(**{option: 0})


# -- receiving --------------------------------------------------------------------------------------
def test_request_without_attachments_is_one_event() -> None:
    assert BusProtocol().receive('{"t":"req","id":3,"name":"ping","body":[1,2]}') == [
        IncomingRequest(3, "ping", [1, 2], [])
    ]


def test_response_resolves_a_pending_request() -> None:
    proto = BusProtocol()
    proto.send_request("ping", None)
    assert proto.receive('{"t":"res","id":1,"ok":true,"body":"pong","sizes":[]}') == [
        IncomingResponse(1, True, "pong", [])
    ]
    assert proto.pending == frozenset()


def test_chunked_attachment_is_reassembled_into_one_buffer() -> None:
    proto = BusProtocol()
    assert proto.receive('{"t":"req","id":1,"name":"put","body":null,"sizes":[10]}') == []
    assert proto.receive(b"0123") == []
    assert proto.receive(b"4567") == []
    [event] = proto.receive(b"89")
    assert isinstance(event, IncomingRequest)
    assert event.attachments == [bytearray(b"0123456789")]
    assert type(event.attachments[0]) is bytearray


def test_one_frame_may_fill_several_attachments() -> None:
    proto = BusProtocol()
    proto.receive('{"t":"req","id":1,"name":"put","sizes":[2,0,3]}')
    [event] = proto.receive(b"abcde")
    assert isinstance(event, IncomingRequest)
    assert event.attachments == [bytearray(b"ab"), bytearray(b""), bytearray(b"cde")]


def test_zero_length_attachments_complete_without_binary_frames() -> None:
    [event] = BusProtocol().receive('{"t":"req","id":1,"name":"put","sizes":[0,0]}')
    assert isinstance(event, IncomingRequest)
    assert event.attachments == [bytearray(), bytearray()]


def test_round_trip_between_two_protocols_with_small_chunks() -> None:
    left, right = BusProtocol(chunk_size=3), BusProtocol(chunk_size=3)
    left.send_request("put", "body", [memoryview(b"0123456789"), memoryview(b"")])
    [request] = feed(right, *frames_of(left))
    assert request == IncomingRequest(1, "put", "body", [bytearray(b"0123456789"), bytearray()])
    right.send_response(1, True, "done", [memoryview(b"xyz")])
    assert feed(left, *frames_of(right)) == [IncomingResponse(1, True, "done", [bytearray(b"xyz")])]


def test_cancel_of_an_unanswered_request_is_an_event() -> None:
    proto = BusProtocol()
    proto.receive('{"t":"req","id":9,"name":"slow"}')
    assert proto.receive('{"t":"cancel","id":9}') == [IncomingCancel(9)]


def test_cancel_after_the_answer_was_sent_is_ignored() -> None:
    proto = BusProtocol()
    proto.receive('{"t":"req","id":9,"name":"slow"}')
    proto.send_response(9, True, None)
    assert proto.receive('{"t":"cancel","id":9}') == []


def test_late_response_to_a_cancelled_request_is_consumed_silently() -> None:
    proto = BusProtocol()
    proto.send_request("slow", None)
    proto.send_cancel(1)
    assert feed(proto, '{"t":"res","id":1,"ok":false,"body":null,"sizes":[3]}', b"abc") == []
    assert_still_usable(proto)


def test_response_cancelled_while_its_attachments_arrive_is_dropped() -> None:
    proto = BusProtocol()
    proto.send_request("slow", None)
    assert proto.receive('{"t":"res","id":1,"ok":true,"sizes":[4]}') == []
    proto.send_cancel(1)
    assert proto.receive(b"abcd") == []
    with pytest.raises(ProtocolError, match="already answered"):
        proto.receive('{"t":"res","id":1,"ok":true}')


# -- malformed input: ProtocolError, and the next good frame still works ----------------------------
MALFORMED_TEXT = {
    "non-JSON": ("{not json", "not JSON"),
    "deeply nested JSON": ("[" * 100_000, "not JSON"),
    "non-object": ("[1,2]", "JSON object"),
    "missing id": ('{"t":"req","name":"x"}', "positive integer"),
    "negative id": ('{"t":"req","id":-1,"name":"x"}', "positive integer"),
    "zero id": ('{"t":"req","id":0,"name":"x"}', "positive integer"),
    "float id": ('{"t":"req","id":1.0,"name":"x"}', "positive integer"),
    "string id": ('{"t":"req","id":"1","name":"x"}', "positive integer"),
    "bool id": ('{"t":"req","id":true,"name":"x"}', "positive integer"),
    "unknown type": ('{"t":"push","id":1}', "unknown message type"),
    "request without name": ('{"t":"req","id":1}', "name"),
    "request with non-str name": ('{"t":"req","id":1,"name":3}', "name"),
    "response without ok": ('{"t":"res","id":1}', "boolean 'ok'"),
    "response with non-bool ok": ('{"t":"res","id":1,"ok":1}', "boolean 'ok'"),
    "response to unknown id": ('{"t":"res","id":77,"ok":true}', "unknown or already answered"),
    "sizes not a list": ('{"t":"req","id":1,"name":"x","sizes":5}', "sizes"),
    "negative size": ('{"t":"req","id":1,"name":"x","sizes":[-1]}', "sizes"),
}


@pytest.mark.parametrize("frame, match", MALFORMED_TEXT.values(), ids=MALFORMED_TEXT.keys())
def test_malformed_text_frame_raises_protocol_error_and_protocol_stays_usable(frame: str, match: str) -> None:
    proto = BusProtocol()
    with pytest.raises(ProtocolError, match=match):
        proto.receive(frame)
    assert_still_usable(proto)


def test_replayed_response_is_a_protocol_error() -> None:
    proto = BusProtocol()
    proto.send_request("ping", None)
    response = '{"t":"res","id":1,"ok":true,"body":1}'
    assert len(proto.receive(response)) == 1
    with pytest.raises(ProtocolError, match="already answered"):
        proto.receive(response)
    assert_still_usable(proto)


def test_duplicate_response_with_attachments_is_a_protocol_error() -> None:
    proto = BusProtocol()
    proto.send_request("ping", None)
    feed(proto, '{"t":"res","id":1,"ok":true,"sizes":[1]}', b"x")
    with pytest.raises(ProtocolError, match="already answered"):
        proto.receive('{"t":"res","id":1,"ok":true,"sizes":[1]}')
    with pytest.raises(ProtocolError, match="without a message header"):
        proto.receive(b"x")
    assert_still_usable(proto)


def test_reused_id_of_an_unanswered_request_is_a_protocol_error() -> None:
    proto = BusProtocol()
    proto.receive('{"t":"req","id":4,"name":"a"}')
    with pytest.raises(ProtocolError, match="replayed or reordered"):
        proto.receive('{"t":"req","id":4,"name":"b"}')
    assert_still_usable(proto)


def test_a_request_replayed_after_its_answer_or_an_older_id_is_a_protocol_error() -> None:
    proto = BusProtocol()
    assert len(proto.receive('{"t":"req","id":7,"name":"SetSecretValueRequest"}')) == 1
    proto.send_response(7, True, None)
    with pytest.raises(ProtocolError, match="replayed or reordered"):
        proto.receive('{"t":"req","id":7,"name":"SetSecretValueRequest"}')
    with pytest.raises(ProtocolError, match="replayed or reordered"):
        proto.receive('{"t":"req","id":3,"name":"SetSecretValueRequest"}')
    assert [type(e).__name__ for e in proto.receive('{"t":"req","id":8,"name":"x"}')] == ["IncomingRequest"]


def test_binary_frame_without_header_is_a_protocol_error() -> None:
    proto = BusProtocol()
    with pytest.raises(ProtocolError, match="without a message header"):
        proto.receive(b"stray")
    assert_still_usable(proto)


def test_text_frame_in_the_middle_of_attachments_drops_the_partial_message() -> None:
    proto = BusProtocol()
    proto.receive('{"t":"req","id":1,"name":"put","sizes":[10]}')
    proto.receive(b"01234")
    with pytest.raises(ProtocolError, match="incomplete"):
        proto.receive(GOOD_REQUEST)
    with pytest.raises(ProtocolError, match="without a message header"):
        proto.receive(b"56789")
    assert_still_usable(proto)


def test_more_binary_bytes_than_declared_is_a_protocol_error() -> None:
    proto = BusProtocol()
    proto.receive('{"t":"req","id":1,"name":"put","sizes":[3]}')
    with pytest.raises(ProtocolError, match="more bytes"):
        proto.receive(b"abcd")
    assert_still_usable(proto)


def test_text_frame_over_max_text_is_a_protocol_error() -> None:
    proto = BusProtocol(max_text=len(GOOD_REQUEST) + 16)  # room for the still-usable check's larger id
    with pytest.raises(ProtocolError, match="exceeds the limit"):
        proto.receive('{"t":"req","id":1,"name":"ping","body":"' + "x" * 100 + '"}')
    assert_still_usable(proto)


def test_declared_attachments_over_max_attachments_is_a_protocol_error() -> None:
    proto = BusProtocol(max_attachments=10)
    with pytest.raises(ProtocolError, match="exceed the limit"):
        proto.receive('{"t":"req","id":1,"name":"put","sizes":[6,5]}')
    assert_still_usable(proto)


def test_declared_attachments_at_max_attachments_are_accepted() -> None:
    proto = BusProtocol(max_attachments=10)
    assert feed(proto, '{"t":"req","id":1,"name":"put","sizes":[5,5]}', b"0123456789") == [
        IncomingRequest(1, "put", None, [bytearray(b"01234"), bytearray(b"56789")])
    ]


def test_frame_that_is_neither_text_nor_bytes_is_a_protocol_error() -> None:
    proto = BusProtocol()
    proto.receive('{"t":"req","id":1,"name":"put","sizes":[3]}')
    with pytest.raises(ProtocolError):
        proto.receive(123)  # type: ignore[arg-type]
    assert_still_usable(proto)


# -- fuzz ---------------------------------------------------------------------------------------------
json_headers = st.fixed_dictionaries(
    {"t": st.sampled_from(["req", "res", "cancel", "x"]), "id": st.integers(-2, 4)},
    optional={
        "name": st.one_of(st.text(max_size=5), st.integers()),
        "ok": st.one_of(st.booleans(), st.integers(0, 1)),
        "body": st.none(),
        "sizes": st.one_of(st.lists(st.integers(-1, 6), max_size=3), st.integers()),
    },
).map(lambda header: json.dumps(header))
frames = st.one_of(json_headers, st.text(max_size=20), st.binary(max_size=12))


@settings(max_examples=300, deadline=None)
@given(st.lists(frames, max_size=12), st.booleans())
def test_arbitrary_frames_raise_nothing_but_protocol_error(sequence: list[str | bytes], with_requests: bool) -> None:
    proto = BusProtocol(chunk_size=4, max_attachments=20, max_text=200)
    if with_requests:
        for _ in range(3):
            proto.send_request("r", None)
        proto.send_cancel(2)
    for frame in sequence:
        with contextlib.suppress(ProtocolError):
            proto.receive(frame)
    good = '{"t":"cancel","id":1}'
    try:
        proto.receive(good)
    except ProtocolError:  # it interrupted a partial message, which is dropped with it
        proto.receive(good)  # the protocol has recovered: the next good frame is understood


def test_a_header_declaring_a_huge_attachment_allocates_nothing_until_bytes_arrive() -> None:
    """Regression: a 60-byte header declaring 4 GiB made the receiver zero-fill 4 GiB and freeze its loop."""
    import tracemalloc

    proto = BusProtocol()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        assert proto.receive('{"t":"req","id":1,"name":"put","sizes":[4000000000]}') == []
        grown = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert grown < 1 << 20, f"the header alone allocated {grown} bytes"
    assert proto.receive(b"abc") == []  # the bytes that arrive are kept
    assert proto._partial is not None and bytes(proto._partial.buffers[0]) == b"abc"


def test_a_header_over_the_configured_limit_is_refused_and_the_protocol_keeps_serving() -> None:
    proto = BusProtocol(max_attachments=1000)
    with pytest.raises(ProtocolError, match="exceed the limit of 1000"):
        proto.receive('{"t":"req","id":1,"name":"put","sizes":[600,401]}')
    assert proto.receive('{"t":"req","id":2,"name":"put","sizes":[3]}') == []
    [event] = proto.receive(b"xyz")
    assert isinstance(event, IncomingRequest) and event.attachments == [bytearray(b"xyz")]


def test_a_message_over_the_limits_is_not_queued() -> None:
    proto = BusProtocol(max_attachments=10, max_text=100)
    with pytest.raises(OversizedMessage, match="11 bytes, over the limit of 10"):
        proto.send_request("put", None, [memoryview(b"x" * 11)])
    with pytest.raises(OversizedMessage, match="JSON part"):
        proto.send_request("put", "y" * 200)
    assert proto.data_to_send() == [] and proto.pending == frozenset()
    assert proto.send_request("put", None, [memoryview(b"x" * 10)]) == 1


def test_a_header_listing_more_attachments_than_the_limit_is_refused_before_building_buffers() -> None:
    """Regression (review): 8 M zero-size attachments in one header stalled the receiver for seconds."""
    from nodeisle.bus.protocol import MAX_ATTACHMENT_COUNT

    proto = BusProtocol()
    sizes = ",".join("0" * 1 for _ in range(MAX_ATTACHMENT_COUNT + 1))
    with pytest.raises(ProtocolError, match="attachments in one message exceed the limit"):
        proto.receive('{"t":"req","id":1,"name":"put","sizes":[' + sizes + "]}")
    assert proto.receive('{"t":"req","id":2,"name":"ok","sizes":[]}')[0].name == "ok"


def test_a_message_that_interrupts_an_incomplete_one_is_still_delivered() -> None:
    """Regression (review): after a header whose attachments never came, the next message was dropped too."""
    proto = BusProtocol()
    assert proto.receive('{"t":"req","id":1,"name":"put","sizes":[10]}') == []
    assert proto.receive(b"abc") == []
    with pytest.raises(ProtocolError, match="attachments were incomplete") as caught:
        proto.receive('{"t":"req","id":2,"name":"ping","body":null}')
    [event] = caught.value.events
    assert isinstance(event, IncomingRequest) and event.id == 2 and event.name == "ping"
