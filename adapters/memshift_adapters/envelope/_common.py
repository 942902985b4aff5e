"""The envelope line <-> canonical record mapping shared by the reader and the writer.

:func:`native_fields` is the reader's interpretation of an envelope's own fields. The writer runs
it on every line it makes and stores in the ``memshift`` block only the canonical fields that
come out different, so the block is exactly what CortexDB's envelope has no slot for, and reading
a written file back is lossless by construction.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any

from memshift.model import AnyRecord, record_from_dict
from memshift.timeutil import parse_iso

CARRIER = "memshift"
#: Line fields a scope template may name (the scope identity of each line).
TEMPLATE_FIELDS = ("user_id", "agent_id", "run_id", "group_id", "conversation_id", "sender_id")
MODALITIES = ("conversation", "document", "tool_result", "observation", "feedback", "imported")
KINDS = ("message", "text", "json", "blob_ref", "triple")
ROLES = ("user", "assistant", "tool", "system")
MAX_KEY = 64
MAX_SEGMENTS = 8
MAX_SEGMENT = 64
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


class LineError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def template_fields(template: str) -> list[str]:
    return PLACEHOLDER.findall(template)


def check_template(template: str) -> str:
    """Options-time check: every placeholder is a line field, the path has the CortexDB shape."""
    for name in template_fields(template):
        if name not in TEMPLATE_FIELDS:
            raise ValueError(
                f"unknown placeholder {{{name}}} in scope_template; lines carry "
                + ", ".join(f"{{{f}}}" for f in TEMPLATE_FIELDS)
            )
    segments = template.split("/")
    if len(segments) > MAX_SEGMENTS:
        raise ValueError(f"scope_template has {len(segments)} segments (CortexDB allows 8)")
    for seg in segments:
        kind, colon, ident = seg.partition(":")
        if not colon or not kind or not ident:
            raise ValueError(f"scope_template segment {seg!r} is not type:id")
    return template


def resolve_scope(template: str, line: dict[str, Any]) -> str:
    def sub(m: re.Match[str]) -> str:
        value = line.get(m.group(1))
        if not isinstance(value, str) or not value:
            raise LineError(m.group(1), f"no {m.group(1)} for scope_template {template!r}")
        return value

    scope = PLACEHOLDER.sub(sub, template)
    segments = scope.split("/")
    if len(segments) > MAX_SEGMENTS:
        raise LineError("scope", f"scope {scope!r} has {len(segments)} segments (max 8)")
    for seg in segments:
        if len(seg) > MAX_SEGMENT:
            raise LineError("scope", f"scope segment {seg[:20]!r}... is over 64 characters")
        kind, colon, ident = seg.partition(":")
        if not colon or not kind or not ident:
            raise LineError("scope", f"scope segment {seg!r} is not type:id")
    return scope


def idempotency_key(parts: tuple[str, ...], prefix: str) -> str:
    """Deterministic, <= 64 characters: a re-import of the same record is a no-op upstream."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return f"{prefix}-{digest[:56]}"


def _time(value: Any, field: str) -> datetime:
    if not isinstance(value, str):
        raise LineError(field, f"{field} is not an RFC 3339 string: {value!r}")
    try:
        return parse_iso(value)
    except ValueError as exc:
        raise LineError(field, f"{field}: {exc}") from None


def _opt_time(ctx: dict[str, Any], key: str) -> datetime | None:
    value = ctx.get(key)
    return None if value is None else _time(value, f"context.{key}")


def _node(value: Any, field: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        for key in ("name", "id"):
            if isinstance(value.get(key), str):
                return str(value[key])
    raise LineError(field, f"{field} is not a string or an object with a name")


def native_kind(line: dict[str, Any]) -> str:
    content = line.get("content") or {}
    if content.get("kind") == "message" and line.get("modality") in (
        "conversation", "tool_result", "feedback", "observation", None,
    ):  # fmt: skip
        return "message"
    return "memory"


def check_line(line: Any) -> dict[str, Any]:
    """The envelope rules the reader insists on (CortexDB's 422 reasons), one field at a time."""
    if not isinstance(line, dict):
        raise LineError("", "an envelope line must be a JSON object")
    key = line.get("idempotency_key")
    if not isinstance(key, str) or not key:
        raise LineError("idempotency_key", "missing idempotency_key")
    if not isinstance(line.get("modality"), str):
        raise LineError("modality", "missing modality")
    content = line.get("content")
    if not isinstance(content, dict):
        raise LineError("content", "missing content object")
    kind = content.get("kind")
    if kind not in KINDS:
        raise LineError("content.kind", f"content.kind {kind!r} is not one of {', '.join(KINDS)}")
    if kind == "blob_ref":
        raise LineError(
            "content.kind", "content.kind 'blob_ref' points at a blob memshift cannot fetch"
        )
    ctx = line.get("context")
    if not isinstance(ctx, dict):
        raise LineError("context", "missing context object")
    if "observed_at" not in ctx:
        raise LineError("context.observed_at", "missing context.observed_at")
    return line


def native_fields(line: dict[str, Any], kind: str) -> dict[str, Any]:
    """Canonical fields as the envelope itself says them (no ``memshift`` block)."""
    content = line["content"]
    ctx = line["context"]
    ckind = content.get("kind")
    text = content.get("text", "")
    if ckind == "json":
        from memshift import jsonio

        text = jsonio.dumps(content.get("data")).decode("utf-8")
    if not isinstance(text, str):
        raise LineError("content.text", "content.text is not a string")
    observed = _time(ctx.get("observed_at"), "context.observed_at")
    key = line["idempotency_key"]
    if kind == "message":
        role = content.get("role", "user")
        if role not in ROLES:
            raise LineError(
                "content.role", f"content.role {role!r} is not one of {', '.join(ROLES)}"
            )
        modality = line.get("modality")
        mtype = {"tool_result": "tool_result", "observation": "event"}.get(str(modality), "message")
        conv = line.get("conversation_id") or line.get("user_id") or "envelope"
        return {
            "kind": "message",
            "id": key,
            "conversation_id": conv,
            "type": mtype,
            "role": role,
            "sender_id": line.get("sender_id"),
            "timestamp": observed,
            "text": text,
        }
    triple = None
    if ckind == "triple":
        raw = content.get("triple")
        if not isinstance(raw, dict):
            raise LineError("content.triple", "content.triple is not an object")
        triple = {
            "subject": _node(raw.get("subject"), "content.triple.subject"),
            "predicate": _node(raw.get("predicate"), "content.triple.predicate"),
            "object": _node(raw.get("object"), "content.triple.object"),
        }
    labels = ctx.get("labels") or []
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise LineError("context.labels", "context.labels is not a list of strings")
    intent = ctx.get("intent")
    mtype = (
        "triple"
        if ckind == "triple"
        else ("document" if line.get("modality") == "document" else "fact")
    )
    return {
        "kind": "memory",
        "id": key,
        "type": mtype,
        "scope": {f: line.get(f) for f in ("user_id", "agent_id", "run_id", "group_id")},
        "text": text,
        "triple": triple,
        "label": intent if isinstance(intent, str) else None,
        "created_at": _opt_time(ctx, "source_recorded_at"),
        "valid_from": _opt_time(ctx, "valid_from"),
        "valid_to": _opt_time(ctx, "valid_to"),
        "observed_at": observed,
        "labels": tuple(labels),
    }


def to_record(line: dict[str, Any]) -> AnyRecord:
    carrier = line.get(CARRIER)
    if carrier is not None and not isinstance(carrier, dict):
        raise LineError(CARRIER, "the memshift block is not an object")
    carrier = carrier or {}
    kind = carrier.get("kind") or native_kind(line)
    data = native_fields(line, kind)
    data.update({k: v for k, v in carrier.items() if k != "conversation"})
    return record_from_dict(data)


def carrier_for(record: AnyRecord, line: dict[str, Any]) -> dict[str, Any]:
    """The canonical fields of ``record`` that ``line`` does not already say."""
    guess = record_from_dict(native_fields(line, record.kind))
    full = record.model_dump()
    back = guess.model_dump()
    carrier: dict[str, Any] = {}
    if native_kind(line) != record.kind:
        carrier["kind"] = record.kind
    changed = [k for k in full if full[k] != back.get(k)]
    if changed:
        as_json = record.model_dump(mode="json", include=set(changed))
        carrier.update({k: as_json[k] for k in changed})
    return carrier
