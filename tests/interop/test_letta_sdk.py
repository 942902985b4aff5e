"""The ``.af`` memshift writes, checked against Letta's own SDK types (``letta-client``) and the
rules Letta's importer applies (``agent_serialization_manager._validate_schema``, research §4.4).

letta-client 1.12.1 has no ``AgentFileSchema`` (it lives in the server package), so each entity is
validated against the SDK's nearest real type: blocks as ``BlockResponse`` and ``CreateBlockParam``,
messages as ``InternalMessage``, tools as ``Tool``, agents as ``AgentCreateParams``; and the file is
sent through ``client.agents.import_file`` against a mock transport to check the SDK uploads it.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import memshift
from memshift.model import Conversation, MemoryItem, Message, Participant, Scope
from memshift.registry import Registry

letta_client = pytest.importorskip("letta_client")
httpx = pytest.importorskip("httpx")
pydantic = pytest.importorskip("pydantic")

from letta_client.types import BlockResponse, CreateBlockParam, Tool  # noqa: E402
from letta_client.types.agent_create_params import AgentCreateParams  # noqa: E402
from letta_client.types.agents.internal_message import InternalMessage  # noqa: E402
from letta_client.types.agents.message_role import MessageRole  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures" / "letta"
_REG = Registry()
_ID = re.compile(r"^(agent|block|tool|message|group|file|source|mcp_server)-(\d+)$")
_NAME = re.compile(r"^[\w '\-]+$")
_ROLES = set(MessageRole.__args__)  # type: ignore[attr-defined]
_CREATE_BLOCK = pydantic.TypeAdapter(CreateBlockParam)
_CREATE_AGENT = pydantic.TypeAdapter(AgentCreateParams)


def _write(records: list[Any], **options: Any) -> dict[str, Any]:
    docs = memshift.write(records, None, "letta", options=options, registry=_REG)
    assert len(docs) == 1
    af = docs[0]
    assert isinstance(af, dict)
    return af


def assert_importable(af: dict[str, Any]) -> None:
    """Letta's import checks (§4.4 steps 2-5) plus the SDK types of each entity."""
    for key in ("agents", "groups", "blocks", "files", "sources", "tools", "mcp_servers"):
        assert isinstance(af[key], list), key
    assert isinstance(af.get("metadata", {}), dict)
    seen: set[str] = set()

    def register(entity_id: str, prefix: str) -> None:
        m = _ID.match(entity_id)
        assert m and m.group(1) == prefix, f"{entity_id!r} is not {prefix}-<int>"
        assert entity_id not in seen, f"duplicate id {entity_id}"
        seen.add(entity_id)

    block_ids, tool_ids = set(), set()
    for block in af["blocks"]:
        register(block["id"], "block")
        block_ids.add(block["id"])
        BlockResponse.model_validate(block)
        _CREATE_BLOCK.validate_python({k: v for k, v in block.items() if k != "id"})
        if block.get("limit") is not None:
            assert len(block["value"]) <= block["limit"], f"{block['label']} over its limit"
    for tool in af["tools"]:
        register(tool["id"], "tool")
        tool_ids.add(tool["id"])
        Tool.model_validate(tool)
    for agent in af["agents"]:
        register(agent["id"], "agent")
        assert _NAME.match(agent["name"]), agent["name"]
        settings = {
            k: v
            for k, v in agent.items()
            if k not in ("id", "messages", "in_context_message_ids", "files_agents", "group_ids")
            and v is not None
        }
        _CREATE_AGENT.validate_python(settings)
        assert set(agent["block_ids"]) <= block_ids
        assert set(agent["tool_ids"]) <= tool_ids
        message_ids = []
        for msg in agent["messages"]:
            register(msg["id"], "message")
            assert msg["role"] in _ROLES
            assert msg["agent_id"] == agent["id"]
            parsed = InternalMessage.model_validate(msg)
            if msg.get("created_at") is not None:
                assert parsed.created_at is not None and parsed.created_at.tzinfo is not None
            message_ids.append(msg["id"])
        assert set(agent["in_context_message_ids"]) <= set(message_ids)
    for group in af["groups"]:
        register(group["id"], "group")


def _read(path: Path, **options: Any) -> list[Any]:
    return list(memshift.read(path, "letta", options=options, registry=_REG))


@pytest.mark.parametrize(
    "name", ["loop.af", "memgpt_agent.af", "legacy_v1_memgpt_agent_with_convo.af"]
)
def test_real_agent_files_rewrite_to_importable_v2(real_samples: Path, name: str) -> None:
    records = _read(real_samples / "letta" / name)
    af = _write(records)
    assert_importable(af)
    assert af["agents"][0]["name"] in {"Loop", "memgpt_agent"}


def test_legacy_v1_upgrade_keeps_history_and_context(real_samples: Path) -> None:
    records = _read(real_samples / "letta" / "legacy_v1_memgpt_agent_with_convo.af")
    af = _write(records)
    agent = af["agents"][0]
    # memshift.write keeps every record it is given (events too): all 91 raw messages.
    assert len(agent["messages"]) == 91
    assert agent["in_context_message_ids"][0] == "message-89"
    first_user = next(m for m in agent["messages"] if m["role"] == "user" and "sarah" in str(m))
    text = first_user["content"][0]["text"]
    assert json.loads(text)["message"] == "hi my name is actually sarah not chad "
    assert all(m["created_at"].endswith("+00:00") for m in agent["messages"])
    assert {b["label"]: b["limit"] for b in af["blocks"]} == {"persona": 5000, "human": 5000}


@pytest.mark.parametrize("case", sorted(p.name for p in FIXTURES.iterdir() if p.is_dir()))
def test_fixtures_write_importable_files(case: str) -> None:
    inputs = sorted((FIXTURES / case).glob("input*"))
    options = {}
    opt_file = FIXTURES / case / "options.json"
    if opt_file.exists():
        options = json.loads(opt_file.read_text())
    assert_importable(_write(_read(inputs[0], **options)))


def test_other_formats_conversation_becomes_an_importable_agent() -> None:
    t0 = datetime(2026, 5, 15, 9, 22, tzinfo=UTC)
    records = [
        Conversation(
            id="C024BE91L",
            type="personal",
            name="help/desk: v2.1",
            participants=(Participant(id="U01", name="Ana", role="user"),),
        ),
        Message(
            id="a",
            conversation_id="C024BE91L",
            role="user",
            sender_id="U01",
            timestamp=t0,
            text="My invoice is wrong.",
        ),
        Message(
            id="b",
            conversation_id="C024BE91L",
            role="assistant",
            type="reasoning",
            timestamp=t0,
            text="Check the invoice.",
        ),
        Message(
            id="c",
            conversation_id="C024BE91L",
            role="assistant",
            type="tool_call",
            timestamp=t0,
            text='{"invoice": 4411}',
        ),
        Message(
            id="d",
            conversation_id="C024BE91L",
            role="tool",
            type="tool_result",
            timestamp=t0,
            text='{"total": 120}',
        ),
        Message(
            id="e", conversation_id="C024BE91L", role="assistant", timestamp=t0, text="It is fixed."
        ),
        MemoryItem(id="9b1c", type="fact", scope=Scope(agent_id="C024BE91L"), text="Is vegetarian"),
        MemoryItem(
            id="long",
            type="block",
            label="log",
            limit=10,
            text="x" * 25,
            scope=Scope(agent_id="C024BE91L"),
        ),
    ]
    af = _write(records, model="openai/gpt-4o-mini", max_block_chars=20)
    assert_importable(af)
    agent = af["agents"][0]
    assert agent["name"] == "help_desk_ v2_1"
    assert agent["model"] == "openai/gpt-4o-mini"
    assert [m["role"] for m in agent["messages"]] == [
        "user",
        "assistant",
        "assistant",
        "tool",
        "assistant",
    ]
    assert agent["messages"][2]["tool_calls"][0]["function"]["arguments"] == '{"invoice": 4411}'
    assert agent["in_context_message_ids"] == [f"message-{n}" for n in range(5)]
    labels = {b["label"]: (len(b["value"]), b["limit"]) for b in af["blocks"]}
    assert labels == {"9b1c": (13, 20000), "log": (20, 20), "log_part2": (5, 20)}


def test_sdk_uploads_the_written_file() -> None:
    from letta_client import Letta

    af = _write(_read(FIXTURES / "af-v2" / "input.af"))
    payload = json.dumps(af).encode()
    seen: dict[str, Any] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["path"] = request.url.path
        seen["body"] = request.read()
        return httpx.Response(200, json={"agent_ids": ["agent-9f1c"]})

    client = Letta(
        api_key="test",
        base_url="http://letta.test",
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
    )
    result = client.agents.import_file(file=("agent.af", payload, "application/json"))
    assert seen["path"] == "/v1/agents/import"
    assert payload in seen["body"]
    assert result.agent_ids == ["agent-9f1c"]
