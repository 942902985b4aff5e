"""The adapter contract: what a format declares and the two generators it may implement.

An adapter is a class; pluggy is only how the class becomes known. Capabilities are declared data
(``features``, ``needs_order``, ``output_layout``) rather than special cases in the core, so the
pipeline can decide about losses, sorting and output paths for a format it has never seen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict

from .model import AnyRecord, Conversation, MemoryItem, Message, Participant

if TYPE_CHECKING:
    from .context import Context
    from .sinks import Sink
    from .sources import Source


class Feature(StrEnum):
    """What a format can hold. Used for loss reports and for projection in round-trip tests."""

    CONVERSATIONS = "conversations"  # messages grouped in conversations
    MEMORY = "memory"  # MemoryItem records
    GROUP = "group"  # multi-party conversations
    PERSONAL = "personal"  # one user with an assistant
    CONVERSATION_NAMES = "conversation_names"
    DESCRIPTIONS = "descriptions"
    TIMEZONE = "timezone"
    PARTICIPANTS = "participants"  # participant records with names, bot/deleted flags
    SENDER_NAMES = "sender_names"
    SYSTEM_ROLES = "system_roles"  # role system/tool survives
    THREADS = "threads"
    REPLIES = "replies"
    REACTIONS = "reactions"
    EDITS = "edits"
    ATTACHMENTS = "attachments"
    MENTIONS = "mentions"
    MARKUP = "markup"
    EVENTS = "events"  # joins, pins, calls
    TOOL_CALLS = "tool_calls"
    REASONING = "reasoning"
    BRANCHES = "branches"  # inactive alternatives of a tree
    TRIPLES = "triples"
    BLOCKS = "blocks"  # labels and size limits
    BITEMPORAL = "bitemporal"
    CATEGORIES = "categories"
    METADATA = "metadata"


class Options(BaseModel):
    """Base for per-adapter read/write options. Unknown keys are an error: a typo in ``-O`` must
    not silently do nothing."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Sniff(NamedTuple):
    """How sure an adapter is that a source is its format, and why (``memshift detect``)."""

    confidence: float
    reason: str = ""


NO = Sniff(0.0, "")


class Adapter:
    """Base class for a format. Override ``read`` and/or ``write``; the other is then reported as
    unsupported (``can_read``/``can_write`` are derived, not declared)."""

    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""
    features: ClassVar[frozenset[Feature]] = frozenset()
    #: Extension namespace this format owns in ``extensions`` (defaults to ``name``; ``"*"``
    #: keeps every namespace).
    namespace: ClassVar[str | None] = None
    #: File name suffixes, used as a detection hint.
    file_extensions: ClassVar[tuple[str, ...]] = ()
    #: ``"dir"``: one document per conversation, ``-o`` names a directory;
    #: ``"file"``: one stream (JSON Lines etc.), ``-o`` names a file.
    output_layout: ClassVar[Literal["file", "dir"]] = "file"
    #: The reader yields each conversation's messages in chronological order.
    ordered_read: ClassVar[bool] = False
    #: The writer needs each conversation's messages in chronological order.
    needs_order: ClassVar[bool] = False
    #: Each output document depends only on its own conversation, so ``--resume`` may skip
    #: conversations a previous run completed (false for writers with export-wide summaries).
    resumable: ClassVar[bool] = False
    #: Declared limits of the destination (``{"messages_per_call": 500}``), shown by ``inspect``.
    limits: ClassVar[Mapping[str, int]] = {}
    ReadOptions: ClassVar[type[Options]] = Options
    WriteOptions: ClassVar[type[Options]] = Options

    # -- the two directions ----------------------------------------------------------------------

    def read(self, source: Source, options: Any, ctx: Context) -> Iterator[AnyRecord]:
        raise NotImplementedError

    def write(self, records: Iterable[AnyRecord], sink: Sink, options: Any, ctx: Context) -> None:
        raise NotImplementedError

    def sniff(self, source: Source) -> Sniff:
        return NO

    def uses(self, feature: Feature, options: Any, conversation_type: str | None = None) -> bool:
        """Whether this writer, with ``options``, reads ``feature`` from its input (for
        conversations of ``conversation_type``, when the caller knows it). Readers ask through
        :meth:`Context.wants` before collecting something costly; the default, True, never lets
        them skip anything. A writer overrides it only for data it neither writes nor consults."""
        return True

    def limit_violations(self, record: AnyRecord, options: Any = None) -> list[str]:
        """What in ``record`` breaks a declared limit of this destination (``inspect --to``).

        The default checks the generic ``text_chars`` limit; adapters with other limits (items
        per file, block sizes) override this and call ``super()``.
        """
        limit = self.limits.get("text_chars")
        text = getattr(record, "text", None)
        if limit is not None and isinstance(text, str) and len(text) > limit:
            return [f"text_chars: {len(text)} > {limit}"]
        return []

    def validate(self, source: Source) -> list[str]:
        """Problems the format's own importer would refuse, one line each; empty means valid.

        The default reads everything strictly and reports the first error. Formats with a
        published validator (EverCore's ConversationFormat) override this with its rules.
        """
        from .context import Context
        from .errors import MemshiftError

        try:
            for _ in self.read(source, self.ReadOptions(), Context(on_error="strict")):
                pass
        except MemshiftError as exc:
            return [str(exc)]
        return []

    # -- capabilities ----------------------------------------------------------------------------

    @classmethod
    def can_read(cls) -> bool:
        return cls.read is not Adapter.read

    @classmethod
    def can_write(cls) -> bool:
        return cls.write is not Adapter.write

    @classmethod
    def ext_namespace(cls) -> str:
        return cls.namespace or cls.name

    # -- projection ------------------------------------------------------------------------------

    def project(self, records: Iterable[AnyRecord]) -> list[AnyRecord]:
        """The records as this format can hold them: what ``read(write(records))`` should return.

        The default clears every field outside ``features`` and every extension outside this
        format's namespace; adapters override :meth:`project_record` for format quirks (time
        precision, id rewriting) or this method for stream-level ones (id de-duplication).
        """
        out: list[AnyRecord] = []
        for record in records:
            projected = self.project_record(record)
            if projected is not None:
                out.append(projected)
        return out

    def project_record(self, record: AnyRecord) -> AnyRecord | None:
        return project_by_features(record, self.features, self.ext_namespace())


def _own_extensions(ext: Mapping[str, Any], namespace: str) -> dict[str, Any]:
    if namespace == "*":  # a format that keeps every namespace (canonical)
        return dict(ext)
    prefix = namespace + ":"
    return {k: v for k, v in ext.items() if k.startswith(prefix)}


def project_participant(
    p: Participant, features: frozenset[Feature], namespace: str
) -> Participant:
    if Feature.PARTICIPANTS in features:
        return p.model_copy(update={"extensions": _own_extensions(p.extensions, namespace)})
    return Participant(id=p.id, name=p.name if Feature.SENDER_NAMES in features else None)


def project_by_features(
    record: AnyRecord, features: frozenset[Feature], namespace: str
) -> AnyRecord | None:
    """Generic projection used by :meth:`Adapter.project_record`."""
    f = features
    if isinstance(record, Conversation):
        if Feature.CONVERSATIONS not in f:
            return None
        return record.model_copy(
            update={
                "name": record.name if Feature.CONVERSATION_NAMES in f else None,
                "description": record.description if Feature.DESCRIPTIONS in f else None,
                "timezone": record.timezone if Feature.TIMEZONE in f else None,
                "participants": tuple(
                    project_participant(p, f, namespace) for p in record.participants
                )
                if Feature.PARTICIPANTS in f or Feature.SENDER_NAMES in f
                else (),
                "extensions": _own_extensions(record.extensions, namespace),
            }
        )
    if isinstance(record, Message):
        if Feature.CONVERSATIONS not in f:
            return None
        if record.type == "event" and Feature.EVENTS not in f:
            return None
        if record.type in ("tool_call", "tool_result") and Feature.TOOL_CALLS not in f:
            return None
        if record.type == "reasoning" and Feature.REASONING not in f:
            return None
        if not record.active and Feature.BRANCHES not in f:
            return None
        update: dict[str, Any] = {"extensions": _own_extensions(record.extensions, namespace)}
        if Feature.SENDER_NAMES not in f:
            update["sender_name"] = None
        if Feature.PARTICIPANTS not in f:
            update["sender_is_bot"] = None
        if Feature.THREADS not in f:
            update["thread_id"] = None
        if Feature.REPLIES not in f:
            update["reply_to"] = None
        if Feature.EDITS not in f:
            update["edited_at"] = None
        if Feature.REACTIONS not in f:
            update["reactions"] = ()
        if Feature.ATTACHMENTS not in f:
            update["attachments"] = ()
        if Feature.MENTIONS not in f:
            update["mentions"] = ()
        if Feature.MARKUP not in f:
            update["markup"] = None
        if Feature.BRANCHES not in f:
            update["parent_id"] = None
        return record.model_copy(update=update)
    if isinstance(record, MemoryItem):
        if Feature.MEMORY not in f:
            return None
        update = {"extensions": _own_extensions(record.extensions, namespace)}
        if Feature.TRIPLES not in f:
            update["triple"] = None
        if Feature.BLOCKS not in f:
            update["label"] = None
            update["limit"] = None
        if Feature.BITEMPORAL not in f:
            update["valid_from"] = None
            update["valid_to"] = None
        if Feature.CATEGORIES not in f:
            update["categories"] = ()
        if Feature.METADATA not in f:
            update["metadata"] = {}
        return record.model_copy(update=update)
    raise TypeError(f"not a canonical record: {type(record).__name__}")


#: Message fields a destination without the feature cannot hold: (feature, attribute, loss name).
_MESSAGE_LOSSES = (
    (Feature.REACTIONS, "reactions", "reactions"),
    (Feature.ATTACHMENTS, "attachments", "attachments"),
    (Feature.THREADS, "thread_id", "thread_id"),
    (Feature.REPLIES, "reply_to", "reply_to"),
    (Feature.EDITS, "edited_at", "edited_at"),
    (Feature.MENTIONS, "mentions", "mentions"),
    (Feature.MARKUP, "markup", "markup"),
)


def loss_detector(features: frozenset[Feature], namespace: str) -> Callable[[AnyRecord], list[str]]:
    """:func:`detect_losses` for one destination, with the feature tests done once: the
    pipeline calls it for every record, a million times on a big channel."""
    checks = tuple(
        (attr, name) for feature, attr, name in _MESSAGE_LOSSES if feature not in features
    )
    roles = Feature.SYSTEM_ROLES not in features
    own = None if namespace == "*" else namespace + ":"

    def detect(record: AnyRecord) -> list[str]:
        if type(record) is Message or isinstance(record, Message):
            values = record.__dict__
            lost = [name for attr, name in checks if values[attr]]
            if roles and record.role in ("system", "tool"):
                lost.append("role")
        else:
            lost = _record_losses(record, features)
        ext = record.extensions
        if ext and own is not None:
            lost.extend(f"extensions[{key}]" for key in ext if not key.startswith(own))
        return lost

    return detect


def detect_losses(record: AnyRecord, features: frozenset[Feature], namespace: str) -> list[str]:
    """Names of the fields of ``record`` that a destination with ``features`` cannot hold.

    Declarative, so every writer gets loss reports for free; writers add format-specific ones
    (a role the API refuses, a block over its limit) through :meth:`Context.loss`.
    """
    return loss_detector(features, namespace)(record)


def _record_losses(record: AnyRecord, f: frozenset[Feature]) -> list[str]:
    """The losses of a conversation or memory item (messages are tested in the detector)."""
    lost: list[str] = []
    if isinstance(record, MemoryItem):
        if record.triple and Feature.TRIPLES not in f:
            lost.append("triple")
        if (record.label or record.limit) and Feature.BLOCKS not in f:
            lost.append("label")
        if (record.valid_from or record.valid_to) and Feature.BITEMPORAL not in f:
            lost.append("valid_from/valid_to")
        if record.categories and Feature.CATEGORIES not in f:
            lost.append("categories")
        if record.metadata and Feature.METADATA not in f:
            lost.append("metadata")
    elif isinstance(record, Conversation) and record.description and Feature.DESCRIPTIONS not in f:
        lost.append("description")
    return lost
