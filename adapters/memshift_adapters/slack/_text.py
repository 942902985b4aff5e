"""Slack mrkdwn to readable text, and back.

Slack keeps mentions, channel links and URLs as ``<…>`` tokens in ``text`` and escapes only
``&``, ``<`` and ``>``. Readers want ``@Ada Lovelace`` and ``#general``, so tokens are rendered
with names from users.json; the entities are undone in the same single pass, after the token is
recognised, so an escaped ``&lt;@U1&gt;`` stays literal text and ``&amp;lt;`` becomes ``&lt;``.
The original mrkdwn is kept in ``markup`` whenever it differs, so nothing is lost.

Rendering (documented in docs/formats/slack.md):

==========================================  ===============================================
``<@U123>`` / ``<@U123|ada>``               ``@Ada Lovelace`` (label first, then users.json)
``<#C123|general>`` / ``<#C123>``           ``#general`` (label, then the export's channels)
``<!here>`` ``<!channel>`` ``<!everyone>``  ``@here`` ``@channel`` ``@everyone``
``<!subteam^S123|@devs>``                   ``@devs``
``<!date^1392734382^{date_short}|Feb 18>``  ``Feb 18`` (the fallback text)
``<https://x.org|docs>`` / ``<https://x>``  ``docs (https://x.org)`` / ``https://x``
``<mailto:a@b.c|a@b.c>``                    ``a@b.c``
==========================================  ===============================================
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from memshift.model import Mention

_TOKEN = re.compile(r"<([^<>]*)>|&(amp|lt|gt);")
_ENTITY = re.compile(r"&(amp|lt|gt);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">"}
_BROADCASTS = frozenset({"here", "channel", "everyone", "group"})

Lookup = Callable[[str], "str | None"]


def _unescape_entity(m: re.Match[str]) -> str:
    return _ENTITIES[m.group(1)]


def unescape(text: str) -> str:
    if "&" not in text:
        return text
    return _ENTITY.sub(_unescape_entity, text)


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def needs_escape(text: str) -> bool:
    """Whether ``text`` would be misread as mrkdwn (it holds a ``<…>`` token or an entity)."""
    return ("<" in text or "&" in text) and _TOKEN.search(text) is not None


class Renderer:
    """Renders one message's mrkdwn. Built once per reader; ``render`` is the per-message call."""

    __slots__ = ("channel_name", "unresolved", "user_name")

    def __init__(self, user_name: Lookup, channel_name: Lookup) -> None:
        self.user_name = user_name
        self.channel_name = channel_name
        #: Ids of mentioned users whose name nobody knows (counted, never invented).
        self.unresolved: set[str] = set()

    def render(
        self,
        raw: str,
        mentions: list[Mention],
        self_id: str | None = None,
        self_name: str | None = None,
    ) -> tuple[str, bool]:
        """``(text, changed)``; ``changed`` is True when a token or an entity was found."""
        if "<" not in raw and "&" not in raw:
            return raw, False
        found = False

        def repl(m: re.Match[str]) -> str:
            nonlocal found
            found = True
            inner = m.group(1)
            if inner is None:
                return _ENTITIES[m.group(2)]
            return self._token(inner, mentions, self_id, self_name)

        return _TOKEN.sub(repl, raw), found

    def _token(
        self, inner: str, mentions: list[Mention], self_id: str | None, self_name: str | None
    ) -> str:
        target, bar, label_raw = inner.partition("|")
        label = unescape(label_raw) if bar else None
        head = target[:1]
        if head == "@":
            uid = target[1:]
            name = label.removeprefix("@") if label else None
            if not name:
                name = self.user_name(uid)
            if not name and uid == self_id:
                name = self_name
            if not name:
                self.unresolved.add(uid)
            _add(mentions, Mention(id=uid, name=name, type="user"))
            return "@" + (name or uid)
        if head == "#":
            cid = target[1:]
            name = label.removeprefix("#") if label else None
            if not name:
                name = self.channel_name(cid)
            _add(mentions, Mention(id=cid, name=name, type="channel"))
            return "#" + (name or cid)
        if head == "!":
            command = target[1:]
            word = command.split("^", 1)[0]
            if word in _BROADCASTS:
                _add(mentions, Mention(id=word, name=word, type="broadcast"))
                return "@" + word
            if word == "subteam":
                gid = command[len("subteam^") :]
                name = label.removeprefix("@") if label else None
                _add(mentions, Mention(id=gid, name=name, type="group"))
                return "@" + (name or gid)
            if word == "date":
                return label if label is not None else command
            return label if label else "@" + command
        url = unescape(target)
        if url.startswith("mailto:"):
            address = url[len("mailto:") :]
            if not label or label == address:
                return address
            return f"{label} ({address})"
        if not label or label == url:
            return url
        return f"{label} ({url})"


def _add(mentions: list[Mention], mention: Mention) -> None:
    for m in mentions:
        if m.id == mention.id and m.type == mention.type:
            return
    mentions.append(mention)


# -- text from blocks and legacy attachments ----------------------------------------------------


def flatten_blocks(blocks: Any, renderer: Renderer, mentions: list[Mention]) -> str:
    """Readable text of Block Kit blocks, for messages whose ``text`` is empty (API-posted
    messages and apps put everything in blocks)."""
    if not isinstance(blocks, list):
        return ""
    lines: list[str] = []
    for block in blocks:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "rich_text":
            text = _rich_elements(block.get("elements"), renderer, mentions)
        elif kind in ("section", "header"):
            parts = [_text_object(block.get("text"), renderer, mentions)]
            fields = block.get("fields")
            if isinstance(fields, list):
                parts += [_text_object(f, renderer, mentions) for f in fields]
            text = "\n".join(p for p in parts if p)
        elif kind == "context":
            elements = block.get("elements")
            text = (
                " ".join(
                    t for t in (_text_object(e, renderer, mentions) for e in elements or ()) if t
                )
                if isinstance(elements, list)
                else ""
            )
        else:
            text = ""
        if text:
            lines.append(text)
    return "\n".join(lines)


def _text_object(obj: Any, renderer: Renderer, mentions: list[Mention]) -> str:
    if not isinstance(obj, dict):
        return ""
    text = obj.get("text")
    if not isinstance(text, str):
        return ""
    if obj.get("type") == "mrkdwn":
        return renderer.render(text, mentions)[0]
    return text


def _rich_elements(elements: Any, renderer: Renderer, mentions: list[Mention]) -> str:
    if not isinstance(elements, list):
        return ""
    out: list[str] = []
    for el in elements:
        if not isinstance(el, dict):
            continue
        kind = el.get("type")
        if kind in ("rich_text_section", "rich_text_preformatted", "rich_text_quote"):
            out.append(_rich_leaves(el.get("elements"), renderer, mentions))
        elif kind == "rich_text_list":
            items = el.get("elements")
            for n, item in enumerate(items if isinstance(items, list) else (), start=1):
                bullet = f"{n}. " if el.get("style") == "ordered" else "- "
                inner = item.get("elements") if isinstance(item, dict) else None
                out.append(bullet + _rich_leaves(inner, renderer, mentions))
    return "\n".join(s for s in out if s)


def _rich_leaves(elements: Any, renderer: Renderer, mentions: list[Mention]) -> str:
    if not isinstance(elements, list):
        return ""
    parts: list[str] = []
    for el in elements:
        if not isinstance(el, dict):
            continue
        kind = el.get("type")
        if kind == "text":
            parts.append(str(el.get("text") or ""))
        elif kind == "user" and isinstance(el.get("user_id"), str):
            parts.append(renderer.render(f"<@{el['user_id']}>", mentions)[0])
        elif kind == "channel" and isinstance(el.get("channel_id"), str):
            parts.append(renderer.render(f"<#{el['channel_id']}>", mentions)[0])
        elif kind == "usergroup" and isinstance(el.get("usergroup_id"), str):
            parts.append(renderer.render(f"<!subteam^{el['usergroup_id']}>", mentions)[0])
        elif kind == "broadcast" and isinstance(el.get("range"), str):
            parts.append(renderer.render(f"<!{el['range']}>", mentions)[0])
        elif kind == "emoji" and isinstance(el.get("name"), str):
            parts.append(f":{el['name']}:")
        elif kind == "link" and isinstance(el.get("url"), str):
            label = el.get("text")
            url = el["url"]
            parts.append(f"{label} ({url})" if isinstance(label, str) and label != url else url)
        elif kind == "date":
            fallback = el.get("fallback")
            parts.append(fallback if isinstance(fallback, str) else "")
    return "".join(parts)


def flatten_attachments(attachments: Any, renderer: Renderer, mentions: list[Mention]) -> str:
    """Readable text of legacy ("secondary") attachments: what integrations such as GitHub and
    Travis post with an empty ``text``."""
    if not isinstance(attachments, list):
        return ""
    lines: list[str] = []
    for att in attachments:
        if not isinstance(att, dict):
            continue
        parts = [att.get(k) for k in ("pretext", "title", "text")]
        texts = [p for p in parts if isinstance(p, str) and p]
        if not texts and isinstance(att.get("fallback"), str) and att["fallback"]:
            texts = [att["fallback"]]
        lines += [renderer.render(t, mentions)[0] for t in texts]
    return "\n".join(lines)
