"""``discord``: DiscordChatExporter JSON (read and write) and Discord's own data package (read).

DCE exports carry whole channels with every author, reply, reaction and embed; Discord's data
package ("Request all of my data") carries only the account owner's messages. Both read into the
same canonical shape, and the writer produces DCE JSON, one file per conversation, that DCE-based
tools (and this reader) accept.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Literal

from pydantic import Field

from memshift import Adapter, Context, Feature, Options, Sniff, hookimpl
from memshift.model import AnyRecord, Conversation, Message
from memshift.sinks import Sink
from memshift.sources import Source

from . import _gdpr, _project
from ._read import DceReader, looks_like_dce
from ._write import DceWriter

NameKey = Literal["nickname", "username"]


class DiscordReadOptions(Options):
    name_precedence: tuple[NameKey, ...] = Field(default=("nickname", "username"), min_length=1)
    """Which name becomes a person's ``name``/``sender_name``, first present wins: ``nickname``
    (DCE's displayed name: server nickname, else global display name, else username; in a data
    package the owner's global display name) and ``username``. Every name is kept either way."""
    collect_participants: bool = True
    """List every message author on the Conversation (a byte-level pre-scan of each file, 5-15 %
    of a plain parse). Off: participants stay empty and the first message of each author carries
    the full user object instead. Streamed input (stdin) is never pre-scanned, nor is a file whose
    destination does not use participants (EverOS group documents)."""
    dedupe: bool = True
    """Drop copies of a message (same id at the same instant) that overlapping exports of one
    channel, or a hand-edited file, contain; the copy with the latest edit is kept."""
    sort: bool = False
    """Sort every file's messages by time (in bounded memory, spilling to disk). Off, files are
    trusted to be chronological, as DCE writes them; a file exported newest first (``--reverse``)
    is recognised and sorted anyway, and a message that goes back in time is reported."""
    owner_id: str | None = None
    """Data package only: the account owner's user id, when ``account/user.json`` is missing
    (otherwise messages are attributed to the placeholder sender ``@me``, with a warning)."""


class DiscordWriteOptions(Options):
    indent: bool = True
    """Indent the JSON as DiscordChatExporter does; off writes compact JSON (about 30 % smaller)."""


class DiscordAdapter(Adapter):
    name = "discord"
    aliases = ("dce", "discordchatexporter", "discord-package")
    description = "Discord: DiscordChatExporter JSON (read/write) and Discord's data package (read)"
    features = frozenset(
        {
            Feature.CONVERSATIONS,
            Feature.GROUP,
            Feature.CONVERSATION_NAMES,
            Feature.DESCRIPTIONS,
            Feature.PARTICIPANTS,
            Feature.SENDER_NAMES,
            Feature.REPLIES,
            Feature.REACTIONS,
            Feature.EDITS,
            Feature.ATTACHMENTS,
            Feature.MENTIONS,
            Feature.EVENTS,
        }
    )
    file_extensions = (".json", ".csv")
    output_layout = "dir"
    ordered_read = True
    needs_order = True
    ReadOptions = DiscordReadOptions
    WriteOptions = DiscordWriteOptions

    # -- detection ---------------------------------------------------------------------------------

    def sniff(self, source: Source) -> Sniff:
        if source.kind == "objects":
            obj = source.objects
            docs = obj if isinstance(obj, list) else [obj]
            if docs and all(
                isinstance(d, dict) and isinstance(d.get("channel"), dict) and "messages" in d
                for d in docs
            ):
                return Sniff(0.9, "DiscordChatExporter documents (a channel object and messages)")
            return Sniff(0.0)
        if not source.is_container:
            head = source.head(65536)
            if looks_like_dce(head) and b'"guild"' in head:
                return Sniff(0.95, "a DiscordChatExporter export: top-level guild and channel")
            if looks_like_dce(head):
                return Sniff(0.7, "a JSON object with DiscordChatExporter's channel and messages")
            if source.kind == "file" and _gdpr.looks_like_messages_json(head):
                return Sniff(0.8, "a Discord data package messages.json (ID, Timestamp, Contents)")
            if source.kind == "file" and _gdpr.looks_like_messages_csv(head):
                return Sniff(0.85, "a Discord data package messages.csv (ID,Timestamp,Contents)")
            return Sniff(0.0)
        members = source.members()
        if _gdpr.is_package(members):
            return Sniff(0.95, "a Discord data package: messages/c<channel id>/messages.*")
        candidates = [m for m in members if m.lower().endswith(".json") and ".json_Files/" not in m]
        if not candidates:
            return Sniff(0.0)
        checked = candidates[:12]
        hits = sum(1 for m in checked if looks_like_dce(source.head(8192, m)))
        if hits == len(checked):
            return Sniff(0.9, f"a folder of DiscordChatExporter exports ({len(candidates)} JSON)")
        if hits:
            return Sniff(
                0.5, f"{hits} of {len(checked)} JSON files are DiscordChatExporter exports"
            )
        return Sniff(0.0)

    # -- the two directions ------------------------------------------------------------------------

    def read(self, source: Source, options: Any, ctx: Context) -> Iterator[AnyRecord]:
        if _is_package(source):
            yield from _gdpr.GdprReader(source, options, ctx).read()
        else:
            yield from DceReader(source, options, ctx).read()

    def write(self, records: Iterable[AnyRecord], sink: Sink, options: Any, ctx: Context) -> None:
        DceWriter(sink, options, ctx).write(records)

    # -- projection --------------------------------------------------------------------------------

    def project(self, records: Iterable[AnyRecord]) -> list[AnyRecord]:
        return _project.project(records)

    def project_record(self, record: AnyRecord) -> AnyRecord | None:
        if isinstance(record, Conversation):
            return _project.project([record])[0]
        if isinstance(record, Message):
            out = _project.project([record])
            return out[1] if len(out) > 1 else None
        return None


def _is_package(source: Source) -> bool:
    if source.is_container:
        return _gdpr.is_package(source.members())
    if source.kind == "file":
        head = source.head(65536)
        return not looks_like_dce(head) and (
            _gdpr.looks_like_messages_json(head) or _gdpr.looks_like_messages_csv(head)
        )
    return False


@hookimpl
def provide_adapters() -> list[type[Adapter]]:
    return [DiscordAdapter]
