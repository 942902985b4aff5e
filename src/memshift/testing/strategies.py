"""Hypothesis strategies for the canonical model, importable by third-party adapter authors.

Written by hand because pydantic v2 has no hypothesis plugin. The strategies produce *coherent*
streams (a Conversation, then messages whose senders are its participants, with unique ids and
chronological times), because that is what readers yield and what writers must accept. Text is
drawn from all of Unicode except lone surrogates, so markup escaping and encodings get exercised.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from memshift.model import (
    AnyRecord,
    Attachment,
    Conversation,
    MemoryItem,
    Mention,
    Message,
    Participant,
    Reaction,
    Scope,
    Triple,
)

__all__ = [
    "aware_datetimes",
    "conversation_streams",
    "ids",
    "memory_items",
    "memory_streams",
    "participants",
    "record_streams",
    "texts",
]

_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"

#: Identifiers as real systems make them: short, printable, no spaces.
ids = st.text(_ID_ALPHABET, min_size=1, max_size=16).filter(lambda s: not s.startswith("gen_"))

#: Names people and channels have, including non-Latin scripts and emoji.
names = (
    st.text(
        st.characters(exclude_categories=["Cs", "Cc"], exclude_characters="\u2028\u2029"),
        min_size=1,
        max_size=24,
    )
    .map(str.strip)
    .filter(bool)
)


def texts(min_size: int = 0, max_size: int = 80) -> st.SearchStrategy[str]:
    """Message text: any Unicode except lone surrogates (JSON cannot carry them)."""
    return st.text(st.characters(exclude_categories=["Cs"]), min_size=min_size, max_size=max_size)


def aware_datetimes(
    min_value: datetime = datetime(2005, 1, 1),
    max_value: datetime = datetime(2035, 12, 31),
) -> st.SearchStrategy[datetime]:
    """UTC datetimes with microseconds (formats that keep less are projected)."""
    return st.datetimes(min_value=min_value, max_value=max_value).map(
        lambda d: d.replace(tzinfo=UTC)
    )


extension_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | texts(max_size=12),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(_ID_ALPHABET, min_size=1, max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)


def extensions(namespace: str = "test") -> st.SearchStrategy[dict[str, Any]]:
    keys = st.text(_ID_ALPHABET, min_size=1, max_size=10).map(lambda k: f"{namespace}:{k}")
    return st.dictionaries(keys, extension_values, max_size=2)


@st.composite
def participants(draw: st.DrawFn, /, id: str | None = None) -> Participant:
    pid = id or draw(ids)
    real = draw(st.none() | names)
    display = draw(st.none() | names)
    return Participant(
        id=pid,
        name=display or real or draw(st.none() | names),
        real_name=real,
        display_name=display,
        nick=draw(st.none() | names),
        is_bot=draw(st.booleans()),
        is_deleted=draw(st.booleans()),
        role=draw(st.none() | st.sampled_from(["user", "assistant"])),
        job_title=draw(st.none() | names),
    )


@st.composite
def conversation_streams(
    draw: st.DrawFn,
    /,
    *,
    type: str | None = None,
    min_messages: int = 0,
    max_messages: int = 8,
    ordered: bool = True,
    conversation_id: str | None = None,
    rich: bool = True,
) -> list[AnyRecord]:
    """One Conversation followed by its messages.

    ``rich=False`` leaves out threads, reactions, attachments and the like, for formats whose
    projection would clear them anyway (it makes shrinking faster).
    """
    conv_type = type or draw(st.sampled_from(["group", "personal"]))
    cid = conversation_id or draw(ids)
    n_people = draw(st.integers(1, 4))
    people_ids = draw(st.lists(ids, min_size=n_people, max_size=n_people, unique=True))
    people = [draw(participants(id=pid)) for pid in people_ids]
    start = draw(aware_datetimes(max_value=datetime(2030, 1, 1)))
    conv = Conversation(
        id=cid,
        type=conv_type,
        name=draw(st.none() | names),
        description=draw(st.none() | texts(1, 40)),
        timezone=draw(st.none() | st.sampled_from(["UTC", "Europe/Berlin", "America/Los_Angeles"])),
        created_at=draw(st.none() | st.just(start)),
        participants=tuple(people),
    )
    n = draw(st.integers(min_messages, max_messages))
    msg_ids = draw(st.lists(ids, min_size=n, max_size=n, unique=True))
    messages: list[Message] = []
    t = start
    for i, mid in enumerate(msg_ids):
        t = t + timedelta(microseconds=draw(st.integers(1000, 3 * 86_400 * 10**6)))
        sender = draw(st.sampled_from(people))
        if conv_type == "personal":
            role = "user" if sender is people[0] else "assistant"
        else:
            role = draw(st.sampled_from(["user", "user", "assistant"]))
        earlier = [m.id for m in messages]
        update: dict[str, Any] = {}
        if rich:
            update = {
                "thread_id": draw(st.none() | st.sampled_from(earlier)) if earlier else None,
                "reply_to": draw(st.none() | st.sampled_from(earlier)) if earlier else None,
                "edited_at": draw(st.none() | st.just(t + timedelta(seconds=30))),
                "attachments": tuple(
                    draw(
                        st.lists(
                            st.builds(
                                Attachment,
                                name=names,
                                url=st.none() | st.just("https://files.example.com/f/" + mid),
                                mime_type=st.none() | st.sampled_from(["image/png", "text/plain"]),
                                size=st.none() | st.integers(0, 10**9),
                            ),
                            max_size=2,
                        )
                    )
                ),
                "reactions": tuple(
                    draw(
                        st.lists(
                            st.builds(
                                Reaction,
                                emoji=st.sampled_from(["thumbsup", "tada", "eyes", "heart"]),
                                count=st.integers(1, 5),
                                users=st.lists(
                                    st.sampled_from(people_ids), max_size=3, unique=True
                                ).map(tuple),
                            ),
                            max_size=2,
                            unique_by=lambda r: r.emoji,
                        )
                    )
                ),
                "mentions": tuple(
                    Mention(id=p.id, name=p.name)
                    for p in draw(
                        st.lists(st.sampled_from(people), max_size=2, unique_by=lambda p: p.id)
                    )
                ),
                "type": draw(st.sampled_from(["message"] * 6 + ["event"])),
            }
        messages.append(
            Message(
                id=mid,
                conversation_id=cid,
                role=role,
                sender_id=sender.id,
                sender_name=sender.name,
                timestamp=t,
                text=draw(texts(min_size=1 if i % 3 else 0)),
                **update,
            )
        )
    if not ordered:
        messages = draw(st.permutations(messages))
    return [conv, *messages]


@st.composite
def memory_items(draw: st.DrawFn, /, *, type: str | None = None) -> MemoryItem:
    kind = type or draw(st.sampled_from(["fact", "triple", "block", "document"]))
    created = draw(st.none() | aware_datetimes())
    triple = None
    if kind == "triple":
        triple = Triple(subject=draw(names), predicate=draw(names), object=draw(names))
    valid_from = draw(st.none() | aware_datetimes())
    return MemoryItem(
        id=draw(ids),
        type=kind,
        scope=Scope(
            user_id=draw(st.none() | ids),
            agent_id=draw(st.none() | ids),
            run_id=draw(st.none() | ids),
        ),
        text=draw(texts(min_size=1)),
        triple=triple,
        label=draw(names) if kind == "block" else None,
        limit=draw(st.integers(100, 20_000)) if kind == "block" else None,
        created_at=created,
        updated_at=draw(st.none() | st.just(created)) if created else None,
        valid_from=valid_from,
        valid_to=draw(st.none() | aware_datetimes()) if valid_from else None,
        categories=tuple(
            draw(st.lists(st.sampled_from(["work", "food", "travel"]), max_size=2, unique=True))
        ),
        metadata=draw(
            st.dictionaries(
                st.text(_ID_ALPHABET, min_size=1, max_size=8), texts(max_size=10), max_size=2
            )
        ),
    )


@st.composite
def memory_streams(
    draw: st.DrawFn, *, type: str | None = None, max_items: int = 6
) -> list[AnyRecord]:
    items = draw(st.lists(memory_items(type=type), max_size=max_items, unique_by=lambda m: m.id))
    return list(items)


@st.composite
def record_streams(
    draw: st.DrawFn,
    /,
    *,
    max_conversations: int = 3,
    with_memory: bool = True,
    **kwargs: Any,
) -> list[AnyRecord]:
    """Several conversations (distinct ids, distinct message ids) and optionally memory items."""
    n = draw(st.integers(1, max_conversations))
    # Ids that differ only in case are named in writing order (docs/errors.md), so a second
    # write can swap their suffixes: that known non-fixpoint is left out here.
    conv_ids = draw(st.lists(ids, min_size=n, max_size=n, unique_by=str.lower))
    out: list[AnyRecord] = []
    seen: set[str] = set()
    for cid in conv_ids:
        stream = draw(conversation_streams(conversation_id=cid, **kwargs))
        for rec in stream:
            if isinstance(rec, Message):
                if rec.id in seen:
                    continue
                seen.add(rec.id)
            out.append(rec)
    if with_memory:
        out.extend(draw(memory_streams()))
    return out
