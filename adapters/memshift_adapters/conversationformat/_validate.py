"""The union of EverCore's ConversationFormat checks, one line per problem.

EverCore has had three validators: ``validate_conversation_format`` (current), its legacy twin
``validate_group_chat_format``, and ``run_memorize.py --validate-only`` (legacy, stricter about
message keys). A file that passes this checker passes all of them for its generation, and the
checks EverCore left out (time zones, unique ids, scene and role values) are added, because the
importers fail on them later. Each problem names its JSON path: ``conversation_list[3].sender``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from memshift import timeutil

from ._common import META_KEY, TYPES

_SCENES = {"current": ("solo", "team"), "legacy": ("assistant", "group_chat")}
_REQUIRED_MESSAGE_KEYS = ("message_id", "create_time", "sender", "type", "content")
_MISSING = object()


def _iso_problem(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"expected an ISO 8601 string, got {value!r}"
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        try:
            timeutil.parse_iso(value, naive_tz="UTC")
        except timeutil.TimestampError:
            return f"{value!r} is not an ISO 8601 time"
        return None  # dateutil-only spellings are still ISO 8601 with an offset
    if dt.tzinfo is None:
        return f"{value!r} has no UTC offset (write Z or +hh:mm)"
    return None


class Checker:
    """Collects problems for one document; feed it the top level, then each message."""

    def __init__(self, limit: int | None = None) -> None:
        self.problems: list[str] = []
        self.limit = limit
        self.dropped = 0
        self.generation = "current"
        self.meta_key = META_KEY["current"]
        self.user_ids: frozenset[str] = frozenset()
        self.seen: dict[str, int] = {}

    def add(self, path: str, problem: str) -> None:
        if self.limit is not None and len(self.problems) >= self.limit:
            self.dropped += 1
            return
        self.problems.append(f"{path}: {problem}")

    # -- top level -------------------------------------------------------------------------------

    def top(self, members: dict[str, Any], list_state: str) -> None:
        """``members``: the top-level keys except conversation_list; ``list_state``: ``absent``,
        ``list`` or ``other``."""
        if "version" not in members:
            self.add("version", 'missing (EverCore\'s validator requires it; write "1.0.0")')
        elif not isinstance(members["version"], str):
            self.add("version", f"expected a string, got {members['version']!r}")
        current, legacy = META_KEY["current"], META_KEY["legacy"]
        if current in members and legacy in members:
            self.add(legacy, f"a file has {current} (current) or {legacy} (legacy), not both")
        if current not in members and legacy in members:
            self.generation, self.meta_key = "legacy", legacy
        if self.meta_key not in members:
            self.add(current, f"missing (legacy files use {legacy})")
        else:
            self.meta(members[self.meta_key])
        if list_state == "absent":
            self.add("conversation_list", "missing")
        elif list_state == "other":
            self.add("conversation_list", "expected an array of messages")

    def meta(self, meta: Any) -> None:
        key = self.meta_key
        if not isinstance(meta, dict):
            self.add(key, f"expected an object, got {type(meta).__name__}")
            return
        name = meta.get("name", _MISSING)
        if name is _MISSING:
            self.add(f"{key}.name", "missing")
        elif not isinstance(name, str):
            self.add(f"{key}.name", f"expected a string, got {name!r}")
        details = meta.get("user_details", _MISSING)
        if details is _MISSING:
            self.add(f"{key}.user_details", "missing")
        elif not isinstance(details, dict):
            self.add(f"{key}.user_details", "expected an object keyed by user id")
        else:
            self.user_ids = frozenset(details)
            for uid, detail in details.items():
                where = f"{key}.user_details.{uid}"
                if not isinstance(detail, dict):
                    self.add(where, "expected an object")
                    continue
                role = detail.get("role")
                if role is not None and role not in ("user", "assistant"):
                    self.add(f"{where}.role", f"must be 'user' or 'assistant', got {role!r}")
                for field in ("full_name", "custom_role", "email"):
                    if field in detail and not isinstance(detail[field], str):
                        self.add(f"{where}.{field}", "expected a string")
                if "extra" in detail and not isinstance(detail["extra"], dict):
                    self.add(f"{where}.extra", "expected an object")
        scene = meta.get("scene")
        allowed = _SCENES[self.generation]
        if scene is not None and scene not in allowed:
            other = "legacy" if self.generation == "current" else "current"
            hint = f" ({scene!r} is the {other} spelling)" if scene in _SCENES[other] else ""
            self.add(
                f"{key}.scene", f"must be {allowed[0]!r} or {allowed[1]!r}, got {scene!r}{hint}"
            )
        if "scene_desc" in meta and not isinstance(meta["scene_desc"], dict):
            self.add(f"{key}.scene_desc", "expected an object")
        for field in ("description", "group_id"):
            if field in meta and not isinstance(meta[field], str):
                self.add(f"{key}.{field}", "expected a string")
        if "created_at" in meta and (problem := _iso_problem(meta["created_at"])):
            self.add(f"{key}.created_at", problem)
        if "timezone" in meta and "default_timezone" not in meta:
            self.add(f"{key}.timezone", "EverCore reads default_timezone, not timezone")
        tz = meta.get("default_timezone")
        if tz is not None:
            if not isinstance(tz, str):
                self.add(f"{key}.default_timezone", "expected an IANA zone name")
            else:
                try:
                    timeutil.zone(tz)
                except timeutil.TimestampError as exc:
                    self.add(f"{key}.default_timezone", str(exc))
        tags = meta.get("tags")
        if tags is not None and not (
            isinstance(tags, list) and all(isinstance(t, str) for t in tags)
        ):
            self.add(f"{key}.tags", "expected an array of strings")

    # -- messages --------------------------------------------------------------------------------

    def message(self, i: int, msg: Any) -> None:
        where = f"conversation_list[{i}]"
        if not isinstance(msg, dict):
            self.add(where, f"expected a message object, got {type(msg).__name__}")
            return
        for field in _REQUIRED_MESSAGE_KEYS:
            if field not in msg:
                self.add(f"{where}.{field}", "missing")
        mid = msg.get("message_id")
        if "message_id" in msg:
            if not isinstance(mid, str) or not mid:
                self.add(f"{where}.message_id", f"expected a non-empty string, got {mid!r}")
            elif mid in self.seen:
                self.add(
                    f"{where}.message_id",
                    f"duplicate {mid!r} (first at conversation_list[{self.seen[mid]}])",
                )
            else:
                self.seen[mid] = i
        if "create_time" in msg and (problem := _iso_problem(msg["create_time"])):
            self.add(f"{where}.create_time", problem)
        if "sender" in msg:
            self._sender(f"{where}.sender", msg["sender"])
        if "sender_name" in msg and not isinstance(msg["sender_name"], str):
            self.add(f"{where}.sender_name", "expected a string")
        mtype = msg.get("type")
        if "type" in msg and mtype not in TYPES:
            self.add(f"{where}.type", f"must be one of {', '.join(sorted(TYPES))}, got {mtype!r}")
        if "content" in msg and not isinstance(msg["content"], str):
            self.add(f"{where}.content", f"expected a string, got {type(msg['content']).__name__}")
        role = msg.get("role")
        if role is not None and role not in ("user", "assistant"):
            self.add(f"{where}.role", f"must be 'user' or 'assistant', got {role!r}")
        refs = msg.get("refer_list")
        if refs is not None:
            if not isinstance(refs, list):
                self.add(f"{where}.refer_list", "expected an array")
            else:
                for j, ref in enumerate(refs):
                    self._reference(f"{where}.refer_list[{j}]", ref)
        if "extra" in msg and not isinstance(msg["extra"], dict):
            self.add(f"{where}.extra", "expected an object")

    def _sender(self, path: str, sender: Any) -> None:
        if not isinstance(sender, str) or not sender:
            self.add(path, f"expected a user id string, got {sender!r}")
        elif sender not in self.user_ids:
            self.add(path, f"{sender!r} is not a key of {self.meta_key}.user_details")

    def _reference(self, path: str, ref: Any) -> None:
        if isinstance(ref, str):
            if not ref:
                self.add(path, "empty message id")
            return
        if not isinstance(ref, dict):
            self.add(path, f"expected a message id string or an object, got {ref!r}")
            return
        rid = ref.get("message_id")
        if not isinstance(rid, str) or not rid:
            self.add(f"{path}.message_id", "missing" if rid is None else "expected a string")
        if "sender" in ref:
            self._sender(f"{path}.sender", ref["sender"])

    def finish(self) -> list[str]:
        if self.dropped:
            self.problems.append(f"... and {self.dropped} more problems")
        return self.problems


def check_messages(checker: Checker, messages: Iterable[Any]) -> None:
    for i, msg in enumerate(messages):
        checker.message(i, msg)


def validate_document(obj: Any, *, limit: int | None = None) -> list[str]:
    """Problems in one ConversationFormat document given as Python objects (``json.load``'s
    result), one ``path: problem`` line each; an empty list means every EverCore validator of
    the document's generation accepts it."""
    checker = Checker(limit)
    if not isinstance(obj, dict):
        return [f"top level: expected a JSON object, got {type(obj).__name__}"]
    members = {k: v for k, v in obj.items() if k != "conversation_list"}
    items = obj.get("conversation_list", _MISSING)
    state = "absent" if items is _MISSING else "list" if isinstance(items, list) else "other"
    checker.top(members, state)
    if isinstance(items, list):
        check_messages(checker, items)
    return checker.finish()


def iter_problems(lines: Iterable[str], prefix: str) -> Iterator[str]:
    for line in lines:
        yield f"{prefix}: {line}" if prefix else line
