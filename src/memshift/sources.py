"""Inputs: a file, a directory, a zip archive, a binary stream, stdin, or Python objects.

Adapters see one :class:`Source` interface whatever the container: ``members()`` lists what is
inside (directory entries or zip members, as POSIX relative names) and ``open()`` streams one of
them. Zip members are read in place, never extracted, and archives are checked for path tricks
and bombs before any member is opened.
"""

from __future__ import annotations

import io
import os
import stat
import sys
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import IO, Any, Literal

from .errors import Location, ReadError, UnsafeInputError

SourceKind = Literal["file", "dir", "zip", "stream", "objects", "members"]

#: Zip bomb guards. The ratio applies to members larger than ``_RATIO_MIN_SIZE``.
MAX_ZIP_RATIO = 200
MAX_ZIP_TOTAL = 64 * 1024**3
_RATIO_MIN_SIZE = 16 * 1024**2


def _fix_zip_name(info: zipfile.ZipInfo) -> str:
    # Zips made on macOS/Linux often store UTF-8 names without setting the UTF-8 flag (bit 11);
    # zipfile then decodes them as cp437 and "café" turns into "cafÃ©". Undo that when the raw
    # bytes are valid UTF-8.
    name = info.filename
    if info.flag_bits & 0x800:
        return name
    try:
        raw = name.encode("cp437")
    except UnicodeEncodeError:
        return name
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return name


def _check_member_name(name: str, archive: str) -> None:
    p = PurePosixPath(name.replace("\\", "/"))
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in p.parts:
        raise UnsafeInputError(
            f"zip member {name!r} points outside the archive (zip slip); refusing to read it",
            Location(archive),
        )


class Source:
    """One input. Create it with :func:`open_source`."""

    def __init__(
        self,
        kind: SourceKind,
        label: str,
        *,
        path: Path | None = None,
        stream: IO[bytes] | None = None,
        objects: Any = None,
        members: Mapping[str, bytes] | None = None,
    ) -> None:
        self.kind: SourceKind = kind
        self.label = label
        self.path = path
        self.objects = objects
        self._stream = stream
        self._mem = dict(members) if members is not None else None
        self._zip: zipfile.ZipFile | None = None
        self._zip_names: dict[str, zipfile.ZipInfo] = {}
        self._prefix = ""
        self._member_list: list[str] | None = None
        self._members_cache: set[str] | None = None
        self._current: IO[bytes] | None = None
        self._current_size = 0
        self._done_bytes = 0
        if kind == "zip":
            self._open_zip()

    def __repr__(self) -> str:
        return f"Source({self.kind}, {self.label!r})"

    # -- zip ------------------------------------------------------------------------------------

    def _open_zip(self) -> None:
        assert self.path is not None
        try:
            zf = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise ReadError(f"not a readable zip archive: {exc}", Location(self.label)) from exc
        total = 0
        names: dict[str, zipfile.ZipInfo] = {}
        for info in zf.infolist():
            name = _fix_zip_name(info)
            _check_member_name(name, self.label)
            mode = info.external_attr >> 16
            if mode and stat.S_ISLNK(mode):
                raise UnsafeInputError(
                    f"zip member {name!r} is a symbolic link; refusing to follow it",
                    Location(self.label),
                )
            if info.is_dir():
                continue
            total += info.file_size
            if info.file_size > _RATIO_MIN_SIZE and info.file_size > MAX_ZIP_RATIO * max(
                info.compress_size, 1
            ):
                raise UnsafeInputError(
                    f"zip member {name!r} expands {info.file_size // max(info.compress_size, 1)}"
                    f"x (limit {MAX_ZIP_RATIO}x): refusing a likely zip bomb",
                    Location(self.label),
                )
            names[name] = info
        if total > MAX_ZIP_TOTAL:
            raise UnsafeInputError(
                f"archive expands to {total} bytes (limit {MAX_ZIP_TOTAL}); refusing it",
                Location(self.label),
            )
        self._zip = zf
        self._zip_names = names
        # Many exports are zipped with one enclosing folder ("export/channels.json"): present the
        # inside of that folder so adapters see the same layout as a directory export.
        tops = {n.split("/", 1)[0] for n in names}
        if len(tops) == 1 and all("/" in n for n in names):
            self._prefix = next(iter(tops)) + "/"

    # -- listing --------------------------------------------------------------------------------

    @property
    def is_container(self) -> bool:
        """True when the source has named members (directory, zip, in-memory documents)."""
        return self.kind in ("dir", "zip", "members")

    def members(self) -> list[str]:
        """Member names relative to the source root, sorted, as POSIX paths."""
        if self._member_list is not None:
            return self._member_list
        if self.kind == "zip":
            p = self._prefix
            out = sorted(n[len(p) :] for n in self._zip_names if n.startswith(p))
        elif self.kind == "dir":
            assert self.path is not None
            root = self.path
            out = []
            for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
                dirnames.sort()
                rel = Path(dirpath).relative_to(root)
                for fn in filenames:
                    full = Path(dirpath) / fn
                    if full.is_symlink():
                        continue  # never follow links out of the export root
                    out.append((rel / fn).as_posix() if rel.parts else fn)
            out.sort()
        elif self.kind == "members":
            assert self._mem is not None
            out = sorted(self._mem)
        elif self.kind == "file":
            assert self.path is not None
            out = [self.path.name]
        else:
            out = []
        self._member_list = out
        return out

    def has(self, member: str) -> bool:
        return member in self._member_set()

    def _member_set(self) -> set[str]:
        if self._members_cache is None:
            self._members_cache = set(self.members())
        return self._members_cache

    # -- reading --------------------------------------------------------------------------------

    def open(self, member: str | None = None) -> IO[bytes]:
        """Open the source (``member=None``) or one member for binary reading."""
        fh = self._open(member)
        if self._current is not None and self._current is not fh:
            self._done_bytes += self._current_size
        self._current = fh
        try:
            self._current_size = self.size(member) or 0
        except OSError:
            self._current_size = 0
        return fh

    @property
    def bytes_read(self) -> int:
        """Input bytes consumed so far (uncompressed for zip members), for progress bars. Read
        from file positions, so counting costs nothing per record."""
        fh = self._current
        if fh is None:
            return self._done_bytes
        if fh.closed:
            return self._done_bytes + self._current_size
        try:
            pos = fh.tell()
        except (OSError, ValueError, AttributeError):
            pos = 0
        if self._current_size:
            pos = min(pos, self._current_size)
        return self._done_bytes + pos

    def _open(self, member: str | None = None) -> IO[bytes]:
        if member is None:
            if self.kind == "file":
                assert self.path is not None
                return open(self.path, "rb")
            if self.kind == "stream":
                assert self._stream is not None
                return self._stream
            if self.kind == "members" and self._mem is not None and len(self._mem) == 1:
                return io.BytesIO(next(iter(self._mem.values())))
            raise ReadError("this input is a container; name a member", Location(self.label))
        if self.kind == "zip":
            assert self._zip is not None
            info = self._zip_names.get(self._prefix + member)
            if info is None:
                raise ReadError("no such member", Location(self.label, member))
            return self._zip.open(info)
        if self.kind == "dir":
            assert self.path is not None
            if member in self._member_set():
                # Listed by our own walk, which skips links: safe to open without resolving.
                return open(self.path / member, "rb")
            full = (self.path / member).resolve()
            if not full.is_relative_to(self.path.resolve()):
                raise UnsafeInputError("path leaves the export root", Location(self.label, member))
            return open(full, "rb")
        if self.kind == "members":
            assert self._mem is not None
            if member not in self._mem:
                raise ReadError("no such member", Location(self.label, member))
            return io.BytesIO(self._mem[member])
        if self.kind == "file" and self.path is not None and member == self.path.name:
            return open(self.path, "rb")
        raise ReadError(f"no member {member!r} in a {self.kind} input", Location(self.label))

    def head(self, size: int = 65536, member: str | None = None) -> bytes:
        """The first bytes of the source or a member, for sniffing. Never consumes a stream."""
        if member is None and self.kind == "stream":
            assert self._stream is not None
            peek = getattr(self._stream, "peek", None)
            if peek is None:
                return b""
            return bytes(peek(size)[:size])
        if member is None and self.kind in ("dir", "zip", "objects"):
            return b""
        try:
            with self._open(member) as fh:
                return fh.read(size)
        except (OSError, ReadError):
            return b""

    def size(self, member: str | None = None) -> int | None:
        """Size in bytes (uncompressed for zip members), for progress and benchmarks."""
        if self.kind == "file" and self.path is not None and member is None:
            return self.path.stat().st_size
        if self.kind == "zip" and member is not None:
            info = self._zip_names.get(self._prefix + member)
            return info.file_size if info else None
        if self.kind == "zip" and member is None:
            return sum(i.file_size for i in self._zip_names.values())
        if self.kind == "dir" and self.path is not None:
            if member is not None:
                return (self.path / member).stat().st_size
            return sum((self.path / m).stat().st_size for m in self.members())
        if self.kind == "members" and self._mem is not None:
            if member is not None:
                return len(self._mem.get(member, b""))
            return sum(len(v) for v in self._mem.values())
        return None

    def mtime(self) -> float | None:
        """Modification time of the input, a deterministic fallback time for formats that have
        none (never the wall clock)."""
        if self.path is not None:
            return self.path.stat().st_mtime
        return None

    def location(self, member: str | None = None, path: str | None = None) -> Location:
        return Location(self.label, member, path)

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_source(obj: Any, *, label: str | None = None) -> Source:
    """Turn what the user passed into a :class:`Source`.

    Accepts a path (str or Path; ``"-"`` is stdin), a binary file object, ``bytes``, a mapping of
    member names to bytes (an in-memory directory), or already-loaded Python objects (a list of
    Slack message dicts, a ChatGPT conversation dict), which the adapter reads as-is.
    """
    if isinstance(obj, Source):
        return obj
    if isinstance(obj, str) and obj == "-":
        stream = sys.stdin.buffer
        if not hasattr(stream, "peek"):
            stream = io.BufferedReader(stream)
        return Source("stream", label or "<stdin>", stream=stream)
    if isinstance(obj, (str, os.PathLike)):
        path = Path(obj)
        name = label or str(obj)
        if not path.exists():
            raise ReadError("no such file or directory", Location(name))
        if path.is_dir():
            return Source("dir", name, path=path)
        if zipfile.is_zipfile(path):
            return Source("zip", name, path=path)
        return Source("file", name, path=path)
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return Source(
            "stream", label or "<bytes>", stream=io.BufferedReader(io.BytesIO(bytes(obj)))
        )
    if hasattr(obj, "read"):
        stream = obj
        if isinstance(stream, io.TextIOBase):
            stream = stream.buffer  # type: ignore[attr-defined]
        if not hasattr(stream, "peek"):
            stream = io.BufferedReader(stream)
        stream_name = label or getattr(obj, "name", None)
        if not isinstance(stream_name, str):
            stream_name = "<stream>"
        return Source("stream", stream_name, stream=stream)
    if (
        isinstance(obj, Mapping)
        and obj
        and all(isinstance(k, str) and isinstance(v, (bytes, bytearray)) for k, v in obj.items())
    ):
        return Source("members", label or "<memory>", members={k: bytes(v) for k, v in obj.items()})
    return Source("objects", label or "<objects>", objects=obj)


def iter_member_names(source: Source, suffix: str = "") -> Iterator[str]:
    for name in source.members():
        if name.endswith(suffix):
            yield name
