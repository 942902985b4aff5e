"""Per-run bookkeeping: counts, losses, rejects and warnings.

A :class:`Context` travels with one conversion. Readers and writers report to it instead of
printing or raising directly, so the same adapter code obeys ``on_error``/``on_loss`` policies it
knows nothing about, and the final :class:`Report` can prove
``read = written + filtered + rejected``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .errors import DataError, Location, Loss, ReadError, WriteError

if TYPE_CHECKING:
    from .adapter import Feature

OnError = Literal["strict", "skip"]
OnLoss = Literal["ignore", "warn", "raise"]


@dataclass
class Report:
    """What a run did. ``read`` counts input records (messages and memory items); conversations
    are containers and are counted separately."""

    source_format: str = ""
    destination_format: str = ""
    read: int = 0
    written: int = 0
    rejected: int = 0
    filtered: Counter[str] = field(default_factory=Counter)
    losses: dict[str, Loss] = field(default_factory=dict)
    conversations: int = 0
    warnings: list[str] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)
    outputs: list[str] = field(default_factory=list)
    rejects_file: str | None = None

    @property
    def filtered_total(self) -> int:
        return sum(self.filtered.values())

    @property
    def balanced(self) -> bool:
        return self.read == self.written + self.filtered_total + self.rejected

    def to_dict(self) -> dict[str, Any]:
        return {
            "source_format": self.source_format,
            "destination_format": self.destination_format,
            "conversations": self.conversations,
            "read": self.read,
            "written": self.written,
            "filtered": dict(sorted(self.filtered.items())),
            "rejected": self.rejected,
            "losses": {
                k: {"count": v.count, "detail": v.detail} for k, v in sorted(self.losses.items())
            },
            "warnings": list(self.warnings),
            "notes": dict(self.notes),
            "outputs": list(self.outputs),
            "rejects_file": self.rejects_file,
        }


RejectSink = Callable[[dict[str, Any]], None]


class Context:
    """The channel between adapters and the run's policies. Cheap to call in a per-record loop."""

    __slots__ = (
        "_warned",
        "destination_uses",
        "on_error",
        "on_loss",
        "reject_sink",
        "report",
        "source_label",
        "source_mtime",
        "write_dropped",
    )

    def __init__(
        self,
        *,
        on_error: OnError = "strict",
        on_loss: OnLoss = "warn",
        reject_sink: RejectSink | None = None,
        source_label: str = "",
        report: Report | None = None,
    ) -> None:
        self.on_error: OnError = on_error
        self.on_loss: OnLoss = on_loss
        self.reject_sink = reject_sink
        self.source_label = source_label
        #: The input's modification time, a deterministic last-resort time for destinations that
        #: require one the source lacks (never the wall clock). Set by the pipeline.
        self.source_mtime: float | None = None
        self.report = report or Report()
        self._warned: set[str] = set()
        #: Records the writer received but did not write (rejected by a limit); the pipeline
        #: subtracts them from ``written``.
        self.write_dropped = 0
        #: Set by the pipeline from the writer (``Adapter.uses``) when no transform sits between
        #: reader and writer; None when records are read for their own sake. See :meth:`wants`.
        self.destination_uses: Callable[[Feature, str | None], bool] | None = None

    def wants(self, feature: Feature, conversation_type: str | None = None) -> bool:
        """Whether anything downstream will use ``feature`` (for conversations of the given
        type), so that a reader may skip collecting what nobody reads: the Discord reader's
        author pre-scan is a second pass over the file, wasted on a destination without a
        participant table. Skipping must never lose data silently: whatever the reader then
        carries instead still reaches the loss report, and a reader that skips participants
        still names each message's sender."""
        uses = self.destination_uses
        return True if uses is None else uses(feature, conversation_type)

    # -- bad input -------------------------------------------------------------------------------

    def reject(
        self,
        raw: Any,
        reason: str | BaseException,
        location: Location | None = None,
        *,
        error: type[DataError] = ReadError,
    ) -> None:
        """Reject one record. Under ``strict`` this raises a located error; under ``skip`` it counts
        the record and hands it to the rejects file, and the caller moves on.

        Readers call it for input they cannot convert (the record counts as read and rejected);
        writers pass ``error=WriteError`` for a record the destination refuses (it was already
        counted as read, and is subtracted from written)."""
        if isinstance(reason, DataError):
            location = location or reason.location
            message = reason.message
        else:
            message = reason if isinstance(reason, str) else describe_exception(reason)
        if self.on_error == "strict":
            if isinstance(reason, DataError) and location is reason.location:
                raise reason
            raise error(message, location, raw)
        self.report.rejected += 1
        if issubclass(error, WriteError):
            self.write_dropped += 1
        else:
            self.report.read += 1
        if self.reject_sink is not None:
            loc = location or Location()
            self.reject_sink(
                {
                    "source": loc.file or self.source_label or None,
                    "member": loc.member,
                    "path": loc.path,
                    "reason": message,
                    "record": raw,
                }
            )

    # -- explicit filters ------------------------------------------------------------------------

    def skip(self, reason: str, count: int = 1) -> None:
        """A reader left ``count`` input records out on purpose (an option asked for it, e.g.
        private channels not requested). They count as read and filtered. ``reason`` names the
        option that would include them: ``"private channels (-O include_private=true)"``."""
        if count:
            self.report.read += count
            self.report.filtered[reason] += count

    def filtered(self, reason: str, count: int = 1) -> None:
        """A pipeline stage or transform dropped records the reader had yielded (already counted
        as read). ``reason`` names the flag that would keep them:
        ``"events (--include-events)"``."""
        if count:
            self.report.filtered[reason] += count

    def dropped(self, reason: str, count: int = 1) -> None:
        """A writer left records out because its format cannot hold them at all (a tool call in
        a format without tool calls). They count as filtered, not written."""
        self.report.filtered[reason] += count
        self.write_dropped += count

    # -- what the destination cannot hold --------------------------------------------------------

    def loss(
        self, field_name: str, detail: str = "", count: int = 1, example: str | None = None
    ) -> None:
        losses = self.report.losses
        prev = losses.get(field_name)
        if prev is None:
            losses[field_name] = Loss(field_name, count, detail, example)
        else:
            losses[field_name] = Loss(
                field_name, prev.count + count, prev.detail or detail, prev.example
            )

    # -- everything else worth telling the user ---------------------------------------------------

    def warn(self, message: str, *, key: str | None = None) -> None:
        """A warning shown once per ``key`` (defaults to the message)."""
        key = key or message
        if key in self._warned:
            return
        self._warned.add(key)
        self.report.warnings.append(message)

    def note(self, key: str, value: Any) -> None:
        self.report.notes[key] = value


def describe_exception(exc: BaseException) -> str:
    """One line for an exception raised while converting a record, without pydantic's multi-line
    dump: the first failing field and its message."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            first = errors()[0]
        except Exception:  # pragma: no cover - defensive: not a pydantic error after all
            first = None
        if isinstance(first, dict):
            loc = ".".join(str(p) for p in first.get("loc", ()))
            msg = first.get("msg", "invalid value")
            return f"{loc}: {msg}" if loc else str(msg)
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}" if exc.args else "missing field"
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text
