"""The docs site stays true to the code: a page per built-in format, every hook documented, the
generated pages current, the getting-started commands working, and ``mkdocs build --strict``."""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest
from click.testing import CliRunner

import memshift.hookspecs
from memshift.cli import cli
from memshift.registry import Registry
from memshift.testing import golden

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
MKDOCS_YML = ROOT / "mkdocs.yml"
FIXTURES = ROOT / "fixtures"


def _gen_pages() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_pages", DOCS / "gen_pages.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = _gen_pages()
BUILTIN = [f.name for f in GEN.builtin_formats()]


def _nav_pages() -> list[str]:
    """Every ``.md`` the nav names (read as text: PyYAML is only there with the docs extras)."""
    return re.findall(r"^\s*-\s*(?:[^:\n]+:\s*)?([\w./-]+\.md)\s*$", MKDOCS_YML.read_text(), re.M)


# -- pages that must exist ----------------------------------------------------------------------


@pytest.mark.parametrize("name", BUILTIN)
def test_every_builtin_format_has_a_page(name: str) -> None:
    page = DOCS / "formats" / f"{name}.md"
    assert page.is_file(), f"format {name!r} is registered but {page.relative_to(ROOT)} is missing"
    assert f"formats/{name}.md" in _nav_pages(), f"formats/{name}.md is not in the mkdocs.yml nav"


def test_every_format_page_belongs_to_a_registered_format() -> None:
    known = {f.name for f in Registry().formats()}
    for page in sorted((DOCS / "formats").glob("*.md")):
        assert page.stem in known, f"{page.relative_to(ROOT)} documents no registered format"


def test_every_nav_page_exists() -> None:
    pages = _nav_pages()
    assert "index.md" in pages and "getting-started.md" in pages
    missing = [p for p in pages if not (DOCS / p).is_file()]
    assert not missing, f"mkdocs.yml names pages that do not exist yet: {missing}"


def test_every_hookspec_is_documented() -> None:
    page = DOCS / "hooks.md"
    if not page.exists():
        pytest.skip("docs/hooks.md is not written yet")
    text = page.read_text()
    specs = {
        name: fn
        for name, fn in vars(memshift.hookspecs).items()
        if callable(fn) and hasattr(fn, "memshift_spec")
    }
    assert specs, "no hookspecs found"
    for name, fn in specs.items():
        assert f"## `{name}(" in text, f"hook {name} has no section in docs/hooks.md"
        params = list(fn.__code__.co_varnames[: fn.__code__.co_argcount])
        signature = re.search(rf"def {name}\(([^)]*)\)", text)
        assert signature, f"docs/hooks.md shows no signature for {name}"
        for param in params:
            assert param in signature.group(1), f"{name}: parameter {param} is not documented"


# -- generated pages ----------------------------------------------------------------------------


def test_generated_pages_are_current() -> None:
    stale = [p.name for p in GEN.stale()]
    assert not stale, f"{stale} out of date: run python docs/gen_pages.py"


def test_loss_matrix_lists_only_builtin_formats() -> None:
    text = (DOCS / "loss-matrix.md").read_text()
    for name in BUILTIN:
        assert f"### {name}\n" in text or not Registry().adapter_class(name).can_read()
    assert "telegram" not in text, "a third-party plugin leaked into the published matrix"


def _fmt(name: str, *features: str) -> SimpleNamespace:
    return SimpleNamespace(name=name, features=features, can_read=True, can_write=True)


def test_loss_rules() -> None:
    chat = _fmt("chat", "conversations", "group", "threads", "reactions")
    memory = _fmt("mem", "memory", "triples")
    both = _fmt("both", "conversations", "group", "memory")
    assert GEN.lost(chat, both) == ["threads", "reactions"]
    assert GEN.lost(chat, memory) == ["all messages"]
    assert GEN.lost(memory, chat) == ["all memory items"]
    assert GEN.lost(memory, both) == ["triples"]
    assert GEN.lost(chat, chat) == []
    page = GEN.render_loss_matrix([chat, memory, both])
    assert "| `chat` | · | no messages | 2 |" in page


# -- getting started: the commands work as written ---------------------------------------------


def _console_blocks(page: Path) -> list[list[list[str]]]:
    blocks = re.findall(r"```console\n(.*?)```", page.read_text(), re.S)
    return [
        [shlex.split(line[2:]) for line in block.splitlines() if line.startswith("$ memshift ")]
        for block in blocks
    ]


BLOCKS = _console_blocks(DOCS / "getting-started.md")


def _first_fixture(fmt: str) -> Path | None:
    cases = golden.find_cases(FIXTURES, fmt)
    return cases[0].input if cases else None


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: " | ".join(" ".join(c[:4]) for c in b))
def test_getting_started_commands_run(
    block: list[list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each console block runs in order in a scratch directory. A bundled-fixture path must
    exist; a placeholder input (``slack-export.zip``) is replaced by the first golden case of
    the ``--from`` format, so the formats, flags and options shown are the real ones."""
    (tmp_path / "fixtures").symlink_to(FIXTURES, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    for argv in block:
        args = argv[1:]
        if args and args[0] in ("convert", "detect", "inspect", "validate") and len(args) > 1:
            given = args[1]
            if given.startswith("fixtures/"):
                assert Path(given).exists(), f"{given} is not a bundled fixture (yet)"
            elif not Path(given).exists():
                fmt = args[args.index("--from") + 1] if "--from" in args else None
                sample = _first_fixture(fmt) if fmt else None
                if sample is None:
                    pytest.skip(f"no golden fixture for {fmt!r} to stand in for {given}")
                args[1] = str(sample)
        result = CliRunner().invoke(cli, args, catch_exceptions=False)
        assert result.exit_code == 0, f"memshift {shlex.join(args)}:\n{result.output}"


# -- the site builds ---------------------------------------------------------------------------


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None:
        pytest.skip("mkdocs-material is not installed (pip install -r requirements-docs.txt)")
    env = {**os.environ, "MEMSHIFT_DOCS_CHECK": "1", "NO_MKDOCS_2_WARNING": "1"}
    site = tmp_path / "site"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "-f",
            str(MKDOCS_YML),
            "-d",
            str(site),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    warnings = [line for line in proc.stderr.splitlines() if "WARNING" in line]
    assert proc.returncode == 0, "mkdocs build --strict failed:\n" + "\n".join(
        warnings or [proc.stderr]
    )
    assert (site / "loss-matrix" / "index.html").exists()
    assert (site / "examples" / "memshift-telegram" / "index.html").exists()
