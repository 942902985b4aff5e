"""The issues' "Done when" checks, end to end through the CLI and the public API."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

import memshift
from memshift.registry import Registry
from memshift.sources import open_source

from .conftest import FIXTURES

_REG = Registry()
QUICKSTART = FIXTURES / "slack" / "quickstart" / "input.zip"
MENTIONS = FIXTURES / "slack" / "mentions-and-entities" / "input"
THREADS = FIXTURES / "slack" / "threads-across-days" / "input"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "memshift", *args], capture_output=True, text=True)


def _ts_ms(ts: str) -> int:
    return int(Decimal(ts) * 1000)


def check_everos_documents(out: Path, channels: dict[str, str]) -> int:
    """Every rule of the EverOS group document: one per channel, ms timestamps matching ts,
    sorted, message ids always present and never gen_-prefixed, mentions resolved."""
    docs = sorted(out.glob("*.json"))
    assert {json.loads(p.read_text())["group_id"] for p in docs} == set(channels)
    total = 0
    for path in docs:
        doc = json.loads(path.read_text())
        assert set(doc) == {"group_id", "group_meta", "messages"}
        assert doc["group_meta"]["name"] == channels[doc["group_id"]]
        stamps = [m["timestamp"] for m in doc["messages"]]
        assert stamps == sorted(stamps), f"{path.name}: not chronological"
        assert 1 <= len(doc["messages"]) <= 500 or len(doc["messages"]) == 0
        for m in doc["messages"]:
            assert set(m) == {
                "message_id",
                "role",
                "sender_id",
                "sender_name",
                "timestamp",
                "content",
            }
            assert m["role"] == "user"
            assert isinstance(m["timestamp"], int) and m["timestamp"] == _ts_ms(m["message_id"])
            assert not m["message_id"].startswith("gen_") and not m["sender_id"].startswith("gen_")
            assert m["content"] and "<@U" not in m["content"] and "&amp;" not in m["content"]
            total += 1
    return total


def _channels(export: Path) -> dict[str, str]:
    with open_source(export) as src, src.open("channels.json") as fh:
        return {c["id"]: c["name"] for c in json.load(fh)}


@pytest.mark.parametrize("export", [QUICKSTART, THREADS], ids=lambda p: p.parent.name)
def test_slack_to_everos_cli(export: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = cli("convert", str(export), "--from", "slack", "--to", "everos", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "slack -> everos" in proc.stderr
    assert check_everos_documents(out, _channels(export)) > 0


def test_mentions_are_resolved_to_names(tmp_path: Path) -> None:
    docs = memshift.convert(MENTIONS, src="slack", dst="everos", registry=_REG)
    text = "\n".join(m["content"] for d in docs for m in d["messages"])
    assert "@Grace Hopper and @linus: please review" in text
    assert "@here standup in 5, @channel too." in text
    # A mention spelled with entities in the source is literal text, and stays literal.
    assert "literal <@U01ADA0001> and &lt; stay text" in text


def test_slack_to_conversationformat_passes_the_validator(tmp_path: Path) -> None:
    out = tmp_path / "cf"
    proc = cli(
        "convert", str(QUICKSTART), "--from", "slack", "--to", "conversationformat", "-o", str(out)
    )
    assert proc.returncode == 0, proc.stderr
    files = sorted(out.glob("*.json"))
    assert len(files) == 3
    for path in files:
        check = cli("validate", str(path), "--format", "conversationformat")
        assert check.returncode == 0, check.stdout


def test_python_api_on_an_export_zip(tmp_path: Path) -> None:
    report = memshift.convert(str(QUICKSTART), str(tmp_path / "out"), src="slack", dst="everos")
    assert report.balanced and report.written > 0 and report.conversations == 3
    assert check_everos_documents(tmp_path / "out", _channels(QUICKSTART)) == report.written


def test_python_api_on_a_list_of_slack_message_dicts() -> None:
    """As easy as the hand-written converter in EverOS's batch-import guide, and better: sorted,
    ids kept, mentions resolved, times exact."""
    messages = [
        {"type": "message", "user": "U1", "text": "second <@U2>", "ts": "1700000060.000200"},
        {
            "type": "message",
            "user": "U2",
            "text": "first &amp; foremost",
            "ts": "1700000000.000100",
        },
    ]
    docs = memshift.convert(messages, src="slack", dst="everos")
    assert len(docs) == 1
    doc = docs[0]
    assert [m["message_id"] for m in doc["messages"]] == ["1700000000.000100", "1700000060.000200"]
    assert [m["timestamp"] for m in doc["messages"]] == [1700000000000, 1700000060000]
    assert doc["messages"][0]["content"] == "first & foremost"
    assert docs.report.balanced and docs.report.written == 2


def test_formats_lists_the_issue_2_formats_through_entry_points() -> None:
    proc = cli("formats")
    assert proc.returncode == 0
    for name in ("canonical", "everos", "conversationformat", "slack"):
        assert f"memshift 0.1.0 [{name}]" in proc.stdout


def test_a_broken_plugin_does_not_break_formats(tmp_path: Path) -> None:
    """Install a deliberately broken plugin (an entry point whose module raises on import) and
    check that ``memshift formats`` still lists everything else."""
    site = tmp_path / "site"
    dist = site / "broken_plugin-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[memshift]\nbroken = broken_plugin_mod\n")
    (site / "broken_plugin_mod.py").write_text(
        "raise RuntimeError('this plugin is broken on purpose')\n"
    )
    env_path = str(site)
    proc = subprocess.run(
        [sys.executable, "-m", "memshift", "formats"],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "PYTHONPATH": env_path},
    )
    assert proc.returncode == 0, proc.stderr
    assert "slack" in proc.stdout and "everos" in proc.stdout
    assert "plugin 'broken' (from broken-plugin) failed to load" in proc.stderr
    assert "broken on purpose" in proc.stderr


REAL = {
    "slack": "slack",
    "discord-dce": "discord",
    "discord-gdpr": "discord",
    "chatgpt": "openai",
    "evercore": "conversationformat",
}


def _real_inputs(root: Path, folder: str) -> list[Path]:
    base = root / folder
    if folder == "slack":
        # A real export folder, and Zulip's test fixtures: single day files, one per file.
        return [base / "hfaran-testarchive", *sorted((base / "zulip-fixtures").glob("*_*.json"))]
    if folder == "discord-gdpr":
        return sorted(p for p in base.iterdir() if p.is_dir())
    if folder == "discord-dce":
        return sorted(p for p in base.rglob("*.json"))
    return sorted(p for p in base.rglob("*.json"))


@pytest.mark.real_samples
@pytest.mark.parametrize("folder", sorted(REAL))
def test_every_real_sample_converts_to_everos(
    folder: str, real_samples: Path, tmp_path: Path
) -> None:
    fmt = REAL[folder]
    if fmt not in _REG.names():
        pytest.skip(f"{fmt} is not registered")
    inputs = _real_inputs(real_samples, folder)
    assert inputs, f"no samples in {folder}"
    for i, path in enumerate(inputs):
        out = tmp_path / f"out{i}"
        proc = cli("convert", str(path), "--from", fmt, "--to", "everos", "-o", str(out))
        assert proc.returncode == 0, f"{path}: {proc.stderr}"
        assert list(out.glob("*.json")), f"{path}: nothing written"


# -- issue 6: nothing lost, every bad input answered clearly, nothing escapes -----------------------

DCE = FIXTURES / "discord" / "reactions-users" / "input.json"


def _broken_dce(tmp_path: Path) -> tuple[Path, int]:
    doc = json.loads(DCE.read_text())
    extra = []
    for i in range(6):
        m = json.loads(json.dumps(doc["messages"][0]))
        m["id"] = str(int(m["id"]) + 1000 + i)
        m["timestamp"] = f"2023-05-0{i + 1}T10:00:00+00:00"
        extra.append(m)
    extra[1]["timestamp"] = "yesterday"  # broken message 1
    del extra[4]["author"]  # broken message 2
    doc["messages"] = doc["messages"] + extra
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(doc))
    return path, len(doc["messages"])


def test_discord_with_two_broken_messages_strict(tmp_path: Path) -> None:
    path, _ = _broken_dce(tmp_path)
    out = tmp_path / "out"
    proc = cli("convert", str(path), "--from", "discord", "--to", "everos", "-o", str(out))
    assert proc.returncode == 1
    line = proc.stderr.strip()
    assert "\n" not in line and line.startswith("memshift: error: ")
    assert "broken.json" in line and "messages[" in line and "timestamp" in line
    assert "Traceback" not in proc.stderr
    assert not out.exists()


def test_discord_with_two_broken_messages_skip(tmp_path: Path) -> None:
    path, total = _broken_dce(tmp_path)
    out = tmp_path / "out"
    rejects = tmp_path / "rejects.jsonl"
    proc = cli(
        "convert",
        str(path),
        "--from",
        "discord",
        "--to",
        "everos",
        "-o",
        str(out),
        "--on-error",
        "skip",
        "--rejects",
        str(rejects),
    )
    assert proc.returncode == 0, proc.stderr
    lines = rejects.read_text().splitlines()
    assert len(lines) == 2
    reasons = [json.loads(line)["reason"] for line in lines]
    assert any("timestamp" in r for r in reasons) and any("author" in r for r in reasons)
    assert f"read {total}," in proc.stderr and "rejected 2" in proc.stderr
    written = sum(len(json.loads(p.read_text())["messages"]) for p in out.glob("*.json"))
    assert written > 0
    assert f"written {written}," in proc.stderr


def _hostile_slack_export(tmp_path: Path) -> Path:
    import zipfile

    path = tmp_path / "hostile.zip"
    users = [{"id": "U1", "name": "ann", "real_name": "Ann", "profile": {"display_name": "ann"}}]
    channels = [{"id": "C1", "name": "../../x", "created": 1700000000, "members": ["U1"]}]
    day = [{"type": "message", "user": "U1", "text": "hi", "ts": "1700000000.000100"}]
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("users.json", json.dumps(users))
        zf.writestr("channels.json", json.dumps(channels))
        zf.writestr("../../x/2023-11-14.json", json.dumps(day))
    return path


def test_zip_slip_member_writes_nothing_anywhere(tmp_path: Path) -> None:
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    out = work / "out"
    proc = cli(
        "convert",
        str(_hostile_slack_export(tmp_path)),
        "-f",
        "slack",
        "-t",
        "everos",
        "-o",
        str(out),
    )
    assert proc.returncode == 1 and "zip slip" in proc.stderr
    assert (
        not out.exists() and not (tmp_path / "x").exists() and not (tmp_path / "a" / "x").exists()
    )


@pytest.mark.parametrize("dst", ["everos", "slack", "conversationformat", "discord"])
def test_hostile_channel_name_stays_inside_the_output(dst: str, tmp_path: Path) -> None:
    export = tmp_path / "export"
    (export / "evil").mkdir(parents=True)
    (export / "users.json").write_text(json.dumps([{"id": "U1", "name": "ann"}]))
    (export / "channels.json").write_text(
        json.dumps([{"id": "C1", "name": "../../x", "created": 1700000000, "members": ["U1"]}])
    )
    (export / "evil" / "2023-11-14.json").write_text(
        json.dumps([{"type": "message", "user": "U1", "text": "hi", "ts": "1700000000.000100"}])
    )
    # The channel folder is named after the channel in real exports; a name with '..' must never
    # be followed outside the export root, so the reader looks it up inside the root only.
    work = tmp_path / "w1" / "w2"
    work.mkdir(parents=True)
    out = work / "out"
    proc = cli(
        "convert", str(export), "-f", "slack", "-t", dst, "-o", str(out), "--on-loss", "ignore"
    )
    assert proc.returncode in (0, 1), proc.stderr
    assert "Traceback" not in proc.stderr
    outside = [
        p
        for p in tmp_path.rglob("*")
        if p.is_file() and export not in p.parents and out not in p.parents
    ]
    assert outside == [], outside


# -- issue 7: the verbs on every built-in format ---------------------------------------------------

from memshift.testing import golden  # noqa: E402

CASES = [c for c in golden.find_cases(FIXTURES) if c.format in _REG.names()]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_inspect_and_validate_every_fixture(case: golden.GoldenCase) -> None:
    from click.testing import CliRunner

    from memshift.cli import cli as command

    options = [f"-O{k}={json.dumps(v)}" for k, v in case.options.items()]
    result = CliRunner().invoke(
        command, ["inspect", str(case.input), "-f", case.format, *options], obj={"registry": _REG}
    )
    assert result.exit_code == 0, result.output
    assert f"{case.input}: {case.format}" in result.stdout
    assert "messages:" in result.stdout and "date span:" in result.stdout
    result = CliRunner().invoke(
        command, ["validate", str(case.input), "--format", case.format], obj={"registry": _REG}
    )
    assert result.exit_code in (0, 1), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stdout.startswith(("valid ", "invalid: "))


def test_inspect_to_zep_reports_the_fixture_limit_violation() -> None:
    path = FIXTURES / "zep" / "over-limit-content"
    source = next(p for p in path.iterdir() if p.name.startswith("input"))
    proc = cli("inspect", str(source), "--from", "zep", "--to", "zep")
    assert proc.returncode == 0, proc.stderr
    assert "limit violations: 1" in proc.stdout or "limit violations:" in proc.stdout
    assert "message_chars" in proc.stdout and "2545 > 2500" in proc.stdout


DETECT_REAL = {
    "slack/hfaran-testarchive": "slack",
    "slack/zulip-fixtures": "slack",
    "discord-dce": "discord",
    "discord-gdpr": "discord",
    "chatgpt": "openai",
    "evercore": "conversationformat",
    "letta": "letta",
}


@pytest.mark.real_samples
@pytest.mark.parametrize("where", sorted(DETECT_REAL))
def test_detect_names_every_real_sample(where: str, real_samples: Path) -> None:
    base = real_samples / where
    if where == "slack/hfaran-testarchive" or where == "discord-gdpr":
        inputs = (
            [base] if where.startswith("slack") else sorted(p for p in base.iterdir() if p.is_dir())
        )
    else:
        inputs = sorted(p for p in base.rglob("*") if p.is_file() and p.suffix in (".json", ".af"))
    assert inputs
    for path in inputs:
        with open_source(path) as source:
            found = _REG.detect(source)
        assert found and found[0].name == DETECT_REAL[where], f"{path}: {found[:2]}"
