"""The canonical model: the one contract every adapter reads into and writes from.

Records are immutable pydantic models so that a record handed to a writer cannot be changed behind
the reader's back, and so that round-trip tests can compare them with ``==``. Anything a format has
that the model does not name travels in ``extensions`` under a namespaced key (``"slack:blocks"``);
the core never grows a field for one format.

Stream contract: a reader yields a :class:`Conversation` first, then that conversation's
:class:`Message` records; :class:`MemoryItem` records may stand alone anywhere in the stream.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

#: Version of the canonical model. A major bump means a breaking change for adapters; the
#: ``canonical`` JSON Lines format carries it and refuses a different major version.
SCHEMA_VERSION = "1.0"


def _aware_utc(value: datetime) -> datetime:
    if value.tzinfo is UTC:  # the common case, from memshift.timeutil: nothing to do
        return value
    # A naive datetime is ambiguous (local time? UTC?) and is the root of "stamped with the import
    # time"/"off by my timezone" bugs, so the model refuses it rather than guessing.
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetime: timestamps must carry a timezone")
    if value.utcoffset():
        value = value.astimezone(UTC)
    elif value.tzinfo is not UTC:
        value = value.replace(tzinfo=UTC)
    return value


#: An aware datetime, normalised to UTC. Naive datetimes are a validation error.
UTCDateTime = Annotated[datetime, AfterValidator(_aware_utc)]

#: Namespaced escape hatch: ``{"slack:blocks": [...], "zep:edge_uuid": "..."}``.
#: A JSON value (dict, list, str, int, float, bool or None). Deliberately not validated per record:
#: pydantic's ``JsonValue`` walks every nested value in Python and cost ~2 us per message with a
#: few nested extensions, more than the rest of the model. Adapters put JSON in; serialisation
#: fails loudly on anything else.
Json = Any

Extensions = dict[str, Json]

ConversationType = Literal["group", "personal"]
Role = Literal["user", "assistant", "system", "tool"]
MessageType = Literal["message", "event", "tool_call", "tool_result", "reasoning"]
MemoryType = Literal["fact", "triple", "block", "document"]


#: Keys must be namespaced (``"slack:blocks"``). Checked by a pattern, which pydantic-core runs
#: natively: a Python validator here would cost every record a function call.
NamespacedKey = Annotated[str, StringConstraints(pattern=r"^[^:]+:.")]
NamespacedExtensions = dict[NamespacedKey, Json]

#: The longest text one record may carry (16 Mi characters). A real message is far shorter; a
#: longer one is a broken or hostile export, and is rejected at read time with its location rather
#: than allowed to exhaust memory downstream. Checked natively by pydantic-core.
MAX_TEXT = 16 * 1024 * 1024
Text = Annotated[str, StringConstraints(max_length=MAX_TEXT)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Provenance(_Frozen):
    """Where a record came from, so that a user can find the original and a re-run is traceable."""

    format: str
    source_id: str | None = None
    path: str | None = None
    member: str | None = None


class Participant(_Frozen):
    """A person or bot in a conversation, with every name the source knows.

    ``name`` is the resolved display name the reader chose by its documented precedence; the
    individual names are kept so a writer with other conventions can choose again.
    """

    id: str
    name: str | None = None
    real_name: str | None = None
    display_name: str | None = None
    nick: str | None = None
    is_bot: bool = False
    is_deleted: bool = False
    role: Role | None = None
    job_title: str | None = None
    email: str | None = None
    timezone: str | None = None
    extensions: NamespacedExtensions = Field(default_factory=dict)


class Attachment(_Frozen):
    """A file referenced by a message. The bytes are never in the model, only the reference."""

    name: str | None = None
    url: str | None = None
    path: str | None = None
    mime_type: str | None = None
    size: int | None = None
    id: str | None = None
    extensions: NamespacedExtensions = Field(default_factory=dict)


class Reaction(_Frozen):
    emoji: str
    count: int = 1
    users: tuple[str, ...] = ()
    extensions: NamespacedExtensions = Field(default_factory=dict)


class Mention(_Frozen):
    """A structured mention; ``type`` separates people from channels and broadcasts (@here)."""

    id: str
    name: str | None = None
    type: Literal["user", "channel", "group", "broadcast"] = "user"


class Conversation(_Frozen):
    """A channel, group chat, DM or assistant session: the unit most destinations write as one
    document."""

    kind: Literal["conversation"] = "conversation"
    id: str
    type: ConversationType = "group"
    name: str | None = None
    description: str | None = None
    timezone: str | None = None
    created_at: UTCDateTime | None = None
    participants: tuple[Participant, ...] = ()
    provenance: Provenance | None = None
    extensions: NamespacedExtensions = Field(default_factory=dict)


class Message(_Frozen):
    """One message or event.

    ``timestamp_raw`` keeps the source's own spelling of the instant (Slack's ``ts`` string, a
    ChatGPT float) because float seconds and ISO strings do not survive a datetime round trip
    byte-for-byte, and users ask for the original.

    ``parent_id``/``active`` carry trees (ChatGPT edits and regenerations): ``active`` is False for
    messages off the path the user last saw, which destinations that cannot hold alternatives drop.
    """

    kind: Literal["message"] = "message"
    id: str
    conversation_id: str
    type: MessageType = "message"
    role: Role = "user"
    sender_id: str | None = None
    sender_name: str | None = None
    #: Whether the sender is a bot or integration, when the source says so per message (Discord
    #: ``author.isBot``, Slack ``bot_id``), so ``--exclude-bots`` works before participants are
    #: known.
    sender_is_bot: bool | None = None
    timestamp: UTCDateTime | None = None
    timestamp_raw: str | int | float | None = None
    text: Text = ""
    markup: Text | None = None
    reply_to: str | None = None
    thread_id: str | None = None
    edited_at: UTCDateTime | None = None
    attachments: tuple[Attachment, ...] = ()
    reactions: tuple[Reaction, ...] = ()
    mentions: tuple[Mention, ...] = ()
    parent_id: str | None = None
    active: bool = True
    extensions: NamespacedExtensions = Field(default_factory=dict)


class Scope(_Frozen):
    """Whose memory this is. Memory systems key on different ids; at least one should be set."""

    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None
    group_id: str | None = None


class Triple(_Frozen):
    subject: str
    predicate: str
    object: str


class MemoryItem(_Frozen):
    """A unit of agent memory: a fact, a (subject, predicate, object) triple, a Letta-style block or
    a document. The four times are kept apart because bi-temporal systems (Zep) distinguish when a
    fact was true (``valid_*``) from when the system learned it (``created_at``)."""

    kind: Literal["memory"] = "memory"
    id: str
    type: MemoryType = "fact"
    scope: Scope = Field(default_factory=Scope)
    text: Text = ""
    triple: Triple | None = None
    label: str | None = None
    description: str | None = None
    limit: int | None = None
    created_at: UTCDateTime | None = None
    updated_at: UTCDateTime | None = None
    valid_from: UTCDateTime | None = None
    valid_to: UTCDateTime | None = None
    observed_at: UTCDateTime | None = None
    categories: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    metadata: dict[str, Json] = Field(default_factory=dict)
    provenance: Provenance | None = None
    extensions: NamespacedExtensions = Field(default_factory=dict)


#: Set by memshift's own test suite: every :func:`trusted` record is validated as well and must
#: come out the same, so a reader that breaks the contract fails its tests instead of producing a
#: record the model would have refused.
CHECK_TRUSTED = False

_M = TypeVar("_M", bound=BaseModel)
_DEFAULTS: dict[type[BaseModel], dict[str, Any]] = {}
_set = object.__setattr__


def trusted(cls: type[_M], fields: dict[str, Any]) -> _M:
    """A record of ``cls`` from fields its reader has already checked, without validating them
    again; for a :class:`Message`, anything unusual still goes through full validation.

    For a reader's hot path only (the DiscordChatExporter reader: validation was ~1.6 us of a
    message's ~15). The contract: every value has the type the model declares (strings are
    ``str``, literals are valid, sequences are tuples, nested records are model instances,
    extension keys are namespaced). What a reader cannot cheaply guarantee is checked here: a
    message text over :data:`MAX_TEXT` and a datetime not in UTC take the validating path, so
    they fail or are normalised exactly as before."""
    if CHECK_TRUSTED:
        return _checked(cls, fields)
    if cls is Message:
        text = fields.get("text")
        ts = fields.get("timestamp")
        edited = fields.get("edited_at")
        if (
            (text is not None and len(text) > MAX_TEXT)
            or (ts is not None and ts.tzinfo is not UTC)
            or (edited is not None and edited.tzinfo is not UTC)
            or "markup" in fields
        ):
            return cls.__pydantic_validator__.validate_python(fields)  # type: ignore[no-any-return]
    defaults = _DEFAULTS.get(cls)
    if defaults is None:
        defaults = _DEFAULTS[cls] = {
            name: info.get_default(call_default_factory=True)
            for name, info in cls.model_fields.items()
        }
    values = defaults.copy()
    if "extensions" in values:
        values["extensions"] = {}
    values.update(fields)
    record = cls.__new__(cls)
    _set(record, "__dict__", values)
    _set(record, "__pydantic_fields_set__", set(fields))
    _set(record, "__pydantic_extra__", None)
    _set(record, "__pydantic_private__", None)
    return record


def _checked(cls: type[_M], fields: dict[str, Any]) -> _M:
    """:func:`trusted` under test: validated, and compared with the trusted build."""
    global CHECK_TRUSTED
    CHECK_TRUSTED = False
    try:
        built = trusted(cls, fields)
    finally:
        CHECK_TRUSTED = True
    try:
        validated = cls.__pydantic_validator__.validate_python(fields)
    except ValueError as exc:
        raise AssertionError(f"trusted() accepted fields the model refuses: {exc}") from exc
    if validated.__dict__ != built.__dict__ or any(
        type(validated.__dict__[k]) is not type(v) for k, v in built.__dict__.items()
    ):
        raise AssertionError(f"trusted() differs from validation: {fields!r}")
    return validated  # type: ignore[no-any-return]


Record = Annotated[Conversation | Message | MemoryItem, Field(discriminator="kind")]
AnyRecord = Conversation | Message | MemoryItem


class _RecordEnvelope(BaseModel):
    record: Record


_BY_KIND: dict[str, type[Conversation] | type[Message] | type[MemoryItem]] = {
    "conversation": Conversation,
    "message": Message,
    "memory": MemoryItem,
}


def record_from_dict(data: dict[str, Any]) -> AnyRecord:
    """Validate one canonical record dict (as the ``canonical`` format stores it). Dispatching on
    ``kind`` here keeps error locations short (``conversation_id``, not ``record.message...``)."""
    kind = data.get("kind") if isinstance(data, dict) else None
    cls = _BY_KIND.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"kind: expected 'conversation', 'message' or 'memory', got {kind!r}")
    return cls.model_validate(data)


def record_json_schema() -> dict[str, Any]:
    """JSON Schema of one canonical record, for docs and for third-party validators."""
    schema = _RecordEnvelope.model_json_schema()
    schema["title"] = "memshift canonical record"
    schema["$comment"] = f"memshift SCHEMA_VERSION {SCHEMA_VERSION}"
    return schema
