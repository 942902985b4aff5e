"""The two reference converters ``run.py`` measures memshift against, one per child process.

``raw``: the floor. The bare ijson (yajl2_c) streaming parse of every record of the export, doing
nothing with them; no converter that reads the same JSON can beat it by more than its own
per-record work.

``naive``: what people hand-write today, following EverOS's batch-import guide: ``json.load``
the export, build one ``{"group_id", "messages": [{role, sender_id, sender_name, timestamp (ms),
content, message_id}]}`` document per conversation, sort by time and ``json.dump`` it. Fast to
write, and it needs several times the file's size in RAM.

Both print one JSON line on stdout (records seen, seconds spent inside the process) so that
``run.py`` can check they did the same work as memshift. They import only what they use, so the
process start-up they pay is the interpreter's, not memshift's.

    python benchmarks/cases.py raw discord /tmp/bench/dce.json [more.json ...]
    python benchmarks/cases.py naive slack /tmp/bench/out-naive /tmp/bench/slack [...]

Several inputs are processed one after the other in the same process (the multi-file scenario).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# -- raw: the streaming-parse floor ------------------------------------------------------------


def _slack_day_files(root: Path) -> Iterator[Path]:
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        yield from sorted(folder.glob("*.json"))


def raw(fmt: str, src: Path) -> dict[str, Any]:
    import ijson

    records = 0
    conversations = 0
    t0 = time.perf_counter()
    if fmt == "discord":
        with open(src, "rb") as fh:
            for _ in ijson.items(fh, "messages.item", use_float=True):
                records += 1
        conversations = 1
    elif fmt == "slack":
        for index in ("users.json", "channels.json"):
            with open(src / index, "rb") as fh:
                for _ in ijson.items(fh, "item", use_float=True):
                    pass
        folders = set()
        for day in _slack_day_files(src):
            folders.add(day.parent.name)
            with open(day, "rb") as fh:
                for _ in ijson.items(fh, "item", use_float=True):
                    records += 1
        conversations = len(folders)
    elif fmt == "openai":
        with open(src, "rb") as fh:
            for conv in ijson.items(fh, "item", use_float=True):
                conversations += 1
                for node in conv["mapping"].values():
                    if node.get("message") is not None:
                        records += 1
    else:
        raise SystemExit(f"unknown format {fmt!r}")
    return {
        "records": records,
        "conversations": conversations,
        "seconds": time.perf_counter() - t0,
        "backend": ijson.backend,
    }


# -- naive: json.load -> EverOS dicts -> sort -> json.dump --------------------------------------


def _dump(doc: dict[str, Any], path: Path) -> None:
    import json

    with open(path, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, ensure_ascii=False)


def naive(fmt: str, src: Path, out: Path) -> dict[str, Any]:
    import json
    from datetime import datetime

    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    records = 0
    written = 0
    conversations = 0
    if fmt == "discord":
        with open(src, encoding="utf-8") as fh:
            data = json.load(fh)
        channel = data["channel"]
        msgs = []
        for m in data["messages"]:
            records += 1
            if not m["content"]:
                continue
            author = m["author"]
            msgs.append(
                {
                    "message_id": m["id"],
                    "sender_id": author["id"],
                    "sender_name": author.get("nickname") or author["name"],
                    "role": "assistant" if author.get("isBot") else "user",
                    "timestamp": int(datetime.fromisoformat(m["timestamp"]).timestamp() * 1000),
                    "content": m["content"],
                }
            )
        msgs.sort(key=lambda x: x["timestamp"])
        written = len(msgs)
        conversations = 1
        _dump(
            {
                "group_id": f"discord_{channel['id']}",
                "group_meta": {"name": channel["name"]},
                "messages": msgs,
            },
            out / f"discord_{channel['id']}.json",
        )
    elif fmt == "slack":
        with open(src / "users.json", encoding="utf-8") as fh:
            users = json.load(fh)
        names = {
            u["id"]: u["profile"].get("display_name") or u["profile"].get("real_name") or u["name"]
            for u in users
        }
        with open(src / "channels.json", encoding="utf-8") as fh:
            channels = json.load(fh)
        for channel in channels:
            folder = src / channel["name"]
            if not folder.is_dir():
                continue
            msgs = []
            for day in sorted(folder.glob("*.json")):
                with open(day, encoding="utf-8") as fh:
                    for m in json.load(fh):
                        records += 1
                        text = m.get("text")
                        if not text:
                            continue
                        sender = m.get("user") or m.get("bot_id")
                        msgs.append(
                            {
                                "message_id": m["ts"],
                                "sender_id": sender,
                                "sender_name": names.get(sender) or m.get("username") or sender,
                                "role": "assistant" if "bot_id" in m else "user",
                                "timestamp": int(float(m["ts"]) * 1000),
                                "content": text,
                            }
                        )
            msgs.sort(key=lambda x: x["timestamp"])
            written += len(msgs)
            conversations += 1
            _dump(
                {
                    "group_id": f"slack_{channel['id']}",
                    "group_meta": {"name": channel["name"]},
                    "messages": msgs,
                },
                out / f"slack_{channel['name']}.json",
            )
    elif fmt == "openai":
        with open(src, encoding="utf-8") as fh:
            data = json.load(fh)
        for conv in data:
            conversations += 1
            mapping = conv["mapping"]
            records += sum(1 for n in mapping.values() if n.get("message") is not None)
            path = []
            node_id = conv.get("current_node")
            while node_id is not None and node_id in mapping:
                node = mapping[node_id]
                path.append(node)
                node_id = node.get("parent")
            msgs = []
            for node in reversed(path):
                m = node.get("message")
                if m is None or m["author"]["role"] not in ("user", "assistant"):
                    continue
                if m.get("recipient", "all") != "all":
                    continue
                parts = m["content"].get("parts") or []
                text = "\n".join(p for p in parts if isinstance(p, str)).strip()
                if not text or m.get("create_time") is None:
                    continue
                msgs.append(
                    {
                        "message_id": m["id"],
                        "role": m["author"]["role"],
                        "timestamp": int(m["create_time"] * 1000),
                        "content": text,
                    }
                )
            msgs.sort(key=lambda x: x["timestamp"])
            written += len(msgs)
            conv_id = conv.get("conversation_id") or conv.get("id")
            _dump(
                {"user_id": "chatgpt_user", "session_id": conv_id, "messages": msgs},
                out / f"chatgpt_{conv_id}.json",
            )
    else:
        raise SystemExit(f"unknown format {fmt!r}")
    return {
        "records": records,
        "written": written,
        "conversations": conversations,
        "seconds": time.perf_counter() - t0,
    }


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[0] not in ("raw", "naive") or (argv[0] == "naive" and len(argv) < 4):
        print(__doc__, file=sys.stderr)
        return 2
    case, fmt = argv[0], argv[1]
    total: dict[str, Any] = {}
    if case == "raw":
        results = [raw(fmt, Path(src)) for src in argv[2:]]
    else:
        out = Path(argv[2])
        results = [naive(fmt, Path(src), out) for src in argv[3:]]
    for result in results:
        for key, value in result.items():
            total[key] = total.get(key, 0) + value if isinstance(value, (int, float)) else value
    import json

    print(json.dumps(total))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
