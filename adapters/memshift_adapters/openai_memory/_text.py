"""ChatGPT memory lists as text: the ``model_set_context`` snapshot and a list pasted by hand.

ChatGPT shows saved memories to the model as numbered, dated entries (``1. [2024-09-29]. User is
...``) and users copy them out of Settings as bullet or plain lines. Both the ``openai`` reader
(``-O memories=true``) and the ``openai_memory`` reader parse them here, so the same memory gets the
same id wherever it was found.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime

#: ``1. [2024-09-29]. text`` / ``- text`` / ``• [2024-09-29] text`` / ``text``.
_ENTRY = re.compile(
    r"^(?P<marker>(?:\d{1,4}[.)]|[-*\u2022\u2013])\s+)?"
    r"(?:\[(?P<date>\d{4}-\d{2}-\d{2})\]\.?\s*)?"
    r"(?P<body>.*)$"
)
_MARKED = re.compile(r"^(?:\d{1,4}[.)]|[-*\u2022\u2013])\s+|^\[\d{4}-\d{2}-\d{2}\]")


def memory_id(text: str) -> str:
    """A memory's id from its text. ChatGPT memories have no ids of their own; hashing the text
    makes the same memory collapse to one record whether it came from a snapshot, a bio write or
    a pasted list, and makes re-runs idempotent."""
    return "mem-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def parse_memory_list(text: str) -> list[tuple[str | None, str]]:
    """``(date, text)`` entries of a memory list, in order.

    Each non-empty line is an entry. An unmarked line directly under a marked one (no blank line
    between) continues that entry, so a memory that wraps over two lines stays one memory.
    """
    entries: list[tuple[str | None, str]] = []
    previous_marked = False
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line:
            previous_marked = False
            continue
        marked = _MARKED.match(line) is not None
        if not marked and previous_marked and entries:
            date, body = entries[-1]
            entries[-1] = (date, f"{body}\n{line}")
            continue
        match = _ENTRY.match(line)
        assert match is not None  # the pattern matches any line
        body = match.group("body").strip()
        if body:
            entries.append((match.group("date"), body))
            previous_marked = marked
    return entries


def date_to_datetime(date: str | None) -> datetime | None:
    """Midnight UTC of an entry's ``YYYY-MM-DD`` (the list gives a day, not an instant)."""
    if date is None:
        return None
    try:
        return datetime.strptime(date, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None
