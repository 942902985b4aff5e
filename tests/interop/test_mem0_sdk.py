"""What memshift writes for Mem0, checked with Mem0's own SDK (``mem0ai``).

* Platform: every ``add()`` payload goes through ``MemoryClient.add(**payload)`` against a mock
  transport, and the body the SDK sends must equal the payload; its options must validate as
  the SDK's ``AddMemoryOptions``. Memory rows go through ``client.add(row["memory"], ...,
  infer=False)`` (Mem0's direct import).
* Open source: payloads written for the OSS engine (``-O add_timestamp=false``) are passed to a
  real ``Memory.add(**payload)`` (local Qdrant on disk, a deterministic stand-in embedder, no LLM
  because ``infer`` is false), and what ``Memory.get_all()`` returns is read back by memshift and
  validated as Mem0's own ``MemoryItem``.

Mem0 writes a config file and may send telemetry on import, so the test points ``MEM0_DIR`` at a
temporary folder and turns ``MEM0_TELEMETRY`` off before importing it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("MEM0_TELEMETRY", "False")
os.environ.setdefault("MEM0_DIR", tempfile.mkdtemp(prefix="memshift-mem0-"))

import memshift
from memshift.model import Conversation, MemoryItem, Message, Participant, Scope
from memshift.registry import Registry

try:  # mem0's package __init__ imports the client and the OSS engine with all their dependencies
    from mem0 import Memory, MemoryClient
    from mem0.client.types import AddMemoryOptions
    from mem0.configs.base import MemoryItem as Mem0MemoryItem
    from mem0.memory import main as mem0_main
    from mem0.utils import factory as mem0_factory
except ImportError as exc:  # pragma: no cover - depends on the environment
    pytest.skip(f"mem0ai (with its dependencies) is not importable: {exc}", allow_module_level=True)

httpx = pytest.importorskip("httpx")

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures" / "mem0"
_REG = Registry()
T0 = datetime(2024, 4, 5, 19, 33, 20, 100, tzinfo=UTC)


def _records() -> list[Any]:
    conv = Conversation(
        id="C01TRIP",
        type="personal",
        participants=(
            Participant(id="U024BE7LH", name="Dana", role="user"),
            Participant(id="B01ASSIST", name="Trip Assistant", role="assistant", is_bot=True),
        ),
    )
    texts = [
        ("user", "I'm planning a trip to Kyoto in April."),
        ("assistant", "Lovely season. Temples or food first?"),
        ("user", "Food. I don't eat pork."),
        ("system", "Conversation continued on mobile."),
        ("user", "My partner is vegan."),
    ]
    msgs = [
        Message(
            id=f"17123456{i:02d}.000100",
            conversation_id=conv.id,
            role=role,  # type: ignore[arg-type]
            sender_id="U024BE7LH"
            if role == "user"
            else ("B01ASSIST" if role == "assistant" else None),
            sender_name={"user": "Dana", "assistant": "Trip Assistant"}.get(role),
            timestamp=T0 + timedelta(seconds=20 * i),
            text=text,
        )
        for i, (role, text) in enumerate(texts * 5)  # 25 messages: two payloads
    ]
    items = [
        MemoryItem(
            id="m-1",
            scope=Scope(user_id="U024BE7LH"),
            text="Does not eat pork",
            created_at=T0,
            categories=("food",),
            metadata={"source": "chat"},
        ),
        MemoryItem(
            id="m-2",
            scope=Scope(agent_id="trip-planner", run_id="C01TRIP"),
            text="Suggest vegan options first",
            created_at=T0,
        ),
    ]
    return [conv, *msgs, *items]


def _write(records: list[Any], **options: Any) -> list[dict[str, Any]]:
    return list(
        memshift.write(records, None, "mem0", options=options, registry=_REG, on_loss="ignore")
    )


class _Platform:
    """A mock api.mem0.ai: answers the key check and records add() bodies."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, request: Any) -> Any:
        path = request.url.path
        if path == "/v1/ping/":
            return httpx.Response(
                200,
                json={
                    "status": "ok",
                    "user_email": "t@example.com",
                    "org_id": "o",
                    "project_id": "p",
                },
            )
        if path == "/v3/memories/add/":
            self.bodies.append(json.loads(request.content))
            return httpx.Response(200, json={"event_id": "e-1", "status": "PENDING"})
        return httpx.Response(404, json={"detail": f"unexpected {request.method} {path}"})

    def client(self) -> Any:
        transport = httpx.MockTransport(self)
        return MemoryClient(api_key="m0-test", client=httpx.Client(transport=transport))


def test_platform_add_payloads_are_sent_unchanged() -> None:
    lines = _write(_records(), mode="add")
    assert [len(p["messages"]) for p in lines] == [20, 5]
    server = _Platform()
    client = server.client()
    for payload in lines:
        options = {k: v for k, v in payload.items() if k in AddMemoryOptions.model_fields}
        AddMemoryOptions.model_validate(options, strict=True)  # timestamp int, metadata dict
        for key in ("user_id", "agent_id", "run_id"):
            if key in payload:
                assert mem0_main._validate_and_trim_entity_id(payload[key], key) == payload[key]
        assert mem0_main._strip_identity_keys(payload["metadata"], {}) == payload["metadata"]
        client.add(**payload)
    assert server.bodies == lines


def test_platform_direct_import_of_memory_rows() -> None:
    rows = _write(_records(), mode="rows")
    server = _Platform()
    client = server.client()
    for row in rows:
        Mem0MemoryItem.model_validate(row)  # a row is a Mem0 memory record
        scope = {k: row[k] for k in ("user_id", "agent_id", "run_id") if k in row}
        client.add(
            row["memory"],
            metadata=row["metadata"],
            timestamp=row["timestamp"],
            infer=False,
            **scope,
        )
    assert [b["messages"] for b in server.bodies] == [
        [{"role": "user", "content": row["memory"]}] for row in rows
    ]
    assert [b["timestamp"] for b in server.bodies] == [int(T0.timestamp())] * 2


class _Embedder:
    """Deterministic 8-dimensional vectors, so the OSS engine runs without a model."""

    def embed(self, text: str, memory_action: Any = None) -> list[float]:
        return [b / 255 for b in hashlib.sha256(text.encode("utf-8")).digest()[:8]]


@pytest.fixture
def oss_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(
        mem0_factory.EmbedderFactory, "create", classmethod(lambda cls, *a, **k: _Embedder())
    )
    # infer=False never calls the LLM; a placeholder keeps Memory from building an OpenAI client.
    monkeypatch.setattr(
        mem0_factory.LlmFactory, "create", classmethod(lambda cls, *a, **k: object())
    )
    memory = Memory.from_config(
        {
            "vector_store": {
                "provider": "qdrant",
                "config": {
                    "path": str(tmp_path / "qdrant"),
                    "on_disk": True,
                    "embedding_model_dims": 8,
                    "collection_name": "memshift",
                },
            },
            "history_db_path": str(tmp_path / "history.db"),
        }
    )
    yield memory
    memory.vector_store.client.close()


def test_oss_engine_accepts_payloads_and_its_records_read_back(oss_memory: Any) -> None:
    payloads = _write(_records(), mode="add", add_timestamp=False, infer=False)
    for payload in payloads:
        result = oss_memory.add(**payload)  # the OSS signature takes the payload as is
        # Mem0 stores each non-system message verbatim when infer is false.
        expected = [m for m in payload["messages"] if m["role"] != "system"]
        assert [r["memory"] for r in result["results"]] == [m["content"] for m in expected]
    dump = oss_memory.get_all(filters={"user_id": "U024BE7LH"}, top_k=100)
    for record in dump["results"]:
        Mem0MemoryItem.model_validate(record)
    items = list(memshift.read(json.dumps(dump).encode(), "mem0", registry=_REG))
    assert len(items) == 20  # 25 messages, 5 system ones skipped by Mem0
    by_text = {i.text: i for i in items if isinstance(i, MemoryItem)}
    pork = by_text["Food. I don't eat pork."]
    assert pork.scope == Scope(user_id="U024BE7LH", run_id="C01TRIP")
    assert pork.extensions["mem0:actor_id"] == "Dana" and pork.extensions["mem0:role"] == "user"
    assert pork.metadata["source_conversation_id"] == "C01TRIP"
    assert pork.created_at is not None and pork.created_at.tzinfo is not None


def test_oss_engine_takes_memory_rows_and_round_trips(oss_memory: Any) -> None:
    rows = _write(_records(), mode="rows")
    for row in rows:
        scope = {k: row[k] for k in ("user_id", "agent_id", "run_id") if k in row}
        oss_memory.add(row["memory"], metadata=row["metadata"], infer=False, **scope)
    dump = oss_memory.get_all(filters={"agent_id": "trip-planner"})
    (item,) = memshift.read(json.dumps(dump["results"]).encode(), "mem0", registry=_REG)
    assert item.text == "Suggest vegan options first"
    assert item.scope == Scope(agent_id="trip-planner", run_id="C01TRIP")
    # What Mem0 returns is itself writable and re-readable by memshift.
    (again,) = memshift.read(
        b"\n".join(json.dumps(r).encode() for r in _write([item])), "mem0", registry=_REG
    )
    assert again == item


def test_fixture_records_are_mem0_memory_items() -> None:
    for case in ("get-all-list", "results-envelope", "timestamps-edge", "get-single-object"):
        path = next((FIXTURES / case).glob("input*"))
        for item in memshift.read(path, "mem0", registry=_REG):
            (row,) = _write([item], fallback_user_id="someone")
            Mem0MemoryItem.model_validate(row)
