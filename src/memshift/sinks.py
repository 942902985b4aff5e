"""Outputs: a file, a directory of documents, stdout, or memory.

Every document is written under a temporary name in its final directory and renamed only when the
whole run succeeds (``commit``). A failed run calls ``abort`` and leaves nothing behind, not even
half a file, which is what makes ``on_error="strict"`` and ``on_loss="raise"`` safe to re-run.
Document names derived from conversation names are sanitised here, once, for every writer.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import sys
import tempfile
import unicodedata
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Literal

from . import jsonio
from .errors import Location, OutputError

SinkKind = Literal["file", "dir", "zip", "stdout", "memory"]

MANIFEST_NAME = ".memshift-manifest.jsonl"
_MAX_NAME = 120
_WINDOWS_RESERVED = {
    "con", "prn", "aux", "nul",
    *(f"com{i}" for i in range(1, 10)),
    *(f"lpt{i}" for i in range(1, 10)),
}  # fmt: skip
_UNSAFE = re.compile(r'[\x00-\x1f<>:"/\\|?*\x7f]+')


def safe_name(name: str, *, default: str = "conversation") -> str:
    """A deterministic, portable file name (one path segment) for a document.

    Path separators never survive: ``../../x`` becomes ``x`` and ``a/b`` becomes ``a_b``. The name
    is NFC-normalised (so macOS and Linux spellings of "café" collide instead of producing two
    files), control and reserved characters are replaced, dot-files and Windows device names are
    avoided, and long names are capped with a hash suffix so they stay unique.
    """
    segments = [p for p in re.split(r"[/\\]+", name) if p not in ("", ".", "..")]
    name = "_".join(segments)
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem.strip(" ."):
        stem, ext = name, ""
    stem = unicodedata.normalize("NFC", stem)
    stem = _UNSAFE.sub("_", stem).strip(" .")
    stem = re.sub(r"_+", "_", stem)
    if not stem or set(stem) <= {"_", "."}:
        stem = default
    if stem.split(".")[0].lower() in _WINDOWS_RESERVED:
        stem = "_" + stem
    ext = _UNSAFE.sub("", unicodedata.normalize("NFC", ext))[:16]
    if len(stem.encode("utf-8")) > _MAX_NAME:
        digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:10]
        cut = stem.encode("utf-8")[: _MAX_NAME - 11].decode("utf-8", "ignore")
        stem = f"{cut}-{digest}"
    return f"{stem}.{ext}" if ext else stem


def part_name(path: str, part: int) -> str:
    """``batch.jsonl`` -> ``batch.0002.jsonl`` for part 2; part 1 keeps the given name."""
    if part <= 1:
        return path
    head, dot, ext = path.rpartition(".")
    if not dot or "/" in ext:
        return f"{path}.{part:04d}"
    return f"{head}.{part:04d}.{ext}"


class _Staged:
    """A document written to ``tmp`` and renamed to ``final`` at commit. Plain strings, not
    ``Path`` objects: one is kept per document until the commit, and at 10,000 ChatGPT
    conversations the ``Path`` pairs were most of the sink's memory."""

    __slots__ = ("final", "tmp")

    def __init__(self, final: str, tmp: str) -> None:
        self.final = final
        self.tmp = tmp


class Sink:
    """Where a writer puts documents. Writers call :meth:`document` once per output document."""

    def __init__(
        self,
        kind: SinkKind,
        *,
        path: Path | None = None,
        overwrite: bool = True,
        stream: IO[bytes] | None = None,
    ) -> None:
        self.kind: SinkKind = kind
        self.path = path
        self.overwrite = overwrite
        self._stream = stream
        self._staged: list[_Staged] = []
        self._used: set[str] = set()
        self._memory: dict[str, bytes] = {}
        self._spool: IO[bytes] | None = None
        self._created_dir = False
        self._created_subdirs: list[Path] = []
        self._zipfile: zipfile.ZipFile | None = None
        self._zip_tmp: Path | None = None
        self.outputs: list[str] = []
        self.checksums: dict[str, str] = {}
        self.manifest_header: dict[str, Any] | None = None
        #: The conversation the writer is on, set by the pipeline, so the manifest can say which
        #: conversation each document holds (what ``--resume`` skips).
        self.conversation: str | None = None
        self.doc_conversation: dict[str, str | None] = {}
        self.progressive = False
        self._previous: dict[str, dict[str, Any]] = {}
        self._manifest_fh: IO[bytes] | None = None

    @property
    def label(self) -> str:
        if self.kind in ("file", "dir", "zip") and self.path is not None:
            return str(self.path)
        return "<stdout>" if self.kind == "stdout" else "<memory>"

    # -- naming ---------------------------------------------------------------------------------

    def _unique(self, name: str) -> str:
        """Make ``name`` unique within this run, case-insensitively (so two channels that differ
        only in case do not overwrite each other on macOS or Windows)."""
        key = name.lower()
        if key not in self._used:
            self._used.add(key)
            # A folder of a nested name is taken too, so "a" and "a/b.json" cannot collide.
            parts = key.split("/")
            for i in range(1, len(parts)):
                self._used.add("/".join(parts[:i]))
            return name
        stem, dot, ext = name.rpartition(".")
        if not dot:
            stem, ext = name, ""
        n = 2
        while True:
            candidate = f"{stem}-{n}.{ext}" if ext else f"{stem}-{n}"
            if candidate.lower() not in self._used:
                self._used.add(candidate.lower())
                return candidate
            n += 1

    def document_name(self, name: str | None, part: int = 1) -> str:
        """The name a document will get (sanitised, unique, numbered for ``part > 1``)."""
        if self.kind in ("dir", "zip"):
            # Nested names ("general/2024-01-15.json") keep their folders; each part is sanitised.
            segments = re.split(r"[/\\]+", part_name(name or "output", part))
            parts = [safe_name(p) for p in segments if p not in ("", ".", "..")]
            return self._unique("/".join(parts) or "output")
        if self.kind == "file":
            assert self.path is not None
            return part_name(self.path.name, part)
        return self._unique(part_name(name or "output", part))

    # -- writing --------------------------------------------------------------------------------

    @contextmanager
    def document(self, name: str | None = None, *, part: int = 1) -> Iterator[IO[bytes]]:
        """Open one output document for binary writing.

        ``name`` is the document's name inside a directory sink (sanitised here); for a file sink
        it is ignored and ``part > 1`` selects a numbered sibling (``out.0002.jsonl``). The data
        becomes visible only at :meth:`commit`.
        """
        final_name = self.document_name(name, part)
        if self.kind == "memory":
            buf = io.BytesIO()
            yield buf
            self._memory[final_name] = buf.getvalue()
            return
        if self.kind == "zip":
            buf = io.BytesIO()
            yield buf
            self._zip_entry(final_name, buf.getvalue())
            return
        if self.kind == "stdout":
            if self._spool is None:
                self._spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024**2)
            yield self._spool
            return
        directory = self.path if self.kind == "dir" else (self.path.parent if self.path else None)
        assert directory is not None
        final = (directory / final_name).resolve()
        if not final.is_relative_to(directory.resolve()):
            raise OutputError(
                f"document name {name!r} escapes the output directory", Location(str(directory))
            )
        if not directory.exists():
            directory.mkdir(parents=True)
            self._created_dir = self.kind == "dir"
        if not final.parent.exists():
            final.parent.mkdir(parents=True)
            self._created_subdirs.append(final.parent)
        if final.exists() and not self.overwrite:
            raise OutputError("exists (remove it, or drop --no-overwrite)", Location(str(final)))
        fd, tmp = tempfile.mkstemp(
            prefix=f".{final.name}.", suffix=".memshift-tmp", dir=final.parent
        )
        staged = _Staged(str(final), tmp)
        self._staged.append(staged)
        self.doc_conversation[final_name] = self.conversation
        with os.fdopen(fd, "wb", buffering=0) as fh:
            hasher = _HashingWriter(fh)
            # Writers make many small writes (one per record); a C buffer in front of the hashing
            # writer turns them into 1 MiB chunks, so hashing and the syscall happen per chunk.
            buffered = io.BufferedWriter(hasher, buffer_size=1024 * 1024)
            try:
                yield buffered
                buffered.flush()
            except BaseException:
                hasher.discard = True  # the staged file is removed anyway; drop the buffer quietly
                buffered.close()
                raise
            self.checksums[final_name] = hasher.hexdigest()
        if self.progressive:
            # --resume: each finished document becomes visible at once and is recorded, so a
            # killed run can continue from the last complete document.
            os.replace(staged.tmp, staged.final)
            self._staged.remove(staged)
            self.outputs.append(staged.final)
            self._append_manifest(final_name)

    def commit(self) -> None:
        """Make every staged document visible (rename into place) and write the manifest."""
        if self.kind == "stdout" and self._spool is not None:
            self._spool.seek(0)
            out = self._stream or sys.stdout.buffer
            while chunk := self._spool.read(1024 * 1024):
                out.write(chunk)
            out.flush()
            self._spool.close()
            self._spool = None
        if self._zipfile is not None and self._zip_tmp is not None and self.path is not None:
            self._zipfile.close()
            self._zipfile = None
            os.replace(self._zip_tmp, self.path)
            self.outputs.append(str(self.path))
        for staged in self._staged:
            os.replace(staged.tmp, staged.final)
            self.outputs.append(staged.final)
        self._staged.clear()
        if self.kind == "dir" and self.path is not None and self.manifest_header is not None:
            self._write_manifest()

    def abort(self) -> None:
        """Remove every staged document; nothing of this run remains (except, under
        ``--resume``, the documents already completed, which the manifest lists)."""
        if self._manifest_fh is not None:
            self._manifest_fh.close()
            self._manifest_fh = None
        for staged in self._staged:
            try:
                os.unlink(staged.tmp)
            except FileNotFoundError:
                pass
        self._staged.clear()
        if self._zipfile is not None and self._zip_tmp is not None:
            self._zipfile.close()
            self._zipfile = None
            self._zip_tmp.unlink(missing_ok=True)
        if self._spool is not None:
            self._spool.close()
            self._spool = None
        self._memory.clear()
        for sub in reversed(self._created_subdirs):
            try:
                sub.rmdir()
            except OSError:
                pass
        if self._created_dir and self.path is not None:
            try:
                self.path.rmdir()
            except OSError:
                pass

    def _zip_entry(self, name: str, data: bytes) -> None:
        if self._zipfile is None:
            assert self.path is not None
            directory = self.path.parent
            directory.mkdir(parents=True, exist_ok=True)
            if self.path.exists() and not self.overwrite:
                raise OutputError(
                    "exists (remove it, or drop --no-overwrite)", Location(str(self.path))
                )
            fd, tmp = tempfile.mkstemp(
                prefix=f".{self.path.name}.", suffix=".memshift-tmp", dir=directory
            )
            os.close(fd)
            self._zip_tmp = Path(tmp)
            self._zipfile = zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED)
        # A fixed date keeps the archive byte-identical between runs.
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        info.flag_bits |= 0x800
        self._zipfile.writestr(info, data)
        self.checksums[name] = hashlib.sha256(data).hexdigest()

    def _manifest_entries(self) -> list[dict[str, Any]]:
        entries = {name: entry for name, entry in self._previous.items()}
        for name, digest in self.checksums.items():
            entries[name] = {
                "document": name,
                "conversation": self.doc_conversation.get(name),
                "sha256": digest,
            }
        return [entries[name] for name in sorted(entries)]

    def _write_manifest(self) -> None:
        assert self.path is not None and self.manifest_header is not None
        if self._manifest_fh is not None:
            self._manifest_fh.close()
            self._manifest_fh = None
        final = self.path / MANIFEST_NAME
        self.path.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".manifest.", suffix=".memshift-tmp", dir=self.path)
        with os.fdopen(fd, "wb") as fh:
            fh.write(jsonio.dumps_line({"memshift_manifest": 1, **self.manifest_header}))
            for entry in self._manifest_entries():
                fh.write(jsonio.dumps_line(entry))
            fh.write(
                jsonio.dumps_line({"complete": True, "documents": len(self._manifest_entries())})
            )
        os.replace(tmp, final)

    # -- resume ---------------------------------------------------------------------------------

    def start_resume(self) -> set[str]:
        """Switch to progressive mode and return the conversations whose documents a previous run
        completed (each present with the checksum the manifest recorded)."""
        assert self.kind == "dir" and self.path is not None
        self.progressive = True
        done: dict[str, bool] = {}
        manifest = self.path / MANIFEST_NAME
        if manifest.exists():
            for line in manifest.read_bytes().splitlines():
                try:
                    entry = jsonio.loads(line)
                except Exception:
                    continue  # a line cut short by a kill
                name = entry.get("document") if isinstance(entry, dict) else None
                if not name:
                    continue
                path = self.path / name
                ok = path.is_file() and _sha256(path) == entry.get("sha256")
                conv = entry.get("conversation")
                if ok:
                    self._previous[name] = entry
                    self._used.add(name.lower())
                if conv is not None:
                    done[conv] = done.get(conv, True) and ok
        for stale in self.path.rglob("*.memshift-tmp"):
            stale.unlink(missing_ok=True)
        self.path.mkdir(parents=True, exist_ok=True)
        self._manifest_fh = open(manifest, "wb")
        header = {"memshift_manifest": 1, **(self.manifest_header or {}), "complete": False}
        self._manifest_fh.write(jsonio.dumps_line(header))
        for entry in self._previous.values():
            self._manifest_fh.write(jsonio.dumps_line(entry))
        self._manifest_fh.flush()
        return {conv for conv, ok in done.items() if ok}

    def _append_manifest(self, name: str) -> None:
        if self._manifest_fh is None:
            return
        entry = {
            "document": name,
            "conversation": self.doc_conversation.get(name),
            "sha256": self.checksums[name],
        }
        self._manifest_fh.write(jsonio.dumps_line(entry))
        self._manifest_fh.flush()
        os.fsync(self._manifest_fh.fileno())

    # -- results --------------------------------------------------------------------------------

    @property
    def memory_documents(self) -> dict[str, bytes]:
        return dict(self._memory)

    def parsed_documents(self) -> list[Any]:
        """In-memory outputs as Python objects: JSON documents parsed whole, JSON Lines parsed
        line by line (their items flattened in order)."""
        out: list[Any] = []
        for name, data in self._memory.items():
            if name.endswith(".jsonl") or name.endswith(".ndjson"):
                out.extend(jsonio.loads(line) for line in data.splitlines() if line.strip())
            elif name.endswith(".json") or name.endswith(".af"):
                out.append(jsonio.loads(data))
            else:
                out.append(data)
        return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1024 * 1024):
            h.update(chunk)
    return h.hexdigest()


class _HashingWriter(io.RawIOBase):
    """Writes through to a file while computing the SHA-256 that goes into the manifest."""

    def __init__(self, fh: IO[bytes]) -> None:
        self._fh = fh
        self._h = hashlib.sha256()
        self.discard = False

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self.discard:
            return len(data)
        self._h.update(data)
        return self._fh.write(data)

    def hexdigest(self) -> str:
        return self._h.hexdigest()


def open_sink(target: Any, *, layout: Literal["file", "dir"], overwrite: bool = True) -> Sink:
    """Turn a user's target into a :class:`Sink`: ``None`` is memory, ``"-"`` is stdout, a binary
    stream is written at commit, and a path is a directory or a file depending on the format's
    layout."""
    if target is None:
        return Sink("memory")
    if isinstance(target, Sink):
        return target
    if isinstance(target, str) and target == "-":
        return Sink("stdout")
    if hasattr(target, "write"):
        return Sink("stdout", stream=target)
    path = Path(target)
    if layout == "dir" and path.suffix.lower() == ".zip":
        return Sink("zip", path=path, overwrite=overwrite)
    if layout == "dir":
        if path.exists() and not path.is_dir():
            raise OutputError(
                "this format writes one document per conversation; -o must name a directory",
                Location(str(path)),
            )
        return Sink("dir", path=path, overwrite=overwrite)
    if path.is_dir() or str(target).endswith(("/", os.sep)):
        raise OutputError(
            "this format writes a single file; -o must name a file, not a directory",
            Location(str(path)),
        )
    return Sink("file", path=path, overwrite=overwrite)
