"""Writing Chat Completions message lists and fine-tuning JSON Lines."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from typing import Any

from memshift import jsonio
from memshift.context import Context
from memshift.model import AnyRecord, Conversation, Message
from memshift.sinks import Sink

from ._messages import NS, message_dict, portable

_CONV_DERIVED = frozenset({"synthetic_id"})


def group(records: Iterable[AnyRecord]) -> Iterator[tuple[Conversation, list[Message]]]:
    conv: Conversation | None = None
    messages: list[Message] = []
    for record in records:
        if isinstance(record, Conversation):
            if conv is not None:
                yield conv, messages
            conv, messages = record, []
        elif isinstance(record, Message):
            if conv is None or record.conversation_id != conv.id:
                if conv is not None:
                    yield conv, messages
                conv, messages = Conversation(id=record.conversation_id), []
            messages.append(record)
    if conv is not None:
        yield conv, messages


def writable(m: Message) -> bool:
    return m.type not in ("event", "reasoning")


def conversation_object(
    conv: Conversation, messages: list[Message], sanitize: bool
) -> dict[str, Any]:
    obj: dict[str, Any] = {"messages": [message_dict(m, sanitize) for m in messages if writable(m)]}
    for key, value in conv.extensions.items():
        if key.startswith(NS):
            short = key[len(NS) :]
            if short not in _CONV_DERIVED and short != "messages":
                obj[short] = value
    return obj


def write_chat(records: Iterable[AnyRecord], sink: Sink, options: Any, ctx: Context) -> None:
    layout = options.layout
    sanitize = options.sanitize_names
    name = "conversations.jsonl" if layout == "jsonl" else "conversations.json"
    count = 0
    with ExitStack() as stack:
        fh = stack.enter_context(sink.document(name)) if layout != "messages" else None
        if fh is not None and layout == "json":
            fh.write(b"[")
        for conv, messages in group(records):
            for m in messages:
                if writable(m):
                    _report_losses(m, ctx)
                else:
                    ctx.dropped(f"{m.type} messages (chat completions have none)")
            obj = conversation_object(conv, messages, sanitize)
            count += 1
            if fh is None:
                with sink.document(name, part=count) as doc:
                    doc.write(jsonio.dumps(obj["messages"]) + b"\n")
            elif layout == "jsonl":
                fh.write(jsonio.dumps_line(obj))
            else:
                fh.write((b"," if count > 1 else b"") + jsonio.dumps(obj))
        if fh is not None and layout == "json":
            fh.write(b"]\n")
        elif fh is None and count == 0:
            with sink.document(name) as doc:
                doc.write(b"[]\n")


def _report_losses(m: Message, ctx: Context) -> None:
    if m.timestamp is not None:
        ctx.loss("timestamp", "chat completions messages have no times", example=m.id)
    role_raw = m.extensions.get(NS + "role")
    expected = m.sender_name or (role_raw.lower() if isinstance(role_raw, str) else m.role)
    if m.sender_id is not None and m.sender_id != expected:
        ctx.loss("sender_id", "only the role and an optional name are kept", example=m.id)
    if any(portable(a) != a for a in m.attachments):
        ctx.loss(
            "attachments",
            "only image URLs, file ids/names and inline data survive",
            example=m.id,
        )
