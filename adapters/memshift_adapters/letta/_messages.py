"""One Letta message <-> one or more canonical messages, both directions in one place.

A raw Letta message is role-based and can hold several things at once: an assistant turn of a
MemGPT-style agent carries its inner monologue as a text part *and* the visible reply as a
``send_message`` tool call. Letta's own API splits such a message into ``reasoning_message``,
``assistant_message`` and ``tool_call_message`` views (research §4.5); the reader does the same,
so destinations get a plain assistant reply, a reasoning record and tool calls they can keep or
drop by feature. Each canonical part records in ``letta:slot`` where it came from (content part
or tool call) and continuation parts carry ``letta:part`` so the writer can put the raw message
back together. Both sides use :func:`default_slot`, so a slot that the writer would produce anyway
is never stored: messages from other formats come back without ``letta:*`` noise.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from memshift.model import Message
from memshift.timeutil import parse_iso

EXT_SLOT = "letta:slot"
EXT_PART = "letta:part"
EXT_MESSAGE = "letta:message"
EXT_ROLE = "letta:role"

#: Raw message keys the canonical fields (or the writer) account for; every other non-empty key
#: travels in ``letta:message``.
HANDLED_KEYS = frozenset(
    {"type", "id", "role", "content", "tool_calls", "created_at", "name", "sender_id", "agent_id"}
)

#: The keys of a v2 ``MessageSchema`` in the order Letta's exporter writes them.
MESSAGE_KEYS = (
    "type", "role", "content", "name", "otid", "sender_id", "batch_item_id", "group_id", "id",
    "model", "agent_id", "tool_calls", "tool_call_id", "tool_returns", "created_at", "approve",
    "approval_request_id", "denial_reason", "approvals",
)  # fmt: skip
_LIST_KEYS = frozenset({"tool_returns", "approvals"})

#: Where a content part keeps its text.
_TEXT_KEY = {"text": "text", "reasoning": "reasoning", "tool_return": "content"}
_REASONING_PARTS = frozenset(
    {"reasoning", "redacted_reasoning", "omitted_reasoning", "summarized_reasoning"}
)
#: JSON-wrapped MemGPT events in user turns (letta/system.py): only ``user_message`` is a person
#: talking; the others are the server's heartbeats, logins and alerts.
WRAPPED_TYPES = frozenset({"user_message", "login", "heartbeat", "system_alert"})

LETTA_ROLES = frozenset({"assistant", "user", "tool", "function", "system", "approval", "summary"})


def drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


_TEXT_SLOT: dict[str, Any] = {"content": {"type": "text"}}
_PLAIN_TEXT = frozenset({"type", "text", "signature"})
_REASONING_SLOT: dict[str, Any] = {"content": {"type": "reasoning", "is_native": True}}


def default_slot(msg_type: str, msg_id: str) -> dict[str, Any]:
    """The slot the writer uses for a canonical message that has none (do not mutate it)."""
    if msg_type == "reasoning":
        return _REASONING_SLOT
    if msg_type == "tool_call":
        return {"call": {"id": f"call-{msg_id}", "name": "tool"}}
    return _TEXT_SLOT


def send_arguments(text: str) -> str:
    return json.dumps({"message": text}, ensure_ascii=False)


def raw_role(msg: Message) -> str:
    """The Letta role a canonical message is written with."""
    override = msg.extensions.get(EXT_ROLE)
    if isinstance(override, str) and override in LETTA_ROLES:
        return override
    if msg.type in ("reasoning", "tool_call"):
        return "assistant"
    if msg.type == "tool_result":
        return "tool"
    return msg.role


def canonical_role_type(msg: Message) -> tuple[str, str]:
    """(type, role) as the reader will give them back once ``msg`` is written: what a Letta
    message can say. Used by projection."""
    role = raw_role(msg)
    if role in ("tool", "function"):
        return "tool_result", "tool"
    if msg.type in ("reasoning", "tool_call"):
        return msg.type, "assistant"
    if role == "summary":
        return msg.type, "system"
    if role == "approval":
        return "event", "user"
    return msg.type, role


# -- reading --------------------------------------------------------------------------------------


class PartError(ValueError):
    """A raw message field cannot be converted; ``field`` names it for the error location."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _content_parts(raw: dict[str, Any]) -> list[dict[str, Any]]:
    content = raw.get("content")
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise PartError("content", f"expected a list or a string, got {type(content).__name__}")
    for i, part in enumerate(content):
        if not isinstance(part, dict):
            raise PartError(f"content[{i}]", "content part is not an object")
    return content


def _unwrap(text: str) -> dict[str, Any] | None:
    if not text.startswith("{"):
        return None
    try:
        obj = json.loads(text)
    except ValueError:
        return None
    if isinstance(obj, dict) and obj.get("type") in WRAPPED_TYPES and "time" in obj:
        return obj
    return None


def parse_time(value: Any, naive_tz: str | None) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise PartError("created_at", f"not an ISO 8601 timestamp: {value!r}")
    try:
        return parse_iso(value, naive_tz=naive_tz)
    except ValueError as exc:
        raise PartError("created_at", str(exc)) from None


def read_message(
    raw: dict[str, Any],
    *,
    msg_id: str,
    agent_id: str,
    naive_tz: str | None,
    assistant_tool: str,
) -> list[Message]:
    """Split one raw Letta message into canonical messages (at least one)."""
    role = raw.get("role")
    if role not in LETTA_ROLES:
        raise PartError("role", f"unknown Letta role {role!r}")
    created = raw.get("created_at")
    timestamp = parse_time(created, naive_tz)
    name = raw.get("name")
    if name is not None and not isinstance(name, str):
        raise PartError("name", "name is not a string")
    sender = raw.get("sender_id")
    if sender is not None and not isinstance(sender, str):
        raise PartError("sender_id", "sender_id is not a string")
    content = _content_parts(raw)
    calls = raw.get("tool_calls") or []
    if not isinstance(calls, list):
        raise PartError("tool_calls", "tool_calls is not a list")

    # (type, role, text, slot) for each part, in the order the writer rebuilds them.
    parts: list[tuple[str, str, str, dict[str, Any]]] = []
    base_role = {"function": "tool", "summary": "system", "approval": "user"}.get(role, role)
    for i, part in enumerate(content):
        ptype = part.get("type", "text")
        key = _TEXT_KEY.get(ptype)
        if ptype == "summarized_reasoning":
            text = "\n".join(str(s.get("text", "")) for s in part.get("summary") or [])
        elif ptype == "tool_call":
            text = json.dumps(part.get("input", {}), ensure_ascii=False)
            key = "input"
        elif key is not None:
            value = part.get(key)
            if not isinstance(value, str):
                raise PartError(f"content[{i}].{key}", f"{key} is not a string")
            text = value
        else:
            text = ""
        if ptype == "text" and part.keys() <= _PLAIN_TEXT and part.get("signature") is None:
            slot: dict[str, Any] = _TEXT_SLOT  # the common plain text part, without copying
        else:
            slot = {"content": drop_none({k: v for k, v in part.items() if k != key})}
        if ptype == "summarized_reasoning":
            slot["content"] = drop_none(part)
        if role in ("tool", "function"):
            mtype, mrole = "tool_result", "tool"
        elif role == "approval":
            mtype, mrole = "event", "user"
        elif role == "assistant":
            if ptype in _REASONING_PARTS or (ptype == "text" and calls):
                mtype = "reasoning"
            elif ptype == "tool_call":
                mtype = "tool_call"
            elif ptype == "tool_return":
                mtype = "tool_result"
            else:
                mtype = "message"
            mrole = "tool" if mtype == "tool_result" else "assistant"
        elif role == "user" and ptype == "text":
            wrapped = _unwrap(text)
            mtype, mrole = "message", "user"
            if wrapped is not None and wrapped["type"] == "user_message":
                message = wrapped.get("message")
                if isinstance(message, str):
                    shape = {k: (None if k == "message" else v) for k, v in wrapped.items()}
                    slot = {**slot, "wrapper": shape}
                    text = message
            elif wrapped is not None:
                mtype = "event"
        else:
            mtype, mrole = "message", base_role
        parts.append((mtype, mrole, text, slot))
    for j, call in enumerate(calls):
        if not isinstance(call, dict) or not isinstance(call.get("function"), dict):
            raise PartError(f"tool_calls[{j}]", "tool call has no function object")
        fn = call["function"]
        fname, args = fn.get("name"), fn.get("arguments")
        if not isinstance(fname, str) or not isinstance(args, str):
            raise PartError(f"tool_calls[{j}].function", "function needs a string name/arguments")
        cslot: dict[str, Any] = {"id": call.get("id"), "name": fname}
        cslot.update({k: v for k, v in call.items() if k not in ("id", "function", "type")})
        if call.get("type", "function") != "function":
            cslot["type"] = call.get("type")
        cslot.update({f"function.{k}": v for k, v in fn.items() if k not in ("name", "arguments")})
        reply = _send_message_text(args) if fname == assistant_tool else None
        if reply is not None:
            if args != send_arguments(reply):
                cslot["arguments"] = args
            parts.append(("message", "assistant", reply, {"call": cslot}))
        else:
            parts.append(("tool_call", "assistant", args, {"call": cslot}))
    extra = {k: v for k, v in raw.items() if k not in HANDLED_KEYS and v is not None and v != []}
    returns = extra.get("tool_returns")
    first_return = returns[0] if isinstance(returns, list) and returns else None
    if role in ("tool", "function") and not parts and isinstance(first_return, dict):
        resp = first_return.get("func_response")
        if isinstance(resp, str):
            parts.append(("tool_result", "tool", resp, {"return": True}))
    if not parts:
        mtype = {"tool": "tool_result", "function": "tool_result", "approval": "event"}.get(
            role, "message"
        )
        parts.append((mtype, "tool" if mtype == "tool_result" else base_role, "", {"empty": True}))
    if isinstance(returns, list) and parts[0][2]:
        # func_response usually repeats the content text; keep it once, so a transform that edits
        # the text (redaction) cannot leave the old value behind in the copy.
        first_text = parts[0][2]
        extra["tool_returns"] = [
            {k: v for k, v in r.items() if not (k == "func_response" and v == first_text)}
            if isinstance(r, dict)
            else r
            for r in returns
        ]

    out: list[Message] = []
    for k, (mtype, mrole, text, slot) in enumerate(parts):
        mid = msg_id if k == 0 else f"{msg_id}:{k}"
        ext: dict[str, Any] = {}
        if slot != default_slot(mtype, mid):
            ext[EXT_SLOT] = slot
        if k:
            ext[EXT_PART] = k
        else:
            if extra:
                ext[EXT_MESSAGE] = extra
            if role in ("function", "summary", "approval"):
                ext[EXT_ROLE] = role
        sender_id = sender
        if sender_id is None and mrole in ("assistant", "tool"):
            sender_id = agent_id
        out.append(
            Message(
                id=mid,
                conversation_id=agent_id,
                type=mtype,
                role=mrole,
                sender_id=sender_id,
                sender_name=name,
                timestamp=timestamp,
                timestamp_raw=created if isinstance(created, str) else None,
                text=text,
                extensions=ext,
            )
        )
    return out


def _send_message_text(arguments: str) -> str | None:
    try:
        obj = json.loads(arguments)
    except ValueError:
        return None
    message = obj.get("message") if isinstance(obj, dict) else None
    return message if isinstance(message, str) else None


# -- writing --------------------------------------------------------------------------------------


def created_at_text(msg: Message) -> str | None:
    """The ``created_at`` spelling: the source's own when it is an aware ISO string for the same
    instant, else Python's isoformat (Letta's exporter writes ``+00:00``)."""
    ts = msg.timestamp
    if ts is None:
        return None
    raw = msg.timestamp_raw
    if isinstance(raw, str) and ("+" in raw[10:] or raw.endswith("Z") or "-" in raw[19:]):
        try:
            if parse_iso(raw) == ts:
                return raw
        except ValueError:
            pass
    return ts.isoformat()


def build_raw(
    parts: list[Message], *, msg_id: str, agent_id: str, own_id: str, assistant_tool: str
) -> tuple[dict[str, Any], list[str]]:
    """Put one raw Letta message back together from its canonical parts.

    Returns the message and the names of ``letta:message`` keys the v2 schema has no place for
    (they are reported as losses by the caller)."""
    first = parts[0]
    role = raw_role(first)
    content: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    from_return: str | None = None
    for idx, part in enumerate(parts):
        slot = part.extensions.get(EXT_SLOT)
        if not isinstance(slot, dict):
            # The id the reader will give this part once written (the writer renumbers).
            slot = default_slot(part.type, msg_id if idx == 0 else f"{msg_id}:{idx}")
        if slot.get("empty"):
            continue
        if slot.get("return"):
            from_return = part.text
            continue
        call = slot.get("call")
        if isinstance(call, dict):
            calls.append(_build_call(call, part, assistant_tool))
            continue
        spec = slot.get("content")
        cpart: dict[str, Any] = dict(spec) if isinstance(spec, dict) else {"type": "text"}
        ptype = cpart.get("type", "text")
        wrapper = slot.get("wrapper")
        if ptype == "tool_call":
            try:
                cpart["input"] = json.loads(part.text) if part.text else {}
            except ValueError:
                cpart["input"] = {"text": part.text}
        elif ptype in _TEXT_KEY:
            text = part.text
            if isinstance(wrapper, dict):
                wrapped = {k: (text if k == "message" else v) for k, v in wrapper.items()}
                text = json.dumps(wrapped, indent=2, ensure_ascii=False)
            cpart[_TEXT_KEY[ptype]] = text
        content.append(cpart)
    extra = first.extensions.get(EXT_MESSAGE)
    extra = dict(extra) if isinstance(extra, dict) else {}
    returns = extra.get("tool_returns")
    if isinstance(returns, list):
        fill = from_return if from_return is not None else (parts[0].text if parts else "")
        extra["tool_returns"] = [
            ({**r, "func_response": fill} if "func_response" not in r else r)
            if isinstance(r, dict)
            else r
            for r in returns
        ]
    # The reader fills an assistant's or tool's missing sender with the agent; do not write it.
    own = first.sender_id == own_id and role in ("assistant", "tool", "function")
    sender = None if own else first.sender_id
    raw: dict[str, Any] = {}
    for key in MESSAGE_KEYS:
        if key == "type":
            raw[key] = "message"
        elif key == "role":
            raw[key] = role
        elif key == "content":
            # Always a list of parts: Letta's message model (and the SDK's) takes parts; a plain
            # string in the source is read as one text part.
            raw[key] = content
        elif key == "name":
            raw[key] = first.sender_name
        elif key == "sender_id":
            raw[key] = sender
        elif key == "id":
            raw[key] = msg_id
        elif key == "agent_id":
            raw[key] = agent_id
        elif key == "tool_calls":
            raw[key] = calls or None
        elif key == "created_at":
            raw[key] = created_at_text(first)
        else:
            raw[key] = extra.get(key, [] if key in _LIST_KEYS else None)
    unknown = [k for k in extra if k not in raw]
    return raw, unknown


def _build_call(call: dict[str, Any], part: Message, assistant_tool: str) -> dict[str, Any]:
    name = call.get("name") or "tool"
    if part.type == "message":
        stored = call.get("arguments")
        args = send_arguments(part.text)
        if isinstance(stored, str) and _send_message_text(stored) == part.text:
            args = stored  # the source's own spelling, still saying the same thing
        name = call.get("name") or assistant_tool
    else:
        args = part.text
    fn: dict[str, Any] = {"arguments": args, "name": name}
    for k, v in call.items():
        if k.startswith("function."):
            fn[k[len("function.") :]] = v
    out: dict[str, Any] = {
        "id": call.get("id"),
        "function": fn,
        "type": call.get("type", "function"),
    }
    for k, v in call.items():
        if k not in ("id", "name", "arguments", "type") and not k.startswith("function."):
            out[k] = v
    return out
