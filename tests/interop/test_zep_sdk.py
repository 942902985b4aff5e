"""What memshift writes for Zep, checked with Zep's own SDK (``zep-cloud``).

Every output line is validated with the SDK's request type (``BatchAddItem`` / ``Message`` for
v3, ``BatchItemInput`` / ``AddMessage`` for v4): no field the type does not declare, enum values
among the type's literals. Then the lines go through the SDK's client against a mock transport,
and the request bodies the SDK builds must equal the lines memshift wrote: an importer can feed
the file to ``batch.add`` / ``thread.add_messages`` / ``graph.add_fact_triple`` as is. The read
side parses what the SDK's response types serialise to.

The Fern-generated types accept any extra field and any string in their enums, so the checks on
``model_extra`` and on the ``Literal`` arguments are what make the validation strict.
"""

from __future__ import annotations

import json
import typing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import memshift
from memshift.model import Conversation, MemoryItem, Message, Participant, Scope, Triple
from memshift.registry import Registry

zep_cloud = pytest.importorskip("zep_cloud", reason="zep-cloud is not installed")
httpx = pytest.importorskip("httpx")

from zep_cloud.client import Zep  # noqa: E402
from zep_cloud.core.pydantic_utilities import parse_obj_as  # noqa: E402

MAJOR = int(zep_cloud.__version__.split(".")[0]) if hasattr(zep_cloud, "__version__") else 0
if not MAJOR:  # pragma: no cover - older wheels without __version__
    from importlib.metadata import version

    MAJOR = int(version("zep-cloud").split(".")[0])

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures" / "zep"
_REG = Registry()
T0 = datetime(2025, 6, 1, 13, 11, 12, 482910, tzinfo=UTC)

v3_only = pytest.mark.skipif(
    MAJOR != 3, reason=f"zep-cloud {MAJOR}.x is installed; the v3 dialect needs zep-cloud 3.x"
)
v4_only = pytest.mark.skipif(
    MAJOR < 4, reason=f"zep-cloud {MAJOR}.x is installed; the v4 dialect needs zep-cloud>=4"
)


def _literals(annotation: Any) -> set[str]:
    """The string literals of a Fern enum (``Union[Literal[...], Any]``)."""
    out: set[str] = set()
    for arg in typing.get_args(annotation):
        if typing.get_origin(arg) is typing.Literal:
            out.update(typing.get_args(arg))
        else:
            out |= _literals(arg)
    return out


def _strict(model: type[Any], data: dict[str, Any], enums: dict[str, set[str]]) -> Any:
    obj = model.model_validate(data)
    assert not obj.model_extra, f"{model.__name__} does not declare {sorted(obj.model_extra)}"
    for field, allowed in enums.items():
        value = data.get(field)
        if value is not None:
            assert value in allowed, f"{model.__name__}.{field}={value!r} not in {sorted(allowed)}"
    return obj


def _records() -> list[Any]:
    """A conversation with every role, a long message, an untimed one, and memory items of
    every kind, so the output exercises splitting, inheritance and episode parts."""
    conv = Conversation(
        id="C024BE91L",
        type="personal",
        participants=(Participant(id="U1", name="Jane Smith", role="user"),),
    )
    msgs = [
        Message(id="0", conversation_id=conv.id, role="system", text="Be concise."),
        Message(
            id="1",
            conversation_id=conv.id,
            role="user",
            sender_id="U1",
            sender_name="Jane Smith",
            timestamp=T0,
            text="Who was Octavia Butler?",
        ),
        Message(
            id="2",
            conversation_id=conv.id,
            role="assistant",
            sender_name="Assistant",
            timestamp=T0 + timedelta(seconds=3),
            text="An American author. " * 160,
        ),
        Message(
            id="3",
            conversation_id=conv.id,
            role="tool",
            sender_name="library_search",
            timestamp=T0 + timedelta(seconds=4),
            text='{"results": 14}',
            extensions={"zep:role": "function", "zep:metadata": {"source": "api"}},
        ),
        Message(
            id="4",
            conversation_id=conv.id,
            role="user",
            timestamp=T0 + timedelta(seconds=9),
            text="Thanks",
            extensions={"zep:role": "norole"},
        ),
    ]
    items = [
        MemoryItem(
            id="f1",
            scope=Scope(user_id="jane"),
            text="Jane likes Kindred",
            created_at=T0,
            metadata={"confidence": 0.9, "tags": ["books", "sf"]},
        ),
        MemoryItem(
            id="t1",
            type="triple",
            scope=Scope(group_id="library"),
            text="Kindred was published in 1979",
            triple=Triple(subject="Kindred", predicate="PUBLISHED_IN", object="1979"),
            valid_from=datetime(1979, 6, 1, tzinfo=UTC),
            created_at=T0,
        ),
        MemoryItem(
            id="d1",
            type="document",
            scope=Scope(user_id="jane"),
            text="Reading notes. " * 800,
            extensions={"zep:data_type": "text"},
        ),
        MemoryItem(
            id="j1",
            scope=Scope(user_id="jane"),
            text='{"plan": "pro"}',
            extensions={"zep:data_type": "json", "zep:source_description": "CRM"},
        ),
    ]
    return [conv, *msgs, *items]


def _write(records: list[Any], **options: Any) -> list[dict[str, Any]]:
    docs = memshift.write(records, None, "zep", options=options, registry=_REG, on_loss="ignore")
    return list(docs)


class _Capture:
    """A mock Zep server: records request bodies and answers with what the SDK parses."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.bodies: list[tuple[str, Any]] = []

    def __call__(self, request: Any) -> Any:
        body = json.loads(request.content) if request.content else None
        self.bodies.append((request.url.path, body))
        for suffix, answer in self.answers.items():
            if request.url.path.endswith(suffix):
                return httpx.Response(200, json=answer)
        return httpx.Response(404, json={"message": "unexpected call"})

    def client(self) -> Any:
        return Zep(api_key="test", httpx_client=httpx.Client(transport=httpx.MockTransport(self)))


# -- v3 (zep-cloud 3.x): the default dialect -------------------------------------------------------


@v3_only
def test_v3_batch_items_are_sdk_batch_add_items() -> None:
    from zep_cloud.types import BatchAddItem

    fields = BatchAddItem.model_fields
    enums = {
        "type": _literals(fields["type"].annotation),
        "role": _literals(fields["role"].annotation),
        "data_type": _literals(fields["data_type"].annotation),
    }
    lines = _write(_records())
    assert len(lines) > len(_records())  # split parts are there
    items = [_strict(BatchAddItem, line, enums) for line in lines]
    for line in lines:
        if line["type"] == "thread_message":
            assert line["thread_id"] and line["content"] and line["role"]
            assert len(line["content"]) <= 2500 and "created_at" in line
        else:
            assert bool(line.get("user_id")) != bool(line.get("graph_id"))
            assert len(line["data"]) <= 10_000
        assert len(line.get("metadata", {})) <= 10

    server = _Capture({"/items": []})
    client = server.client()
    for start in range(0, len(items), 500):
        client.batch.add("batch-1", items=items[start : start + 500])
    sent = [item for _path, body in server.bodies for item in body["items"]]
    assert sent == lines, "the SDK must send exactly the items memshift wrote"


@v3_only
def test_v3_thread_add_messages_bodies() -> None:
    from zep_cloud.types import Message as ZepMessage

    enums = {"role": _literals(ZepMessage.model_fields["role"].annotation)}
    lines = _write(_records(), mode="messages")
    server = _Capture({"/messages": {"message_uuids": [], "task_id": "task-1"}})
    client = server.client()
    for line in lines:
        assert set(line) == {"thread_id", "messages"} and 1 <= len(line["messages"]) <= 30
        messages = [_strict(ZepMessage, m, enums) for m in line["messages"]]
        client.thread.add_messages(line["thread_id"], messages=messages)
    assert [body["messages"] for _p, body in server.bodies] == [line["messages"] for line in lines]
    assert {path for path, _ in server.bodies} == {"/api/v2/threads/C024BE91L/messages"}


@v3_only
def test_v3_fact_rows_feed_add_fact_triple_with_exact_times() -> None:
    import inspect

    src = FIXTURES / "graph-edges-bitemporal" / "input.json"
    rows = list(
        memshift.convert(
            src,
            None,
            src="zep",
            dst="zep",
            src_options={"user_id": "jane"},
            dst_options={"mode": "facts"},
            registry=_REG,
        )
    )
    server = _Capture({"/add-fact-triple": {}})
    client = server.client()
    params = set(inspect.signature(client.graph.add_fact_triple).parameters)
    rename = {
        "name": "fact_name",
        "valid_from": "valid_at",
        "valid_to": "invalid_at",
        "attributes": "edge_attributes",
    }
    for row in rows:
        kwargs = {
            rename.get(k, k): v for k, v in row.items() if k not in ("uuid", "episodes", "scope")
        }
        assert set(kwargs) <= params, sorted(set(kwargs) - params)
        client.graph.add_fact_triple(**kwargs)
    sent = [body for _path, body in server.bodies]
    assert sent[0]["created_at"] == "2025-06-01T13:11:20.123456789Z"
    assert sent[1]["invalid_at"] == "2024-02-29T00:00:00Z"
    assert sent[1]["expired_at"] == "2025-06-02T09:15:00.000000001Z"
    assert sent[2]["valid_at"] == "2025-06-03T07:00:00+02:00"
    assert [b["fact"] for b in sent] == [r["fact"] for r in rows]


@v3_only
def test_v3_sdk_objects_read_back() -> None:
    """Thread messages and edges as the SDK's response types serialise them."""
    from zep_cloud.types import EntityEdge, MessageListResponse
    from zep_cloud.types import Message as ZepMessage

    page = MessageListResponse(
        messages=[
            ZepMessage(
                uuid_="u-1",
                role="user",
                name="Jane",
                content="hi",
                created_at="2025-06-01T13:11:12.482910Z",
                metadata={"k": "v"},
                processed=True,
            ),
            ZepMessage(
                uuid_="u-2", role="norole", content="imported", created_at="2025-06-01T13:11:20Z"
            ),
        ],
        row_count=2,
        total_count=2,
    )
    edge = EntityEdge(
        uuid_="e-1",
        fact="Jane works at Acme",
        name="WORKS_AT",
        source_node_uuid="n1",
        target_node_uuid="n2",
        source_node_name="Jane",
        target_node_name="Acme",
        created_at="2025-06-01T13:11:20.123456789Z",
        valid_at="2024-03-01T00:00:00Z",
        invalid_at="2025-01-31T00:00:00Z",
        expired_at="2025-02-01T10:00:00Z",
        episodes=["ep-1"],
    )
    # ``.dict()`` is the wire form (aliases such as ``uuid``); ``.json()`` is not.
    thread = page.dict()
    recs = list(memshift.read(json.dumps(thread).encode(), "zep", options={"thread_id": "t"}))
    assert [r.id for r in recs] == ["t", "u-1", "u-2"]
    assert recs[1].extensions == {"zep:metadata": {"k": "v"}} and recs[2].role == "user"
    (fact,) = memshift.read(json.dumps([edge.dict()]).encode(), "zep")
    assert fact.triple == Triple(subject="Jane", predicate="WORKS_AT", object="Acme")
    assert fact.valid_to == datetime(2025, 1, 31, tzinfo=UTC)
    assert fact.extensions["zep:expired_at"] == "2025-02-01T10:00:00Z"
    (row,) = _write([fact], mode="facts")
    row["valid_at"], row["invalid_at"] = row.pop("valid_from"), row.pop("valid_to")
    row.pop("user_id", None)
    back = parse_obj_as(EntityEdge, row)  # a fact row is an EntityEdge with CortexDB time names
    assert back.uuid_ == "e-1" and not back.model_extra
    assert (back.created_at, back.valid_at, back.invalid_at, back.expired_at) == (
        edge.created_at,
        edge.valid_at,
        edge.invalid_at,
        edge.expired_at,
    )


# -- v4 (zep-cloud 4.x): -O api=v4 ------------------------------------------------------------------


@v4_only
def test_v4_batch_items_are_sdk_batch_item_inputs() -> None:
    from zep_cloud.types import BatchItemInput

    fields = BatchItemInput.model_fields
    enums = {
        "type": _literals(fields["type"].annotation),
        "role": _literals(fields["role"].annotation),
        "data_type": _literals(fields["data_type"].annotation),
    }
    lines = _write(_records(), api="v4")
    items = [_strict(BatchItemInput, line, enums) for line in lines]
    for line in lines:
        assert "created_at" not in line and "thread_id" not in line and "user_id" not in line
        assert not (line.get("user_uuid") and line.get("graph_uuid"))
    server = _Capture({"/items": {"items": [], "rejected_items": []}})
    client = server.client()
    for start in range(0, len(items), 500):
        answer = client.batch.add_items("batch-1", items=items[start : start + 500])
        assert not answer.rejected_items
    sent = [item for _path, body in server.bodies for item in body["items"]]
    assert sent == lines


@v4_only
def test_v4_add_messages_bodies() -> None:
    from zep_cloud.types import AddMessage

    enums = {"role": _literals(AddMessage.model_fields["role"].annotation)}
    lines = _write(_records(), api="v4", mode="messages")
    server = _Capture({"/messages": {"messages": []}})
    client = server.client()
    for line in lines:
        assert set(line) == {"thread_uuid", "messages"} and 1 <= len(line["messages"]) <= 30
        messages = [_strict(AddMessage, m, enums) for m in line["messages"]]
        client.thread.add_messages(line["thread_uuid"], messages=messages)
    assert [body["messages"] for _p, body in server.bodies] == [line["messages"] for line in lines]


@v4_only
def test_v4_sdk_objects_read_back() -> None:
    from zep_cloud.types import Edge, EdgePage, MessagePage
    from zep_cloud.types import Message as ZepMessage

    page = MessagePage(
        items=[
            ZepMessage(
                uuid_="u-1",
                thread_uuid="th-9",
                role="user",
                name="Ravi",
                content="My passport expires in March.",
                reference_time="2026-02-10T18:04:00Z",
                created_at="2026-06-20T10:00:01Z",
            ),
        ],
    )
    recs = list(memshift.read(json.dumps(page.dict()).encode(), "zep"))
    assert [r.id for r in recs] == ["th-9", "u-1"]
    assert recs[1].timestamp == datetime(2026, 2, 10, 18, 4, tzinfo=UTC)  # reference_time
    edges = EdgePage(
        items=[
            Edge(
                uuid_="e-1",
                fact="Ravi's passport expires in March 2026",
                name="EXPIRES_IN",
                source_node_uuid="n1",
                target_node_uuid="n2",
                graph_uuid="g-ravi",
                valid_at="2026-02-10T18:04:00Z",
                created_at="2026-06-20T10:00:09Z",
                episode_uuids=["u-1"],
            ),
        ],
    )
    (fact,) = memshift.read(json.dumps(edges.dict()).encode(), "zep")
    assert fact.scope == Scope(group_id="g-ravi") and fact.type == "triple"
    (row,) = _write([fact], mode="facts", api="v4")
    row["valid_at"] = row.pop("valid_from")
    back = parse_obj_as(Edge, row)
    assert not back.model_extra and back.graph_uuid == "g-ravi"
    assert back.valid_at == "2026-02-10T18:04:00Z" and back.episode_uuids == ["u-1"]
