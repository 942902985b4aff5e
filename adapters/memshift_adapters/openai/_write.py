"""Writing ``conversations.json``: a JSON array streamed conversation by conversation, each a
``mapping`` tree whose node ids are the message ids."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any

from memshift import jsonio
from memshift.context import Context
from memshift.errors import Location, WriteError
from memshift.model import AnyRecord, Conversation, MemoryItem, Message
from memshift.sinks import Sink

from ._content import (
    DEFAULT_ROOT_ID,
    DEFAULT_STATUS,
    NS,
    ROLES,
    message_type,
    portable_attachment,
    raw_time,
    regenerate,
    render_attachments,
    render_text,
    sender_id,
    serialize_attachment,
)
from ._node import MSG_DERIVED, MSG_KNOWN
from ._read import CONV_DERIVED, CONV_KNOWN

DOCUMENT = "conversations.json"


#: ``openai:<name>`` keys, built once.
_K = {
    name: NS + name
    for name in (
        "author_role", "recipient", "metadata", "content", "time_inferred", "message_id",
        "author_metadata", "status", "weight", "update_time", "end_turn", "channel",
    )
}  # fmt: skip


def message_body(m: Message) -> dict[str, Any]:
    """The ``message`` object of one node.

    The raw content kept in ``openai:content`` is written back only while it still renders to the
    record's text, attachments and type; a record edited on the way (redacted, retyped) gets
    content rebuilt from its canonical fields instead, so edits are never silently undone.
    """
    ext = m.extensions
    get = ext.get
    role_raw = get(_K["author_role"])
    if not (isinstance(role_raw, str) and ROLES.get(role_raw.lower()) == m.role):
        role_raw = m.role
    recipient = get(_K["recipient"])
    if recipient is None:
        recipient = "tool" if m.type == "tool_call" else "all"
    metadata = get(_K["metadata"])
    if metadata is None:
        metadata = {}
    atts = tuple(portable_attachment(a) for a in m.attachments)
    content = None
    raw = get(_K["content"])
    if (
        isinstance(raw, Mapping)
        and message_type(m.role, recipient, raw.get("content_type")) == m.type
        and render_text(raw, True) == m.text
        and render_attachments(raw, metadata if isinstance(metadata, Mapping) else None) == atts
    ):
        content = raw
    if content is None:
        content = regenerate(m.type, m.text)
        if not isinstance(metadata, Mapping):
            metadata = {}
        if atts:
            metadata = {**metadata, "attachments": [serialize_attachment(a) for a in atts]}
        elif "attachments" in metadata:
            metadata = {k: v for k, v in metadata.items() if k != "attachments"}
    create_time = None
    if m.timestamp is not None and get(_K["time_inferred"]) is None:
        create_time = raw_time(m.timestamp, m.timestamp_raw)
    message_id = get(_K["message_id"])
    author_metadata = get(_K["author_metadata"])
    status, weight = get(_K["status"]), get(_K["weight"])
    body: dict[str, Any] = {
        "id": message_id if isinstance(message_id, str) else m.id,
        "author": {
            "role": role_raw,
            "name": m.sender_name,
            "metadata": {} if author_metadata is None else author_metadata,
        },
        "create_time": create_time,
        "update_time": get(_K["update_time"]),
        "content": content,
        "status": DEFAULT_STATUS if status is None else status,
        "end_turn": get(_K["end_turn"]),
        "weight": 1.0 if weight is None else weight,
        "metadata": metadata,
        "recipient": recipient,
        "channel": get(_K["channel"]),
    }
    for key, value in ext.items():
        if key.startswith(NS):
            short = key[len(NS) :]
            if short not in MSG_DERIVED and short not in MSG_KNOWN:
                body[short] = value
    return body


def root_id(conv: Conversation, message_ids: Iterable[str]) -> str:
    """The id of the tree's root node (a node without a message, as real exports have): the
    source's own when it was kept, else ``client-created-root``, the id ChatGPT itself uses."""
    ids = set(message_ids)
    kept = conv.extensions.get(NS + "root_id")
    if isinstance(kept, str) and kept and kept not in ids:
        return kept
    candidate, n = DEFAULT_ROOT_ID, 2
    while candidate in ids:
        candidate = f"{DEFAULT_ROOT_ID}-{n}"
        n += 1
    return candidate


def conversation_times(conv: Conversation) -> tuple[Any, Any]:
    created = None
    if conv.created_at is not None:
        created = raw_time(conv.created_at, conv.extensions.get(NS + "create_time"))
    return created, conv.extensions.get(NS + "update_time")


class ExportWriter:
    """Buffers one conversation's messages (the tree's ``children`` lists need all of them) and
    writes it as one array item; nothing else is kept between conversations."""

    def __init__(self, fh: IO[bytes], options: Any, ctx: Context) -> None:
        self.fh = fh
        self.ctx = ctx
        self.indent = bool(options.indent)
        self.count = 0
        self.conv: Conversation | None = None
        self.messages: list[Message] = []

    def run(self, records: Iterable[AnyRecord]) -> None:
        self.fh.write(b"[")
        for record in records:
            if isinstance(record, Conversation):
                self.flush()
                self.conv = record
            elif isinstance(record, Message):
                if self.conv is None or record.conversation_id != self.conv.id:
                    self.flush()
                    self.conv = Conversation(id=record.conversation_id, type="personal")
                self.messages.append(record)
            elif isinstance(record, MemoryItem):
                self.ctx.loss("memory", "a ChatGPT export has no place for memory items")
        self.flush()
        self.fh.write(b"\n]\n" if self.indent else b"]\n")

    def flush(self) -> None:
        conv, messages = self.conv, self.messages
        self.conv, self.messages = None, []
        if conv is None:
            return
        out = self.conversation(conv, messages)
        if self.count:
            self.fh.write(b",\n" if self.indent else b",")
        elif self.indent:
            self.fh.write(b"\n")
        self.fh.write(jsonio.dumps(out, indent=self.indent))
        self.count += 1

    def conversation(self, conv: Conversation, messages: list[Message]) -> dict[str, Any]:
        ctx = self.ctx
        unique: list[Message] = []
        seen: set[str] = set()
        for m in messages:
            if m.id in seen:
                ctx.reject(
                    m.model_dump(mode="json"),
                    f"duplicate message id {m.id!r} in one conversation",
                    Location(path=f"conversation {conv.id}"),
                    error=WriteError,
                )
                continue
            seen.add(m.id)
            unique.append(m)
        root = root_id(conv, seen)
        parents = self._parents(conv, unique, seen)
        # Alternatives first, the active child last: where ChatGPT puts a regenerated answer.
        children: dict[str, list[str]] = {root: []}
        for m in sorted(unique, key=lambda m: m.active):
            children.setdefault(parents[m.id] or root, []).append(m.id)
        has_active_child = {parents[m.id] for m in unique if m.active}
        leaves = [m.id for m in unique if m.active and m.id not in has_active_child]
        current = leaves[-1] if leaves else root
        mapping: dict[str, Any] = {
            root: {"id": root, "message": None, "parent": None, "children": children[root]}
        }
        by_id = {m.id: m for m in unique}
        for m in _preorder(root, children, by_id):
            self._report_losses(m)
            mapping[m.id] = {
                "id": m.id,
                "message": message_body(m),
                "parent": parents[m.id] or root,
                "children": children.get(m.id, []),
            }
        created, updated = conversation_times(conv)
        out: dict[str, Any] = {
            "title": conv.name,
            "create_time": created,
            "update_time": updated,
            "mapping": mapping,
        }
        for key, value in conv.extensions.items():
            if key.startswith(NS):
                short = key[len(NS) :]
                if short not in CONV_DERIVED and short not in CONV_KNOWN:
                    out[short] = value
        other_id = conv.extensions.get(NS + "id")
        out["current_node"] = current
        out["conversation_id"] = conv.id
        out["id"] = other_id if isinstance(other_id, str) else conv.id
        return out

    def _parents(
        self, conv: Conversation, messages: list[Message], ids: set[str]
    ) -> dict[str, str | None]:
        """Each message's parent node. With ``parent_id`` anywhere in the conversation the tree is
        taken as given; without, messages are chained in stream order (the core sorts them by time
        first when the source does not promise order) and inactive ones hang off the active
        message before them."""
        parents: dict[str, str | None] = {}
        if any(m.parent_id is not None for m in messages):
            for m in messages:
                p = m.parent_id
                if p is not None and (p not in ids or p == m.id):
                    self.ctx.warn(
                        f"conversation {conv.id}: parent_id {p!r} of message {m.id!r} is not in "
                        "the conversation; attached to the root",
                        key=f"openai-parent-{conv.id}",
                    )
                    p = None
                parents[m.id] = p
            self._break_cycles(conv, parents)
            return parents
        last_active: str | None = None
        for m in messages:
            parents[m.id] = last_active
            if m.active:
                last_active = m.id
        return parents

    def _break_cycles(self, conv: Conversation, parents: dict[str, str | None]) -> None:
        done: set[str] = set()
        for start in parents:
            trail: list[str] = []
            on_trail: set[str] = set()
            node: str | None = start
            while node is not None and node not in done:
                if node in on_trail:
                    self.ctx.warn(
                        f"conversation {conv.id}: parent_id links form a cycle; "
                        f"message {node!r} was attached to the root",
                        key=f"openai-cycle-{conv.id}",
                    )
                    parents[node] = None
                    break
                trail.append(node)
                on_trail.add(node)
                node = parents.get(node)
            done.update(trail)

    def _report_losses(self, m: Message) -> None:
        ctx = self.ctx
        if m.sender_id is not None and m.sender_id != sender_id(m.role, m.sender_name):
            ctx.loss("sender_id", "ChatGPT exports identify authors by role only", example=m.id)
        if any(a.path for a in m.attachments):
            ctx.loss("attachments.path", "local file paths are not kept", example=m.id)
        if m.type == "event":
            ctx.loss("type", "events are written as ordinary messages", example=m.id)


def _preorder(
    root: str, children: dict[str, list[str]], by_id: dict[str, Message]
) -> Iterator[Message]:
    """Nodes in tree order (alternatives before the active child), so the same tree gives the
    same bytes whichever order its messages arrived in."""
    stack = list(reversed(children.get(root, [])))
    done: set[str] = set()
    while stack:
        key = stack.pop()
        if key in done:
            continue
        done.add(key)
        yield by_id[key]
        stack.extend(reversed(children.get(key, [])))
    for key, m in by_id.items():  # unreachable only if the tree were broken; never lose one
        if key not in done:
            yield m


def write_export(records: Iterable[AnyRecord], sink: Sink, options: Any, ctx: Context) -> None:
    with sink.document(DOCUMENT) as fh:
        ExportWriter(fh, options, ctx).run(records)
