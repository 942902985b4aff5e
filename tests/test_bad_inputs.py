"""The bad-input corpus: every case in ``fixtures/bad/<case>/`` must fail with the expected error
class and a one-line message that contains the expected fragment and names the file.

``expect.json``: ``{"format": "slack", "error": "ReadError", "message": "[3].ts",
"options": {...}, "skip": {"rejected": 1}}``. ``skip`` (optional) states what ``on_error="skip"``
must do instead: reject that many records and still balance the report.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import memshift
import memshift.errors as errors
from memshift.registry import Registry

from .conftest import FIXTURES

BAD = FIXTURES / "bad"
_REG = Registry()


def _cases() -> list[Path]:
    if not BAD.exists():
        return []
    return sorted(p for p in BAD.iterdir() if (p / "expect.json").exists())


def _input(case: Path) -> Path:
    found = sorted(p for p in case.iterdir() if p.name == "input" or p.name.startswith("input."))
    assert found, f"{case.name}: no input"
    return found[0]


CASES = _cases()


def test_corpus_is_large_enough() -> None:
    """Issue 6 asks for at least 40 cases across every adapter."""
    assert len(CASES) >= 40, f"only {len(CASES)} bad-input cases"
    formats = {json.loads((c / "expect.json").read_text())["format"] for c in CASES}
    readable = {f.name for f in _REG.formats() if f.can_read} - {"canonical"}
    assert readable <= formats | {"canonical"}, (
        f"no bad-input cases for {sorted(readable - formats)}"
    )


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_bad_input_fails_cleanly(case: Path) -> None:
    expect: dict[str, Any] = json.loads((case / "expect.json").read_text())
    error_cls = getattr(errors, expect["error"])
    assert issubclass(error_cls, errors.MemshiftError)
    path = _input(case)
    with pytest.raises(errors.MemshiftError) as info:
        memshift.convert(
            path,
            None,
            src=expect["format"],
            dst="canonical",
            src_options=expect.get("options"),
            registry=_REG,
        )
    exc = info.value
    assert isinstance(exc, error_cls), f"{case.name}: {type(exc).__name__}: {exc}"
    text = str(exc)
    assert "\n" not in text, f"{case.name}: message is not one line: {text!r}"
    assert expect["message"] in text, f"{case.name}: {text!r} lacks {expect['message']!r}"
    assert path.name in text or case.name in text, f"{case.name}: the file is not named: {text!r}"


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if "skip" in json.loads((c / "expect.json").read_text())],
    ids=lambda p: p.name,
)
def test_bad_input_under_skip(case: Path, tmp_path: Path) -> None:
    expect: dict[str, Any] = json.loads((case / "expect.json").read_text())
    rejects = tmp_path / "rejects.jsonl"
    report = memshift.convert(
        _input(case),
        tmp_path / "out.jsonl",
        src=expect["format"],
        dst="canonical",
        src_options=expect.get("options"),
        on_error="skip",
        rejects=rejects,
        registry=_REG,
    )
    assert report.balanced, report.to_dict()
    assert report.rejected == expect["skip"]["rejected"]
    lines = rejects.read_text().splitlines()
    assert len(lines) == report.rejected
    for line in lines:
        entry = json.loads(line)
        assert entry["reason"] and "record" in entry and entry["source"]
