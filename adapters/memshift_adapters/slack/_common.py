"""What reading, writing and projection must agree on: Slack timestamps, name precedence,
which subtypes are events, and how a user object maps to a :class:`Participant`.

Keeping these in one place is what makes ``read(write(x)) == x`` hold by construction rather than
by coincidence: the writer produces exactly the shapes the reader consumes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from memshift.model import Participant
from memshift.timeutil import EPOCH, TimestampError, from_epoch_seconds, to_epoch_micros

NS = "slack:"

#: ``1452845865.000008``: Unix seconds and (normally six) fraction digits, always a JSON string.
_TS_RE = re.compile(r"\d{1,12}(?:\.\d{1,9})?")

#: Subtypes that are somebody saying something. Every other subtype (joins, topic changes, pins,
#: tombstones and the ones Slack invents next year) is an event: a new subtype must never turn
#: into a silent message, and must never break the reader either.
CONTENT_SUBTYPES = frozenset(
    {
        "bot_message",
        "me_message",
        "file_share",
        "file_comment",
        "file_mention",
        "thread_broadcast",
        "reply_broadcast",
        "slackbot_response",
    }
)

#: Subtype the writer gives events from other formats (a Discord join, a ChatGPT system note), so
#: that they read back as events; Slack tools show unknown subtypes as plain messages.
FOREIGN_EVENT_SUBTYPE = "memshift_event"

NamePart = Literal["display_name", "real_name", "name"]
DEFAULT_PRECEDENCE: tuple[NamePart, ...] = ("display_name", "real_name", "name")

#: Index files of an export, in the order their conversations are read, with the ``slack:kind``
#: marker they give (None: public channels).
INDEX_FILES: tuple[tuple[str, str | None], ...] = (
    ("channels.json", None),
    ("groups.json", "private"),
    ("mpims.json", "mpim"),
    ("dms.json", "dm"),
)
KIND_FILE = {kind: name for name, kind in INDEX_FILES}

#: Top-level names the writer never uses as a channel folder.
RESERVED_NAMES = frozenset(
    {
        "channels.json",
        "groups.json",
        "mpims.json",
        "dms.json",
        "users.json",
        "org_users.json",
        "integration_logs.json",
        "canvases.json",
        "content_flags.json",
    }
)

#: A memshift-only key in an index entry naming the folder when neither the channel name nor its
#: id can be one (written only for conversations from other formats).
FOLDER_KEY = "memshift_folder"


def is_slack_ts(value: object) -> bool:
    return isinstance(value, str) and _TS_RE.fullmatch(value) is not None


def parse_ts(value: object) -> datetime:
    """A Slack ``ts`` string to aware UTC, exact to the microsecond (never through a float)."""
    if not isinstance(value, str):
        kind = "a number" if isinstance(value, (int, float)) else type(value).__name__
        raise TimestampError(
            f"not a Slack timestamp: {value!r} ({kind}; Slack writes ts as a string)"
        )
    if _TS_RE.fullmatch(value) is None:
        raise TimestampError(f"not a Slack timestamp: {value!r}")
    return from_epoch_seconds(value)


def parse_epoch(value: object) -> datetime:
    """``created``: Unix seconds as an int or a numeric string (both occur in real exports)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TimestampError(f"not a Unix timestamp: {value!r}")
    try:
        return from_epoch_seconds(value)
    except OverflowError:  # a huge float; timeutil lets it escape
        raise TimestampError(f"timestamp out of range: {value!r}") from None


def format_ts(dt: datetime) -> str:
    """The ``ts`` spelling of an instant: seconds, a dot, six digits."""
    micros = to_epoch_micros(dt)
    if micros < 0:
        raise TimestampError(f"a time before 1970 cannot be a Slack ts: {dt.isoformat()}")
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def ts_day(ts: str, zone: Any = UTC) -> str:
    """``YYYY-MM-DD`` of a ts in ``zone``: the day file a message goes in."""
    if zone is UTC:
        seconds = int(ts.split(".", 1)[0])
        return date.fromordinal(719163 + seconds // 86_400).isoformat()
    return from_epoch_seconds(ts).astimezone(zone).date().isoformat()


def next_ts(ts: str) -> str:
    """The ts one microsecond later (to keep derived ids unique)."""
    return format_ts(from_epoch_seconds(ts) + timedelta(microseconds=1))


def epoch_seconds(dt: datetime) -> int:
    return int((dt - EPOCH).total_seconds() // 1)


def is_event_subtype(subtype: object) -> bool:
    return isinstance(subtype, str) and subtype not in CONTENT_SUBTYPES


def bot_post(raw: Mapping[str, Any], has_user: bool) -> bool:
    """Whether a message says, by itself, that a bot or integration posted it (``bot_add`` has a
    ``bot_id`` too, but a person sent it)."""
    return (
        raw.get("subtype") == "bot_message"
        or isinstance(raw.get("bot_profile"), dict)
        or (not has_user and isinstance(raw.get("bot_id"), str))
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _take(fields: dict[str, Any], key: str) -> str | None:
    """A non-empty string field, removed from ``fields`` so only what the model does not name is
    left to travel in extensions."""
    value = _text(fields.get(key))
    if value:
        del fields[key]
    return value


def pick_name(
    display: str | None, real: str | None, handle: str | None, precedence: Sequence[NamePart]
) -> str | None:
    for part in precedence:
        value = display if part == "display_name" else real if part == "real_name" else handle
        if value:
            return value
    return None


def profile_name(profile: object, precedence: Sequence[NamePart]) -> str | None:
    """The name a ``user_profile`` snapshot (external users) resolves to."""
    if not isinstance(profile, dict):
        return None
    return pick_name(
        _text(profile.get("display_name")),
        _text(profile.get("real_name")),
        _text(profile.get("name")),
        precedence,
    )


def participant_from_user(raw: Mapping[str, Any], precedence: Sequence[NamePart]) -> Participant:
    """A users.json entry as a Participant; every key not mapped to a field stays in
    ``slack:<key>`` extensions (the profile remainder in ``slack:profile``) for the writer."""
    rest = dict(raw)
    uid = rest.pop("id")
    prof_raw = rest.pop("profile", None)
    prof = dict(prof_raw) if isinstance(prof_raw, dict) else None
    display = real_p = title = email = None
    if prof is not None:
        display = _take(prof, "display_name")
        real_p = _take(prof, "real_name")
        title = _take(prof, "title")
        email = _take(prof, "email")
    real_t = _text(rest.get("real_name"))
    real = real_p or real_t
    if real_t and (real_p is None or real_t == real_p):
        del rest["real_name"]
    handle = _text(rest.get("name"))
    if handle:
        del rest["name"]
    tz = _text(rest.get("tz"))
    if tz:
        del rest["tz"]
    is_deleted = rest.pop("deleted", False) is True
    is_bot = rest.pop("is_bot", False) is True
    ext: dict[str, Any] = {NS + k: v for k, v in rest.items()}
    if prof:
        ext[NS + "profile"] = prof
    elif prof_raw is not None and not isinstance(prof_raw, dict):
        ext[NS + "profile"] = prof_raw
    return Participant(
        id=uid,
        name=pick_name(display, real, handle, precedence),
        real_name=real,
        display_name=display,
        nick=handle,
        is_bot=is_bot,
        is_deleted=is_deleted,
        job_title=title,
        email=email,
        timezone=tz,
        extensions=ext,
    )


def user_from_participant(p: Participant) -> dict[str, Any]:
    """The users.json entry for a Participant: the inverse of :func:`participant_from_user`."""
    rest = {k[len(NS) :]: v for k, v in p.extensions.items() if k.startswith(NS)}
    prof_rest = rest.pop("profile", None)
    out: dict[str, Any] = {"id": p.id}
    if p.nick:
        out["name"] = p.nick
    out["deleted"] = p.is_deleted
    out["is_bot"] = p.is_bot
    if p.real_name and "real_name" not in rest:
        out["real_name"] = p.real_name
    if p.timezone:
        out["tz"] = p.timezone
    if isinstance(prof_rest, dict) or prof_rest is None:
        prof = dict(prof_rest or {})
        if p.real_name:
            prof["real_name"] = p.real_name
        if p.display_name:
            prof["display_name"] = p.display_name
        if p.job_title:
            prof["title"] = p.job_title
        if p.email:
            prof["email"] = p.email
        if prof:
            out["profile"] = prof
    else:
        out["profile"] = prof_rest
    for key, value in rest.items():
        if key not in out and key not in ("id", "deleted", "is_bot"):
            out[key] = value
    return out


def partial_user(uid: str, name: str) -> dict[str, Any]:
    """A users.json entry for somebody known only by a name (a sender from another format): the
    name goes where every precedence finds it."""
    return {"id": uid, "name": name, "real_name": name, "profile": {"real_name": name}}
