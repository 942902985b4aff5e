"""Mutation fuzzing: every fixture, truncated, byte-flipped, with keys dropped or types swapped,
through every reader. The only exception allowed to escape is a memshift error.

Bounded for CI by ``MEMSHIFT_FUZZ_EXAMPLES`` (default 60 per format).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memshift.context import Context
from memshift.errors import MemshiftError
from memshift.registry import Registry
from memshift.sources import Source, open_source
from memshift.testing import golden

from .conftest import FIXTURES

_REG = Registry()
EXAMPLES = int(os.environ.get("MEMSHIFT_FUZZ_EXAMPLES", "60"))


def _members(path: Path) -> dict[str, bytes]:
    """A fixture input as in-memory members, so a mutation never touches the fixture files."""
    with open_source(path) as src:
        if src.is_container:
            out: dict[str, bytes] = {}
            for name in src.members():
                with src.open(name) as fh:
                    out[name] = fh.read()
            return out
        with src.open() as fh:
            return {path.name: fh.read()}


CASES: dict[str, list[dict[str, bytes]]] = {}
for case in golden.find_cases(FIXTURES):
    if case.format in _REG.names():
        CASES.setdefault(case.format, []).append(_members(case.input))


def _walk(obj: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths = [path]
    if isinstance(obj, dict):
        for k, v in obj.items():
            paths += _walk(v, (*path, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:20]):
            paths += _walk(v, (*path, i))
    return paths


def _get(obj: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        obj = obj[p]
    return obj


SWAPS: list[Any] = [
    None,
    0,
    -1,
    1e308,
    "",
    "x",
    [],
    {},
    True,
    "1.5e999",
    "2024-13-45T99:99:99",
    2**70,
]


@st.composite
def mutated(draw: st.DrawFn, fmt: str) -> dict[str, bytes]:
    members = dict(draw(st.sampled_from(CASES[fmt])))
    name = draw(st.sampled_from(sorted(members)))
    data = members[name]
    how = draw(st.sampled_from(["truncate", "flip", "drop_key", "swap_type", "empty", "bom"]))
    if how == "truncate":
        data = data[: draw(st.integers(0, max(len(data) - 1, 0)))]
    elif how == "flip" and data:
        i = draw(st.integers(0, len(data) - 1))
        data = data[:i] + bytes([data[i] ^ draw(st.integers(1, 255))]) + data[i + 1 :]
    elif how == "empty":
        data = b""
    elif how == "bom":
        data = b"\xef\xbb\xbf" + data
    else:
        try:
            lines = data.splitlines() if name.endswith((".jsonl", ".ndjson")) else [data]
            idx = draw(st.integers(0, len(lines) - 1))
            doc = json.loads(lines[idx])
        except (ValueError, UnicodeDecodeError):
            return members
        paths = [p for p in _walk(doc) if p]
        if paths:
            path = draw(st.sampled_from(paths))
            parent = _get(doc, path[:-1])
            if how == "drop_key" and isinstance(parent, dict):
                del parent[path[-1]]
            else:
                parent[path[-1]] = draw(st.sampled_from(SWAPS))
        lines[idx] = json.dumps(doc).encode()
        data = b"\n".join(lines)
    members[name] = data
    return members


@pytest.mark.parametrize("fmt", sorted(CASES))
@pytest.mark.parametrize("on_error", ["strict", "skip"])
def test_readers_only_raise_memshift_errors(fmt: str, on_error: str) -> None:
    adapter = _REG.get(fmt, "read")

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
    )
    @given(mutated(fmt))
    def check(members: dict[str, bytes]) -> None:
        if len(members) == 1:
            ((name, data),) = members.items()
            import io

            source = Source("stream", name, stream=io.BufferedReader(io.BytesIO(data)))  # type: ignore[arg-type]
        else:
            source = Source("members", "<fuzz>", members=members)
        ctx = Context(on_error=on_error)  # type: ignore[arg-type]
        try:
            for _ in adapter.read(source, adapter.ReadOptions(), ctx):
                pass
        except MemshiftError as exc:
            assert "\n" not in str(exc), f"multi-line error: {exc!r}"

    check()
