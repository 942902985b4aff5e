"""Writing EverOS v1 memory documents: one request body per conversation (or per part).

Each document is what ``POST /api/v1/memories/group`` (group) or ``POST /api/v1/memories``
(personal) accepts. Messages are streamed into the document as they arrive; only the set of
message ids already written (for the duplicate check) grows with a conversation.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import IO, Any

from memshift import Context, jsonio, timeutil
from memshift.errors import Location, WriteError
from memshift.model import AnyRecord, Conversation, Message
from memshift.sinks import Sink

from ._common import (
    GEN_PREFIX,
    MAX_MESSAGES,
    SECONDS_BELOW,
    content_items_text,
    content_text,
    fallback_owner,
    map_role,
    names_of,
    participant_owner,
    resolve_mode,
    safe_id,
    safe_session,
)
from ._read import GROUP_OWN, MSG_KEYS, PERSONAL_OWN

NS = "everos:"
UNTIMED = "messages in a conversation without any time (-O default_time=ISO 8601 to send them)"


#: Duplicate ids are checked over the last 10,000-20,000 messages (two generations): about 2 MiB
#: at most, so memory stays flat; the larger 50k window held up to 10 MiB and made the id lookups
#: of a big channel miss the CPU cache.
SEEN_WINDOW = 10_000

_PLAIN_ROLES = frozenset({"user", "assistant"})
_CONTENT_KEY = NS + "content"
_FIELDS_KEY = NS + "fields"
GEN = GEN_PREFIX
EPOCH = timeutil.EPOCH
dumps = jsonio.dumps


class _ConvState:
    __slots__ = (
        "assistant_senders",
        "cm",
        "conv",
        "conv_id",
        "count",
        "doc_id",
        "fh",
        "last_ms",
        "last_ts",
        "mode",
        "names",
        "owner",
        "part",
        "pending",
        "seen",
        "seen_old",
    )

    def __init__(self, conv: Conversation, mode: str, owner: str | None) -> None:
        self.conv = conv
        self.conv_id = conv.id
        self.mode = mode
        self.owner = owner
        self.doc_id = safe_id(conv.id) if mode == "group" else safe_session(conv.id)
        self.names = names_of(conv.participants)
        self.last_ms: int | None = None
        self.last_ts: datetime | None = conv.created_at
        # Duplicate ids are caught within the last 10,000-20,000 messages: two generations of
        # ids keep memory flat on a million-message conversation (duplicates from re-exports and
        # merges sit next to each other once the conversation is in time order).
        self.seen: set[str] = set()
        self.seen_old: set[str] = set()
        self.assistant_senders: set[str] = set()
        #: Leading messages without a time, held until the first timed one lends them its time.
        self.pending: list[tuple[Message, str, Any]] = []
        self.part = 0
        self.count = 0
        self.cm: AbstractContextManager[IO[bytes]] | None = None
        self.fh: IO[bytes] | None = None


class EverosWriter:
    def __init__(self, sink: Sink, options: Any, ctx: Context) -> None:
        self.sink = sink
        self.opt = options
        self.ctx = ctx
        self.cur: _ConvState | None = None
        self.pending: Conversation | None = None
        self.stats: Counter[str] = Counter()
        self.seen_convs: set[str] = set()
        self.max_messages: int | None = options.max_messages

    # -- the record loop -------------------------------------------------------------------------

    def write(self, records: Iterable[AnyRecord]) -> None:
        try:
            for record in records:
                if isinstance(record, Message):
                    self._message(record)
                elif isinstance(record, Conversation):
                    self._close_current()
                    self._flush_pending()
                    self.pending = record
                else:
                    self._drop("memory items (the destination holds conversations only)")
            self._close_current()
            self._flush_pending()
        except BaseException as exc:
            if self.cur is not None and self.cur.cm is not None:
                self.cur.cm.__exit__(type(exc), exc, exc.__traceback__)
                self.cur.cm = None
            raise
        self._report()

    def _drop(self, reason: str) -> None:
        self.ctx.dropped(reason)

    def _reject(self, msg: Message, reason: str) -> None:
        loc = Location(None, f"conversation {msg.conversation_id}", f"message {msg.id}")
        self.ctx.reject(msg.model_dump(mode="json"), reason, loc, error=WriteError)

    # -- conversations ---------------------------------------------------------------------------

    def _start(self, conv: Conversation) -> _ConvState:
        if conv.id in self.seen_convs:
            self.ctx.warn(
                f"conversation {conv.id!r} appears more than once in the stream; its messages "
                "go to separate documents",
                key=f"everos-reappears-{conv.id}",
            )
        self.seen_convs.add(conv.id)
        mode = resolve_mode(self.opt.mode, conv)
        sent_id = safe_id(conv.id) if mode == "group" else safe_session(conv.id)
        if sent_id != conv.id:
            self._rewritten("group_id" if mode == "group" else "session_id", conv.id)
        owner = None
        if mode == "personal":
            owner = self.opt.user_id or participant_owner(conv)
            owner = self._safe(owner, "user_id") if owner is not None else None
        self._conversation_losses(conv, personal=mode == "personal")
        return _ConvState(conv, mode, owner)

    def _conversation_losses(self, conv: Conversation, *, personal: bool) -> None:
        if personal and (conv.name or conv.description):
            self.ctx.loss(
                "conversation name/description",
                "personal documents have no group_meta",
                example=conv.id,
            )
        if conv.timezone:
            self.ctx.loss("timezone", "EverOS documents carry no time zone", example=conv.id)
        if conv.created_at:
            self.ctx.loss("created_at", "EverOS documents carry no creation time", example=conv.id)
        if any(p.real_name or p.email or p.job_title or p.is_bot for p in conv.participants):
            self.ctx.loss(
                "participants",
                "no participant table: only sender_id/sender_name travel with each message",
                example=conv.id,
            )

    def _close_current(self) -> None:
        cur = self.cur
        if cur is None:
            return
        for _msg in cur.pending:
            self._drop(UNTIMED)
        cur.pending = []
        if cur.fh is not None:
            self._close_document(cur)
        if cur.part == 0:
            self.stats["empty_conversations"] += 1
        self.cur = None

    def _flush_pending(self) -> None:
        """A Conversation record no message followed: no document (EverOS needs 1-500)."""
        if self.pending is not None:
            self.stats["empty_conversations"] += 1
            self.pending = None

    def _state_for(self, msg: Message) -> _ConvState:
        cur = self.cur
        if cur is not None and cur.conv.id == msg.conversation_id:
            return cur
        self._close_current()
        conv = self.pending
        self.pending = None
        if conv is None or conv.id != msg.conversation_id:
            if conv is not None:
                self.stats["empty_conversations"] += 1
            self.ctx.warn(
                "messages arrived without their Conversation record; they are written as "
                "group conversations named by conversation_id",
                key="everos-implicit-conversation",
            )
            conv = Conversation(id=msg.conversation_id)
        self.cur = self._start(conv)
        return self.cur

    # -- messages --------------------------------------------------------------------------------

    def _message(self, msg: Message) -> None:
        if self._fast(msg):
            return
        opt = self.opt
        st = self._state_for(msg)
        if not msg.active:
            self._drop("inactive branches (the destination keeps the active path only)")
            return
        if msg.type == "reasoning" and not opt.include_reasoning:
            self._drop("reasoning messages (-O include_reasoning=true)")
            return
        role = map_role(msg.role, opt.system_role, opt.tool_role)
        if role == "skip":
            option = "system_role" if msg.role == "system" else "tool_role"
            self._drop(f"{msg.role} messages (-O {option}=user or assistant)")
            return
        content: Any
        content, why = content_text(msg, opt.empty_messages)
        if content is None:
            if opt.empty_messages == "reject":
                self._reject(msg, "empty message: EverOS refuses empty content")
            else:
                self._drop("empty messages (-O empty_messages=placeholder to send them)")
            return
        items = msg.extensions.get(NS + "content")
        if isinstance(items, list) and items and content_items_text(items) == msg.text:
            content = items
        elif why == "attachments":
            self.stats["attachment_only_messages"] += 1
            self.ctx.loss("attachments", "attachment-only messages are sent as their names", 0)
        elif why == "placeholder":
            self.stats["placeholder_messages"] += 1
        ts = msg.timestamp
        if ts is None:
            if opt.missing_time == "reject":
                self._reject(msg, "no timestamp (-O missing_time=nearest borrows a neighbour's)")
                return
            ts = st.last_ts or opt.default_time
            if ts is None:  # a leading message without time: wait for the next timed one
                st.pending.append((msg, role, content))
                return
            self._send(st, msg, role, content, ts, filled=True)
            return
        if st.pending:
            pending, st.pending = st.pending, []
            for p_msg, p_role, p_content in pending:
                self._send(st, p_msg, p_role, p_content, ts, filled=True)
        self._send(st, msg, role, content, ts, filled=False)

    def _fast(self, msg: Message) -> bool:
        """Write the common message in one step, or return False for :meth:`_send`'s full path.

        A million-message channel is almost all "a timed, active, plain user or assistant
        message with text and a sender, in the open group document": this path writes exactly
        the bytes the full path would for it, in a third of the calls. Anything else (the first
        message of a document, personal mode, empty text, a ``gen_`` or repeated id, an old
        instant, ``everos:`` extensions, the document limit) takes the full path."""
        st = self.cur
        if (
            st is None
            or st.fh is None
            or st.mode != "group"
            or st.pending
            or st.conv_id != msg.conversation_id
            or msg.type != "message"
            or not msg.active
        ):
            return False
        role = msg.role
        text = msg.text
        ts = msg.timestamp
        sender = msg.sender_id
        if role not in _PLAIN_ROLES or not text or ts is None or not sender:
            return False
        ext = msg.extensions
        if ext and (_CONTENT_KEY in ext or _FIELDS_KEY in ext):
            return False
        mid = msg.id
        if mid in st.seen or mid in st.seen_old or mid.startswith(GEN) or sender.startswith(GEN):
            return False
        delta = ts - EPOCH
        ms = (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
        last = st.last_ms
        if ms < SECONDS_BELOW or (last is not None and ms < last):
            return False
        limit = self.max_messages
        if limit is not None and st.count + 1 >= limit:
            return False
        if delta.microseconds % 1000:
            self.stats["sub_millisecond_timestamps"] += 1
        name = msg.sender_name
        if name is None:
            name = st.names.get(sender)
        item: dict[str, Any] = {"message_id": mid, "role": role, "sender_id": sender}
        if name is not None:
            item["sender_name"] = name
        item["timestamp"] = ms
        item["content"] = text
        st.fh.write(b",\n" + dumps(item))
        st.count += 1
        seen = st.seen
        seen.add(mid)
        if len(seen) >= SEEN_WINDOW:
            st.seen_old, st.seen = seen, set()
        st.last_ms = ms
        st.last_ts = ts
        return True

    def _send(
        self, st: _ConvState, msg: Message, role: str, content: Any, ts: datetime, filled: bool
    ) -> None:
        opt = self.opt
        if filled:
            self.stats["filled_timestamps"] += 1
            self.ctx.loss("timestamp", "missing times borrowed from a neighbouring message")
        ms = timeutil.to_epoch_ms(ts)
        stamp = ms
        if ms < SECONDS_BELOW:
            # The server reads values below 1e12 as seconds, so an instant before 2001-09-09 is
            # sent in seconds: the instant survives, only its sub-second part is lost.
            if ms < 1000:
                self._reject(
                    msg,
                    f"timestamp {timeutil.format_iso(ts)} is within a second of the Unix epoch, "
                    "which EverOS cannot represent",
                )
                return
            stamp = ms // 1000
            self.stats["timestamps_sent_in_seconds"] += 1
            if ms % 1000:
                self.ctx.loss("timestamp", "instants before 2001-09-09 are sent in whole seconds")
        if ts.microsecond % 1000:
            self.stats["sub_millisecond_timestamps"] += 1
        message_id = safe_id(msg.id)
        if message_id in st.seen or message_id in st.seen_old:
            self._reject(msg, f"duplicate message_id {message_id!r} in this conversation")
            return
        if message_id != msg.id:
            self._rewritten("message_id", msg.id)
        item: dict[str, Any] = {"message_id": message_id, "role": role}
        if st.mode == "group":
            sender = msg.sender_id or opt.unknown_sender_id
            if not sender and opt.missing_sender == "role":
                sender = msg.role
                self.stats["role_as_sender_id"] += 1
                self.ctx.warn(
                    "group messages without a sender are sent with their role as sender_id "
                    "(-O unknown_sender_id=ID names one, -O missing_sender=reject refuses them)",
                    key="everos-role-sender",
                )
            if not sender:
                self._reject(
                    msg,
                    "group messages need a sender_id (-O unknown_sender_id=ID to use one)",
                )
                return
            item["sender_id"] = self._safe(sender, "sender_id")
        elif role == "user":
            sender = msg.sender_id
            if (
                st.owner is None
                and msg.role == "user"
                and sender
                and safe_id(sender) not in st.assistant_senders
            ):
                st.owner = self._safe(sender, "user_id")
            elif sender and st.owner is not None and safe_id(sender) != st.owner:
                self.ctx.loss(
                    "sender_id",
                    "personal documents attribute every user message to user_id",
                    example=msg.id,
                )
        elif msg.sender_id:
            sender = self._safe(msg.sender_id, "sender_id")
            if st.owner is not None and sender == st.owner:
                self.ctx.loss(
                    "sender_id",
                    "an assistant message cannot have user_id as sender_id",
                    example=msg.id,
                )
            else:
                item["sender_id"] = sender
                if st.owner is None:
                    st.assistant_senders.add(sender)
        name = msg.sender_name
        if name is None and msg.sender_id is not None:
            name = st.names.get(msg.sender_id)
        if name is not None:
            item["sender_name"] = name
        item["timestamp"] = stamp
        item["content"] = content
        _extra(item, msg.extensions.get(NS + "fields"), MSG_KEYS)
        if msg.type != "message":
            self.ctx.loss("type", "events and tool turns are sent as plain messages")
        if msg.role != role:
            self.stats[f"{msg.role}_as_{role}"] += 1
            self.ctx.loss("role", f"{msg.role} messages sent as {role}", 0)
        if st.last_ms is not None and ms < st.last_ms:
            self.ctx.warn(
                f"conversation {st.conv.id!r}: messages are not in chronological order "
                "(EverOS detects conversation boundaries from the order)",
                key=f"everos-order-{st.conv.id}",
            )
        self._emit(st, item)
        st.seen.add(message_id)
        if len(st.seen) >= SEEN_WINDOW:
            st.seen_old, st.seen = st.seen, set()
        st.last_ms = ms
        st.last_ts = ts

    def _safe(self, value: str, what: str) -> str:
        out = safe_id(value)
        if out != value:
            self._rewritten(what, value)
        return out

    def _rewritten(self, what: str, value: str) -> None:
        self.stats["rewritten_ids"] += 1
        self.ctx.warn(
            f"ids starting with 'gen_' (and session_id '-1') are reserved by EverOS; {what} "
            f"{value!r} and any others are sent with a 'memshift_' prefix",
            key="everos-gen-ids",
        )

    # -- documents -------------------------------------------------------------------------------

    def _emit(self, st: _ConvState, item: dict[str, Any]) -> None:
        if st.fh is None:
            self._open_document(st)
            assert st.fh is not None
            st.fh.write(b"\n")
        else:
            st.fh.write(b",\n")
        st.fh.write(jsonio.dumps(item))
        st.count += 1
        limit = self.opt.max_messages
        if limit is not None and st.count >= limit:
            self._close_document(st)  # closed at once, so the owner is fixed at a known point

    def _open_document(self, st: _ConvState) -> None:
        st.part += 1
        if st.part == 2:
            self.stats["split_conversations"] += 1
        st.cm = self.sink.document(f"{st.doc_id}.json", part=st.part)
        st.fh = st.cm.__enter__()
        st.count = 0
        self.stats["documents"] += 1
        if st.mode == "group":
            head: dict[str, Any] = {"group_id": st.doc_id}
            meta = group_meta(st.conv)
            if meta:
                head["group_meta"] = meta
            _extra(head, st.conv.extensions.get(NS + "fields"), GROUP_OWN)
            st.fh.write(jsonio.dumps(head)[:-1] + b',"messages":[')
        else:
            st.fh.write(b'{"messages":[')

    def _close_document(self, st: _ConvState) -> None:
        assert st.fh is not None and st.cm is not None
        if st.mode == "group":
            st.fh.write(b"\n]}\n")
        else:
            tail: dict[str, Any] = {"user_id": self._freeze_owner(st)}
            if self.opt.sessions:
                tail["session_id"] = st.doc_id
            _extra(tail, st.conv.extensions.get(NS + "fields"), PERSONAL_OWN)
            st.fh.write(b"\n]," + jsonio.dumps(tail)[1:] + b"\n")
        if st.count > MAX_MESSAGES:
            self.stats["documents_over_500"] += 1
            self.ctx.warn(
                f"some documents hold more than {MAX_MESSAGES} messages, the most the EverOS API "
                "takes per call: send them in chunks or write with -O max_messages=500",
                key="everos-over-limit",
            )
        cm, st.cm, st.fh = st.cm, None, None
        cm.__exit__(None, None, None)

    def _freeze_owner(self, st: _ConvState) -> str:
        """The owner of a personal conversation, fixed when its first document closes."""
        if st.owner is None:
            st.owner, fell_back = fallback_owner(st.conv, st.assistant_senders)
            if fell_back:
                self.ctx.warn(
                    "personal conversations without an identifiable user get their conversation "
                    "id as user_id; name the owner with -O user_id=ID",
                    key="everos-owner-fallback",
                )
        return st.owner

    def _report(self) -> None:
        notes = {k: v for k, v in sorted(self.stats.items()) if v}
        if notes:
            self.ctx.note("everos", notes)


def group_meta(conv: Conversation) -> dict[str, Any]:
    """``group_meta`` for a conversation: its name and description, then any other keys a read
    document carried."""
    meta: dict[str, Any] = {}
    if conv.name is not None:
        meta["name"] = conv.name
    if conv.description is not None:
        meta["description"] = conv.description
    extra = conv.extensions.get(NS + "group_meta")
    if isinstance(extra, dict):
        for k, v in extra.items():
            meta.setdefault(k, v)
    return meta


def _extra(target: dict[str, Any], fields: Any, own: frozenset[str]) -> None:
    """Members a read document had beyond the API's own, written back where they were."""
    if isinstance(fields, dict):
        for k, v in fields.items():
            if k not in own:
                target.setdefault(k, v)
