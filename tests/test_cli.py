"""The command line: exit codes, one-line errors, option routing, verbs, progress."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
from click.testing import CliRunner

import memshift
from memshift.cli import _Progress, cli, split_options
from memshift.errors import UsageError
from memshift.model import Conversation, Message, Reaction
from memshift.registry import Registry


@pytest.fixture
def reg() -> Registry:
    eps = [
        EntryPoint(name="chat", value="tests.fake_plugins:chat", group="memshift"),
        EntryPoint(name="canonical", value="memshift_adapters.canonical", group="memshift"),
        EntryPoint(name="transforms", value="memshift_adapters.transforms", group="memshift"),
    ]
    return Registry(entry_points=eps)


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    path = tmp_path / "in.jsonl"
    t = datetime(2024, 1, 1, tzinfo=UTC)
    recs = [Conversation(id="c1", name="general")] + [
        Message(
            id=f"m{i}",
            conversation_id="c1",
            sender_id="U1",
            timestamp=t + timedelta(minutes=i),
            text=f"hi {i}",
            reactions=(Reaction(emoji="tada"),) if i == 0 else (),
        )
        for i in range(5)
    ]
    memshift.write(recs, path, "canonical")
    return path


def run(reg: Registry, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), obj={"registry": reg})
    return result.exit_code, result.stdout, result.stderr


def test_convert_and_summary(reg: Registry, sample: Path, tmp_path: Path) -> None:
    code, _, err = run(reg, "convert", str(sample), "--to", "chat", "-o", str(tmp_path / "out"))
    assert code == 0, err
    assert "detected canonical" in err
    assert "read 5, written 5, filtered 0, rejected 0" in err
    assert "lost reactions in 1 record(s)" in err
    assert (tmp_path / "out" / "c1.json").exists()


def test_data_error_is_one_line_exit_1(reg: Registry, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"memshift_schema": "1.0"}\n{"kind": "message", "id": "1"}\n')
    code, out, err = run(
        reg,
        "convert",
        str(bad),
        "-f",
        "canonical",
        "-t",
        "canonical",
        "-o",
        str(tmp_path / "o.jsonl"),
    )
    assert code == 1
    assert err.startswith("memshift: error: ") and err.count("\n") == 1, err
    assert "bad.jsonl: line 2: conversation_id: Field required" in err
    assert "Traceback" not in err
    assert not (tmp_path / "o.jsonl").exists()


def test_debug_shows_the_traceback(reg: Registry, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"kind": "message", "id": "1"}\n')
    result = CliRunner().invoke(
        cli,
        ["--debug", "convert", str(bad), "-f", "canonical", "-t", "canonical", "-o", "-"],
        obj={"registry": reg},
    )
    assert result.exception is not None and result.exit_code != 0


def test_usage_errors_exit_2(reg: Registry, sample: Path) -> None:
    code, _, err = run(reg, "convert", str(sample), "-t", "canonicl", "-o", "-")
    assert code == 2 and "Did you mean 'canonical'" in err
    code, _, err = run(reg, "convert", str(sample), "-t", "canonical", "-o", "-", "-O", "nope=1")
    assert code == 2 and "unknown option 'nope'" in err and "canonical.header" in err
    code, _, err = run(
        reg, "convert", str(sample), "-t", "canonical", "-o", "-", "--on-error", "maybe"
    )
    assert code == 2


def test_skip_defaults_rejects_beside_output(reg: Registry, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"kind": "conversation", "id": "c"}\n{"kind": "message", "id": "1"}\n{"kind": "message", "id": "2", "conversation_id": "c"}\n'
    )
    out = tmp_path / "out.jsonl"
    code, _, err = run(
        reg,
        "convert",
        str(bad),
        "-f",
        "canonical",
        "-t",
        "canonical",
        "-o",
        str(out),
        "--on-error",
        "skip",
    )
    assert code == 0, err
    assert "rejected 1" in err
    assert (tmp_path / "out.jsonl.rejects.jsonl").read_text().count("\n") == 1


def test_stdout_output(reg: Registry, sample: Path) -> None:
    code, out, _ = run(reg, "convert", str(sample), "-t", "canonical", "-o", "-", "-q")
    assert code == 0 and out.count("\n") == 7


def test_option_routing() -> None:
    r, w = split_options(
        ["a=1", "dst.b=true", "both=x"], {"a", "both"}, {"b", "both"}, "slack", "everos"
    )
    assert r == {"a": 1, "both": "x"} and w == {"b": True, "both": "x"}
    r, w = split_options(["slack.both=[1,2]"], {"both"}, {"both"}, "slack", "everos")
    assert r == {"both": [1, 2]} and w == {}
    with pytest.raises(UsageError, match="neither"):
        split_options(["zep.x=1"], set(), set(), "slack", "everos")


def test_formats_lists_plugins_and_failures(reg: Registry) -> None:
    broken = Registry(
        entry_points=[
            EntryPoint(name="broken", value="tests.no_such_module", group="memshift"),
            EntryPoint(name="canonical", value="memshift_adapters.canonical", group="memshift"),
        ]
    )
    code, out, err = run(broken, "formats")
    assert code == 0
    assert "canonical" in out and "everything" in out
    assert "plugin 'broken'" in err and "failed to load" in err


def test_detect_and_inspect(reg: Registry, sample: Path) -> None:
    code, out, _ = run(reg, "detect", str(sample))
    assert code == 0 and out.startswith("canonical  confidence 1.00")
    code, out, _ = run(reg, "inspect", str(sample), "--to", "chat")
    assert code == 0
    assert "messages: 5" in out and "would lose reactions in 1 record(s)" in out
    assert "2024-01-01T00:00:00+00:00 .. 2024-01-01T00:04:00+00:00" in out


def test_detect_unknown_input(reg: Registry, tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01")
    code, _, err = run(reg, "detect", str(junk))
    assert code == 2 and "no known format" in err


def test_validate_verb(reg: Registry, sample: Path, tmp_path: Path) -> None:
    code, out, _ = run(reg, "validate", str(sample), "--format", "canonical")
    assert code == 0 and out.startswith("valid canonical")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"kind": "message"}\n')
    code, out, _ = run(reg, "validate", str(bad), "--format", "canonical")
    assert code == 1 and out.startswith("invalid: ")


def test_transform_flags(reg: Registry, sample: Path) -> None:
    code, _, err = run(
        reg, "convert", str(sample), "-t", "canonical", "-o", "-", "--since", "2024-01-01T00:02:00"
    )
    assert code == 0, err
    assert "filtered 2: messages outside the date range (widen --since/--until)" in err


def test_progress_bar_renders_on_a_fake_tty() -> None:
    stream = io.StringIO()
    bar = _Progress(10_000, True, stream=stream, mininterval=0)
    bar(1000, 4096)
    bar(2000, 10_000)
    bar.close()
    text = stream.getvalue()
    assert "2,000 records" in text and "converting" in text and "9.77k" in text.replace("K", "k")


def test_no_progress_when_not_a_tty(reg: Registry, sample: Path) -> None:
    code, _, err = run(reg, "convert", str(sample), "-t", "canonical", "-o", "-")
    assert code == 0 and "converting" not in err
    code, _, err = run(reg, "convert", str(sample), "-t", "canonical", "-o", "-", "--progress")
    assert code == 0 and "converting" in err


def test_version_and_completion(reg: Registry) -> None:
    code, out, _ = run(reg, "--version")
    assert code == 0 and memshift.__version__ in out
    code, out, _ = run(reg, "completion", "bash")
    assert code == 0 and "_MEMSHIFT_COMPLETE" in out


def test_python_dash_m(tmp_path: Path) -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "memshift", "--version"], capture_output=True, text=True
    )
    assert proc.returncode == 0 and memshift.__version__ in proc.stdout
