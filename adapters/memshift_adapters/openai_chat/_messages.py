"""One Chat Completions message <-> one canonical message, shared by reader, writer and projection.

The API message has no id, no time and no author id: only ``role``, ``content`` (a string or a list
of parts), an optional ``name`` and role-specific keys (``tool_calls``, ``tool_call_id``,
``weight``...). Every key but ``role``/``content``/``name`` rides verbatim in ``openai_chat:<key>``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from memshift.model import Attachment, Message, MessageType, Participant, Role

NS = "openai_chat:"
MAPPED = frozenset({"role", "content", "name"})
#: Extension names derived by the reader (never written back as message keys).
DERIVED = frozenset({"role", "content", "content_missing", "synthetic_id", "synthetic_time"})

ROLES: dict[str, Role] = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "assistant": "assistant",
    "tool": "tool",
    "function": "tool",
}

_MISSING = object()


class FieldError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def conversation_hash(obj: Mapping[str, Any]) -> str:
    """A conversation id from its content (sorted-key JSON), so the same line gets the same id on
    every run and wherever it is stored; a file name or line number would change with either."""
    try:
        data = orjson.dumps(obj, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    except TypeError as exc:
        raise FieldError("messages", f"not JSON-serialisable: {exc}") from None
    return "chat-" + hashlib.sha256(data).hexdigest()[:16]


def _data_mime(url: str) -> str | None:
    if url.startswith("data:"):
        mime = url[5:].split(";", 1)[0].split(",", 1)[0]
        return mime or None
    return None


def _part_attachment(part: Mapping[str, Any]) -> Attachment | None:
    kind = part.get("type")
    if kind == "image_url":
        spec = part.get("image_url")
        if not isinstance(spec, Mapping) or not isinstance(spec.get("url"), str):
            return None
        url = spec["url"]
        ext = {NS + "detail": spec["detail"]} if spec.get("detail") is not None else {}
        return Attachment(url=url, mime_type=_data_mime(url), extensions=ext)
    if kind == "input_audio":
        spec = part.get("input_audio")
        if not isinstance(spec, Mapping):
            return None
        fmt, data = spec.get("format"), spec.get("data")
        mime = f"audio/{fmt}" if isinstance(fmt, str) else None
        url = f"data:{mime or 'audio'};base64,{data}" if isinstance(data, str) else None
        return Attachment(url=url, mime_type=mime)
    if kind == "file":
        spec = part.get("file")
        if not isinstance(spec, Mapping):
            return None
        fid, name, data = spec.get("file_id"), spec.get("filename"), spec.get("file_data")
        url = data if isinstance(data, str) else None
        return Attachment(
            id=fid if isinstance(fid, str) else None,
            name=name if isinstance(name, str) else None,
            url=url,
            mime_type=_data_mime(url) if url else None,
        )
    return None


def render(msg: Mapping[str, Any]) -> tuple[str, tuple[Attachment, ...]]:
    """Text and attachments of a message. Text parts are joined by newlines; an assistant
    message whose only answer is a ``refusal`` gets the refusal as its text."""
    content = msg.get("content")
    atts: list[Attachment] = []
    if isinstance(content, str):
        text = content
    elif isinstance(content, list):
        pieces: list[str] = []
        for part in content:
            if isinstance(part, str):
                pieces.append(part)
            elif isinstance(part, Mapping):
                if part.get("type") == "text" and isinstance(part.get("text"), str):
                    pieces.append(part["text"])
                elif part.get("type") == "refusal" and isinstance(part.get("refusal"), str):
                    pieces.append(part["refusal"])
                else:
                    att = _part_attachment(part)
                    if att is not None:
                        atts.append(att)
        text = "\n".join(pieces)
    else:
        text = ""
    if not text and isinstance(msg.get("refusal"), str):
        text = msg["refusal"]
    return text, tuple(atts)


def message_type(msg: Mapping[str, Any], role: str) -> MessageType:
    if role == "tool":
        return "tool_result"
    calls = msg.get("tool_calls")
    if (isinstance(calls, list) and calls) or isinstance(msg.get("function_call"), Mapping):
        return "tool_call"
    return "message"


def sender_for(role_raw: str, name: str | None) -> str:
    """The API has no author ids: a message's ``name`` is the closest thing (it tells apart
    participants of one role), else the role itself."""
    return name if name else role_raw.lower()


def convert(msg: Any, cid: str, index: int) -> Message:
    """Raises :class:`FieldError` naming the bad field."""
    if not isinstance(msg, Mapping):
        raise FieldError("", f"expected a message object, got {type(msg).__name__}")
    role_raw = msg.get("role")
    if not isinstance(role_raw, str):
        raise FieldError("role", "missing role" if role_raw is None else "expected a string")
    role = ROLES.get(role_raw.lower())
    if role is None:
        raise FieldError("role", f"unknown role {role_raw!r}")
    content = msg.get("content", _MISSING)
    if content is not _MISSING and content is not None and not isinstance(content, (str, list)):
        raise FieldError("content", "expected a string or a list of content parts")
    name = msg.get("name")
    if name is not None and not isinstance(name, str):
        raise FieldError("name", "expected a string")
    ext: dict[str, Any] = {NS + k: v for k, v in msg.items() if k not in MAPPED}
    if role_raw != role:
        ext[NS + "role"] = role_raw
    if content is _MISSING:
        ext[NS + "content_missing"] = True
    elif not isinstance(content, str):
        ext[NS + "content"] = content
    ext[NS + "synthetic_id"] = True
    text, atts = render(msg)
    return Message(
        id=f"{cid}-{index}",
        conversation_id=cid,
        type=message_type(msg, role),
        role=role,
        sender_id=sender_for(role_raw, name),
        sender_name=name,
        text=text,
        attachments=atts,
        extensions=ext,
    )


def sanitize_name(name: str) -> str:
    """The API's ``name`` pattern: ``[A-Za-z0-9_-]``, at most 64 characters."""
    cleaned = "".join(c if (c.isascii() and (c.isalnum() or c in "_-")) else "_" for c in name)
    return cleaned[:64] or "_"


def _regenerated_part(att: Attachment) -> dict[str, Any]:
    url, mime = att.url, att.mime_type
    if url and mime and mime.startswith("audio/") and url.startswith("data:") and ";base64," in url:
        return {
            "type": "input_audio",
            "input_audio": {"data": url.split(";base64,", 1)[1], "format": mime[6:]},
        }
    if url and att.id is None and att.name is None and (mime is None or mime.startswith("image/")):
        spec: dict[str, Any] = {"url": url}
        detail = att.extensions.get(NS + "detail")
        if detail is not None:
            spec["detail"] = detail
        return {"type": "image_url", "image_url": spec}
    file: dict[str, Any] = {}
    if att.id is not None:
        file["file_id"] = att.id
    if att.name is not None:
        file["filename"] = att.name
    if url and url.startswith("data:"):
        file["file_data"] = url
    return {"type": "file", "file": file}


def portable(att: Attachment) -> Attachment:
    """An attachment as a content part can hold it."""
    found = _part_attachment(_regenerated_part(att))
    return found if found is not None else Attachment()


def message_dict(m: Message, sanitize: bool = False) -> dict[str, Any]:
    """The API message for a canonical one. The raw content kept in ``openai_chat:content`` is
    written back only while it still renders to the record's text and attachments."""
    ext = m.extensions
    role_raw = ext.get(NS + "role")
    if not (isinstance(role_raw, str) and ROLES.get(role_raw.lower()) == m.role):
        role_raw = m.role
    out: dict[str, Any] = {"role": role_raw}
    rest: dict[str, Any] = {}
    for key, value in ext.items():
        if key.startswith(NS):
            short = key[len(NS) :]
            if short not in DERIVED and short not in MAPPED:
                rest[short] = value
    name = m.sender_name
    if name is not None and sanitize:
        name = sanitize_name(name)
    atts = tuple(portable(a) for a in m.attachments)
    raw = ext.get(NS + "content", _MISSING)
    candidate: dict[str, Any] | None = None
    if ext.get(NS + "content_missing") is True:
        candidate = {"role": role_raw, **rest}
    elif raw is not _MISSING:
        candidate = {"role": role_raw, "content": raw, **rest}
    if candidate is not None and not (
        render(candidate) == (m.text, atts) and message_type(candidate, m.role) == m.type
    ):
        candidate = None
    if candidate is not None:
        if "content" in candidate:
            out["content"] = candidate["content"]
    elif atts:
        parts: list[Any] = [{"type": "text", "text": m.text}] if m.text else []
        out["content"] = parts + [_regenerated_part(a) for a in atts]
    else:
        out["content"] = m.text
    if name is not None:
        out["name"] = name
    out.update(rest)
    return out


def derive_participants(messages: Iterable[Message]) -> tuple[tuple[Participant, ...], str]:
    """Participants in order of first appearance, and the conversation type: ``group`` when more
    than one named user speaks."""
    order: dict[str, Participant] = {}
    users: set[str] = set()
    for m in messages:
        sid = m.sender_id or m.role
        if m.role == "user":
            users.add(sid)
        p = order.get(sid)
        if p is None:
            order[sid] = Participant(
                id=sid, name=m.sender_name, role=m.role, is_bot=m.role != "user"
            )
        elif p.name is None and m.sender_name:
            order[sid] = p.model_copy(update={"name": m.sender_name})
    return tuple(order.values()), ("group" if len(users) > 1 else "personal")
