"""ChatGPT message content: how each ``content_type`` becomes canonical text, type and attachments.

The reader, the writer and the projection all go through these functions, so the three agree on
one rule set: what text a ``thoughts`` node renders to, when a node is a tool call, how an image
pointer becomes an attachment, and when the raw content must ride along in ``openai:content``
because the writer could not rebuild it from the text alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from memshift.model import Attachment, MessageType, Role
from memshift.timeutil import to_epoch_micros

NS = "openai:"

#: Content types rendered as ``type="reasoning"``.
REASONING_TYPES = frozenset({"thoughts", "reasoning_recap"})
#: Context injected into the conversation (Custom Instructions, the memory snapshot).
CONTEXT_TYPES = frozenset({"user_editable_context", "model_editable_context"})

DEFAULT_ROOT_ID = "client-created-root"
DEFAULT_STATUS = "finished_successfully"
ASSISTANT_NAME = "ChatGPT"

#: Source role spellings (lower-cased) -> canonical role. Third-party "ChatGPT-like" files use
#: ``AI``/``human``; ``developer``/``function`` are OpenAI API spellings.
ROLES: dict[str, Role] = {
    "user": "user",
    "human": "user",
    "assistant": "assistant",
    "ai": "assistant",
    "gpt": "assistant",
    "system": "system",
    "developer": "system",
    "tool": "tool",
    "function": "tool",
}

# Citation markers: U+E200 ... U+E201 wraps a whole citation ("\ue200cite\ue202turn0search3\ue201");
# U+E203/U+E204 wrap a highlighted span whose text stays; 2023 exports wrote "【4:0†source】".
_CITATION = re.compile("[ \t]?\ue200[^\ue200\ue201]*\ue201")
_STRAY_MARKERS = re.compile("[\ue200-\ue206]")
_OLD_CITATION = re.compile("\u3010[^\u3010\u3011]{0,80}\u2020[^\u3010\u3011]{0,200}\u3011")

_ATTACHMENT_FIELDS = ("id", "name", "mime_type", "size", "url")


def strip_citations(text: str) -> str:
    """Text without ChatGPT's private-use citation placeholders, which render as garbage anywhere
    but in the ChatGPT UI."""
    if "\ue200" in text or "\ue203" in text or "\ue202" in text:
        text = _STRAY_MARKERS.sub("", _CITATION.sub("", text))
    if "\u3010" in text:
        text = _OLD_CITATION.sub("", text)
    return text


def message_type(role: str, recipient: Any, content_type: Any) -> MessageType:
    """The canonical type of a node: reasoning by content, tool output by role, a tool call when
    the assistant addresses anyone but ``all``."""
    if isinstance(content_type, str) and content_type in REASONING_TYPES:
        return "reasoning"
    if role == "tool":
        return "tool_result"
    if isinstance(recipient, str) and recipient != "all":
        return "tool_call"
    return "message"


def sender_id(role: str, sender_name: str | None) -> str:
    """ChatGPT identifies authors by role only; tools by their name (``python``, ``bio``)."""
    if role == "tool":
        return sender_name or "tool"
    return role


def _join_strings(parts: Any) -> str:
    if not isinstance(parts, list):
        return ""
    return "\n".join(p for p in parts if isinstance(p, str))


def _render_thoughts(thoughts: Any) -> str:
    if not isinstance(thoughts, list):
        return ""
    entries = []
    for t in thoughts:
        if not isinstance(t, dict):
            continue
        pieces = [x for x in (t.get("summary"), t.get("content")) if isinstance(x, str) and x]
        if pieces:
            entries.append("\n".join(pieces))
    return "\n\n".join(entries)


def render_text(content: Mapping[str, Any], strip: bool) -> str:
    """The canonical text of a content object (Markdown as ChatGPT wrote it)."""
    ct = content.get("content_type")
    if ct == "text":
        text = _join_strings(content.get("parts"))
    elif ct == "multimodal_text":
        pieces: list[str] = []
        parts = content.get("parts")
        for part in parts if isinstance(parts, list) else ():
            if isinstance(part, str):
                pieces.append(part)
            elif isinstance(part, dict) and part.get("content_type") == "audio_transcription":
                said = part.get("text")
                if isinstance(said, str):
                    pieces.append(said)
        text = "\n".join(pieces)
    elif ct == "thoughts":
        return _render_thoughts(content.get("thoughts"))
    elif ct == "reasoning_recap":
        recap = content.get("content")
        return recap if isinstance(recap, str) else ""
    elif ct == "user_editable_context":
        text = "\n\n".join(
            v
            for v in (content.get("user_profile"), content.get("user_instructions"))
            if isinstance(v, str) and v
        )
    elif ct == "model_editable_context":
        msc = content.get("model_set_context")
        text = msc if isinstance(msc, str) else ""
    elif ct == "tether_browsing_display":
        result, summary = content.get("result"), content.get("summary")
        text = result if isinstance(result, str) and result else ""
        if not text and isinstance(summary, str):
            text = summary
    else:
        # code, execution_output, tether_quote, sonic_webpage, system_error and unknown types
        # carry their text in "text"; anything else keeps only its raw form.
        value = content.get("text")
        if isinstance(value, str):
            text = value
        elif "parts" in content:
            text = _join_strings(content.get("parts"))
        else:
            text = ""
    return strip_citations(text) if strip else text


def _attachment(
    entry: Mapping[str, Any], pointer: str | None = None, part: Mapping[str, Any] | None = None
) -> Attachment:
    ext: dict[str, Any] = {}
    if part is not None:
        for key in ("width", "height"):
            if isinstance(part.get(key), int):
                ext[NS + key] = part[key]
        meta = part.get("metadata")
        dalle = meta.get("dalle") if isinstance(meta, dict) else None
        if isinstance(dalle, dict) and isinstance(dalle.get("prompt"), str):
            ext[NS + "prompt"] = dalle["prompt"]  # what a generated image shows
    for key, value in entry.items():
        if key not in _ATTACHMENT_FIELDS and key != "path":
            ext[NS + key] = value
    name, mime, size = entry.get("name"), entry.get("mime_type"), entry.get("size")
    if not (isinstance(size, int) and not isinstance(size, bool)):
        if size is not None:
            ext[NS + "size"] = size
        size = None
        if part is not None:
            alt = part.get("size_bytes")
            size = alt if isinstance(alt, int) and not isinstance(alt, bool) else None
    att_id = entry.get("id")
    url = pointer if pointer is not None else entry.get("url")
    if pointer is not None and not isinstance(att_id, str):
        att_id = pointer.split("://", 1)[1] if "://" in pointer else pointer
    return Attachment(
        id=att_id if isinstance(att_id, str) else None,
        name=name if isinstance(name, str) else None,
        mime_type=mime if isinstance(mime, str) else None,
        size=size,
        url=url if isinstance(url, str) else None,
        extensions=ext,
    )


def render_attachments(
    content: Mapping[str, Any], metadata: Mapping[str, Any] | None
) -> tuple[Attachment, ...]:
    """Image/audio pointers in the content, merged with ``metadata.attachments`` (uploads) by file
    id; uploads without a pointer follow in their own order."""
    raw_entries = metadata.get("attachments") if metadata else None
    parts = content.get("parts")
    if raw_entries is None and content.get("content_type") != "multimodal_text":
        return ()  # the common case: plain text, no uploads
    entries: list[Mapping[str, Any]] = []
    if isinstance(raw_entries, list):
        entries = [e for e in raw_entries if isinstance(e, dict)]
    if not entries and not isinstance(parts, list):
        return ()
    by_id = {e["id"]: e for e in entries if isinstance(e.get("id"), str)}
    used: set[str] = set()
    out: list[Attachment] = []
    for part in parts if isinstance(parts, list) else ():
        if not isinstance(part, dict):
            continue
        pointer = part.get("asset_pointer")
        if not isinstance(pointer, str):
            continue
        fid = pointer.split("://", 1)[1] if "://" in pointer else pointer
        entry = by_id.get(fid)
        if entry is not None:
            used.add(fid)
        out.append(_attachment(entry or {}, pointer, part))
    for entry in entries:
        eid = entry.get("id")
        if isinstance(eid, str) and eid in used:
            continue
        out.append(_attachment(entry))
    return tuple(out)


def serialize_attachment(att: Attachment) -> dict[str, Any]:
    """One ``metadata.attachments`` entry for an attachment the writer has no raw content for."""
    entry: dict[str, Any] = {}
    for key in _ATTACHMENT_FIELDS:
        value = getattr(att, key)
        if value is not None:
            entry[key] = value
    for key, value in att.extensions.items():
        if key.startswith(NS):
            short = key[len(NS) :]
            if short not in entry and short not in _ATTACHMENT_FIELDS and short != "path":
                entry[short] = value
    return entry


def portable_attachment(att: Attachment) -> Attachment:
    """An attachment as ``conversations.json`` can hold it: no local path (the export's files are
    not copied), no other format's extensions."""
    ext = {k: v for k, v in att.extensions.items() if k.startswith(NS)}
    if att.path is None and ext == att.extensions:
        return att
    return att.model_copy(update={"path": None, "extensions": ext})


def is_plain(content: dict[str, Any], mtype: str, text: str) -> bool:
    """True when :func:`regenerate` rebuilds ``content`` exactly (no raw copy needed). The common
    case, one text part, is decided without building a dict."""
    if mtype != "reasoning" and len(content) == 2 and content.get("content_type") == "text":
        parts = content.get("parts")
        return isinstance(parts, list) and len(parts) == 1 and parts[0] == text
    return content == regenerate(mtype, text)


def regenerate(mtype: str, text: str) -> dict[str, Any]:
    """The content the writer builds from canonical text alone."""
    if mtype == "reasoning":
        return {"content_type": "thoughts", "thoughts": [{"summary": "", "content": text}]}
    return {"content_type": "text", "parts": [text]}


# -- times -----------------------------------------------------------------------------------------


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def raw_time(dt: datetime, raw: Any) -> int | float:
    """The number the writer emits for ``dt``: the source's own spelling when it still denotes the
    same millisecond, else a float of ``dt``.

    "Denotes" is decided as :func:`memshift.timeutil.from_epoch_float_ms` reads it (to the
    microsecond first, then half-up to the millisecond), in integer arithmetic: this runs once per
    written message."""
    micros = to_epoch_micros(dt)
    if is_number(raw):
        try:
            raw_micros = raw * 1_000_000 if isinstance(raw, int) else round(raw * 1_000_000)
        except (ValueError, OverflowError):
            raw_micros = None
        if raw_micros is not None and (raw_micros + 500) // 1000 == (micros + 500) // 1000:
            return raw  # type: ignore[no-any-return]
    return micros / 1_000_000


def is_hidden(content: Any, metadata: Any) -> bool:
    """Nodes the ChatGPT UI never shows: flagged hidden, or context injected for the model
    (Custom Instructions in either form, the memory snapshot)."""
    if isinstance(metadata, dict) and (
        metadata.get("is_visually_hidden_from_conversation") is True
        or metadata.get("user_context_message_data")
    ):
        return True
    ct = content.get("content_type") if isinstance(content, dict) else None
    return isinstance(ct, str) and ct in CONTEXT_TYPES
