"""Read and write options of the ``slack`` format (``-O key=value`` on the command line)."""

from __future__ import annotations

from typing import Any

from pydantic import field_validator

from memshift import Options
from memshift.timeutil import TimestampError, zone

from ._common import DEFAULT_PRECEDENCE, NamePart


class SlackReadOptions(Options):
    include_private: bool = False
    """Read private channels (``groups.json``, and channels flagged ``is_private``). Left out by
    default; the report counts their messages."""
    include_dms: bool = False
    """Read direct messages (``dms.json``). Left out by default and counted."""
    include_mpims: bool = False
    """Read group DMs (``mpims.json``). Left out by default and counted."""
    include_unlisted: bool = False
    """Read channel folders that no index file lists (their privacy is unknown). Exports without
    any index file are always read whole."""
    channels: list[str] = []
    """Only these conversations (names or ids); empty reads all. The rest are counted."""
    channel: str | None = None
    """Conversation id and name for input without an index: a list of message dicts, a single
    day file, a folder of day files or stdin. Default: the day file's folder name, else the
    file's stem, else ``channel``."""
    users: list[dict[str, Any]] | str | None = None
    """Users for name resolution: a list of users.json objects, or the path of a users.json.
    Added to (and overriding) the export's own users.json."""
    name_precedence: list[NamePart] = list(DEFAULT_PRECEDENCE)
    """Which name becomes ``Participant.name``/``sender_name``, first non-empty wins:
    ``display_name`` (profile.display_name), ``real_name``, ``name`` (the @handle)."""
    strip_tokens: bool = True
    """Remove access tokens (``?t=xox…``, ``?token=xox…``) from file URLs. Turn off only to
    download files with the export's own links."""
    text_fallback: bool = True
    """When ``text`` is empty, take the readable text from ``blocks`` or legacy
    ``attachments`` (bot and integration posts); the empty original stays in ``markup``."""
    sort: bool = False
    """Sort each whole conversation by time (with the core's spilling sorter) instead of
    repairing day files against their neighbours: for exports whose day files hold messages of
    distant days, which the reader otherwise keeps where they are, with a warning."""

    @field_validator("channels", "name_precedence", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        # -O channels=general,random reads as a list, like -O channels='["general","random"]'
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @field_validator("name_precedence")
    @classmethod
    def _precedence(cls, value: list[NamePart]) -> list[NamePart]:
        if not value or len(set(value)) != len(value):
            raise ValueError(
                "name_precedence needs distinct entries of display_name, real_name, name"
            )
        return value


class SlackWriteOptions(Options):
    day_timezone: str = "UTC"
    """Time zone whose calendar decides a message's day file. Slack's own exports group by the
    workspace's zone (often America/Los_Angeles); readers always take the day from ``ts``."""

    @field_validator("day_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            zone(value)
        except TimestampError as exc:
            raise ValueError(str(exc)) from None
        return value
