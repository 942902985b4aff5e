"""Inputs and outputs: zip members read in place and checked, names sanitised, output atomic."""

from __future__ import annotations

import io
import os
import stat
import unicodedata
import zipfile
from pathlib import Path

import pytest

from memshift.errors import OutputError, ReadError, UnsafeInputError
from memshift.sinks import Sink, open_sink, part_name, safe_name
from memshift.sources import open_source


def make_zip(path: Path, members: dict[str, bytes], *, utf8_flag: bool = True) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            zf.writestr(info, data)
    if not utf8_flag:
        # Rewrite names as raw UTF-8 bytes without the 0x800 flag, as many macOS/Linux tools do.
        raw = path.read_bytes()
        for name in members:
            encoded = name.encode("utf-8")
            raw = raw.replace(encoded, encoded)  # names are already UTF-8 bytes in the archive
        path.write_bytes(_clear_utf8_flags(raw))
    return path


def _clear_utf8_flags(raw: bytes) -> bytes:
    data = bytearray(raw)
    for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        i = data.find(sig)
        while i != -1:
            flags = int.from_bytes(data[i + off : i + off + 2], "little") & ~0x800
            data[i + off : i + off + 2] = flags.to_bytes(2, "little")
            i = data.find(sig, i + 4)
    return bytes(data)


def test_zip_members_are_listed_and_read_in_place(tmp_path: Path) -> None:
    z = make_zip(
        tmp_path / "a.zip", {"export/users.json": b"[]", "export/general/2024-01-01.json": b"[1]"}
    )
    with open_source(z) as src:
        assert src.kind == "zip"
        assert src.members() == [
            "general/2024-01-01.json",
            "users.json",
        ]  # enclosing folder stripped
        with src.open("general/2024-01-01.json") as fh:
            assert fh.read() == b"[1]"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.zip"]  # nothing extracted


def test_utf8_names_without_flag_are_decoded(tmp_path: Path) -> None:
    z = make_zip(
        tmp_path / "u.zip",
        {"café/2024-01-01.json": b"[]", "日本語/2024-01-01.json": b"[]"},
        utf8_flag=False,
    )
    with zipfile.ZipFile(z) as zf:
        assert all(not (i.flag_bits & 0x800) for i in zf.infolist())
        assert "café/2024-01-01.json" not in zf.namelist()  # zipfile alone gets it wrong
    with open_source(z) as src:
        assert src.members() == ["café/2024-01-01.json", "日本語/2024-01-01.json"]


@pytest.mark.parametrize(
    "name", ["../evil.json", "/etc/passwd", "a/../../b.json", "C:/x.json", "..\\win.json"]
)
def test_zip_slip_is_refused(tmp_path: Path, name: str) -> None:
    z = make_zip(tmp_path / "slip.zip", {"ok.json": b"[]", name: b"[]"})
    with pytest.raises(UnsafeInputError, match="outside the archive"):
        open_source(z)


def test_zip_symlink_is_refused(tmp_path: Path) -> None:
    z = tmp_path / "link.zip"
    with zipfile.ZipFile(z, "w") as zf:
        info = zipfile.ZipInfo("link")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(UnsafeInputError, match="symbolic link"):
        open_source(z)


def test_zip_bomb_ratio_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import memshift.sources as sources

    monkeypatch.setattr(sources, "_RATIO_MIN_SIZE", 1024)
    z = tmp_path / "bomb.zip"
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("big.json", b"0" * 5_000_000)
    with pytest.raises(UnsafeInputError, match="zip bomb"):
        open_source(z)


def test_zip_total_size_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import memshift.sources as sources

    monkeypatch.setattr(sources, "MAX_ZIP_TOTAL", 10)
    z = make_zip(tmp_path / "t.zip", {"a.json": b"[" + b"1," * 20 + b"1]"})
    with pytest.raises(UnsafeInputError, match="expands to"):
        open_source(z)


def test_directory_never_follows_links_outside(tmp_path: Path) -> None:
    root = tmp_path / "export"
    root.mkdir()
    (root / "users.json").write_text("[]")
    outside = tmp_path / "secret.json"
    outside.write_text("{}")
    os.symlink(outside, root / "link.json")
    with open_source(root) as src:
        assert src.members() == ["users.json"]
        with pytest.raises(UnsafeInputError):
            src.open("../secret.json")


def test_missing_input_is_a_located_error(tmp_path: Path) -> None:
    with pytest.raises(ReadError, match="nope.json: no such file"):
        open_source(str(tmp_path / "nope.json"))


def test_streams_can_be_sniffed_without_consuming() -> None:
    src = open_source(io.BytesIO(b'{"a": 1}'))
    assert src.head(3) == b'{"a'
    assert src.open().read() == b'{"a": 1}'


# -- names ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("../../x.json", "x.json"),
        ("a/../b", "a_b"),
        ("a/b.json", "a_b.json"),
        ("con.json", "_con.json"),
        ("LPT1", "_LPT1"),
        ("...", "conversation"),
        ("", "conversation"),
        (".hidden.json", "hidden.json"),
        ("tab\there.json", "tab_here.json"),
    ],
)
def test_safe_name(given: str, expected: str) -> None:
    assert safe_name(given) == expected


def test_safe_name_caps_length_and_stays_unique() -> None:
    a, b = safe_name("x" * 300 + "a.json"), safe_name("x" * 300 + "b.json")
    assert len(a.encode()) <= 130 and a != b and a.endswith(".json")


def test_unicode_normalisation_collides_deterministically(tmp_path: Path) -> None:
    nfc, nfd = unicodedata.normalize("NFC", "café"), unicodedata.normalize("NFD", "café")
    sink = Sink("dir", path=tmp_path / "out")
    with sink.document(f"{nfc}.json") as fh:
        fh.write(b"1")
    with sink.document(f"{nfd}.json") as fh:
        fh.write(b"2")
    sink.commit()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["café-2.json", "café.json"]


def test_hostile_document_names_stay_inside(tmp_path: Path) -> None:
    out = tmp_path / "out"
    sink = Sink("dir", path=out)
    for name in ["../../x.json", "/etc/passwd", "a/../../../b.json", "..", "CON"]:
        with sink.document(name) as fh:
            fh.write(b"{}")
    sink.commit()
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert all(out in p.parents for p in written), written


def test_part_names() -> None:
    assert part_name("batch.jsonl", 1) == "batch.jsonl"
    assert part_name("batch.jsonl", 2) == "batch.0002.jsonl"
    assert part_name("out", 3) == "out.0003"


def test_sink_abort_leaves_nothing(tmp_path: Path) -> None:
    sink = open_sink(tmp_path / "new", layout="dir")
    with sink.document("a.json") as fh:
        fh.write(b"{}")
    sink.abort()
    assert not (tmp_path / "new").exists()


def test_file_layout_refuses_a_directory(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="must name a file"):
        open_sink(tmp_path, layout="file")


def test_zip_sink_is_deterministic(tmp_path: Path) -> None:
    for name in ("a.zip", "b.zip"):
        sink = open_sink(tmp_path / name, layout="dir")
        with sink.document("general/2024-01-01.json") as fh:
            fh.write(b"[]")
        sink.commit()
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    with zipfile.ZipFile(tmp_path / "a.zip") as zf:
        assert zf.namelist() == ["general/2024-01-01.json"]
