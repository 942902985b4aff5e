"""Plugin objects for registry tests, loaded through fake ``EntryPoint``s (flake8-style)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from memshift import Adapter, Feature, hookimpl
from memshift.model import AnyRecord, Conversation


class FooAdapter(Adapter):
    name = "foo"
    aliases = ("foo-json",)
    description = "a fake format for registry tests"
    features = frozenset({Feature.CONVERSATIONS})

    def read(self, source: Any, options: Any, ctx: Any) -> Iterator[AnyRecord]:
        yield Conversation(id="x")


class FooAgain(FooAdapter):
    description = "another plugin's 'foo'"


class ReadOnly(Adapter):
    name = "readonly"
    description = "reads only"

    def read(self, source: Any, options: Any, ctx: Any) -> Iterator[AnyRecord]:
        yield from ()


class good:
    @staticmethod
    @hookimpl
    def provide_adapters() -> list[type[Adapter]]:
        return [FooAdapter, ReadOnly]


class clash:
    @staticmethod
    @hookimpl
    def provide_adapters() -> list[type[Adapter]]:
        return [FooAgain]


class raises_in_hook:
    @staticmethod
    @hookimpl
    def provide_adapters() -> list[type[Adapter]]:
        raise RuntimeError("hook exploded")


class not_an_adapter:
    @staticmethod
    @hookimpl
    def provide_adapters() -> list[Any]:
        return [object]


raise_on_import = None  # the entry point below points at a module that does not exist


# -- a small chat format for pipeline tests ---------------------------------------------------------

from memshift import Context, Options, jsonio, timeutil  # noqa: E402  # noqa: E402
from memshift.errors import ReadError  # noqa: E402
from memshift.model import Message, Reaction  # noqa: E402
from memshift.sinks import Sink  # noqa: E402
from memshift.sources import Source  # noqa: E402


class ChatReadOptions(Options):
    fail_at: int | None = None


class ChatAdapter(Adapter):
    """Reads a list of ``{id, ts, user, text, reactions?, event?}`` dicts (one conversation) and
    counts how many the pipeline pulled, to prove laziness."""

    name = "chat"
    description = "test chat"
    features = frozenset({Feature.CONVERSATIONS, Feature.GROUP, Feature.SENDER_NAMES})
    output_layout = "dir"
    needs_order = True
    resumable = True
    ReadOptions = ChatReadOptions
    pulled = 0

    def read(self, source: Source, options: Any, ctx: Context) -> Iterator[AnyRecord]:
        items = source.objects if source.kind == "objects" else None
        if items is None:
            for member in source.members():
                with source.open(member) as fh:
                    doc = jsonio.load(fh, source.location(member))
                yield Conversation(id=doc["id"])
                for i, m in enumerate(doc["messages"]):
                    yield Message(
                        id=m["id"],
                        conversation_id=doc["id"],
                        sender_id=m["user"],
                        timestamp=timeutil.from_epoch_ms(m["ts"]),
                        text=m["text"],
                    )
            return
        yield Conversation(id="chan")
        for i, raw in enumerate(items):
            ChatAdapter.pulled += 1
            if options.fail_at is not None and i == options.fail_at:
                raise ReadError("boom", source.location(path=f"[{i}].ts"))
            try:
                ts = timeutil.from_epoch_ms(raw["ts"])
            except (KeyError, ValueError) as exc:
                ctx.reject(raw, exc, source.location(path=f"[{i}].ts"))
                continue
            yield Message(
                id=raw["id"],
                conversation_id="chan",
                sender_id=raw.get("user"),
                timestamp=ts,
                text=raw.get("text", ""),
                type="event" if raw.get("event") else "message",
                reactions=tuple(Reaction(emoji=e) for e in raw.get("reactions", ())),
            )

    def write(self, records: Any, sink: Sink, options: Any, ctx: Context) -> None:
        # Streams like a real writer: a conversation's document is opened when its Conversation
        # record arrives (what makes it resumable) and messages are written as they come.
        from contextlib import ExitStack

        with ExitStack() as stack:
            fh = None
            first = True
            for rec in records:
                if isinstance(rec, Conversation):
                    if fh is not None:
                        fh.write(b"]}")
                        stack.close()
                    fh = stack.enter_context(sink.document(f"{rec.id}.json"))
                    fh.write(b'{"id":' + jsonio.dumps(rec.id) + b',"messages":[')
                    first = True
                elif isinstance(rec, Message) and fh is not None:
                    assert rec.timestamp is not None
                    item = {
                        "id": rec.id,
                        "ts": timeutil.to_epoch_ms(rec.timestamp),
                        "user": rec.sender_id,
                        "text": rec.text,
                    }
                    fh.write((b"" if first else b",") + jsonio.dumps(item))
                    first = False
            if fh is not None:
                fh.write(b"]}")


class chat:
    @staticmethod
    @hookimpl
    def provide_adapters() -> list[type[Adapter]]:
        return [ChatAdapter]
