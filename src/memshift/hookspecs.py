"""The pluggy hooks a memshift plugin may implement.

Keep this list short: every hook is public API that third-party plugins depend on, and each one is
documented in ``docs/hooks.md`` (a test checks that).
"""

from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("memshift")
hookimpl = pluggy.HookimplMarker("memshift")


@hookspec
def provide_adapters() -> list[type[Any]]:  # type: ignore[empty-body]
    """Return the :class:`memshift.Adapter` subclasses this plugin provides.

    Called once when a registry is built. Keep the plugin module cheap to import: import heavy
    SDKs inside the adapter's methods, not at module level.
    """


@hookspec
def provide_transforms() -> list[type[Any]]:  # type: ignore[empty-body]
    """Return the :class:`memshift.transforms.Transform` subclasses this plugin provides.

    A transform sits between reader and writer and may change, drop or add records; every record it
    drops must be counted through ``ctx.filtered`` so the run's accounting still adds up.
    """
