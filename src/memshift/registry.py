"""Finding formats: entry points -> pluggy plugins -> adapters by name.

Built-in adapters and third-party ones are found the same way, through the ``memshift`` entry-point
group. Each entry point is loaded on its own, so one broken plugin is recorded as a
:class:`PluginLoadError` (raised only if someone asks for a format it might have provided) and the
rest keep working. The registry is an instance, never a module global that tests must reset.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any, cast

import pluggy

from . import hookspecs
from .adapter import Adapter, Sniff
from .errors import (
    AdapterConflictError,
    CapabilityError,
    PluginLoadError,
    UnknownFormatError,
)

GROUP = "memshift"
ENV_DISABLE = "MEMSHIFT_DISABLE_PLUGINS"  # comma-separated plugin names to skip
ENV_ONLY = "MEMSHIFT_LOAD_PLUGINS"  # comma-separated allow-list


@dataclass(frozen=True)
class FormatInfo:
    name: str
    aliases: tuple[str, ...]
    description: str
    can_read: bool
    can_write: bool
    features: tuple[str, ...]
    plugin: str
    distribution: str | None
    version: str | None
    output_layout: str

    @property
    def provider(self) -> str:
        dist = f"{self.distribution} {self.version}" if self.distribution else "(unregistered)"
        return f"{dist} [{self.plugin}]"


@dataclass(frozen=True)
class Detection:
    name: str
    confidence: float
    reason: str


class Registry:
    """Adapters and transforms by name, discovered through pluggy.

    ``Registry()`` loads the installed ``memshift`` entry points. Tests pass ``entry_points=[...]``
    (fake :class:`importlib.metadata.EntryPoint` objects) or ``load_entry_points=False`` and then
    :meth:`register` plugins directly.
    """

    def __init__(
        self,
        *,
        entry_points: Iterable[EntryPoint] | None = None,
        load_entry_points: bool = True,
    ) -> None:
        self.pm = pluggy.PluginManager(GROUP)
        self.pm.add_hookspecs(hookspecs)
        self.failures: list[PluginLoadError] = []
        self._dists: dict[str, tuple[str | None, str | None]] = {}
        self._adapters: dict[str, tuple[type[Adapter], str]] | None = None
        self._aliases: dict[str, str] = {}
        self._conflicts: dict[str, list[str]] = {}
        self._transforms: dict[str, type[Any]] | None = None
        if entry_points is not None:
            self.load(entry_points)
        elif load_entry_points:
            self.load(_installed_entry_points())

    # -- loading --------------------------------------------------------------------------------

    def load(self, eps: Iterable[EntryPoint]) -> None:
        only = _env_set(ENV_ONLY)
        disabled = _env_set(ENV_DISABLE)
        for ep in eps:
            if (only is not None and ep.name not in only) or ep.name in (disabled or ()):
                continue
            if self.pm.has_plugin(ep.name):
                continue
            dist = getattr(ep, "dist", None)
            dist_name = getattr(dist, "name", None) if dist is not None else None
            dist_version = getattr(dist, "version", None) if dist is not None else None
            try:
                module = ep.load()
                self.pm.register(module, name=ep.name)
            except Exception as exc:  # a plugin may fail in any way; isolate it
                self.failures.append(PluginLoadError(ep.name, dist_name, exc))
                continue
            self._dists[ep.name] = (dist_name, dist_version)
        self._invalidate()

    def register(self, plugin: Any, name: str | None = None) -> str:
        """Register a plugin object (a module or any object with hookimpls). Returns its name."""
        registered = self.pm.register(plugin, name=name)
        self._invalidate()
        return registered or name or ""

    def unregister(self, name: str) -> None:
        self.pm.unregister(name=name)
        self._invalidate()

    def _invalidate(self) -> None:
        self._adapters = None
        self._transforms = None

    # -- adapters -------------------------------------------------------------------------------

    def _provider(self, plugin_name: str) -> str:
        dist, version = self._dists.get(plugin_name, (None, None))
        return f"{dist} {version} [{plugin_name}]" if dist else f"[{plugin_name}]"

    def _build(self) -> dict[str, tuple[type[Adapter], str]]:
        if self._adapters is not None:
            return self._adapters
        adapters: dict[str, tuple[type[Adapter], str]] = {}
        aliases: dict[str, str] = {}
        conflicts: dict[str, list[str]] = {}
        for impl in self.pm.hook.provide_adapters.get_hookimpls():
            try:
                provided: list[Any] = list(cast(Iterable[Any], impl.function() or ()))
            except Exception as exc:
                self.failures.append(PluginLoadError(impl.plugin_name, None, exc))
                continue
            for cls in provided:
                if not (isinstance(cls, type) and issubclass(cls, Adapter)):
                    self.failures.append(
                        PluginLoadError(
                            impl.plugin_name, None, TypeError(f"{cls!r} is not an Adapter")
                        )
                    )
                    continue
                name = cls.name
                if name in adapters or name in conflicts:
                    first = adapters.pop(name, None)
                    bucket = conflicts.setdefault(name, [])
                    if first is not None:
                        bucket.append(self._provider(first[1]))
                    bucket.append(self._provider(impl.plugin_name))
                    continue
                adapters[name] = (cls, impl.plugin_name)
        for name, (cls, _plugin) in adapters.items():
            for alias in cls.aliases:
                if alias not in adapters:
                    aliases.setdefault(alias, name)
        self._adapters, self._aliases, self._conflicts = adapters, aliases, conflicts
        return adapters

    def names(self) -> list[str]:
        return sorted(self._build())

    def resolve(self, name: str) -> str:
        """The canonical format name for ``name`` or an alias; did-you-mean on a miss."""
        adapters = self._build()
        key = name.strip().lower().replace("-", "_") if name not in adapters else name
        for candidate in (name, key, name.lower()):
            if candidate in adapters:
                return candidate
            if candidate in self._aliases:
                return self._aliases[candidate]
            if candidate in self._conflicts:
                raise AdapterConflictError(candidate, self._conflicts[candidate])
        known = list(adapters) + list(self._aliases)
        close = difflib.get_close_matches(name.lower(), known, n=1, cutoff=0.6)
        suggestion = self._aliases.get(close[0], close[0]) if close else None
        err = UnknownFormatError(name, sorted(adapters), suggestion)
        if self.failures:
            failed = "; ".join(str(f) for f in self.failures)
            err.args = (f"{err.args[0]} (note: {failed})",)
        raise err

    def adapter_class(self, name: str) -> type[Adapter]:
        return self._build()[self.resolve(name)][0]

    def get(self, name: str, direction: str | None = None) -> Adapter:
        """An adapter instance by name or alias; ``direction`` ("read"/"write") checks it can."""
        cls = self.adapter_class(name)
        if direction == "read" and not cls.can_read():
            raise CapabilityError(cls.name, "read")
        if direction == "write" and not cls.can_write():
            raise CapabilityError(cls.name, "write")
        return cls()

    def formats(self) -> list[FormatInfo]:
        out = []
        for name, (cls, plugin) in sorted(self._build().items()):
            dist, version = self._dists.get(plugin, (None, None))
            out.append(
                FormatInfo(
                    name=name,
                    aliases=tuple(cls.aliases),
                    description=cls.description,
                    can_read=cls.can_read(),
                    can_write=cls.can_write(),
                    features=tuple(sorted(str(f) for f in cls.features)),
                    plugin=plugin,
                    distribution=dist,
                    version=version,
                    output_layout=cls.output_layout,
                )
            )
        return out

    @property
    def conflicts(self) -> dict[str, list[str]]:
        self._build()
        return dict(self._conflicts)

    # -- detection ------------------------------------------------------------------------------

    def detect(self, source: Any) -> list[Detection]:
        """Every readable format's confidence for ``source``, best first (zeros dropped)."""
        results: list[Detection] = []
        for name, (cls, _plugin) in sorted(self._build().items()):
            if not cls.can_read():
                continue
            try:
                sniff = cls().sniff(source)
            except Exception:  # a sniffer must never break detection of the others
                continue
            if not isinstance(sniff, Sniff):
                sniff = Sniff(float(sniff), "")
            if sniff.confidence > 0:
                results.append(Detection(name, float(sniff.confidence), sniff.reason))
        results.sort(key=lambda d: (-d.confidence, d.name))
        return results

    # -- transforms -----------------------------------------------------------------------------

    def transforms(self) -> dict[str, type[Any]]:
        if self._transforms is None:
            found: dict[str, type[Any]] = {}
            for impl in self.pm.hook.provide_transforms.get_hookimpls():
                try:
                    provided: list[Any] = list(cast(Iterable[Any], impl.function() or ()))
                except Exception as exc:
                    self.failures.append(PluginLoadError(impl.plugin_name, None, exc))
                    continue
                for cls in provided:
                    name = getattr(cls, "name", None)
                    if not name:
                        continue
                    if name in found:
                        raise AdapterConflictError(name, [found[name].__module__, cls.__module__])
                    found[name] = cls
            self._transforms = found
        return dict(self._transforms)


def _env_set(var: str) -> set[str] | None:
    value = os.environ.get(var)
    if value is None:
        return None
    return {v.strip() for v in value.split(",") if v.strip()}


def _installed_entry_points() -> Sequence[EntryPoint]:
    return list(entry_points(group=GROUP))


_default: Registry | None = None


def default_registry() -> Registry:
    """The registry of installed plugins, built on first use."""
    global _default
    if _default is None:
        _default = Registry()
    return _default
