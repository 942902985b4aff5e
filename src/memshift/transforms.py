"""Transforms: plugins that change or filter the record stream between reader and writer.

A transform is found like an adapter, through the ``provide_transforms`` hook, so the built-in
ones (exclude bots, date ranges, redaction, ...) and third-party ones are the same kind of thing.
Every record a transform drops is counted with ``ctx.filtered(reason)``, and the reason names the
flag that would keep it, so the run's accounting still adds up and the user knows what to change.

Some filters need to see the whole input before deciding (``--since`` keeps a thread whose root
is older than the cut-off when one of its replies is newer). Such a transform sets
``needs_prepass``; the pipeline then reads the input once more beforehand, so memory stays flat.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar

from pydantic import ValidationError

from .adapter import Options as _Options
from .context import Context, describe_exception
from .errors import OptionsError
from .model import AnyRecord


class Transform:
    """Base class. Subclasses set ``name``, ``description`` and ``Options`` and implement
    :meth:`apply`."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    Options: ClassVar[type[_Options]] = _Options
    #: True when :meth:`prepass` must see every record before :meth:`apply` runs.
    needs_prepass: ClassVar[bool] = False

    def __init__(self, options: Mapping[str, Any] | _Options | None = None) -> None:
        if isinstance(options, _Options):
            self.options: Any = options
        else:
            try:
                self.options = self.Options.model_validate(dict(options or {}))
            except ValidationError as exc:
                raise OptionsError(self.name, describe_exception(exc)) from None

    def prepass(self, records: Iterable[AnyRecord]) -> None:
        """Look at the whole input once (only called when ``needs_prepass``)."""

    def apply(self, records: Iterable[AnyRecord], ctx: Context) -> Iterator[AnyRecord]:
        raise NotImplementedError

    def __call__(self, records: Iterable[AnyRecord], ctx: Context) -> Iterator[AnyRecord]:
        return self.apply(records, ctx)
