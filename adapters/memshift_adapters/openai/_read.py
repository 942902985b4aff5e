"""Reading a ChatGPT data export: one conversation at a time, its ``mapping`` tree walked from
``current_node`` (the path the user last saw)."""

from __future__ import annotations

import bisect
import hashlib
import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from memshift import jsonio
from memshift.context import Context
from memshift.errors import Location, ReadError
from memshift.model import (
    AnyRecord,
    Attachment,
    Conversation,
    MemoryItem,
    Message,
    Participant,
    Provenance,
    Scope,
)
from memshift.sources import Source
from memshift.timeutil import TimestampError, from_epoch_float_ms
from memshift_adapters.openai_memory._text import date_to_datetime, memory_id, parse_memory_list

from ._content import (
    ASSISTANT_NAME,
    DEFAULT_ROOT_ID,
    NS,
    is_hidden,
    is_number,
    render_text,
    sender_id,
)
from ._node import FieldError, convert_message, epoch_time
from ._tree import Tree

#: Conversation keys the model names; every other key travels as ``openai:<key>``.
CONV_KNOWN = frozenset(
    {"title", "create_time", "update_time", "mapping", "current_node", "id", "conversation_id"}
)
#: Extension names the reader derives on conversations.
CONV_DERIVED = frozenset({"create_time", "update_time", "root_id", "id", "synthetic_id"})

SYNTHETIC_ID = re.compile(r"^chatgpt-[0-9a-f]{24}$")
_WRAPPER = re.compile(rb'^(?:\xef\xbb\xbf)?\s*\{\s*"conversations"\s*:\s*\[')
_SHARD = re.compile(r"^conversations-(\d+)\.json$")

# Skip reasons: each names the option that would keep the records.
INACTIVE = "inactive branches (-O branches=all)"
HIDDEN = "hidden messages (-O include_hidden=true)"
EMPTY = "empty messages (-O include_empty=true)"
REASONING = "reasoning (-O include_reasoning=true)"
TOOLS = "tool calls and results (-O include_tools=true)"


def synthetic_conversation_id(conv: Mapping[str, Any], mapping: Mapping[str, Any]) -> str:
    """An id for a conversation that has none (third-party "ChatGPT-like" files): a hash of what
    identifies it, never a position or the clock."""
    h = hashlib.sha256()
    h.update(repr((conv.get("title"), conv.get("create_time"))).encode("utf-8"))
    for key in sorted(mapping):
        h.update(b"\x00" + key.encode("utf-8"))
    return "chatgpt-" + h.hexdigest()[:24]


def derive_participants(
    messages: list[Message], user_info: Mapping[str, Any] | None = None
) -> tuple[Participant, ...]:
    """Who speaks in a ChatGPT conversation: always the user and the assistant (stable ids
    ``user``/``assistant`` across the export), then the system and each tool in order of first
    appearance. Names: the author name on the messages first, then ``user.json``'s name for the
    user and "ChatGPT" for the assistant."""
    first_name: dict[str, str | None] = {"user": None, "assistant": None}
    roles: dict[str, Any] = {"user": "user", "assistant": "assistant"}
    for m in messages:
        sid = m.sender_id or sender_id(m.role, m.sender_name)
        if sid not in first_name:
            first_name[sid] = None
            roles[sid] = m.role
        if first_name[sid] is None and m.sender_name:
            first_name[sid] = m.sender_name
    out: list[Participant] = []
    for sid, name in first_name.items():
        if sid == "user":
            ext: dict[str, Any] = {}
            email = None
            if user_info:
                info_name, info_email = user_info.get("name"), user_info.get("email")
                if name is None and isinstance(info_name, str):
                    name = info_name
                email = info_email if isinstance(info_email, str) else None
                if isinstance(user_info.get("id"), str):
                    ext[NS + "user_id"] = user_info["id"]
            out.append(Participant(id="user", name=name, role="user", email=email, extensions=ext))
        elif sid == "assistant":
            out.append(
                Participant(id=sid, name=name or ASSISTANT_NAME, role="assistant", is_bot=True)
            )
        else:
            out.append(Participant(id=sid, name=name, role=roles[sid], is_bot=True))
    return tuple(out)


class ExportReader:
    """One read of one source. Holds only per-run sets (conversation ids, memory ids) and, while
    a conversation is being converted, that conversation's tree."""

    def __init__(self, source: Source, options: Any, ctx: Context) -> None:
        self.source = source
        self.opts = options
        self.ctx = ctx
        self.strip = options.citations == "strip"
        self.user_info: dict[str, Any] | None = None
        self.seen_conversations: dict[str, str] = {}
        self.seen_memories: set[str] = set()
        #: (basename, member) of the export's non-JSON files, sorted, to find uploads and
        #: generated images by their file id (``file-2bQp...-IMG_0042.jpg``).
        self.assets: list[tuple[str, str]] = []

    # -- finding conversations -------------------------------------------------------------------

    def records(self) -> Iterator[AnyRecord]:
        for conv, member, prefix in self._conversations():
            yield from self._conversation(conv, member, prefix)

    def _conversations(self) -> Iterator[tuple[Any, str | None, str]]:
        src = self.source
        if src.kind == "objects":
            objs = src.objects
            if isinstance(objs, dict):
                yield objs, None, ""
            elif isinstance(objs, (list, tuple)):
                for i, obj in enumerate(objs):
                    yield obj, None, f"[{i}]"
            else:
                raise ReadError(
                    f"expected ChatGPT conversation objects, got {type(objs).__name__}",
                    src.location(),
                )
            return
        if not src.is_container:
            yield from self._document(None)
            return
        members = src.members()
        if "user.json" in members:
            self._load_user()
        self.assets = sorted(
            (name.rsplit("/", 1)[-1], name)
            for name in members
            if not name.endswith((".json", ".html", ".index"))
        )
        for member in self.conversation_members(src):
            yield from self._document(member)

    @staticmethod
    def conversation_members(src: Source) -> list[str]:
        """``conversations-NNN.json`` shards in numeric order (large 2026 exports), else
        ``conversations.json``, else any JSON member that holds conversation trees."""
        members = src.members()
        shards = sorted(
            (int(m.group(1)), name) for name in members if (m := _SHARD.match(name)) is not None
        )
        if shards:
            return [name for _, name in shards]
        if "conversations.json" in members:
            return ["conversations.json"]
        return [
            name
            for name in members
            if name.endswith(".json") and "/" not in name and b'"mapping"' in src.head(member=name)
        ]

    def _load_user(self) -> None:
        loc = self.source.location("user.json")
        try:
            with self.source.open("user.json") as fh:
                data = jsonio.load(fh, loc)
        except ReadError as exc:
            self.ctx.warn(f"{exc}: ignored (user details are optional)", key="openai-user.json")
            return
        if isinstance(data, dict):
            self.user_info = data

    def _document(self, member: str | None) -> Iterator[tuple[Any, str | None, str]]:
        src = self.source
        loc = src.location(member)
        head = src.head(member=member)
        kind = jsonio.top_level_type(head)
        if kind is None:
            if not head.lstrip(b"\xef\xbb\xbf").strip():
                raise ReadError("the file is empty", loc)
            raise ReadError(
                "not a ChatGPT export: expected a JSON array of conversations or one "
                "conversation object",
                loc,
            )
        with src.open(member) as fh:
            if kind == "array":
                for i, item in enumerate(jsonio.iter_items(fh, "item", loc)):
                    yield item, member, f"[{i}]"
            elif _WRAPPER.match(head):
                for i, item in enumerate(jsonio.iter_items(fh, "conversations.item", loc)):
                    yield item, member, f"conversations[{i}]"
            else:
                for obj in jsonio.iter_items(fh, "", loc):
                    if isinstance(obj, dict) and "mapping" in obj:
                        yield obj, member, ""
                    elif isinstance(obj, dict) and isinstance(obj.get("conversations"), list):
                        for i, item in enumerate(obj["conversations"]):
                            yield item, member, f"conversations[{i}]"
                    else:
                        raise ReadError(
                            "not a ChatGPT conversation: the top-level object has no 'mapping'",
                            loc,
                        )

    # -- one conversation ------------------------------------------------------------------------

    def _conversation(self, conv: Any, member: str | None, prefix: str) -> Iterator[AnyRecord]:
        ctx = self.ctx
        dot = prefix + "." if prefix else ""

        def loc(path: str) -> Location:
            return self.source.location(member, dot + path)

        where = self.source.location(member, prefix or None)
        if not isinstance(conv, dict):
            ctx.reject(conv, f"expected a conversation object, got {type(conv).__name__}", where)
            return
        mapping = conv.get("mapping")
        if not isinstance(mapping, dict):
            reason = (
                "missing"
                if mapping is None
                else f"expected an object, got {type(mapping).__name__}"
            )
            ctx.reject(conv, reason, loc("mapping"))
            return
        ext: dict[str, Any] = {NS + k: v for k, v in conv.items() if k not in CONV_KNOWN}
        try:
            cid = self._conversation_id(conv, mapping, ext)
            created_at = None
            ct = conv.get("create_time")
            if ct is not None:
                created_at = epoch_time(ct, "create_time")
                ext[NS + "create_time"] = ct
        except FieldError as exc:
            ctx.reject(conv, exc.message, loc(exc.field))
            return
        first = self.seen_conversations.get(cid)
        if first is not None:
            ctx.reject(conv, f"duplicate conversation id {cid!r} (first read at {first})", where)
            return
        self.seen_conversations[cid] = str(where)
        if conv.get("update_time") is not None:
            ext[NS + "update_time"] = conv["update_time"]
        title = conv.get("title")

        tree = Tree(mapping)
        for key in tree.bad_nodes:
            ctx.reject(mapping[key], "expected a node object", loc(f"mapping.{key}"))
        path = tree.active_path(conv.get("current_node"), ctx)
        if path and tree.message(path[0]) is None and path[0] != DEFAULT_ROOT_ID:
            ext[NS + "root_id"] = path[0]

        messages = list(self._messages(tree, path, cid, created_at, loc))
        yield Conversation(
            id=cid,
            type="personal",
            name=title if isinstance(title, str) else None,
            created_at=created_at,
            participants=derive_participants(messages, self.user_info),
            extensions=ext,
        )
        yield from messages
        if self.opts.memories:
            yield from self._memories(tree, cid, created_at, member)

    def _conversation_id(
        self, conv: Mapping[str, Any], mapping: Mapping[str, Any], ext: dict[str, Any]
    ) -> str:
        cid, oid = conv.get("conversation_id"), conv.get("id")
        for name, value in (("conversation_id", cid), ("id", oid)):
            if value is not None and not isinstance(value, str):
                raise FieldError(name, f"expected a string id, got {type(value).__name__}")
        if cid:
            if oid and oid != cid:
                ext[NS + "id"] = oid
            if SYNTHETIC_ID.match(cid):
                ext[NS + "synthetic_id"] = True
            return str(cid)
        if oid:
            if SYNTHETIC_ID.match(oid):
                ext[NS + "synthetic_id"] = True
            return str(oid)
        ext[NS + "synthetic_id"] = True
        self.ctx.warn(
            "conversation(s) without an id: ids derived from title, create_time and node ids",
            key="openai-no-id",
        )
        return synthetic_conversation_id(conv, mapping)

    def _messages(
        self,
        tree: Tree,
        path: list[str],
        cid: str,
        created_at: datetime | None,
        loc: Any,
    ) -> Iterator[Message]:
        """Active path first, root to leaf; with ``branches=all`` the other nodes follow in tree
        order, each with ``active=False`` and ``parent_id`` = its nearest emitted ancestor."""
        emitted: dict[str, Message] = {}
        parent: str | None = None
        inherited: tuple[datetime | None, str] = (created_at, "conversation")
        for key in path:
            rec = self._node(tree, key, cid, parent, inherited, True, loc)
            if rec is not None:
                emitted[key] = rec
                parent = key
                inherited = (rec.timestamp or created_at, "parent")
                yield rec
        active = set(path)
        if self.opts.branches == "active":
            n = sum(1 for k in tree.keys if k not in active and tree.message(k) is not None)
            if n:
                self.ctx.skip(INACTIVE, n)
            return
        visited = set(active)

        def ordered(children: list[str]) -> list[str]:
            # Alternatives before the active child, whatever their sibling order: the emission
            # order then survives a writer that cannot know where the active child stood.
            return [c for c in children if c not in active] + [c for c in children if c in active]

        stack: list[tuple[str, str | None, tuple[datetime | None, str]]] = [
            (k, None, (created_at, "conversation")) for k in reversed(ordered(tree.children(None)))
        ]
        while stack:
            key, anc, inh = stack.pop()
            if key in active:
                rec = emitted.get(key)
            elif key in visited:
                continue
            else:
                visited.add(key)
                rec = self._node(tree, key, cid, anc, inh, False, loc)
                if rec is not None:
                    yield rec
            if rec is not None:
                anc, inh = key, (rec.timestamp or created_at, "parent")
            for child in reversed(ordered(tree.children(key))):
                stack.append((child, anc, inh))
        for key in tree.keys:
            if key not in visited and tree.message(key) is not None:
                self.ctx.reject(
                    tree.nodes[key],
                    "node is not reachable from the root (a cycle in the tree)",
                    loc(f"mapping.{key}.parent"),
                )

    def _node(
        self,
        tree: Tree,
        key: str,
        cid: str,
        parent: str | None,
        inherited: tuple[datetime | None, str],
        active: bool,
        loc: Any,
    ) -> Message | None:
        msg = tree.message(key)
        if msg is None:
            return None  # structure (the root), not a message
        base = f"mapping.{key}.message"
        if not isinstance(msg, dict):
            self.ctx.reject(msg, "expected a message object", loc(base))
            return None
        opts = self.opts
        content, metadata = msg.get("content"), msg.get("metadata")
        if not opts.include_hidden and is_hidden(content, metadata):
            self.ctx.skip(HIDDEN)
            return None
        try:
            rec = convert_message(
                key, msg, cid, parent, inherited, active, self.strip, self.ctx.warn
            )
        except FieldError as exc:
            self.ctx.reject(msg, exc.message, loc(f"{base}.{exc.field}"))
            return None
        except ValidationError as exc:
            self.ctx.reject(msg, exc, loc(base))
            return None
        if rec.type == "reasoning" and not opts.include_reasoning:
            self.ctx.skip(REASONING)
            return None
        if rec.type in ("tool_call", "tool_result") and not opts.include_tools:
            self.ctx.skip(TOOLS)
            return None
        if not opts.include_empty and not rec.text and not rec.attachments:
            self.ctx.skip(EMPTY)
            return None
        if self.assets and rec.attachments:
            rec = rec.model_copy(update={"attachments": self._locate(rec.attachments)})
        return rec

    def _locate(self, attachments: tuple[Attachment, ...]) -> tuple[Attachment, ...]:
        """Point each attachment at the export member holding its file, when there is one."""
        out = []
        for att in attachments:
            if att.id:
                i = bisect.bisect_left(self.assets, (att.id, ""))
                if i < len(self.assets) and self.assets[i][0].startswith(att.id):
                    att = att.model_copy(update={"path": self.assets[i][1]})
            out.append(att)
        return tuple(out)

    # -- memories --------------------------------------------------------------------------------

    def _memories(
        self, tree: Tree, cid: str, created_at: datetime | None, member: str | None
    ) -> Iterator[MemoryItem]:
        """Saved memories as the export shows them: bio tool writes (``recipient: "bio"``), the
        ``model_set_context`` snapshot, and Custom Instructions. Every node is scanned, inactive
        branches too: a memory written on an abandoned branch was still saved."""
        user_id = "user"
        if self.user_info and isinstance(self.user_info.get("id"), str):
            user_id = self.user_info["id"]
        for key in tree.keys:
            msg = tree.message(key)
            if not isinstance(msg, dict):
                continue
            content = msg.get("content")
            if not isinstance(content, dict):
                continue
            ct = content.get("content_type")
            meta = msg.get("metadata")
            when = created_at
            if is_number(msg.get("create_time")):
                try:
                    when = from_epoch_float_ms(msg["create_time"])
                except (TimestampError, OverflowError):
                    pass
            base = {NS + "conversation_id": cid, NS + "message_id": key}
            found: list[tuple[str, str | None, datetime | None, dict[str, Any]]] = []
            if msg.get("recipient") == "bio":
                text = render_text(content, True).strip()
                if text:
                    found.append((text, None, when, {**base, NS + "source": "bio"}))
            elif ct == "model_editable_context":
                for date, body in parse_memory_list(render_text(content, True)):
                    info = {**base, NS + "source": "model_set_context"}
                    if date:
                        info[NS + "date"] = date
                    found.append((body, None, date_to_datetime(date), info))
            data = meta.get("user_context_message_data") if isinstance(meta, dict) else None
            if isinstance(data, dict):
                pairs = [data.get("about_user_message"), data.get("about_model_message")]
            elif ct == "user_editable_context":
                pairs = [content.get("user_profile"), content.get("user_instructions")]
            else:
                pairs = []
            for block, value in zip(("about_user", "about_model"), pairs, strict=False):
                if isinstance(value, str) and value.strip():
                    info = {**base, NS + "source": "custom_instructions"}
                    found.append((value.strip(), block, None, info))
            for text, label, when_, info in found:
                mem_id = memory_id(text)
                if mem_id in self.seen_memories:
                    continue
                self.seen_memories.add(mem_id)
                yield MemoryItem(
                    id=mem_id,
                    type="block" if label else "fact",
                    scope=Scope(user_id=user_id),
                    text=text,
                    label=label,
                    created_at=when_,
                    provenance=Provenance(
                        format="openai",
                        source_id=f"{cid}/{info[NS + 'message_id']}",
                        path=self.source.path.name if self.source.path else None,
                        member=member,
                    ),
                    extensions=info,
                )
