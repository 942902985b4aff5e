"""The framed fast path (``memshift.framing``) yields exactly what ijson yields, or fails where
ijson fails, for every document: pretty-printed or not, odd layouts, broken bytes.

One helper, :func:`assert_same_as_ijson`, is the property; the cases and the hypothesis
strategy only feed it documents.
"""

from __future__ import annotations

import io
import json
from typing import Any

import ijson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memshift import framing, jsonio
from memshift.errors import Location, ReadError


def _typed(value: Any) -> Any:
    """A view of a value in which 1 and 1.0 (and True) differ, for exact comparison."""
    if isinstance(value, dict):
        return ("d", [(k, _typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("l", [_typed(v) for v in value])
    return (type(value).__name__, value)


def _collect(items: Any) -> tuple[list[Any], str | None]:
    out: list[Any] = []
    try:
        for item in items:
            out.append(_typed(item))
    except (ijson.JSONError, UnicodeDecodeError, ValueError) as exc:
        return out, type(exc).__name__
    return out, None


def assert_same_as_ijson(data: bytes, prefix: str, *, chunk: int | None = None) -> list[Any]:
    """Framed and plain ijson parsing of ``data`` agree on every value and on failing."""
    expected = _collect(ijson.items(io.BytesIO(data), prefix, use_float=True))
    old_chunk = framing.CHUNK
    if chunk is not None:
        framing.CHUNK = chunk
    try:
        got = _collect(framing.items(io.BytesIO(data), prefix))
    finally:
        framing.CHUNK = old_chunk
    assert got[0] == expected[0]
    assert (got[1] is None) == (expected[1] is None), (got[1], expected[1])
    return got[0]


def _messages(n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": str(1000 + i),
            "content": 'line\n    },\n    {\nnot structure "quoted" \\ back',
            "author": {"id": "7", "roles": [{"id": "1", "name": "mod"}], "isBot": False},
            "reactions": [] if i % 2 else [{"emoji": {"name": "👍"}, "count": 2}],
            "n": i,
            "f": i / 4,
        }
        for i in range(n)
    ]


def _dce(indent: int | str = 2, n: int = 5, nl: str = "\n", **extra: Any) -> bytes:
    doc = {"guild": {"id": "1"}, "channel": {"id": "2"}, "messages": _messages(n), **extra}
    return json.dumps(doc, indent=indent, ensure_ascii=False).replace("\n", nl).encode()


# -- documents the framing handles --------------------------------------------------------------


@pytest.mark.parametrize("indent", [1, 2, 4, "\t"])
@pytest.mark.parametrize("nl", ["\n", "\r\n"])
@pytest.mark.parametrize("chunk", [None, 7, 64])
def test_indented_key_array(indent: int | str, nl: str, chunk: int | None) -> None:
    data = _dce(indent, nl=nl, messageCount=5)
    assert len(assert_same_as_ijson(data, "messages.item", chunk=chunk)) == 5


@pytest.mark.parametrize("chunk", [None, 5])
def test_indented_top_level_array(chunk: int | None) -> None:
    data = json.dumps(_messages(6), indent=4).encode()
    assert len(assert_same_as_ijson(data, "item", chunk=chunk)) == 6


@pytest.mark.parametrize("chunk", [None, 64])
def test_the_fast_path_is_taken(monkeypatch: pytest.MonkeyPatch, chunk: int | None) -> None:
    """All but the last item come from orjson (the last, and the tail, from ijson): in one
    batch per chunk."""
    framed: list[int] = []
    real = framing._loads

    def counting(data: Any) -> Any:
        value = real(data)
        if isinstance(value, list):
            framed.append(len(value))
        return value

    monkeypatch.setattr(framing, "_loads", counting)
    assert len(assert_same_as_ijson(_dce(2, n=10), "messages.item", chunk=chunk)) == 10
    assert sum(framed) == 9
    if chunk is None:
        assert framed == [9]  # one parse for the whole buffer


def test_a_run_that_does_not_parse_is_taken_frame_by_frame(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """orjson refuses a run (here: too deep once wrapped) but each frame parses alone."""
    real = framing._loads

    def no_batches(data: Any) -> Any:
        if bytes(data[:1]) == b"[":
            raise framing.orjson.JSONDecodeError("refused", "", 0)
        return real(data)

    monkeypatch.setattr(framing, "_loads", no_batches)
    assert len(assert_same_as_ijson(_dce(2, n=10), "messages.item", chunk=100)) == 10


# -- layouts it must refuse or hand over ---------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        json.dumps({"channel": {"id": 1}, "messages": _messages(3)}).encode(),  # compact
        b'{\n  "messages": []\n}',
        b'{\n  "messages": null\n}',
        b'{\n  "messages": [\n    1,\n    2\n  ]\n}',
        b'{\n  "messages": [\n    {"a": 1}, {"b": 2},\n    {"c": 3}\n  ]\n}',  # compact items
        b'{\n  "x": {\n  "messages": [\n    {\n      "a": 1\n    },\n    {\n      "b": 2\n'
        b"    }\n  ]\n  }\n}",  # the key nested at the top-level indentation
        b'{\n  "messages": [\n    {\n      "a": 1\n    },\n    {\n      "b": 2\n    }\n  ],\n'
        b'  "messages": [\n    {\n      "c": 3\n    },\n    {\n      "d": 4\n    }\n  ]\n}',
        # nested lines at the item indentation: frames cut inside an item must not parse
        b'{\n  "messages": [\n    {\n      "a": [\n    {\n      "x": 1\n    },\n    {\n'
        b'      "y": 2\n    }\n      ]\n    },\n    {\n      "b": 2\n    }\n  ]\n}',
        b'{\n  "messages": [\n    {\n      "s": "\\ud800"\n    },\n    {\n      "n": 1\n    }\n'
        b"  ]\n}",
        b'\n\n[\n  {\n    "a": 1\n  },\n  {\n    "b": 2.5\n  }\n]\n',
    ],
)
def test_odd_layouts_match_ijson(data: bytes) -> None:
    assert_same_as_ijson(data, "messages.item" if data.lstrip().startswith(b"{") else "item")


def test_integers_beyond_64_bits() -> None:
    """The one documented difference: yajl cannot read an integer outside the signed 64-bit
    range at all (the whole file fails with "integer overflow"); framed items read it as orjson
    does: exactly up to 2**64 - 1, as the nearest float beyond."""
    data = (
        b'{\n  "messages": [\n    {\n      "a": 18446744073709551615,\n      "b": -1\n    },\n'
        b'    {\n      "n": 1\n    }\n  ]\n}'
    )
    values = list(framing.items(io.BytesIO(data), "messages.item"))
    assert values == [{"a": 2**64 - 1, "b": -1}, {"n": 1}]
    with pytest.raises(ijson.JSONError, match="integer overflow"):
        list(ijson.items(io.BytesIO(data), "messages.item", use_float=True))


def test_a_frame_over_the_limit_hands_over_to_ijson(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(framing, "MAX_FRAME", 64)
    assert len(assert_same_as_ijson(_dce(2, n=4), "messages.item", chunk=16)) == 4


def test_a_header_over_the_limit_hands_over_to_ijson(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(framing, "MAX_HEAD", 32)
    data = _dce(2, n=3, extra_header={"k": "x" * 200})
    assert len(assert_same_as_ijson(data, "messages.item", chunk=16)) == 3


def test_unsupported_prefixes_use_ijson() -> None:
    data = _dce(2, n=2)
    assert len(assert_same_as_ijson(data, "messages.item.author")) == 2
    assert len(assert_same_as_ijson(data, "guild")) == 1


# -- broken documents --------------------------------------------------------------------------


@pytest.mark.parametrize("cut", [40, 120, 300, 500, -30, -3, -1])
def test_truncated_documents_fail_like_ijson(cut: int) -> None:
    data = _dce(2, n=4)
    assert_same_as_ijson(data[:cut], "messages.item")


def test_garbage_inside_an_item_fails_like_ijson() -> None:
    data = _dce(2, n=4).replace(b'"n": 2', b'"n": 2 oops', 1)
    values = assert_same_as_ijson(data, "messages.item")
    assert len(values) == 2


def test_invalid_utf8_fails_like_ijson() -> None:
    data = _dce(2, n=4).replace("👍".encode(), b"\xff\xfe", 1)
    assert_same_as_ijson(data, "messages.item")


def test_errors_stay_located_read_errors() -> None:
    loc = Location("export.json")
    with pytest.raises(ReadError, match="export.json.*invalid JSON"):
        list(jsonio.iter_items(io.BytesIO(_dce(2, n=4)[:-40]), "messages.item", loc))


# -- any document --------------------------------------------------------------------------------

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63) + 1, max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.sampled_from(list('ab \n\t"\\},{[]:é😀\u2028')), max_size=12)
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=12,
)
_items = st.lists(st.dictionaries(st.text(max_size=4), _values, max_size=4) | _values, max_size=6)


@settings(max_examples=150, deadline=None)
@given(
    items=_items,
    indent=st.sampled_from([1, 2, 3, 4, "\t"]),
    keyed=st.booleans(),
    crlf=st.booleans(),
    chunk=st.sampled_from([3, 17, 4096]),
    cut=st.none() | st.integers(min_value=0, max_value=400),
)
def test_any_document(
    items: list[Any], indent: int | str, keyed: bool, crlf: bool, chunk: int, cut: int | None
) -> None:
    doc: Any = (
        {"head": {"k": [1, {"messages": []}]}, "messages": items, "tail": 1} if keyed else items
    )
    text = json.dumps(doc, indent=indent, ensure_ascii=False)
    data = (text.replace("\n", "\r\n") if crlf else text).encode("utf-8", "surrogatepass")
    if cut is not None:
        data = data[:cut]
    assert_same_as_ijson(data, "messages.item" if keyed else "item", chunk=chunk)


class _CountingReader(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.reads = 0

    def read(self, n: int | None = -1) -> bytes:
        self.reads += 1
        return super().read(n)


@pytest.mark.parametrize(
    "data",
    [
        json.dumps({"channel": {"id": 1}, "messages": _messages(400)}).encode(),  # compact
        b'{"name": "Big", "messages": [\n' + b",\n".join(b'{"a": 1}' for _ in range(4000)) + b"]}",
    ],
)
def test_a_document_that_is_not_indented_is_not_read_ahead(
    monkeypatch: pytest.MonkeyPatch, data: bytes
) -> None:
    """The layout is decided from the first line, so memory stays one chunk for compact JSON."""
    monkeypatch.setattr(framing, "CHUNK", 1024)
    fh = _CountingReader(data)
    first = next(framing.items(fh, "messages.item"))
    assert first
    assert fh.reads <= 2  # the framing's one look, then ijson's first buffer
