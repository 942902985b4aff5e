"""Reading Letta memory: Agent File v2, its double-encoded and legacy v1 variants, block arrays and
block rows.

An ``.af`` is read in two passes so that memory does not grow with the message history: the first
pass walks the parse events, builds everything except the messages (agent settings, blocks, tools)
and counts each agent's messages; the second streams ``agents.item.messages.item`` at C speed. A
stream (stdin) is spooled to a temporary file first so it can be read twice. Double-encoded files
(a JSON string holding the document, as Letta's own example scripts wrote them) are decoded whole:
there is no way to stream the inside of a JSON string.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from typing import IO, Any

import ijson

from memshift import Context, jsonio
from memshift.errors import Location, ReadError
from memshift.model import AnyRecord, Conversation, MemoryItem, Participant, Scope
from memshift.sources import Source
from memshift.timeutil import from_epoch_seconds, parse_iso

from ._messages import PartError, read_message

Opener = Callable[[], AbstractContextManager[IO[bytes]]]

#: Top-level keys of a v2 file that are not agents, blocks or tools (kept in ``letta:file``).
FILE_KEYS = ("groups", "files", "sources", "mcp_servers", "skills", "metadata", "created_at")
#: Agent keys the canonical Conversation holds itself.
AGENT_OWN_KEYS = frozenset(
    {"id", "name", "description", "timezone", "messages", "in_context_message_ids", "tool_ids",
     "block_ids"}
)  # fmt: skip
#: v1 agent keys with no v2 counterpart.
LEGACY_ONLY = ("version", "updated_at", "multi_agent_group", "created_at")
_BLOCK_OWN = frozenset(
    {"id", "label", "value", "limit", "description", "metadata", "metadata_", "created_at",
     "updated_at"}
)  # fmt: skip
_BLOCK_DEFAULTS: dict[str, Any] = {
    "read_only": False,
    "is_template": False,
    "preserve_on_migration": False,
}


def _memory_opener(data: bytes) -> Opener:
    return lambda: io.BytesIO(data)


class _Spool:
    """A re-readable copy of a one-shot stream (stdin) in a temporary file, so the agent file can
    be read in two passes without holding it in memory."""

    def __init__(self, fh: IO[bytes]) -> None:
        tmp = tempfile.NamedTemporaryFile(prefix="memshift-letta-", suffix=".af", delete=False)
        with tmp:
            shutil.copyfileobj(fh, tmp, 1024 * 1024)
        self.path = tmp.name

    def open(self) -> AbstractContextManager[IO[bytes]]:
        return open(self.path, "rb")

    def close(self) -> None:
        os.unlink(self.path)


def variant_of(head: bytes) -> str:
    """Which Letta layout a document's first bytes show: ``v2``, ``v1``, ``string`` (a JSON
    string, i.e. double-encoded), ``rows`` (JSON Lines of block rows), ``array``, ``object``."""
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b'"'):
        return "string"
    if text.startswith(b"["):
        return "array"
    if not text.startswith(b"{"):
        return "unknown"
    first_line = text.split(b"\n", 1)[0]
    if b'"block_label"' in first_line and first_line.rstrip().endswith(b"}"):
        return "rows"
    if b'"agents"' in text[:4096] or (b'"agents"' in text and b'"blocks"' in text):
        return "v2"
    if b'"core_memory"' in text or b'"in_context_message_indices"' in text:
        return "v1"
    return "object"


class LettaReader:
    def __init__(self, source: Source, options: Any, ctx: Context) -> None:
        self.source = source
        self.options = options
        self.ctx = ctx
        self.block_count = 0

    # -- entry ------------------------------------------------------------------------------------

    def read(self) -> Iterator[AnyRecord]:
        src = self.source
        if src.kind == "objects":
            yield from self._read_objects(src.objects)
            return
        if src.is_container:
            members = [
                m
                for m in src.members()
                if m.lower().endswith((".af", ".json", ".jsonl", ".ndjson"))
            ]
            if not members:
                raise ReadError("no .af, .json or .jsonl documents here", src.location())
        else:
            members = [None]  # type: ignore[list-item]
        for member in members:
            yield from self._read_member(member)

    def _read_member(self, member: str | None) -> Iterator[AnyRecord]:
        src = self.source
        loc = src.location(member)
        if src.kind == "stream" and member is None:
            spool = _Spool(src.open())
            try:
                yield from self._read_document(spool.open, loc, mtime=None)
            finally:
                spool.close()
            return

        def opener() -> AbstractContextManager[IO[bytes]]:
            return src.open(member)

        yield from self._read_document(opener, loc, mtime=src.mtime())

    def _read_document(
        self, opener: Opener, loc: Location, *, mtime: float | None, nested: bool = False
    ) -> Iterator[AnyRecord]:
        with opener() as fh:
            head = fh.read(65536)
        if not head.strip():
            raise ReadError("empty file: expected a Letta agent file or memory blocks", loc)
        variant = variant_of(head)
        if variant == "string":
            if nested:
                raise ReadError("a JSON string inside a JSON string is not an agent file", loc)
            with opener() as fh:
                inner = jsonio.load(fh, loc)
            if not isinstance(inner, str):
                raise ReadError("expected a JSON string holding the agent file", loc)
            self.ctx.note("letta_encoding", "double-encoded (a JSON string holding the file)")
            data = inner.encode("utf-8")
            yield from self._read_document(_memory_opener(data), loc, mtime=mtime, nested=True)
            return
        if variant == "v2":
            yield from self._read_v2(opener, loc, mtime)
        elif variant == "v1":
            yield from self._read_v1(opener, loc)
        elif variant == "rows":
            yield from self._read_rows(opener, loc, mtime)
        elif variant == "array":
            yield from self._read_block_array(opener, loc, mtime)
        elif variant == "object":
            with opener() as fh:
                obj = jsonio.load(fh, loc)
            yield from self._read_block_object(obj, loc, mtime)
        else:
            raise ReadError(
                "not JSON: expected a Letta agent file (.af), a JSON array of memory blocks or "
                "JSON Lines of block rows",
                loc,
            )

    def _read_objects(self, obj: Any) -> Iterator[AnyRecord]:
        loc = self.source.location()
        if isinstance(obj, str):
            yield from self._read_document(_memory_opener(obj.encode("utf-8")), loc, mtime=None)
        elif isinstance(obj, (dict, list)):
            data = jsonio.dumps(obj)
            yield from self._read_document(_memory_opener(data), loc, mtime=None)
        else:
            raise ReadError(f"cannot read a {type(obj).__name__} as Letta data", loc)

    # -- agent file v2 ----------------------------------------------------------------------------

    def _scan(
        self, opener: Opener, loc: Location, messages_prefix: str
    ) -> tuple[dict[str, Any], list[dict[str, Any]], list[list[Any]]]:
        """Pass 1: the document without message bodies, each agent's header, each agent's
        message ids (None where a message has none)."""
        agents_mode = messages_prefix.startswith("agents")
        top = ijson.ObjectBuilder()
        agents: list[dict[str, Any]] = []
        ids: list[list[Any]] = []
        agent_b: ijson.ObjectBuilder | None = None
        msgs_key_prefix = messages_prefix.rpartition(".")[0]  # "agents.item" or ""
        item_prefix = messages_prefix + ".item"
        id_prefix = item_prefix + ".id"
        skipping = False
        with opener() as fh:
            events = jsonio.iter_events(fh, loc)
            for prefix, event, value in events:
                if skipping:
                    if prefix == item_prefix and event == "start_map":
                        ids[-1].append(None)
                    elif prefix == id_prefix and ids[-1] and ids[-1][-1] is None:
                        ids[-1][-1] = value
                    elif prefix == messages_prefix and event == "end_array":
                        skipping = False
                    elif prefix == messages_prefix and event != "start_array":
                        raise ReadError(f"{messages_prefix} is not an array", loc)
                    continue
                if event == "map_key" and value == "messages" and prefix == msgs_key_prefix:
                    skipping = True
                    if not agents_mode:
                        ids.append([])
                    continue
                if agents_mode and prefix.startswith("agents"):
                    if prefix == "agents":
                        if event in ("start_array", "end_array"):
                            continue
                        raise ReadError("agents is not an array", loc.child("agents"))
                    if prefix == "agents.item" and event == "start_map" and agent_b is None:
                        agent_b = ijson.ObjectBuilder()
                        ids.append([])
                    if agent_b is None:
                        raise ReadError(
                            f"agents[{len(agents)}] is not an object", loc.child("agents")
                        )
                    agent_b.event(event, value)
                    if prefix == "agents.item" and event == "end_map" and _closed(agent_b):
                        agents.append(agent_b.value)
                        agent_b = None
                    continue
                if event == "map_key" and prefix == "" and value == "agents" and agents_mode:
                    continue
                top.event(event, value)
        doc = top.value
        if not isinstance(doc, dict):
            raise ReadError(
                f"expected a JSON object at the top level, got {type(doc).__name__}", loc
            )
        return doc, agents, ids

    def _read_v2(self, opener: Opener, loc: Location, mtime: float | None) -> Iterator[AnyRecord]:
        self.ctx.note("letta_variant", "agent file v2")
        doc, agents, ids = self._scan(opener, loc, "agents.item.messages")
        for key in ("blocks", "tools"):
            if not isinstance(doc.get(key, []), list):
                raise ReadError(f"{key} is not an array", loc.child(key))
        # The export time is when these block values were observed; without it, the file's
        # mtime only on request.
        observed: datetime | None
        if doc.get("created_at") is not None:
            observed = self._time(doc["created_at"], loc.child("created_at"), naive_tz=None)
            self.ctx.note("observed_at_source", "agent file created_at (export time)")
        else:
            observed = self._mtime(mtime)
        tools = {t.get("id"): t for t in doc.get("tools", []) if isinstance(t, dict)}
        referenced: set[str] = set()
        block_agents: dict[str, list[str]] = {}
        for i, agent in enumerate(agents):
            aid = agent.get("id")
            if not isinstance(aid, str) or not aid:
                raise ReadError("agent has no id", loc.child(f"agents[{i}].id"))
            for bid in agent.get("block_ids") or []:
                block_agents.setdefault(bid, []).append(aid)
            referenced.update(agent.get("tool_ids") or [])
        yield from self._blocks(doc.get("blocks", []), block_agents, observed, loc, "blocks")

        file_ext = {k: doc[k] for k in FILE_KEYS if k in doc and doc[k] not in (None, [], {})}
        spare = [
            {k: v for k, v in t.items() if k != "id"}
            for tid, t in tools.items()
            if tid not in referenced
        ]
        if spare:
            file_ext["tools"] = spare
        messages: Iterator[Any] = iter(())
        if any(ids):
            messages = self._message_stream(opener, loc, "agents.item.messages.item")
        seen: set[str] = set()
        for i, agent in enumerate(agents):
            aid = agent["id"]
            conv_ext: dict[str, Any] = {
                "letta:agent": {k: v for k, v in agent.items() if k not in AGENT_OWN_KEYS}
            }
            agent_tools = []
            for tid in agent.get("tool_ids") or []:
                tool = tools.get(tid)
                if tool is None:
                    self.ctx.warn(
                        f"{loc.child(f'agents[{i}].tool_ids')}: tool {tid!r} is not in the file"
                    )
                    continue
                agent_tools.append({k: v for k, v in tool.items() if k != "id"})
            if agent_tools:
                conv_ext["letta:tools"] = agent_tools
            in_context = agent.get("in_context_message_ids")
            if in_context is not None and in_context != ids[i]:
                conv_ext["letta:in_context_message_ids"] = in_context
            if i == 0 and file_ext:
                conv_ext["letta:file"] = file_ext
            yield self._conversation(agent, aid, conv_ext, agent.get("created_at"), None, loc, i)
            for j in range(len(ids[i])):
                raw = next(messages)
                yield from self._message(
                    raw, None, aid, None, seen, loc, f"agents[{i}].messages[{j}]"
                )

    def _message_stream(self, opener: Opener, loc: Location, prefix: str) -> Iterator[Any]:
        with opener() as fh:
            yield from jsonio.iter_items(fh, prefix, loc)

    # -- legacy v1 --------------------------------------------------------------------------------

    def _read_v1(self, opener: Opener, loc: Location) -> Iterator[AnyRecord]:
        self.ctx.note("letta_variant", "legacy v1 agent file")
        tz = self.options.legacy_timezone
        doc, _agents, ids = self._scan(opener, loc, "messages")
        count = len(ids[0]) if ids else 0
        self.ctx.warn(
            f"{loc}: legacy v1 agent file: its timestamps carry no zone and are read as "
            f"{tz} (-O legacy_timezone=ZONE to change)",
            key="letta-naive",
        )
        self.ctx.note("letta_naive_timestamps", f"read as {tz}")
        aid = "agent-0"
        blocks = doc.get("core_memory") or []
        if not isinstance(blocks, list):
            raise ReadError("core_memory is not an array", loc.child("core_memory"))
        numbered = [
            {**b, "id": f"block-{k}"} if isinstance(b, dict) else b for k, b in enumerate(blocks)
        ]
        yield from self._blocks(
            numbered,
            {f"block-{k}": [aid] for k in range(len(blocks))},
            None,
            loc,
            "core_memory",
            naive_tz=tz,
        )
        agent = {
            k: v
            for k, v in doc.items()
            if k not in ("core_memory", "in_context_message_indices", "tools", *LEGACY_ONLY)
        }
        if "metadata_" in agent:
            agent["metadata"] = agent.pop("metadata_")
        env = agent.get("tool_exec_environment_variables")
        if isinstance(env, list):
            agent["tool_exec_environment_variables"] = {
                e.get("key"): e.get("value") for e in env if isinstance(e, dict) and "key" in e
            }
        conv_ext: dict[str, Any] = {
            "letta:agent": {k: v for k, v in agent.items() if k not in AGENT_OWN_KEYS}
        }
        tools = doc.get("tools") or []
        if tools:
            conv_ext["letta:tools"] = tools
        indices = doc.get("in_context_message_indices")
        if isinstance(indices, list):
            in_context = [f"message-{n}" for n in indices]
            if in_context != [f"message-{n}" for n in range(count)]:
                conv_ext["letta:in_context_message_ids"] = in_context
        legacy = {k: doc[k] for k in LEGACY_ONLY if doc.get(k) is not None and k != "created_at"}
        if legacy:
            conv_ext["letta:legacy"] = legacy
        yield self._conversation(doc, aid, conv_ext, doc.get("created_at"), tz, loc, None)
        if count:
            seen: set[str] = set()
            messages = self._message_stream(opener, loc, "messages.item")
            for j, raw in enumerate(messages):
                yield from self._message(raw, f"message-{j}", aid, tz, seen, loc, f"messages[{j}]")

    # -- shared pieces ----------------------------------------------------------------------------

    def _time(self, value: Any, loc: Location, *, naive_tz: str | None) -> datetime:
        if not isinstance(value, str):
            raise ReadError(f"not an ISO 8601 timestamp: {value!r}", loc)
        try:
            return parse_iso(value, naive_tz=naive_tz)
        except ValueError as exc:
            raise ReadError(str(exc), loc) from None

    def _conversation(
        self,
        agent: dict[str, Any],
        aid: str,
        ext: dict[str, Any],
        created: Any,
        naive_tz: str | None,
        loc: Location,
        index: int | None,
    ) -> Conversation:
        where = f"agents[{index}]." if index is not None else ""
        name = agent.get("name")
        if name is not None and not isinstance(name, str):
            raise ReadError("agent name is not a string", loc.child(f"{where}name"))
        created_at = None
        if created is not None:
            created_at = self._time(created, loc.child(f"{where}created_at"), naive_tz=naive_tz)
        description = agent.get("description")
        timezone = agent.get("timezone")
        return Conversation(
            id=aid,
            type="personal",
            name=name,
            description=description if isinstance(description, str) else None,
            timezone=timezone if isinstance(timezone, str) else None,
            created_at=created_at,
            participants=(Participant(id=aid, name=name, is_bot=True, role="assistant"),),
            extensions=ext,
        )

    def _message(
        self,
        raw: Any,
        msg_id: str | None,
        aid: str,
        naive_tz: str | None,
        seen: set[str],
        loc: Location,
        path: str,
    ) -> Iterator[AnyRecord]:
        if not isinstance(raw, dict):
            self.ctx.reject(raw, "message is not an object", loc.child(path))
            return
        if msg_id is None:
            msg_id = raw.get("id")
            if not isinstance(msg_id, str) or not msg_id:
                self.ctx.reject(raw, "message has no id", loc.child(f"{path}.id"))
                return
        if msg_id in seen:
            self.ctx.reject(raw, f"duplicate message id {msg_id!r}", loc.child(f"{path}.id"))
            return
        seen.add(msg_id)
        try:
            parts = read_message(
                raw,
                msg_id=msg_id,
                agent_id=aid,
                naive_tz=naive_tz,
                assistant_tool=self.options.assistant_tool,
            )
        except PartError as exc:
            self.ctx.reject(raw, str(exc), loc.child(f"{path}.{exc.field}"))
            return
        except ValueError as exc:
            self.ctx.reject(raw, exc, loc.child(path))
            return
        yield from parts

    def _blocks(
        self,
        blocks: list[Any],
        owners: dict[str, list[str]],
        observed: datetime | None,
        loc: Location,
        key: str,
        *,
        naive_tz: str | None = None,
    ) -> Iterator[MemoryItem]:
        seen: set[str] = set()
        for k, block in enumerate(blocks):
            path = f"{key}[{k}]"
            item = self._block(block, loc, path, seen, owners, observed, naive_tz, None)
            if item is not None:
                yield item

    def _block(
        self,
        block: Any,
        loc: Location,
        path: str,
        seen: set[str],
        owners: dict[str, list[str]],
        observed: datetime | None,
        naive_tz: str | None,
        default_id: str | None,
    ) -> MemoryItem | None:
        if not isinstance(block, dict):
            self.ctx.reject(block, "block is not an object", loc.child(path))
            return None
        label = block.get("label", block.get("block_label"))
        if not isinstance(label, str) or not label:
            self.ctx.reject(block, "block has no label", loc.child(f"{path}.label"))
            return None
        value = block.get("value", "")
        if value is None:
            value = ""  # Letta stores a null value as ""
        if not isinstance(value, str):
            self.ctx.reject(block, "block value is not a string", loc.child(f"{path}.value"))
            return None
        limit = block.get("limit")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
            if isinstance(limit, float) and limit.is_integer():
                limit = int(limit)
            else:
                self.ctx.reject(block, "limit is not an integer", loc.child(f"{path}.limit"))
                return None
        bid = block.get("id", default_id or label)
        if not isinstance(bid, str) or not bid:
            self.ctx.reject(block, "block id is not a string", loc.child(f"{path}.id"))
            return None
        if bid in seen:
            what = "block id" if "id" in block else "block label"
            self.ctx.reject(block, f"duplicate {what} {bid!r}", loc.child(path))
            return None
        seen.add(bid)
        description = block.get("description")
        if description is not None and not isinstance(description, str):
            self.ctx.reject(block, "description is not a string", loc.child(f"{path}.description"))
            return None
        metadata = block.get("metadata", block.get("metadata_")) or {}
        if not isinstance(metadata, dict):
            self.ctx.reject(block, "metadata is not an object", loc.child(f"{path}.metadata"))
            return None
        try:
            created = self._opt_time(
                block.get("created_at"), loc.child(f"{path}.created_at"), naive_tz
            )
            updated = self._opt_time(
                block.get("updated_at"), loc.child(f"{path}.updated_at"), naive_tz
            )
        except ReadError as exc:
            self.ctx.reject(block, exc)
            return None
        extra = {
            k: v
            for k, v in block.items()
            if k not in _BLOCK_OWN
            and k != "block_label"
            and v is not None
            and _BLOCK_DEFAULTS.get(k, object()) != v
        }
        ext: dict[str, Any] = {}
        if extra:
            ext["letta:block"] = extra
        agents = owners.get(bid, [])
        if len(agents) > 1:
            ext["letta:agent_ids"] = agents
        agent_id = agents[0] if agents else self.options.agent_id
        try:
            return MemoryItem(
                id=bid,
                type="block",
                scope=Scope(agent_id=agent_id),
                text=value,
                label=label,
                description=description,
                limit=limit,
                created_at=created,
                updated_at=updated,
                observed_at=observed,
                metadata=metadata,
                extensions=ext,
            )
        except ValueError as exc:
            self.ctx.reject(block, exc, loc.child(path))
            return None

    def _opt_time(self, value: Any, loc: Location, naive_tz: str | None) -> datetime | None:
        if value is None:
            return None
        return self._time(value, loc, naive_tz=naive_tz)

    def _mtime(self, mtime: float | None) -> datetime | None:
        """The file's modification time, only when asked for (-O observed_at_from_mtime=true):
        a copied or downloaded file's mtime is rarely when its memory was observed."""
        if not self.options.observed_at_from_mtime or mtime is None:
            return None
        self.ctx.note("observed_at_source", "input file modification time")
        return from_epoch_seconds(int(mtime))

    # -- memory blocks (no agent file) ------------------------------------------------------------

    def _read_block_array(
        self, opener: Opener, loc: Location, mtime: float | None
    ) -> Iterator[AnyRecord]:
        self.ctx.note("letta_variant", "memory blocks")
        observed = self._mtime(mtime)
        seen: set[str] = set()
        with opener() as fh:
            for k, block in enumerate(jsonio.iter_items(fh, "item", loc)):
                item = self._block(block, loc, f"[{k}]", seen, {}, observed, None, None)
                if item is not None:
                    yield item

    def _read_block_object(
        self, obj: Any, loc: Location, mtime: float | None
    ) -> Iterator[AnyRecord]:
        if not isinstance(obj, dict):
            raise ReadError("expected an object of memory blocks", loc)
        observed = self._mtime(mtime)
        self.ctx.note("letta_variant", "memory blocks")
        seen: set[str] = set()
        if isinstance(obj.get("blocks"), list):
            for k, block in enumerate(obj["blocks"]):
                item = self._block(block, loc, f"blocks[{k}]", seen, {}, observed, None, None)
                if item is not None:
                    yield item
            return
        for label, block in obj.items():
            if isinstance(block, str):
                block = {"label": label, "value": block}
            elif isinstance(block, dict):
                block = {"label": label, **block}
            item = self._block(block, loc, label, seen, {}, observed, None, None)
            if item is not None:
                yield item

    def _read_rows(self, opener: Opener, loc: Location, mtime: float | None) -> Iterator[AnyRecord]:
        self.ctx.note("letta_variant", "block rows")
        observed = self._mtime(mtime)
        seen: set[str] = set()
        with opener() as fh:
            for lineno, line in enumerate(jsonio.skip_bom(fh), start=1):
                if not line.strip():
                    continue
                path = f"line {lineno}"
                try:
                    row = jsonio.loads(line)
                except ValueError as exc:  # orjson.JSONDecodeError
                    self.ctx.reject(
                        line.decode("utf-8", "replace"), f"invalid JSON: {exc}", loc.child(path)
                    )
                    continue
                if isinstance(row, dict) and "block_label" not in row:
                    self.ctx.reject(
                        row, "block row has no block_label", loc.child(f"{path}.block_label")
                    )
                    continue
                item = self._block(row, loc, path, seen, {}, observed, None, None)
                if item is not None:
                    yield item


def _closed(builder: Any) -> bool:
    # ObjectBuilder keeps a stack of containers being built; empty means the value is complete.
    return not builder.containers
