"""Built-in transforms: exclude bots or events, a date range that keeps whole threads, selection
of conversations and participants, and redaction of e-mails, phone numbers and secrets.

Registered through the ``provide_transforms`` hook and this package's entry point, like any
third-party transform. Every record dropped is counted with the flag that would keep it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from fnmatch import fnmatchcase
from typing import Any

from pydantic import field_validator

from memshift import Context, Options, hookimpl
from memshift.model import AnyRecord, Attachment, Conversation, MemoryItem, Message
from memshift.transforms import Transform


class ExcludeBots(Transform):
    """Leave out messages sent by bots and integrations."""

    name = "exclude_bots"
    description = "leave out messages from bots and integrations"

    def apply(self, records: Iterable[AnyRecord], ctx: Context) -> Iterator[AnyRecord]:
        bots: set[str] = set()
        for record in records:
            if isinstance(record, Conversation):
                bots = {p.id for p in record.participants if p.is_bot}
            elif isinstance(record, Message) and (
                record.sender_is_bot or (record.sender_id is not None and record.sender_id in bots)
            ):
                ctx.filtered("bot messages (drop --exclude-bots)")
                continue
            yield record


class ExcludeEvents(Transform):
    """Leave out joins, pins, calls and other system events, even where the destination can hold
    them."""

    name = "exclude_events"
    description = "leave out joins, pins, calls and other events"

    def apply(self, records: Iterable[AnyRecord], ctx: Context) -> Iterator[AnyRecord]:
        for record in records:
            if isinstance(record, Message) and record.type == "event":
                ctx.filtered("events (drop --exclude-events)")
                continue
            yield record


def _as_datetime(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        if isinstance(value, datetime) and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    text = str(value).strip()
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a date or ISO 8601 time: {text!r}") from None
    # A bare date or a time without offset is read as UTC (documented): the cut-off must not
    # depend on the machine's local zone.
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


class DateRangeOptions(Options):
    since: datetime | None = None
    """Keep messages at or after this instant (a date means 00:00 UTC)."""
    until: datetime | None = None
    """Keep messages before this instant (a date means 00:00 UTC of that day, exclusive)."""

    @field_validator("since", "until", mode="before")
    @classmethod
    def _parse(cls, value: Any) -> datetime | None:
        return _as_datetime(value)


class DateRange(Transform):
    """Keep messages in ``[since, until)``, and keep whole threads that cross either boundary.

    A thread whose root is older than ``since`` but has a reply in range is kept whole, so the
    reply is never an orphan. That needs to know the future, so the input is read once more
    beforehand (``needs_prepass``), keeping only thread ids in memory. Messages without a time
    are kept. Memory items are kept when any of their times falls in the range (or they have none).
    """

    name = "date_range"
    description = "keep a date range (--since/--until), with whole threads across the boundary"
    Options = DateRangeOptions
    needs_prepass = True

    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        self._touched: set[tuple[str, str]] = set()

    def _in_range(self, ts: datetime | None) -> bool:
        if ts is None:
            return True
        since, until = self.options.since, self.options.until
        return (since is None or ts >= since) and (until is None or ts < until)

    def prepass(self, records: Iterable[AnyRecord]) -> None:
        for record in records:
            if (
                isinstance(record, Message)
                and record.thread_id
                and self._in_range(record.timestamp)
            ):
                self._touched.add((record.conversation_id, record.thread_id))

    @staticmethod
    def _with_note(records: Iterable[AnyRecord], ctx: Context, count: Any) -> Iterator[AnyRecord]:
        yield from records
        if count():
            ctx.note("date_range_kept_for_threads", count())

    def apply(self, records: Iterable[AnyRecord], ctx: Context) -> Iterator[AnyRecord]:
        touched = self._touched
        active: set[tuple[str, str]] = set()
        kept_for_threads = 0
        for record in self._with_note(records, ctx, lambda: kept_for_threads):  # noqa: B023
            if isinstance(record, Message):
                cid = record.conversation_id
                if self._in_range(record.timestamp):
                    active.add((cid, record.id))
                    yield record
                    continue
                thread = record.thread_id
                if (cid, record.id) in touched or (
                    thread is not None and ((cid, thread) in touched or (cid, thread) in active)
                ):
                    kept_for_threads += 1
                    yield record
                    continue
                ctx.filtered("messages outside the date range (widen --since/--until)")
                continue
            if isinstance(record, MemoryItem):
                times = [t for t in (record.valid_from, record.created_at, record.observed_at) if t]
                if times and not any(self._in_range(t) for t in times):
                    ctx.filtered("memory items outside the date range (widen --since/--until)")
                    continue
            yield record


class SelectOptions(Options):
    conversations: tuple[str, ...] = ()
    """Conversation ids or names to keep (shell-style globs: ``dev-*``)."""
    participants: tuple[str, ...] = ()
    """Participant ids or names whose messages to keep."""


def _matches(patterns: tuple[str, ...], *values: str | None) -> bool:
    return any(
        v is not None and fnmatchcase(v.lower(), p.lower()) for p in patterns for v in values
    )


class Select(Transform):
    """Keep only some conversations and/or some participants' messages."""

    name = "select"
    description = "keep chosen conversations (--conversation) and participants (--participant)"
    Options = SelectOptions

    def apply(self, records: Iterable[AnyRecord], ctx: Context) -> Iterator[AnyRecord]:
        convs, people = self.options.conversations, self.options.participants
        keep_conv = True
        for record in records:
            if isinstance(record, Conversation):
                keep_conv = not convs or _matches(convs, record.id, record.name)
                if keep_conv:
                    yield record
                continue
            if isinstance(record, Message):
                if not keep_conv:
                    ctx.filtered("messages in conversations not selected (--conversation)")
                    continue
                if people and not _matches(people, record.sender_id, record.sender_name):
                    ctx.filtered("messages from participants not selected (--participant)")
                    continue
            elif isinstance(record, MemoryItem) and people:
                scope = record.scope
                if not _matches(
                    people, scope.user_id, scope.agent_id, scope.run_id, scope.group_id
                ):
                    ctx.filtered("memory items of participants not selected (--participant)")
                    continue
            yield record


_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)[\s.-]?|\d{2,4}[\s.-])\d{3,4}[\s.-]?\d{3,4}(?!\w)"
)
_TOKEN = re.compile(
    r"\bxox[abposre]-[A-Za-z0-9-]{8,}"  # Slack tokens
    r"|\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}"  # OpenAI / Anthropic style keys
    r"|\bgh[pousr]_[A-Za-z0-9]{30,}"  # GitHub tokens
    r"|\bAKIA[0-9A-Z]{16}\b"  # AWS access key ids
    r"|\bBearer\s+[A-Za-z0-9._~+/-]{16,}=*"
)
_URL_TOKEN = re.compile(r"([?&](?:t|token|access_token|sig|signature)=)[^&\s#>|]+")


class RedactOptions(Options):
    emails: bool = True
    phones: bool = True
    tokens: bool = True


class Redact(Transform):
    """Replace e-mail addresses, phone numbers and secrets in text, markup and attachment URLs
    with placeholders. Counts go to the report's notes (``redactions``)."""

    name = "redact"
    description = "replace e-mails, phone numbers and tokens with placeholders"
    Options = RedactOptions

    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        rules: list[tuple[str, re.Pattern[str], str]] = []
        if self.options.tokens:
            rules.append(("tokens", _URL_TOKEN, r"\1[token]"))
            rules.append(("tokens", _TOKEN, "[token]"))
        if self.options.emails:
            rules.append(("emails", _EMAIL, "[email]"))
        if self.options.phones:
            rules.append(("phones", _PHONE, "[phone]"))
        self._rules = rules
        self._counts: Counter[str] = Counter()

    def _clean(self, text: str | None) -> str | None:
        if not text:
            return text
        for kind, pattern, placeholder in self._rules:
            text, n = pattern.subn(placeholder, text)
            if n:
                self._counts[kind] += n
        return text

    def apply(self, records: Iterable[AnyRecord], ctx: Context) -> Iterator[AnyRecord]:
        try:
            for record in records:
                if isinstance(record, Message):
                    update: dict[str, Any] = {}
                    text, markup = self._clean(record.text), self._clean(record.markup)
                    if text != record.text:
                        update["text"] = text
                    if markup != record.markup:
                        update["markup"] = markup
                    if record.attachments:
                        atts = tuple(self._attachment(a) for a in record.attachments)
                        if atts != record.attachments:
                            update["attachments"] = atts
                    if update:
                        record = record.model_copy(update=update)
                elif isinstance(record, MemoryItem):
                    text = self._clean(record.text)
                    if text != record.text:
                        record = record.model_copy(update={"text": text})
                yield record
        finally:
            if self._counts:
                ctx.note("redactions", dict(sorted(self._counts.items())))

    def _attachment(self, att: Attachment) -> Attachment:
        url = self._clean(att.url)
        return att if url == att.url else att.model_copy(update={"url": url})


@hookimpl
def provide_transforms() -> list[type[Transform]]:
    return [ExcludeBots, ExcludeEvents, DateRange, Select, Redact]
