"""``openai_chat``: OpenAI Chat Completions message lists and fine-tuning JSONL, both directions.

Accepted shapes: a JSON array of messages (one conversation), ``{"messages": [...]}`` (one
conversation), a JSON array of such objects, and JSON Lines with one ``{"messages": [...]}`` per
line (fine-tuning) or one message per line (one conversation). Nothing in these files has an id or
a time: conversation ids are hashes of the conversation's content, message ids ``<conv>-<index>``,
times stay empty (never the clock), and every record says so in ``openai_chat:synthetic_id``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Literal

from memshift import Adapter, Context, Feature, Options, Sniff, hookimpl
from memshift.model import AnyRecord
from memshift.sinks import Sink
from memshift.sources import Source

from ._messages import ROLES
from ._read import ChatReader, convert_conversation, first_object, start_time
from ._write import conversation_object, group, write_chat

__all__ = ["OpenAIChatAdapter"]

_NOT_CHAT_KEYS = frozenset({"created_at", "uuid", "timestamp", "sender", "message_id", "mapping"})
_MEMORY_PAYLOAD_KEYS = frozenset({"user_id", "agent_id", "run_id"})


class OpenAIChatReadOptions(Options):
    start_time: str | None = None
    """Give messages times, for destinations that need them: an ISO 8601 instant with an offset,
    or ``mtime`` (the input file's modification time). Message *i* of every conversation gets
    ``start_time + i * time_step``, flagged ``openai_chat:synthetic_time``. Unset (the default),
    messages have no time: the format has none."""
    time_step: float = 1.0
    """Seconds between synthetic message times (with ``start_time``)."""


class OpenAIChatWriteOptions(Options):
    layout: Literal["jsonl", "json", "messages"] = "jsonl"
    """``jsonl``: one ``{"messages": [...]}`` per line (fine-tuning); ``json``: a JSON array of
    such objects; ``messages``: a bare JSON array of messages per conversation, the first in the
    output file and each further one in a numbered sibling (``out.0002.json``)."""
    sanitize_names: bool = False
    """Rewrite ``name`` to the API's pattern (``[A-Za-z0-9_-]``, 64 characters) so the API
    accepts the file; names that differ only in other characters then merge."""


class OpenAIChatAdapter(Adapter):
    name = "openai_chat"
    aliases = ("openai-chat", "chat-completions", "openai-finetune")
    description = "OpenAI Chat Completions messages and fine-tuning JSONL (no ids, no times)"
    features = frozenset(
        {
            Feature.CONVERSATIONS,
            Feature.PERSONAL,
            Feature.GROUP,
            Feature.SENDER_NAMES,
            Feature.SYSTEM_ROLES,
            Feature.TOOL_CALLS,
            Feature.ATTACHMENTS,
        }
    )
    file_extensions = (".jsonl", ".json")
    output_layout = "file"
    ordered_read = True  # the list order is the conversation order
    needs_order = True
    ReadOptions = OpenAIChatReadOptions
    WriteOptions = OpenAIChatWriteOptions

    def sniff(self, source: Source) -> Sniff:
        if source.is_container or source.kind == "objects":
            return Sniff(0.0)
        obj = first_object(source.head())
        if not isinstance(obj, Mapping):
            return Sniff(0.0)
        msgs = obj.get("messages")
        if isinstance(msgs, list):
            if obj.keys() & _MEMORY_PAYLOAD_KEYS:
                return Sniff(0.4, "'messages' with user/agent ids (a memory add payload?)")
            first = msgs[0] if msgs else None
            role = first.get("role") if isinstance(first, Mapping) else None
            if first is None or (isinstance(role, str) and role in ROLES):
                return Sniff(0.9, "{'messages': [...]} chat conversations (fine-tuning format)")
            return Sniff(0.0)
        role = obj.get("role")
        if (
            isinstance(role, str)
            and role.lower() in ROLES
            and ("content" in obj or "tool_calls" in obj)
        ):
            if obj.keys() & _NOT_CHAT_KEYS:
                return Sniff(0.3, "role/content messages with ids or times (not chat completions)")
            return Sniff(0.75, "a list of Chat Completions messages (role/content)")
        return Sniff(0.0)

    def read(self, source: Source, options: Any, ctx: Context) -> Iterator[AnyRecord]:
        return ChatReader(source, ctx, start_time(source, options)).records()

    def write(self, records: Iterable[AnyRecord], sink: Sink, options: Any, ctx: Context) -> None:
        write_chat(records, sink, options, ctx)

    def project(self, records: Iterable[AnyRecord]) -> list[AnyRecord]:
        """Conversations as their written lines read back: ids rewritten from the content hash,
        no times or names, participants and type derived from the messages, events and reasoning
        dropped, each message as its API message reads back."""
        out: list[AnyRecord] = []
        seen: dict[str, int] = {}
        for conv, messages in group(records):
            obj = conversation_object(conv, messages, sanitize=False)
            out.extend(convert_conversation(obj, seen))
        return out


@hookimpl
def provide_adapters() -> list[type[Adapter]]:
    return [OpenAIChatAdapter]
