"""What a stream of canonical records looks like after a trip through DCE JSON.

Projection composes the writer's record -> DCE mapping with the reader's DCE -> record mapping
(the same functions, in memory, without the bytes), plus the reader's stream rules: participants
are the message authors sorted by id, messages come in time order with copies dropped, and
conversations come sorted by id. What is lost, field by field (also in docs/formats/discord.md):

* Conversation: ``type`` (always ``group``), ``timezone``, ``created_at``; ``name`` falls back to
  the id; ``provenance`` becomes ``discord``/channel id; participants who sent nothing disappear.
* Participant: ``real_name``, ``nick``, ``job_title``, ``email``, ``timezone``, ``role`` and
  foreign extensions; ``display_name`` becomes DCE's nickname, ``is_bot`` follows the author's
  first message, ``is_deleted`` is true only for Discord's "Deleted User".
* Message: ``role`` (``user``, or ``assistant`` for any non-user), ``thread_id``, ``markup``,
  ``parent_id``; ``timestamp_raw`` is the DCE spelling unless the source's own DCE-style string is
  kept; events from other formats become ``message``; non-user mentions are dropped and mention
  names fall back to the id; attachment ``mime_type``; ``path`` when a URL is also set; a
  per-message ``sender_name`` that differs from the author's names; a message without a time
  gets the previous message's (or the conversation's creation, or the Unix epoch).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from memshift.context import Context
from memshift.errors import Location
from memshift.model import AnyRecord, Conversation, Message, Provenance

from . import _common, _dce, _order, _write
from ._read import id_key

_PRECEDENCE = ("nickname", "username")


def project(records: Iterable[AnyRecord]) -> list[AnyRecord]:
    groups: dict[str, tuple[Conversation, list[Message]]] = {}
    current: str | None = None
    for record in records:
        if isinstance(record, Conversation):
            groups.setdefault(record.id, (record, []))
            current = record.id
        elif isinstance(record, Message):
            if record.conversation_id != current:
                current = record.conversation_id
                groups.setdefault(current, (Conversation(id=current), []))
            groups[current][1].append(record)
    out: list[AnyRecord] = []
    for cid in sorted(groups, key=id_key):
        conv, messages = groups[cid]
        out.extend(_conversation(conv, messages))
    return out


def _locate(member: str | None, path: str) -> Location:
    return Location("<projection>", member, path)


def _conversation(conv: Conversation, messages: list[Message]) -> list[AnyRecord]:
    header = _write.header_for(conv)
    guild_id = _common.guild_id_of(header)
    wst = _write.WriteState(conv, guild_id)
    written = [_write.write_message(m, wst) for m in messages if m.active]
    authors: dict[str, dict[str, Any]] = {}
    for d in written:
        authors.setdefault(str(d["author"]["id"]), d["author"])
    channel = header["channel"]
    name = channel.get("name")
    topic = channel.get("topic")
    out: list[AnyRecord] = [
        Conversation(
            id=conv.id,
            type="group",
            name=None if name is None else str(name),
            description=None if topic is None else str(topic),
            participants=tuple(
                _common.author_to_participant(authors[aid], _PRECEDENCE)
                for aid in sorted(authors, key=id_key)
            ),
            provenance=Provenance(format="discord", source_id=conv.id),
            extensions=_dce.conversation_extensions(header),
        )
    ]
    rst = _dce.ReadState(conv.id, guild_id, dict(authors), _PRECEDENCE)
    ctx = Context(on_error="skip")
    items: list[_order.Item] = []
    for i, d in enumerate(written):
        try:
            items.append((_dce.read_message(d, rst), None, i, d))
        except (_common.FieldError, ValueError):
            continue
    ordered = _order.ordered(iter(items), lambda reversed_: None)
    out.extend(_order.finish(ordered, ctx, True, _locate, {}))
    return out
