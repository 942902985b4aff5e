"""Reading Slack: a workspace export (directory or zip), a channel folder, one day file, an API
page, stdin, or a Python list of message dicts.

Memory stays flat: users.json and the conversation index files are loaded whole (they are small),
every day file is parsed item by item, and per channel only the set of thread roots (to count
replies whose root is absent) and at most two day files' messages are kept: each conversation is
put in time order here (``_order``), so the core does not have to sort whole channels. A reply in
another day file than its root needs nothing else: ``thread_id`` is just the root's ``ts``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import chain
from pathlib import Path
from typing import IO, Any

from memshift import Context, jsonio
from memshift.errors import Location, ReadError
from memshift.model import AnyRecord, Conversation, Message, Participant, Provenance
from memshift.ordering import ConversationSorter
from memshift.sources import Source
from memshift.timeutil import TimestampError

from ._common import (
    FOLDER_KEY,
    INDEX_FILES,
    NS,
    parse_epoch,
    pick_name,
)
from ._convert import Bad, Converter, Users, jtype, scrub
from ._options import SlackReadOptions
from ._order import TimeOrder

_DAY_FILE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[-.].*)?\.json")
_INDEX_NAMES = frozenset(name for name, _ in INDEX_FILES)
_REASONS = {
    "private": "private channels (-O include_private=true)",
    "mpim": "group DMs (-O include_mpims=true)",
    "dm": "direct messages (-O include_dms=true)",
}
_ID_LIKE = re.compile(r"[CGD][A-Z0-9]{8,}")
_PROFILE_NAMES = frozenset(f"item.user_profile.{k}" for k in ("display_name", "real_name", "name"))
_NOT_SELECTED = "conversations not selected (-O channels=[...])"
_UNLISTED = "folders no index file lists (-O include_unlisted=true)"


def _day_key(member: str) -> str:
    # "2024-01-15" sorts before "2024-01-15-2": compare names without the suffix.
    return member[:-5] if member.endswith(".json") else member


# -- the whole read -------------------------------------------------------------------------


class _Threads:
    """Roots seen and replies waiting for theirs, per conversation; O(threads), not O(messages)."""

    __slots__ = ("pending", "roots")

    def __init__(self) -> None:
        self.roots: set[str] = set()
        self.pending: dict[str, int] = {}

    def see(self, msg: Message) -> None:
        tid = msg.thread_id
        if self.pending and msg.id in self.pending:
            del self.pending[msg.id]
            self.roots.add(msg.id)
        if tid is None:
            return
        if tid == msg.id:
            self.roots.add(tid)
        elif tid not in self.roots:
            self.pending[tid] = self.pending.get(tid, 0) + 1


class Reader:
    def __init__(self, source: Source, options: SlackReadOptions, ctx: Context) -> None:
        self.source = source
        self.options = options
        self.ctx = ctx
        self.users = Users(tuple(options.name_precedence))
        self.channel_names: dict[str, str] = {}
        self.conv = Converter(self.users, self.channel_names, options)
        self.orphans = 0
        self.orphan_threads = 0
        #: Messages passed on out of time order (see ``_order``).
        self.late = 0
        self.left_out: Counter[str] = Counter()

    # -- entry ------------------------------------------------------------------------------

    def run(self) -> Iterator[AnyRecord]:
        self._option_users()
        kind = self.source.kind
        if kind == "objects":
            yield from self._objects()
        elif self.source.is_container:
            yield from self._container()
        else:
            yield from self._single()
        self._finish()

    def _option_users(self) -> None:
        users = self.options.users
        if users is None:
            return
        if isinstance(users, str):
            path = Path(users)
            try:
                with open(path, "rb") as fh:
                    data = jsonio.load(fh, Location(users))
            except OSError as exc:
                raise ReadError(f"cannot read users: {exc.strerror}", Location(users)) from None
            self.users.add(data, self.ctx, Location(users), override=True)
        else:
            self.users.add(users, self.ctx, Location("users option"), override=True)

    def _finish(self) -> None:
        ctx = self.ctx
        if self.orphans:
            ctx.warn(
                f"{self.orphans} thread replies in {self.orphan_threads} threads whose root "
                "message is not in the input (kept; thread_id is the root's ts)"
            )
            ctx.note("slack.orphan_replies", self.orphans)
        gone = self.conv.files_gone
        if gone:
            detail = ", ".join(f"{n} {mode}" for mode, n in sorted(gone.items()))
            ctx.warn(
                f"{sum(gone.values())} files are no longer downloadable from Slack ({detail}); "
                "kept as attachments with slack:mode"
            )
            ctx.note("slack.files_unavailable", dict(sorted(gone.items())))
        unresolved = (self.users.unresolved | self.conv.renderer.unresolved) - self.users.named
        if unresolved:
            shown = ", ".join(sorted(unresolved)[:5])
            more = f" and {len(unresolved) - 5} more" if len(unresolved) > 5 else ""
            ctx.warn(
                f"{len(unresolved)} user or bot ids have no name in users.json or the messages "
                f"({shown}{more}); they are kept as ids"
            )
            ctx.note("slack.unresolved_ids", len(unresolved))
        if self.left_out:
            ctx.note("slack.conversations_left_out", dict(sorted(self.left_out.items())))
        if self.late:
            ctx.note("slack.out_of_order", self.late)

    # -- messages ---------------------------------------------------------------------------

    def _one(
        self,
        raw: Any,
        i: int,
        conv_id: str,
        member: str | None,
        seen: dict[str, int],
        prefix: str = "",
    ) -> Message | None:
        try:
            msg = self.conv.message(raw, conv_id)
        except Bad as bad:
            where = f"{prefix}[{i}]" + (f".{bad.path}" if bad.path else "")
            record = scrub(raw) if self.options.strip_tokens else raw
            self.ctx.reject(record, bad.reason, self.source.location(member, where))
            return None
        first = seen.get(msg.id)
        if first is not None:
            if msg.extensions.get(NS + "subtype") == "thread_broadcast":
                self.ctx.skip("thread_broadcast copies (one message listed twice, kept once)")
                return None
            record = scrub(raw) if self.options.strip_tokens else raw
            self.ctx.reject(
                record,
                f"duplicate ts {msg.id!r} (the same id is at [{first}])",
                self.source.location(member, f"{prefix}[{i}].ts"),
            )
            return None
        seen[msg.id] = i
        return msg

    def _day_files(self, conv_id: str, members: list[str]) -> Iterator[Message]:
        threads = _Threads()
        if self.options.sort:
            files = (self._day_file(conv_id, m, threads) for m in members)
            yield from _sorted(chain.from_iterable(files))
        else:
            order = TimeOrder()
            for member in members:
                yield from order.file(self._day_file(conv_id, member, threads))
            yield from order.finish()
            self._late(conv_id, order)
        self._orphans(threads)

    def _day_file(self, conv_id: str, member: str, threads: _Threads) -> Iterator[Message]:
        loc = self.source.location(member)
        with self.source.open(member) as raw_fh:
            fh = jsonio.skip_bom(raw_fh)
            top = _top_level(fh)
            if top != "array":
                raise ReadError(
                    "expected a JSON array of messages, got "
                    + ("an empty file" if top is None else top),
                    loc,
                )
            yield from self._array(fh, loc, conv_id, threads, member)

    def _in_order(self, conv_id: str, messages: Iterable[Message]) -> Iterator[Message]:
        """One array of messages (a lone day file, an API page, a list), sorted whole: there is
        no later file to hold it back for."""
        if self.options.sort:
            yield from _sorted(messages)
            return
        order = TimeOrder()
        yield from order.file(messages)
        yield from order.finish()
        self._late(conv_id, order)

    def _late(self, conv_id: str, order: TimeOrder) -> None:
        if order.late:
            self.late += order.late
            self.ctx.warn(
                f"conversation {conv_id}: {order.late} message(s) are earlier than messages in "
                "an earlier day file and could not be put back in time order (a hand-edited or "
                "merged export?); they are kept where they are (-O sort=true sorts whole "
                "conversations)",
                key=f"slack-late:{conv_id}",
            )

    def _orphans(self, threads: _Threads) -> None:
        if threads.pending:
            self.orphans += sum(threads.pending.values())
            self.orphan_threads += len(threads.pending)

    def _count(self, members: list[str]) -> int:
        """Messages in day files that are left out, counted without building them."""
        n = 0
        for member in members:
            loc = self.source.location(member)
            try:
                with self.source.open(member) as fh:
                    for prefix, event, _ in jsonio.iter_events(fh, loc):
                        if prefix == "item" and event in (
                            "start_map",
                            "start_array",
                            "string",
                            "number",
                            "boolean",
                            "null",
                        ):
                            n += 1
            except ReadError as exc:
                self.ctx.warn(f"{exc} (in a conversation left out; its count may be low)")
        return n

    # -- conversations ----------------------------------------------------------------------

    def _conversation(
        self, entry: dict[str, Any], kind: str | None, where: Location
    ) -> Conversation:
        rest = dict(entry)
        cid = rest.pop("id")
        name = rest.get("name")
        if isinstance(name, str) and name:
            del rest["name"]
        else:
            name = None
        created_at = None
        created = rest.get("created")
        if created is not None and not isinstance(created, bool):
            try:
                created_at = parse_epoch(created)
                del rest["created"]
            except TimestampError as exc:
                self.ctx.warn(f"{where}: created: {exc}; kept as slack:created")
        description = None
        purpose = rest.get("purpose")
        if isinstance(purpose, dict):
            value = purpose.get("value")
            if isinstance(value, str) and value:
                description = value
                purpose = {k: v for k, v in purpose.items() if k != "value"}
                if purpose:
                    rest["purpose"] = purpose
                else:
                    del rest["purpose"]
        participants: tuple[Participant, ...] = ()
        members = rest.get("members")
        if isinstance(members, list) and all(isinstance(m, str) for m in members):
            del rest["members"]
            participants = tuple(self.users.participant(m) for m in dict.fromkeys(members))
        rest.pop(FOLDER_KEY, None)
        ext: dict[str, Any] = {NS + k: v for k, v in rest.items()}
        if kind:
            ext[NS + "kind"] = kind
        return Conversation(
            id=cid,
            type="group",
            name=name,
            description=description,
            created_at=created_at,
            participants=participants,
            provenance=Provenance(format="slack", source_id=cid),
            extensions=ext,
        )

    def _bare_conversation(
        self, cid: str, participants: tuple[Participant, ...] = ()
    ) -> Conversation:
        """A conversation no index describes; a name that is really an id is not a name."""
        return Conversation(
            id=cid,
            type="group",
            name=None if _ID_LIKE.fullmatch(cid) else cid,
            participants=participants,
            provenance=Provenance(format="slack", source_id=cid),
        )

    # -- containers -------------------------------------------------------------------------

    def _container(self) -> Iterator[AnyRecord]:
        source = self.source
        members = source.members()
        root = _root(members)
        folders: dict[str, list[str]] = {}
        tops: set[str] = set()
        for m in members:
            if root and not m.startswith(root):
                continue
            rel = m[len(root) :]
            head, slash, tail = rel.partition("/")
            if not slash:
                tops.add(rel)
            elif "/" not in tail and tail.endswith(".json") and not head.startswith(("__", ".")):
                folders.setdefault(head, []).append(m)
        for files in folders.values():
            files.sort(key=_day_key)
        indexes = [(n, k) for n, k in INDEX_FILES if n in tops]
        if not indexes and not folders and any(_DAY_FILE.fullmatch(t) for t in tops):
            # A channel folder on its own: its day files are the members.
            day_files = sorted((root + t for t in tops if t.endswith(".json")), key=_day_key)
            path = source.path
            yield from self._lone_channel(
                day_files, path.name if path is not None else None, _sibling_root(path, 1)
            )
            return
        for name in ("users.json", "org_users.json"):
            if name in tops:
                self.users.add(self._load(root + name), self.ctx, self.source.location(root + name))
        loaded = [(n, k, self._load(root + n)) for n, k in indexes]
        entries = self._entries(loaded)
        selected = set(self.options.channels)
        plan: list[tuple[dict[str, Any], str | None, Location, str | None, str | None]] = []
        claimed: set[str] = set()
        for entry, kind, where in entries:
            folder = _folder_of(entry, folders, claimed)
            if folder is not None:
                claimed.add(folder)
            reason = self._excluded(entry, kind, selected)
            if reason is None and isinstance(entry.get("name"), str) and entry["name"]:
                # Only conversations being read lend their names to #channel links: a private
                # channel's name must not leak into a public message's text.
                self.channel_names.setdefault(entry["id"], entry["name"])
            plan.append((entry, kind, where, folder, reason))
        for entry, kind, where, folder, reason in plan:
            files = folders.get(folder, []) if folder else []
            if reason:
                self.left_out[_label(reason)] += 1
                self.ctx.skip(reason, self._count(files))
                continue
            conv = self._conversation(entry, kind, where)
            yield conv
            yield from self._day_files(conv.id, files)
        unlisted = [f for f in sorted(folders) if f not in claimed]
        for folder in unlisted:
            if indexes and not self.options.include_unlisted:
                self.left_out[_label(_UNLISTED)] += 1
                self.ctx.skip(_UNLISTED, self._count(folders[folder]))
                continue
            if selected and folder not in selected:
                self.left_out[_label(_NOT_SELECTED)] += 1
                self.ctx.skip(_NOT_SELECTED, self._count(folders[folder]))
                continue
            yield self._bare_conversation(folder, self._posters(self._scan(folders[folder])))
            yield from self._day_files(folder, folders[folder])
        ignored = sorted(
            t
            for t in tops
            if t.endswith(".json")
            and t not in _INDEX_NAMES
            and t not in ("users.json", "org_users.json")
        )
        if ignored:
            self.ctx.note("slack.ignored_files", ignored)

    def _entries(
        self, loaded: list[tuple[str, str | None, Any]]
    ) -> list[tuple[dict[str, Any], str | None, Location]]:
        out: list[tuple[dict[str, Any], str | None, Location]] = []
        seen: set[str] = set()
        for name, kind, data in loaded:
            if not isinstance(data, list):
                raise ReadError(
                    f"expected a JSON array of conversations, got {jtype(data)}",
                    self.source.location(name),
                )
            for i, entry in enumerate(data):
                where = self.source.location(name, f"[{i}]")
                cid = entry.get("id") if isinstance(entry, dict) else None
                problem = None
                if not isinstance(entry, dict):
                    problem = f"expected a conversation object, got {jtype(entry)}"
                elif not isinstance(cid, str) or not cid:
                    problem = "id: missing"
                elif cid in seen:
                    problem = f"id: duplicate conversation id {cid!r}"
                if problem is not None:
                    if self.ctx.on_error == "strict":
                        raise ReadError(problem, where)
                    self.ctx.warn(f"{where}: {problem}; entry ignored")
                    continue
                assert isinstance(entry, dict) and isinstance(cid, str)
                seen.add(cid)
                entry_kind = kind
                if kind is None:
                    if entry.get("is_im") is True:
                        entry_kind = "dm"
                    elif entry.get("is_mpim") is True:
                        entry_kind = "mpim"
                    elif entry.get("is_private") is True or entry.get("is_group") is True:
                        entry_kind = "private"
                out.append((entry, entry_kind, where))
        return out

    def _excluded(self, entry: dict[str, Any], kind: str | None, selected: set[str]) -> str | None:
        o = self.options
        if kind == "private" and not o.include_private:
            return _REASONS["private"]
        if kind == "mpim" and not o.include_mpims:
            return _REASONS["mpim"]
        if kind == "dm" and not o.include_dms:
            return _REASONS["dm"]
        if selected and entry.get("id") not in selected and entry.get("name") not in selected:
            return _NOT_SELECTED
        return None

    def _load(self, member: str) -> Any:
        with self.source.open(member) as fh:
            return jsonio.load(fh, self.source.location(member))

    # -- a channel without its export ---------------------------------------------------------

    def _sibling_index(
        self, root: Path | None
    ) -> list[tuple[dict[str, Any], str | None, Location]]:
        """users.json and the index files of the export a lone day file or folder sits in."""
        if root is None:
            return []
        for name in ("users.json", "org_users.json"):
            path = root / name
            if path.is_file():
                with open(path, "rb") as fh:
                    self.users.add(
                        jsonio.load(fh, Location(str(path))), self.ctx, Location(str(path))
                    )
        loaded = []
        for name, kind in INDEX_FILES:
            path = root / name
            if path.is_file():
                with open(path, "rb") as fh:
                    loaded.append((name, kind, jsonio.load(fh, Location(str(path)))))
        return self._entries(loaded)

    def _lone_conversation(
        self, folder: str | None, root: Path | None, files: Sequence[str | None]
    ) -> Conversation:
        want = self.options.channel or folder or "channel"
        entries = self._sibling_index(root)
        for entry, _kind, _where in entries:
            if entry.get("name") and entry.get("id"):
                self.channel_names.setdefault(entry["id"], entry["name"])
        for entry, kind, where in entries:
            if want in (entry.get("id"), entry.get("name")):
                return self._conversation(entry, kind, where)
        return self._bare_conversation(want, self._posters(self._scan(files)))

    def _lone_channel(
        self, day_files: list[str], folder: str | None, root: Path | None
    ) -> Iterator[AnyRecord]:
        conv = self._lone_conversation(folder, root, day_files)
        yield conv
        yield from self._day_files(conv.id, day_files)

    def _single(self) -> Iterator[AnyRecord]:
        source = self.source
        path = source.path
        fname = path.name if path is not None else None
        if fname in _INDEX_NAMES:
            yield from self._index_file(fname)
            return
        day = fname is not None and _DAY_FILE.fullmatch(fname) is not None
        with source.open() as raw_fh:
            fh = jsonio.skip_bom(raw_fh)
            top = _top_level(fh)
            loc = source.location()
            if top == "array":
                folder = (
                    path.parent.name
                    if day and path is not None
                    else (path.stem if path is not None else None)
                )
                root = _sibling_root(path, 2) if day else None
                rereadable: list[str | None] = [None] if source.kind == "file" else []
                conv = self._lone_conversation(folder, root, rereadable)
                yield conv
                threads = _Threads()
                yield from self._in_order(conv.id, self._array(fh, loc, conv.id, threads))
                self._orphans(threads)
                return
            if top == "object":
                data = jsonio.load(fh, loc)
                stem = path.stem if path is not None else None
                yield from self._loaded(data, stem)
                return
            raise ReadError(
                "expected a JSON array of Slack messages (a day file) or a message object, got "
                + ("an empty file" if top is None else "something else"),
                loc,
            )

    def _index_file(self, fname: str) -> Iterator[AnyRecord]:
        """A lone channels.json/groups.json/mpims.json/dms.json: its conversations, which the
        user named explicitly, so the include options do not apply."""
        path = self.source.path
        assert path is not None
        root = path.parent
        for name in ("users.json", "org_users.json"):
            if (root / name).is_file():
                with open(root / name, "rb") as fh:
                    where = Location(str(root / name))
                    self.users.add(jsonio.load(fh, where), self.ctx, where)
        kind = dict(INDEX_FILES)[fname]
        with self.source.open() as fh:
            data = jsonio.load(fh, self.source.location())
        for entry, entry_kind, where in self._entries([(fname, kind, data)]):
            if entry.get("name"):
                self.channel_names.setdefault(entry["id"], entry["name"])
            yield self._conversation(entry, entry_kind, where)

    # -- Python objects -----------------------------------------------------------------------

    def _objects(self) -> Iterator[AnyRecord]:
        yield from self._loaded(self.source.objects, None)

    def _loaded(self, data: Any, stem: str | None) -> Iterator[AnyRecord]:
        prefix = ""
        if isinstance(data, dict):
            if isinstance(data.get("messages"), list):
                items: Iterable[Any] = data["messages"]
                prefix = "messages"
            elif "ts" in data:
                items = [data]
            else:
                raise ReadError(
                    "expected Slack messages: a list of message dicts, one message (with 'ts'), "
                    "or an API page with 'messages'",
                    self.source.location(),
                )
        elif isinstance(data, (list, tuple)) or (
            isinstance(data, Iterable) and not isinstance(data, (str, bytes, Mapping))
        ):
            items = data
        else:
            raise ReadError(
                f"expected a list of Slack message dicts, got {jtype(data)}",
                self.source.location(),
            )
        cid = self.options.channel or stem or "channel"
        participants: tuple[Participant, ...] = ()
        if isinstance(items, (list, tuple)):
            participants = self._posters(
                (raw.get("user"), raw.get("user_profile")) for raw in items if isinstance(raw, dict)
            )
        yield self._bare_conversation(cid, participants)
        threads = _Threads()
        single = isinstance(data, dict) and prefix == ""
        yield from self._in_order(cid, self._items(items, cid, prefix, single, threads))
        self._orphans(threads)

    def _items(
        self, items: Iterable[Any], cid: str, prefix: str, single: bool, threads: _Threads
    ) -> Iterator[Message]:
        seen: dict[str, int] = {}
        for i, raw in enumerate(items):
            if single:
                try:
                    msg: Message | None = self.conv.message(raw, cid)
                except Bad as bad:
                    record = scrub(raw) if self.options.strip_tokens else raw
                    self.ctx.reject(
                        record, bad.reason, self.source.location(None, bad.path or None)
                    )
                    msg = None
            else:
                msg = self._one(raw, i, cid, None, seen, prefix)
            if msg is not None:
                threads.see(msg)
                yield msg

    def _array(
        self,
        fh: IO[bytes],
        loc: Location,
        cid: str,
        threads: _Threads,
        member: str | None = None,
    ) -> Iterator[Message]:
        """One JSON array of messages (a day file, an API page), as canonical messages."""
        seen: dict[str, int] = {}
        for i, raw in enumerate(jsonio.iter_items(fh, "item", loc)):
            msg = self._one(raw, i, cid, member, seen)
            if msg is not None:
                threads.see(msg)
                yield msg

    def _scan(self, members: Sequence[str | None]) -> Iterator[tuple[Any, Any]]:
        """``(user, user_profile names)`` of each message in day files, from parser events (no
        message is built): who posted, for a conversation no index lists members of."""
        for member in members:
            loc = self.source.location(member)
            user: Any = None
            prof: dict[str, Any] = {}
            try:
                with self.source.open(member) as fh:
                    for prefix, event, value in jsonio.iter_events(fh, loc):
                        if prefix == "item.user":
                            user = value
                        elif prefix in _PROFILE_NAMES:
                            prof[prefix[len("item.user_profile.") :]] = value
                        elif prefix == "item" and event == "end_map":
                            yield user, prof or None
                            user, prof = None, {}
            except ReadError:
                return  # the reading pass reports it, with the record's location

    def _posters(self, pairs: Iterable[tuple[Any, Any]]) -> tuple[Participant, ...]:
        """Everyone who posted, in order of first message, resolved through users.json or, for
        people it does not list, their ``user_profile``."""
        found: dict[str, Participant] = {}
        precedence = self.users.precedence
        for uid, prof in pairs:
            if not isinstance(uid, str) or not uid or uid in found:
                continue
            if uid not in self.users.raw and isinstance(prof, dict):
                names = [prof.get(k) for k in ("display_name", "real_name", "name")]
                display, real, handle = (v if isinstance(v, str) and v else None for v in names)
                found[uid] = Participant(
                    id=uid,
                    name=pick_name(display, real, handle, precedence),
                    display_name=display,
                    real_name=real,
                    nick=handle,
                )
            else:
                found[uid] = self.users.participant(uid)
        return tuple(found.values())


def _sorted(messages: Iterable[Message]) -> Iterator[Message]:
    """One conversation sorted whole by the core's spilling sorter (``-O sort=true``)."""
    for record in ConversationSorter()(messages):
        assert isinstance(record, Message)
        yield record


def _label(reason: str) -> str:
    """``"private channels (-O include_private=true)"`` -> ``"private channels"``."""
    return reason.split(" (", 1)[0]


def _top_level(fh: IO[bytes]) -> str | None:
    peek = getattr(fh, "peek", None)
    head = bytes(peek(256)) if peek is not None else b""
    return jsonio.top_level_type(head[:256])


def _root(members: list[str]) -> str:
    """The folder holding the export inside a container (``""`` when it is the top)."""
    tops = {m for m in members if "/" not in m}
    if tops & (_INDEX_NAMES | {"users.json", "org_users.json"}):
        return ""
    found = {
        m.split("/", 1)[0] + "/"
        for m in members
        if m.count("/") == 1
        and m.split("/", 1)[1] in ("channels.json", "users.json")
        and not m.startswith("__")
    }
    return found.pop() if len(found) == 1 else ""


def _folder_of(
    entry: dict[str, Any], folders: Mapping[str, list[str]], claimed: set[str]
) -> str | None:
    """The folder of an index entry: the one memshift recorded, else the channel name, else the
    id (DMs), never a folder an earlier entry took."""
    hint = entry.get(FOLDER_KEY)
    if isinstance(hint, str):
        return hint if hint in folders and hint not in claimed else None
    for key in ("name", "id"):
        value = entry.get(key)
        if isinstance(value, str) and value in folders and value not in claimed:
            return value
    return None


def _sibling_root(path: Path | None, up: int) -> Path | None:
    if path is None:
        return None
    root = path.resolve()
    for _ in range(up):
        root = root.parent
    return root
