"""Writing Letta memory: an Agent File v2, a JSON array of memory blocks, or block rows.

The ``.af`` writer streams messages into a temporary file and assembles the document at the end,
because an agent object needs its ``block_ids`` and ``in_context_message_ids`` and memory items may
arrive after the messages. Memory use is the agent settings, the blocks and, per agent, the ids of
the in-context messages; message bodies stay on disk.

Ids are renumbered ``<type>-<n>`` in arrival order (agents, messages, blocks, tools), which is what
Letta's importer requires (``_validate_id_format``) and reproduces a well-formed file's own ids.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterable
from typing import IO, Any

from memshift import Context, jsonio
from memshift.errors import Location, WriteError
from memshift.model import AnyRecord, Conversation, MemoryItem, Message
from memshift.sinks import Sink
from memshift.timeutil import parse_iso

from ._messages import EXT_PART, MESSAGE_KEYS, build_raw

_NAME_BAD = re.compile(r"[^\w '\-]+")


def agent_name(name: str | None, fallback: str) -> str:
    """A name Letta accepts (``^[\\w '\\-]+$``): other characters become ``_``."""
    cleaned = _NAME_BAD.sub("_", name or fallback).strip()
    return cleaned or "agent"


def default_agent(options: Any) -> dict[str, Any]:
    """Settings for an agent made from a conversation of another format."""
    return {
        "memory_blocks": [],
        "tools": [],
        "tool_rules": [],
        "tags": [],
        "system": options.system or "",
        "agent_type": options.agent_type,
        "llm_config": None,
        "embedding_config": None,
        "model": options.model,
        "embedding": options.embedding,
        "metadata": {},
        "files_agents": [],
        "group_ids": [],
    }


def split_value(value: str, limit: int | None, options: Any) -> tuple[list[str], int]:
    """The block values and the limit to write for one memory item.

    A value over its limit gets the limit raised to its length (lossless for every Letta since
    0.16.6, which treats the limit as metadata, and for older servers up to ``max_block_chars``);
    past ``max_block_chars`` it continues in numbered blocks.
    """
    lim = limit if limit is not None else options.default_limit
    cap = options.max_block_chars
    if len(value) <= lim:
        return [value], lim
    if len(value) <= cap:
        return [value], len(value)
    chunks = [value[i : i + cap] for i in range(0, len(value), cap)]
    return chunks, cap


class _Agent:
    __slots__ = (
        "block_ids", "context_map", "context_wanted", "end", "first_msg", "header", "last_msg",
        "new_id", "old_id", "start", "tool_ids",
    )  # fmt: skip

    def __init__(self, old_id: str, new_id: str, header: dict[str, Any], start: int) -> None:
        self.old_id = old_id
        self.new_id = new_id
        self.header = header
        self.start = start
        self.end = start
        self.first_msg: int | None = None
        self.last_msg = -1
        self.tool_ids: list[str] = []
        self.block_ids: list[str] = []
        self.context_wanted: list[str] | None = None
        self.context_map: dict[str, str] = {}


class AfWriter:
    def __init__(self, options: Any, ctx: Context) -> None:
        self.options = options
        self.ctx = ctx
        self.spool: IO[bytes] = tempfile.TemporaryFile(prefix="memshift-letta-")
        self.agents: list[_Agent] = []
        self.by_old: dict[str, _Agent] = {}
        self.current: _Agent | None = None
        self.pending: list[Message] = []
        self.msg_counter = 0
        self.tools: dict[bytes, str] = {}
        self.tool_list: list[dict[str, Any]] = []
        self.blocks: list[tuple[dict[str, Any], list[str]]] = []
        self.file_ext: dict[str, Any] | None = None
        #: Block observation times: the file's created_at (export time) holds one of them.
        self.observed: list[Any] = []

    # -- records ----------------------------------------------------------------------------------

    def add(self, record: AnyRecord) -> None:
        if isinstance(record, Conversation):
            self._flush()
            self._start_agent(record)
        elif isinstance(record, Message):
            self._message(record)
        elif isinstance(record, MemoryItem):
            self._memory(record)

    def _start_agent(self, conv: Conversation) -> None:
        self._close_agent()
        ext = conv.extensions
        cfg = ext.get("letta:agent")
        if isinstance(cfg, dict):
            settings = dict(cfg)
        else:
            settings = default_agent(self.options)
            if not self.options.model:
                self.ctx.warn(
                    "agents made from other formats have no model: pass -O model=provider/model "
                    "or set it when importing",
                    key="letta-no-model",
                )
        new_id = f"agent-{len(self.agents)}"
        name = agent_name(conv.name, conv.id)
        if name != conv.name and conv.name is not None:
            self.ctx.loss("name", "Letta agent names allow only letters, digits, space, ' and -")
        header: dict[str, Any] = {"name": name, **settings}
        header["description"] = conv.description
        header["timezone"] = conv.timezone
        if isinstance(header.get("files_agents"), list):
            header["files_agents"] = [
                {**fa, "agent_id": new_id} if isinstance(fa, dict) else fa
                for fa in header["files_agents"]
            ]
        agent = _Agent(conv.id, new_id, header, self.spool.tell())
        tools = ext.get("letta:tools")
        if isinstance(tools, list):
            agent.tool_ids = [self._tool(t) for t in tools if isinstance(t, dict)]
        wanted = ext.get("letta:in_context_message_ids")
        if isinstance(wanted, list):
            agent.context_wanted = [w for w in wanted if isinstance(w, str)]
        if self.file_ext is None and isinstance(ext.get("letta:file"), dict):
            self.file_ext = dict(ext["letta:file"])
        if "letta:legacy" in ext:
            self.ctx.loss(
                "letta:legacy", "v1-only agent fields (version, updated_at) have no v2 key"
            )
        self.agents.append(agent)
        self.by_old[conv.id] = agent
        self.current = agent

    def _tool(self, tool: dict[str, Any]) -> str:
        key = jsonio.dumps(tool, sort_keys=True)
        tid = self.tools.get(key)
        if tid is None:
            tid = f"tool-{len(self.tool_list)}"
            self.tools[key] = tid
            self.tool_list.append({**tool, "id": tid})
        return tid

    def _message(self, msg: Message) -> None:
        agent = self.current
        if agent is None or msg.conversation_id != agent.old_id:
            if msg.conversation_id in self.by_old:
                self.ctx.reject(
                    msg.model_dump(mode="json"),
                    "messages of this conversation arrive after another conversation started; "
                    "an agent's messages must be written together",
                    Location(path=f"message {msg.id}"),
                    error=WriteError,
                )
                return
            self._flush()
            self._start_agent(Conversation(id=msg.conversation_id, type="personal"))
        part = msg.extensions.get(EXT_PART)
        if self.pending and isinstance(part, int) and not isinstance(part, bool) and part >= 1:
            self.pending.append(msg)
            return
        self._flush()
        self.pending = [msg]

    def _flush(self) -> None:
        if not self.pending or self.current is None:
            self.pending = []
            return
        agent = self.current
        parts, self.pending = self.pending, []
        number = self.msg_counter
        self.msg_counter += 1
        msg_id = f"message-{number}"
        raw, unknown = build_raw(
            parts,
            msg_id=msg_id,
            agent_id=agent.new_id,
            own_id=agent.old_id,
            assistant_tool=self.options.assistant_tool,
        )
        for key in unknown:
            self.ctx.loss(f"letta:message.{key}", "not a field of the v2 message schema")
        if agent.first_msg is not None:
            self.spool.write(b",")
        else:
            agent.first_msg = number
        agent.last_msg = number
        self.spool.write(jsonio.dumps(raw))
        agent.end = self.spool.tell()
        if agent.context_wanted is not None:
            agent.context_map[parts[0].id] = msg_id

    def _close_agent(self) -> None:
        self._flush()
        self.current = None

    def _memory(self, item: MemoryItem) -> None:
        if item.type != "block":
            self.ctx.loss("type", f"Letta holds memory as blocks ({item.type} written as a block)")
        scope = item.scope
        if scope.user_id or scope.run_id or scope.group_id:
            self.ctx.loss("scope", "a Letta block belongs to agents only (user/run/group ids)")
        if item.created_at or item.updated_at:
            self.ctx.loss("times", "Letta v2 blocks carry no times")
        if item.labels:
            self.ctx.loss("labels", "Letta blocks have no labels list (the label is one string)")
        owners_ext = item.extensions.get("letta:agent_ids")
        if isinstance(owners_ext, list):
            owners = [o for o in owners_ext if isinstance(o, str)]
        else:
            owners = [scope.agent_id] if scope.agent_id else []
        label = item.label or item.id
        values, limit = split_value(item.text, item.limit, self.options)
        if item.limit is not None and limit != item.limit:
            self.ctx.loss(
                "block_overflow",
                f"values over their limit: limit raised (up to {self.options.max_block_chars}) "
                "or continued in numbered blocks",
                example=label,
            )
        extra = item.extensions.get("letta:block")
        extra = extra if isinstance(extra, dict) else {}
        for k, value in enumerate(values):
            block: dict[str, Any] = {
                "label": label if k == 0 else f"{label}_part{k + 1}",
                "value": value,
                "limit": limit,
                "description": item.description,
                "metadata": dict(item.metadata)
                if k == 0
                else {**item.metadata, "continues": label, "part": k + 1},
            }
            for key, val in extra.items():
                block.setdefault(key, val)
            self.blocks.append((block, owners))
        if item.observed_at is not None:
            self.observed.append(item.observed_at)

    # -- the document -----------------------------------------------------------------------------

    def finish(self, sink: Sink) -> None:
        self._close_agent()
        for k, (block, owners) in enumerate(self.blocks):
            block["id"] = f"block-{k}"
            attached = False
            for old in owners:
                agent = self.by_old.get(old)
                if agent is not None and block["id"] not in agent.block_ids:
                    agent.block_ids.append(block["id"])
                    attached = True
            if not attached:
                self.ctx.warn(
                    "some blocks belong to no agent of this file (their scope.agent_id names no "
                    "conversation); Letta imports them unattached (-O output=blocks writes them "
                    "for the blocks API)",
                    key="letta-orphan-blocks",
                )
        file_ext = self.file_ext or {}
        exported = file_ext.get("created_at")
        lost = [t for t in self.observed if not isinstance(exported, str) or t != _parse(exported)]
        if lost:
            self.ctx.loss(
                "observed_at",
                "a block's observation time other than the file's export time (created_at)",
                count=len(lost),
            )
        for tool in file_ext.get("tools") or []:
            if isinstance(tool, dict):
                self._tool(tool)
        remap = {a.old_id: a.new_id for a in self.agents}
        with sink.document("agent.af") as fh:
            fh.write(b'{"agents":[')
            for i, agent in enumerate(self.agents):
                if i:
                    fh.write(b",")
                self._write_agent(fh, agent)
            fh.write(b"]")
            groups = [_remap_group(g, remap) for g in file_ext.get("groups") or []]
            tail: dict[str, Any] = {
                "groups": groups,
                "blocks": [b for b, _ in self.blocks],
                "files": file_ext.get("files") or [],
                "sources": file_ext.get("sources") or [],
                "tools": self.tool_list,
                "mcp_servers": file_ext.get("mcp_servers") or [],
            }
            if file_ext.get("skills"):
                tail["skills"] = file_ext["skills"]
            tail["metadata"] = file_ext.get("metadata") or {}
            tail["created_at"] = file_ext.get("created_at")
            fh.write(b"," + jsonio.dumps(tail)[1:])
        self.spool.close()

    def _write_agent(self, fh: IO[bytes], agent: _Agent) -> None:
        header = dict(agent.header)
        header["tool_ids"] = agent.tool_ids
        header["block_ids"] = agent.block_ids
        header["id"] = agent.new_id
        fh.write(jsonio.dumps(header)[:-1])
        fh.write(b',"in_context_message_ids":[')
        if agent.context_wanted is not None:
            ids = []
            for old in agent.context_wanted:
                new = agent.context_map.get(old)
                if new is None:
                    self.ctx.warn(
                        f"agent {agent.new_id}: in-context message {old!r} was not written; "
                        "it is left out of in_context_message_ids"
                    )
                    continue
                ids.append(new)
            fh.write(b",".join(jsonio.dumps(i) for i in ids))
        elif agent.first_msg is not None:
            fh.write(
                b",".join(b'"message-%d"' % n for n in range(agent.first_msg, agent.last_msg + 1))
            )
        fh.write(b'],"messages":[')
        if agent.first_msg is not None:
            self.spool.seek(agent.start)
            remaining = agent.end - agent.start
            while remaining > 0:
                chunk = self.spool.read(min(remaining, 1024 * 1024))
                if not chunk:
                    break
                fh.write(chunk)
                remaining -= len(chunk)
            self.spool.seek(0, 2)
        fh.write(b"]}")


def _parse(value: str) -> Any:
    try:
        return parse_iso(value)
    except ValueError:
        return None


def _remap_group(group: Any, remap: dict[str, str]) -> Any:
    if not isinstance(group, dict):
        return group
    out = dict(group)
    if isinstance(out.get("agent_ids"), list):
        out["agent_ids"] = [remap.get(a, a) if isinstance(a, str) else a for a in out["agent_ids"]]
    cfg = out.get("manager_config")
    if isinstance(cfg, dict):
        out["manager_config"] = {
            k: remap.get(v, v) if k.endswith("agent_id") and isinstance(v, str) else v
            for k, v in cfg.items()
        }
    return out


def write_af(records: Iterable[AnyRecord], sink: Sink, options: Any, ctx: Context) -> None:
    writer = AfWriter(options, ctx)
    try:
        for record in records:
            writer.add(record)
        writer.finish(sink)
    finally:
        writer.spool.close()


def write_blocks(records: Iterable[AnyRecord], sink: Sink, options: Any, ctx: Context) -> None:
    """``output=blocks`` (a JSON array for the blocks API) or ``block_rows`` (JSON Lines rows of
    the CortexDB Letta importer)."""
    rows = options.output == "block_rows"
    dropped = 0
    with sink.document("block_rows.jsonl" if rows else "blocks.json") as fh:
        if not rows:
            fh.write(b"[")
        first = True
        for record in records:
            if isinstance(record, Conversation):
                continue
            if isinstance(record, Message):
                dropped += 1
                continue
            label = record.label or record.id
            values, limit = split_value(record.text, record.limit, options)
            if record.limit is not None and limit != record.limit:
                ctx.loss("block_overflow", "values over their limit", example=label)
            if rows and (record.description or record.metadata):
                ctx.loss("description/metadata", "block rows hold label, value and limit only")
            for k, value in enumerate(values):
                lab = label if k == 0 else f"{label}_part{k + 1}"
                if rows:
                    fh.write(
                        jsonio.dumps_line({"block_label": lab, "value": value, "limit": limit})
                    )
                    continue
                block: dict[str, Any] = {"label": lab, "value": value, "limit": limit}
                block["description"] = record.description
                if record.metadata:
                    block["metadata"] = dict(record.metadata)
                extra = record.extensions.get("letta:block")
                if isinstance(extra, dict):
                    for key, val in extra.items():
                        block.setdefault(key, val)
                fh.write(jsonio.dumps(block) if first else b"," + jsonio.dumps(block))
                first = False
        if not rows:
            fh.write(b"]")
    if dropped:
        ctx.filtered(
            f"messages (output={options.output} holds memory blocks; -O output=af)", dropped
        )
        ctx.write_dropped += dropped


__all__ = ["MESSAGE_KEYS", "AfWriter", "agent_name", "default_agent", "split_value", "write_af"]
