"""``letta``: Letta agent memory, both directions.

Reads the Agent File (``.af`` v2, the double-encoded variant Letta's example scripts wrote, and the
legacy v1 single-agent file), JSON arrays or objects of memory blocks and JSON Lines of block rows.
Writes an ``.af`` v2 (default), a blocks array or block rows. An agent becomes a personal
``Conversation``, its messages canonical messages split the way Letta's own API presents them
(reasoning, reply, tool call, tool return), its blocks ``MemoryItem(type="block")``; everything
else (agent settings, tools, the system prompt, file metadata) travels in ``letta:*`` extensions
so that ``letta -> letta`` keeps it. See docs/formats/letta.md.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from typing import Any, Literal

import ijson
from pydantic import Field, JsonValue, field_validator

from memshift import Adapter, Context, Feature, Options, Sniff, hookimpl
from memshift.adapter import NO, project_by_features
from memshift.model import AnyRecord, Conversation, MemoryItem, Message, Participant, Scope
from memshift.sinks import Sink
from memshift.sources import Source
from memshift.timeutil import TimestampError, parse_iso, zone

from ._messages import (
    EXT_MESSAGE,
    EXT_PART,
    EXT_ROLE,
    EXT_SLOT,
    HANDLED_KEYS,
    MESSAGE_KEYS,
    _send_message_text,
    canonical_role_type,
    created_at_text,
    default_slot,
    raw_role,
    send_arguments,
)
from ._read import LettaReader, variant_of
from ._write import agent_name, default_agent, split_value, write_af, write_blocks

#: Letta's per-block character default since 2026-03 (``CORE_MEMORY_BLOCK_CHAR_LIMIT``); the
#: writer keeps values within it and continues longer ones in numbered blocks.
MAX_BLOCK_CHARS = 100_000


class LettaReadOptions(Options):
    legacy_timezone: str = "UTC"
    """Zone of the naive timestamps of legacy v1 files. Letta servers stored UTC (the sample's
    wrapped ``time`` fields confirm it), so change it only for a server you know ran otherwise."""
    agent_id: str | None = None
    """``scope.agent_id`` for blocks read from a blocks array or block rows (no agent in the
    file)."""
    observed_at_from_mtime: bool = False
    """Stamp blocks that carry no time with the input file's modification time (``observed_at``).
    Off by default: a copied file's mtime is rarely when its memory was observed."""
    assistant_tool: str = "send_message"
    """The tool whose ``message`` argument is the agent's visible reply (MemGPT-style agents)."""

    @field_validator("legacy_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            zone(value)
        except TimestampError as exc:
            raise ValueError(str(exc)) from None
        return value


class LettaWriteOptions(Options):
    output: Literal["af", "blocks", "block_rows"] = "af"
    """``af``: an Agent File v2; ``blocks``: a JSON array of ``{label, value, limit,
    description}`` for the blocks API; ``block_rows``: JSON Lines ``{block_label, value, limit}``
    (CortexDB's Letta importer rows)."""
    agent_type: str = "letta_v1_agent"
    """``agent_type`` of agents made from other formats' conversations."""
    model: str | None = None
    """Model handle (``provider/model``) for agents made from other formats' conversations; Letta
    can also set it at import time (``model=`` form field)."""
    embedding: str | None = None
    """Embedding handle (``provider/model``) for new agents."""
    system: str | None = None
    """System prompt for agents made from other formats' conversations."""
    default_limit: int = Field(20_000, ge=1)
    """Character limit for memory items that have none."""
    max_block_chars: int = Field(MAX_BLOCK_CHARS, ge=1)
    """Largest limit the writer raises a block to; a longer value continues in numbered blocks."""
    assistant_tool: str = "send_message"
    """The tool whose call carries an assistant reply that came from a ``send_message`` call."""

    @field_validator("model", "embedding")
    @classmethod
    def _handle(cls, value: str | None) -> str | None:
        if value is not None and "/" not in value:
            raise ValueError(f"{value!r} is not a handle like 'openai/gpt-4o-mini'")
        return value


class LettaAdapter(Adapter):
    name = "letta"
    aliases = ("af", "agent-file", "agent_file")
    description = "Letta Agent File (.af v2/v1), memory blocks and block rows"
    features = frozenset(
        {
            Feature.CONVERSATIONS,
            Feature.PERSONAL,
            Feature.CONVERSATION_NAMES,
            Feature.DESCRIPTIONS,
            Feature.TIMEZONE,
            Feature.SENDER_NAMES,
            Feature.SYSTEM_ROLES,
            Feature.TOOL_CALLS,
            Feature.REASONING,
            Feature.MEMORY,
            Feature.BLOCKS,
            Feature.METADATA,
        }
    )
    file_extensions = (".af", ".json", ".jsonl")
    output_layout = "file"
    ordered_read = False
    needs_order = True
    limits = {"block_chars": MAX_BLOCK_CHARS}
    ReadOptions = LettaReadOptions
    WriteOptions = LettaWriteOptions

    # -- detection --------------------------------------------------------------------------------

    def sniff(self, source: Source) -> Sniff:
        if source.is_container:
            if any(m.lower().endswith(".af") for m in source.members()):
                return Sniff(0.6, "folder holding Letta .af agent files")
            return NO
        head = source.head(65536)
        af = source.label.lower().endswith(".af")
        variant = variant_of(head)
        if variant == "string":
            if b'\\"agents\\"' in head and (b'\\"blocks\\"' in head or b'\\"agent_type\\"' in head):
                return Sniff(0.95, "a JSON string holding a Letta agent file (double-encoded)")
            return Sniff(0.3, ".af file holding a JSON string") if af else NO
        if variant == "v2":
            markers = (
                b'"in_context_message_ids"',
                b'"agent_type"',
                b'"block_ids"',
                b'"llm_config"',
            )
            if any(m in head for m in markers):
                return Sniff(0.95, "object with 'agents' carrying Letta agent settings (.af v2)")
            return Sniff(0.5, "object with an 'agents' list") if af else NO
        if variant == "v1":
            if b'"llm_config"' in head or b'"agent_type"' in head or b'"memgpt' in head:
                return Sniff(0.95, "legacy v1 Letta agent (core_memory + messages)")
            return NO
        if variant == "rows":
            return Sniff(0.9, "JSON Lines of {block_label, value, limit} block rows")
        if variant == "array":
            first = _first_item(head)
            if isinstance(first, dict) and _looks_like_block(first):
                score = 0.9 if "limit" in first else 0.75
                return Sniff(score, "array of memory blocks {label, value, limit}")
            if isinstance(first, dict) and isinstance(first.get("block_label"), str):
                return Sniff(0.85, "array of {block_label, value, limit} block rows")
            return NO
        if variant == "object":
            try:
                obj = ijson.items(io.BytesIO(head), "")
                doc = next(obj)
            except Exception:
                return Sniff(0.3, ".af extension") if af else NO
            if isinstance(doc, dict):
                blocks = doc.get("blocks")
                if (
                    isinstance(blocks, list)
                    and blocks
                    and all(isinstance(b, dict) and _looks_like_block(b) for b in blocks)
                ):
                    return Sniff(0.8, "object with a 'blocks' list of memory blocks")
                if doc and all(
                    isinstance(v, dict) and "value" in v and "limit" in v for v in doc.values()
                ):
                    return Sniff(0.6, "object of memory blocks keyed by label")
        return Sniff(0.3, ".af extension") if af else NO

    # -- the two directions -----------------------------------------------------------------------

    def read(self, source: Source, options: Any, ctx: Context) -> Iterator[AnyRecord]:
        return LettaReader(source, options, ctx).read()

    def write(self, records: Iterable[AnyRecord], sink: Sink, options: Any, ctx: Context) -> None:
        if options.output == "af":
            write_af(records, sink, options, ctx)
        else:
            write_blocks(records, sink, options, ctx)

    # -- projection -------------------------------------------------------------------------------

    def project(self, records: Iterable[AnyRecord]) -> list[AnyRecord]:
        """What ``read(write(records))`` gives with the default options: blocks first (the
        reader yields them before the agents), ids renumbered ``agent-<n>``/``message-<n>``/
        ``block-<n>`` in arrival order, names made valid, types and roles as a Letta message can
        say them, block limits raised to fit their values, times Letta has no place for cleared."""
        opts = self.WriteOptions()
        base = [
            p
            for r in records
            if (p := project_by_features(r, self.features, self.ext_namespace())) is not None
        ]
        conv_map: dict[str, str] = {}
        file_created = None
        for rec in base:
            if isinstance(rec, Conversation) and rec.id not in conv_map:
                conv_map[rec.id] = f"agent-{len(conv_map)}"
                file_ext = rec.extensions.get("letta:file")
                if file_created is None and isinstance(file_ext, dict):
                    created = file_ext.get("created_at")
                    if isinstance(created, str):
                        try:
                            file_created = parse_iso(created)
                        except ValueError:
                            file_created = None
        blocks: list[AnyRecord] = []
        rest: list[AnyRecord] = []
        # per written agent: its index in ``rest`` and old -> new ids of its raw messages
        agent_pos: list[tuple[int, dict[str, str]]] = []
        current: str | None = None
        seen_convs: set[str] = set()
        group: list[Message] = []
        counter = 0
        new_agent = ""
        for rec in base:
            if isinstance(rec, MemoryItem):
                blocks.extend(self._project_item(rec, conv_map, file_created, len(blocks), opts))
                continue
            if isinstance(rec, Conversation):
                if rec.id in seen_convs:
                    continue
                seen_convs.add(rec.id)
                current, group = rec.id, []
                new_agent = conv_map[rec.id]
                agent_pos.append((len(rest), {}))
                rest.append(self._project_conversation(rec, new_agent, opts))
                continue
            if rec.conversation_id != current:
                if rec.conversation_id in seen_convs:
                    continue  # the writer refuses it
                seen_convs.add(rec.conversation_id)
                new_agent = f"agent-{len(conv_map)}"
                conv_map[rec.conversation_id] = new_agent
                current, group = rec.conversation_id, []
                agent_pos.append((len(rest), {}))
                rest.append(
                    self._project_conversation(
                        Conversation(id=rec.conversation_id, type="personal"), new_agent, opts
                    )
                )
            part = rec.extensions.get(EXT_PART)
            if group and isinstance(part, int) and not isinstance(part, bool) and part >= 1:
                k = len(group)
                mid = f"message-{counter - 1}:{k}"
            else:
                group = []
                k = 0
                mid = f"message-{counter}"
                counter += 1
                agent_pos[-1][1][rec.id] = mid
            projected = self._project_message(rec, mid, k, group[0] if group else None, new_agent)
            group.append(rec)
            rest.append(projected)
        for pos, ids in agent_pos:
            conv = rest[pos]
            wanted = conv.extensions.get("letta:in_context_message_ids")
            if not isinstance(wanted, list):
                continue
            ext = dict(conv.extensions)
            kept = [ids[w] for w in wanted if isinstance(w, str) and w in ids]
            if kept == list(ids.values()):
                ext.pop("letta:in_context_message_ids")
            else:
                ext["letta:in_context_message_ids"] = list[JsonValue](kept)
            rest[pos] = conv.model_copy(update={"extensions": ext})
        return blocks + rest

    def _project_conversation(self, conv: Conversation, new_id: str, opts: Any) -> Conversation:
        name = agent_name(conv.name, conv.id)
        ext = {k: v for k, v in conv.extensions.items() if k != "letta:legacy"}
        if not isinstance(ext.get("letta:agent"), dict):
            ext["letta:agent"] = default_agent(opts)
        return conv.model_copy(
            update={
                "id": new_id,
                "type": "personal",
                "name": name,
                "created_at": None,
                "participants": (Participant(id=new_id, name=name, is_bot=True, role="assistant"),),
                "extensions": ext,
            }
        )

    def _project_message(
        self, msg: Message, mid: str, k: int, first: Message | None, new_agent: str
    ) -> Message:
        lead = first or msg
        mtype, mrole = canonical_role_type(msg)
        raw_sender = lead.sender_id
        lead_role = raw_role(lead)
        if raw_sender == lead.conversation_id and lead_role in ("assistant", "tool", "function"):
            raw_sender = None
        sender = (
            raw_sender
            if raw_sender is not None
            else (new_agent if mrole in ("assistant", "tool") else None)
        )
        ext = dict(msg.extensions)
        ext.pop(EXT_PART, None)
        if k:
            ext[EXT_PART] = k
            ext.pop(EXT_MESSAGE, None)
            ext.pop(EXT_ROLE, None)
        else:
            extra = ext.get(EXT_MESSAGE)
            if isinstance(extra, dict):
                kept = {
                    key: v
                    for key, v in extra.items()
                    if key in MESSAGE_KEYS and key not in HANDLED_KEYS and v is not None and v != []
                }
                returns = kept.get("tool_returns")
                if isinstance(returns, list) and msg.text:
                    kept["tool_returns"] = [
                        {a: b for a, b in r.items() if not (a == "func_response" and b == msg.text)}
                        if isinstance(r, dict)
                        else r
                        for r in returns
                    ]
                if kept:
                    ext[EXT_MESSAGE] = dict[str, JsonValue](kept)
                else:
                    ext.pop(EXT_MESSAGE, None)
        slot = ext.get(EXT_SLOT)
        if isinstance(slot, dict):
            call = slot.get("call")
            if isinstance(call, dict) and "arguments" in call and mtype == "message":
                stored = call["arguments"]
                if _send_message_text(str(stored)) != msg.text or stored == send_arguments(
                    msg.text
                ):
                    call = {a: b for a, b in call.items() if a != "arguments"}
                    slot = {**slot, "call": call}
            if slot == default_slot(mtype, mid):
                ext.pop(EXT_SLOT, None)
            else:
                ext[EXT_SLOT] = slot
        return msg.model_copy(
            update={
                "id": mid,
                "conversation_id": new_agent,
                "type": mtype,
                "role": mrole,
                "sender_id": sender,
                "sender_name": lead.sender_name,
                "timestamp": lead.timestamp,
                "timestamp_raw": created_at_text(lead),
                "extensions": ext,
            }
        )

    def _project_item(
        self,
        item: MemoryItem,
        conv_map: dict[str, str],
        file_created: Any,
        start: int,
        opts: Any,
    ) -> list[MemoryItem]:
        owners_ext = item.extensions.get("letta:agent_ids")
        if isinstance(owners_ext, list):
            owners = [o for o in owners_ext if isinstance(o, str)]
        else:
            owners = [item.scope.agent_id] if item.scope.agent_id else []
        mapped: list[str] = []
        for o in owners:
            if o in conv_map and conv_map[o] not in mapped:
                mapped.append(conv_map[o])
        ext = {k: v for k, v in item.extensions.items() if k != "letta:agent_ids"}
        if len(mapped) > 1:
            ext["letta:agent_ids"] = list[JsonValue](mapped)
        label = item.label or item.id
        values, limit = split_value(item.text, item.limit, opts)
        out = []
        for k, value in enumerate(values):
            metadata = dict(item.metadata)
            if k:
                metadata.update({"continues": label, "part": k + 1})
            out.append(
                item.model_copy(
                    update={
                        "id": f"block-{start + k}",
                        "type": "block",
                        "scope": Scope(agent_id=mapped[0] if mapped else None),
                        "text": value,
                        "label": label if k == 0 else f"{label}_part{k + 1}",
                        "limit": limit,
                        "created_at": None,
                        "updated_at": None,
                        "valid_from": None,
                        "valid_to": None,
                        "observed_at": file_created,
                        "labels": (),
                        "provenance": None,
                        "metadata": metadata,
                        "extensions": ext,
                    }
                )
            )
        return out


def _first_item(head: bytes) -> Any:
    try:
        return next(ijson.items(io.BytesIO(head), "item"))
    except Exception:
        return None


def _looks_like_block(obj: dict[str, Any]) -> bool:
    if "memory" in obj or "fact" in obj or "uuid" in obj or "modality" in obj:
        return False
    return isinstance(obj.get("label"), str) and "value" in obj


@hookimpl
def provide_adapters() -> list[type[Adapter]]:
    return [LettaAdapter]
