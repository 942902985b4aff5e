"""One exception hierarchy for everything memshift raises on purpose.

The CLI maps ``DataError`` subclasses to exit 1 and ``UsageError`` subclasses to exit 2, and prints
``str(exc)`` as a single line. That is why every message here is built to be one line that names the
file, the zip member, the record and the field: the user should never need a traceback to find the
bad byte.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Location:
    """Where in the input a record or value lives. Every part is optional; ``str()`` joins what
    is known as ``file: member: path``."""

    file: str | None = None
    member: str | None = None
    path: str | None = None

    def __str__(self) -> str:
        return ": ".join(p for p in (self.file, self.member, self.path) if p)

    def child(self, path: str) -> Location:
        return Location(self.file, self.member, path)


class MemshiftError(Exception):
    """Base of every error memshift raises deliberately."""

    exit_code = 1


# -- usage errors (exit 2) -------------------------------------------------------------------------


class UsageError(MemshiftError):
    exit_code = 2


class UnknownFormatError(UsageError):
    def __init__(self, name: str, available: Sequence[str], suggestion: str | None = None):
        self.name = name
        self.available = list(available)
        self.suggestion = suggestion
        hint = f" Did you mean {suggestion!r}?" if suggestion else ""
        choices = ", ".join(sorted(self.available)) or "none"
        super().__init__(f"unknown format {name!r}.{hint} Available: {choices}")


class CapabilityError(UsageError):
    def __init__(self, name: str, direction: str):
        self.name = name
        self.direction = direction
        super().__init__(f"format {name!r} cannot {direction}")


class OptionsError(UsageError):
    def __init__(self, name: str, message: str):
        self.name = name
        super().__init__(f"{name}: bad option: {message}")


class DetectionError(UsageError):
    pass


class PluginError(MemshiftError):
    exit_code = 2


class PluginLoadError(PluginError):
    def __init__(self, plugin: str, distribution: str | None, cause: BaseException):
        self.plugin = plugin
        self.distribution = distribution
        self.cause = cause
        where = f" (from {distribution})" if distribution else ""
        super().__init__(
            f"plugin {plugin!r}{where} failed to load: {type(cause).__name__}: {cause}"
        )


class AdapterConflictError(PluginError):
    def __init__(self, name: str, providers: Sequence[str]):
        self.name = name
        self.providers = list(providers)
        super().__init__(f"format {name!r} is provided by both {' and '.join(self.providers)}")


# -- data errors (exit 1) --------------------------------------------------------------------------


class DataError(MemshiftError):
    """Something in the input or output data is wrong. Carries a :class:`Location`."""

    def __init__(self, message: str, location: Location | None = None, raw: Any = None):
        self.message = message
        self.location = location or Location()
        self.raw = raw
        where = str(self.location)
        super().__init__(f"{where}: {message}" if where else message)


class ReadError(DataError):
    """The input cannot be read as the named format, or a record in it is invalid."""


class WriteError(DataError):
    """A record cannot be written to the destination (a limit, a missing required value)."""


class OutputError(DataError):
    """The output location itself is the problem (exists, unwritable, escapes its directory)."""


class UnsafeInputError(ReadError):
    """The input is hostile or too large to handle safely (zip slip, zip bomb, nesting depth)."""


@dataclass(frozen=True, slots=True)
class Loss:
    """One kind of information the destination cannot hold, with how many records it affected."""

    field: str
    count: int
    detail: str = ""
    example: str | None = None

    def __str__(self) -> str:
        extra = f" ({self.detail})" if self.detail else ""
        return f"{self.field}: {self.count} record(s){extra}"


class LossError(DataError):
    """Raised under ``on_loss="raise"``; the run leaves no output."""

    def __init__(self, destination: str, losses: Sequence[Loss]):
        self.losses = list(losses)
        summary = "; ".join(str(loss) for loss in self.losses)
        super().__init__(f"{destination} cannot hold: {summary} (use --on-loss warn to accept)")


class LossWarning(UserWarning):
    """Issued under ``on_loss="warn"``; the CLI shows it as a line in the summary."""


def warn_loss(message: str) -> None:
    warnings.warn(message, LossWarning, stacklevel=3)
