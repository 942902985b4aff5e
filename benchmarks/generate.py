"""Deterministic synthetic exports for the benchmarks: DiscordChatExporter JSON, a Slack workspace
export directory (or zip) and a ChatGPT ``conversations.json``.

Why synthetic: real exports of this size are private people's data, and a benchmark must be
re-runnable byte for byte on any machine. Why realistic: a generator that writes empty attachment
lists and one-word messages makes every parser look fast. The shapes follow the field-level notes
in ``shared/research/chat-sources.md`` (§1 Slack, §2a DCE, §3a ChatGPT): nested author objects,
mentions, attachments with signed CDN URLs, reactions with user lists, replies, threads whose
replies land in later day files, branches in ChatGPT mapping trees.

Everything is streamed: one message (or one conversation) is built, encoded and written at a time,
so generating 1M messages needs a few tens of MB, not the size of the file. The same arguments
and seed give a byte-identical file (checked by ``run.py --smoke``); a ``<output>.meta.json``
sidecar records the counts the benchmark checks the converters against.

    python benchmarks/generate.py discord --messages 1000000 -o /tmp/bench/dce.json
    python benchmarks/generate.py slack --messages 1000000 --channels 200 -o /tmp/bench/slack
    python benchmarks/generate.py openai --conversations 10000 -o /tmp/bench/conversations.json
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import io
import math
import random
import sys
import time
import zipfile
from collections import Counter, deque
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any

import orjson

GENERATOR_VERSION = 1
DEFAULT_SEED = 20240115

# 2023-01-01T00:00:00Z: the synthetic history starts here and spans ``--span-days``.
START_MS = 1_672_531_200_000
DISCORD_EPOCH_MS = 1_420_070_400_000

# -- text ------------------------------------------------------------------------------------------

_EN = (  # noqa: SIM905 - a word list reads better as text
    "the a to and of is in it you that for on this with we be are have was but not just so "
    "what can like do if get all about time one know up out now think how when need yeah ok "
    "lol make really work going thanks good new see would should could also back still want "
    "only then build release deploy server client config test tests merge branch commit "
    "issue bug fix patch python rust export import stream parser memory file files channel "
    "thread message reply tomorrow today yesterday meeting review docs update version latest "
    "broken works maybe sure probably actually error warning log logs ticket customer team "
    "project plan week weekend morning coffee lunch later again already because though "
    "anyway cool nice great agree idea"
).split()
_INTL = (  # noqa: SIM905 - a word list reads better as text
    "café naïve déjà-vu Müller Straße señor façade crème résumé jalapeño smörgåsbord привет "
    "спасибо сегодня завтра работает проблема 你好 谢谢 今天 明天 没问题 "
    "こんにちは ありがとう 大丈夫 שלום תודה مرحبا شكرا"
).split()
_EMOJI = ["😂", "👍", "🎉", "🔥", "❤️", "🙂", "👀", "🚀", "😅", "🤔", "✅", "🙏", "💯", "😭"]
_PUNCT = [".", ".", ".", "!", "?", "…", ",", ""]
_CODE = [
    '```py\nfor item in ijson.items(fh, "messages.item"):\n    handle(item)\n```',
    "`pip install -U memshift`",
    '```json\n{"ok": true, "path": "C:\\\\Users\\\\me\\\\export.json"}\n```',
    "`git rebase -i HEAD~3`",
]
_URLS = [
    "https://github.com/Tyrrrz/DiscordChatExporter/releases",
    "https://docs.python.org/3/library/datetime.html#datetime.datetime.fromisoformat",
    "https://example.com/blog/2023/streaming-json?utm_source=chat&ref=42",
    "https://youtu.be/dQw4w9WgXcQ",
]


class TextGen:
    """Chat-like text with a long-tailed length distribution and mixed scripts.

    Lengths are log-normal (median ``median`` chars, shape ``sigma``), which matches the shape of
    real chat logs: mostly short lines, a tail of long pastes. About a third of messages carry
    non-ASCII words or emoji, some carry quotes, backslashes, tabs and newlines so that encoders
    and escapers do real work.
    """

    def __init__(self, rng: random.Random, median: float, sigma: float, cap: int) -> None:
        self.rng = rng
        self.mu = math.log(median)
        self.sigma = sigma
        self.cap = cap

    def length(self) -> int:
        return max(1, min(self.cap, int(self.rng.lognormvariate(self.mu, self.sigma))))

    def words(self, n_chars: int) -> list[str]:
        rng = self.rng
        out = rng.choices(_EN, k=max(1, n_chars // 6))
        roll = rng.random()
        if roll < 0.25:
            out[rng.randrange(len(out))] = rng.choice(_INTL)
        if roll < 0.08:
            out.insert(rng.randrange(len(out) + 1), rng.choice(_INTL))
        return out

    def sentence(self, n_chars: int | None = None) -> str:
        rng = self.rng
        n = self.length() if n_chars is None else n_chars
        words = self.words(n)
        text = " ".join(words)
        text = text[0].upper() + text[1:] + rng.choice(_PUNCT)
        roll = rng.random()
        if roll < 0.20:
            text += " " + rng.choice(_EMOJI)
        elif roll < 0.23:
            text += '\nhe said "it works on my machine" \\o/'
        elif roll < 0.25:
            text += "\n\t- " + " ".join(rng.choices(_EN, k=6))
        elif roll < 0.27:
            text += "\n" + rng.choice(_CODE)
        return text


def _hex(rng: random.Random, n: int) -> str:
    return f"{rng.getrandbits(4 * n):0{n}x}"


def _uuid(rng: random.Random) -> str:
    h = _hex(rng, 32)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) % 4]}{h[17:20]}-{h[20:]}"


def _zipf_cum(n: int, s: float) -> list[float]:
    """Cumulative Zipf weights, for ``rng.choices(..., cum_weights=...)`` (bisect, fast)."""
    total = 0.0
    cum = []
    for i in range(n):
        total += 1.0 / (i + 1) ** s
        cum.append(total)
    return cum


# -- output helpers --------------------------------------------------------------------------------


class _Out:
    """A binary output that is a plain file or a member of a zip being written."""

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh = fh
        self.bytes = 0

    def write(self, data: bytes) -> None:
        self.fh.write(data)
        self.bytes += len(data)


def _write_meta(path: Path, meta: dict[str, Any]) -> None:
    meta_path = path.with_name(path.name + ".meta.json")
    meta_path.write_bytes(orjson.dumps(meta, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))


def read_meta(path: str | Path) -> dict[str, Any]:
    """The sidecar ``<output>.meta.json`` written next to a generated export."""
    p = Path(path)
    data: dict[str, Any] = orjson.loads(p.with_name(p.name + ".meta.json").read_bytes())
    return data


def _sha256_tree(path: Path) -> str:
    """Digest of a file, or of every file in a directory (sorted names), for determinism checks."""
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        if path.is_dir():
            h.update(f.relative_to(path).as_posix().encode() + b"\0")
        with open(f, "rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
    return h.hexdigest()


# -- Discord (DiscordChatExporter JSON) ------------------------------------------------------------


def _snowflake(ms: int, seq: int) -> str:
    return str(((ms - DISCORD_EPOCH_MS) << 22) | (1 << 17) | (seq & 0xFFF))


def _dce_time(ms: int, tz: timezone, offset: str) -> str:
    """.NET ``DateTimeOffset`` as DCE writes it: local offset, fraction with trailing zeros
    dropped (``…25.25+00:00``, ``…03+00:00``)."""
    dt = datetime.fromtimestamp(ms // 1000, tz)
    frac = ms % 1000
    base = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if frac:
        base += "." + f"{frac:03d}".rstrip("0")
    return base + offset


_ROLE_NAMES = ["Moderator", "Regular", "Contributor", "Booster", "Admin", "Bot", "Member"]
_COLORS = ["#1F8B4C", "#E91E63", "#3498DB", "#9B59B6", "#F1C40F", None]
_FILE_KINDS = [
    ("png", "image"),
    ("jpg", "image"),
    ("gif", "image"),
    ("mp4", "video"),
    ("pdf", "doc"),
    ("txt", "log"),
    ("zip", "logs"),
]
_STD_EMOJI = [
    ("👍", "thumbsup", "1f44d"),
    ("😂", "joy", "1f602"),
    ("❤️", "heart", "2764"),
    ("🎉", "tada", "1f389"),
    ("👀", "eyes", "1f440"),
    ("🔥", "fire", "1f525"),
    ("✅", "white_check_mark", "2705"),
]
_CUSTOM_EMOJI = ["kekw", "pepehands", "thisisfine", "pepeheart", "catjam", "monkaS", "poggers"]


def _discord_users(rng: random.Random, n: int, guild_id: str) -> list[dict[str, Any]]:
    users = []
    first = ["alex", "sam", "kim", "jo", "max", "lee", "ana", "tom", "eva", "raj", "mei", "ole"]
    for _i in range(n):
        uid = str(rng.randrange(10**17, 10**18 * 9))
        handle = f"{rng.choice(first)}{rng.choice(['', '_', '.'])}{rng.randrange(1000)}"
        is_bot = rng.random() < 0.03
        nick_roll = rng.random()
        nickname = (
            handle
            if nick_roll < 0.5
            else handle.title()
            if nick_roll < 0.8
            else rng.choice(_INTL).title() + " " + rng.choice(_EMOJI)
        )
        roles = [
            {
                "id": str(int(guild_id) + k + 1),
                "name": _ROLE_NAMES[k],
                "color": _COLORS[k % len(_COLORS)],
                "position": len(_ROLE_NAMES) - k,
            }
            for k in sorted(rng.sample(range(len(_ROLE_NAMES)), rng.randrange(0, 3)))
        ]
        users.append(
            {
                "id": uid,
                "name": handle if not is_bot else f"{handle}-bot",
                "discriminator": "0000" if rng.random() < 0.7 else f"{rng.randrange(1, 10000):04d}",
                "nickname": nickname,
                "color": roles[0]["color"] if roles else None,
                "isBot": is_bot,
                "roles": roles,
                "avatarUrl": f"https://cdn.discordapp.com/avatars/{uid}/{_hex(rng, 32)}.png",
            }
        )
    if n > 1 and not any(u["isBot"] for u in users):
        users[-1]["isBot"] = True
    return users


def _short_user(u: dict[str, Any]) -> dict[str, Any]:
    """User object as DCE writes it inside reactions (no roles)."""
    return {k: v for k, v in u.items() if k != "roles"}


def generate_discord(
    output: Path,
    *,
    messages: int,
    seed: int = DEFAULT_SEED,
    authors: int | None = None,
    span_days: float = 730.0,
    tz_offset_minutes: int = 0,
    shape: str = "full",
) -> dict[str, Any]:
    """Write one DCE channel export with ``messages`` messages; return the meta dict.

    ``shape="lean"`` writes the shape of the research baseline (perf-baseline.md: empty
    attachments/embeds/reactions/mentions, authors without roles), so a run can be compared with
    the issue's 591 MB numbers; ``"full"`` (default) has the nested data real exports carry.
    """
    if shape not in ("full", "lean"):
        raise ValueError(f"shape must be 'full' or 'lean', not {shape!r}")
    lean = shape == "lean"
    rng = random.Random(seed)
    text = TextGen(rng, median=48, sigma=0.95, cap=1900)
    guild_id = str(rng.randrange(10**17, 10**18))
    channel_id = str(rng.randrange(10**17, 10**18 * 9))
    n_authors = authors or max(12, min(5000, messages // 200))
    users = _discord_users(rng, n_authors, guild_id)
    if lean:
        users = [_short_user(u) for u in users]
    user_cum = _zipf_cum(n_authors, 1.05)
    short_users = [_short_user(u) for u in users]
    tz = timezone(timedelta(minutes=tz_offset_minutes))
    sign = "+" if tz_offset_minutes >= 0 else "-"
    offset = f"{sign}{abs(tz_offset_minutes) // 60:02d}:{abs(tz_offset_minutes) % 60:02d}"
    mean_gap_ms = span_days * 86_400_000 / max(messages, 1)
    custom_emoji = [
        {
            "id": str(rng.randrange(10**17, 10**18)),
            "name": name,
            "code": name,
            "isAnimated": rng.random() < 0.2,
            "imageUrl": "",
        }
        for name in _CUSTOM_EMOJI
    ]
    for e in custom_emoji:
        e["imageUrl"] = (
            f"https://cdn.discordapp.com/emojis/{e['id']}.{'gif' if e['isAnimated'] else 'png'}"
        )
    std_emoji = [
        {
            "id": "",
            "name": ch,
            "code": code,
            "isAnimated": False,
            "imageUrl": f"https://cdn.jsdelivr.net/gh/twitter/twemoji@latest/assets/svg/{cp}.svg",
        }
        for ch, code, cp in _STD_EMOJI
    ]
    all_emoji = std_emoji + custom_emoji

    counts: Counter[str] = Counter()
    recent: deque[str] = deque(maxlen=500)
    output.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with open(output, "wb") as raw:
        out = _Out(io.BufferedWriter(raw, buffer_size=1 << 20))
        head = {
            "guild": {
                "id": guild_id,
                "name": "Synthetic Benchmark Guild",
                "iconUrl": f"https://cdn.discordapp.com/icons/{guild_id}/{_hex(rng, 32)}.png",
            },
            "channel": {
                "id": channel_id,
                "type": "GuildTextChat",
                "categoryId": str(int(guild_id) + 100),
                "category": "Text Channels",
                "name": "general-chat",
                "topic": "Benchmark channel: everything about streaming exports 🚀",
            },
            "dateRange": {"after": None, "before": None},
        }
        end_ms = START_MS + int(span_days * 86_400_000) + 86_400_000
        head["exportedAt"] = _dce_time(end_ms, tz, offset)
        top = orjson.dumps(head, option=orjson.OPT_INDENT_2)
        out.write(top[:-2] + b',\n  "messages": [')
        ms = START_MS
        opt = orjson.OPT_INDENT_2
        for i in range(messages):
            ms += 1 + int(rng.expovariate(1.0 / mean_gap_ms))
            mid = _snowflake(ms, i)
            author = rng.choices(users, cum_weights=user_cum)[0]
            roll = rng.random()
            kind = "Default"
            content: str
            reference: dict[str, Any] | None = None
            interaction: dict[str, Any] | None = None
            mentions: list[dict[str, Any]] = []
            inline: list[dict[str, Any]] = []
            if roll < 0.010:
                kind, content = "GuildMemberJoin", "Joined the server."
            elif roll < 0.012 and recent:
                kind, content = "ChannelPinnedMessage", "Pinned a message."
                reference = {
                    "messageId": rng.choice(recent),
                    "channelId": channel_id,
                    "guildId": guild_id,
                }
            elif roll < 0.0135:
                kind, content = "ThreadCreated", "Started a thread."
                reference = {
                    "messageId": None,
                    "channelId": _snowflake(ms, i + 7),
                    "guildId": guild_id,
                }
            elif roll < 0.0185:
                bot = users[-1] if users[-1]["isBot"] else author
                author = bot
                kind = "20"  # slash-command response: not in DCE's enum, written as a number
                invoker = rng.choices(users, cum_weights=user_cum)[0]
                interaction = {
                    "id": _snowflake(ms - 300, i),
                    "name": rng.choice(["remind", "poll", "roll", "weather"]),
                    "user": _short_user(invoker),
                }
                content = text.sentence()
            else:
                content = text.sentence()
                if roll < 0.12 and recent:
                    kind = "Reply"
                    target = (
                        rng.choice(recent) if rng.random() > 0.01 else _snowflake(ms - 10**7, 1)
                    )
                    reference = {"messageId": target, "channelId": channel_id, "guildId": guild_id}
                if not lean and rng.random() < 0.08:
                    m = rng.choices(users, cum_weights=user_cum)[0]
                    mentions.append(m)
                    content = f"@{m['nickname']} {content}"
                if not lean and rng.random() < 0.04:
                    e = rng.choice(custom_emoji)
                    inline.append(e)
                    content += f" :{e['name']}:"
                if rng.random() < 0.03:
                    content += " " + rng.choice(_URLS)
            attachments: list[dict[str, Any]] = []
            if not lean and kind in ("Default", "Reply") and rng.random() < 0.045:
                for _ in range(1 if rng.random() < 0.85 else rng.randrange(2, 5)):
                    ext, stem = rng.choice(_FILE_KINDS)
                    aid = _snowflake(ms, i + 1 + len(attachments))
                    spoiler = "SPOILER_" if rng.random() < 0.02 else ""
                    name = f"{spoiler}{stem}_{rng.randrange(10**4)}.{ext}"
                    attachments.append(
                        {
                            "id": aid,
                            "url": f"https://cdn.discordapp.com/attachments/{channel_id}/{aid}/"
                            f"{name}?ex={_hex(rng, 8)}&is={_hex(rng, 8)}&hm={_hex(rng, 64)}&",
                            "fileName": name,
                            "fileSizeBytes": int(rng.lognormvariate(11.5, 1.5)),
                        }
                    )
                if rng.random() < 0.4:
                    content = ""
            embeds: list[dict[str, Any]] = []
            if not lean and kind == "Default" and rng.random() < 0.02:
                url = rng.choice(_URLS)
                content = (content + " " + url).strip()
                embeds.append(
                    {
                        "title": text.sentence(40),
                        "url": url,
                        "timestamp": None,
                        "description": text.sentence(160),
                        "color": "#1DA1F2",
                        "thumbnail": {
                            "url": f"https://images-ext-1.discordapp.net/e/{_hex(rng, 24)}.png",
                            "canonicalUrl": f"https://example.com/img/{_hex(rng, 12)}.png",
                            "width": 400,
                            "height": 225,
                        },
                        "images": [],
                        "fields": [],
                        "inlineEmojis": [],
                    }
                )
            stickers: list[dict[str, Any]] = []
            if not lean and kind == "Default" and rng.random() < 0.004:
                sid = str(rng.randrange(10**17, 10**18))
                stickers.append(
                    {
                        "id": sid,
                        "name": "pepecute",
                        "format": "Png",
                        "sourceUrl": f"https://media.discordapp.net/stickers/{sid}.png",
                    }
                )
            reactions: list[dict[str, Any]] = []
            if not lean and kind in ("Default", "Reply", "20") and rng.random() < 0.10:
                for emoji in rng.sample(all_emoji, rng.randrange(1, 4)):
                    count = 1 + int(rng.expovariate(0.5))
                    reactors = rng.choices(short_users, cum_weights=user_cum, k=min(count, 10))
                    reactions.append({"emoji": emoji, "count": count, "users": reactors})
            edited = None
            if kind in ("Default", "Reply") and rng.random() < 0.05:
                edited = _dce_time(ms + rng.randrange(5_000, 3_600_000), tz, offset)
            msg: dict[str, Any] = {
                "id": mid,
                "type": kind,
                "timestamp": _dce_time(ms, tz, offset),
                "timestampEdited": edited,
                "callEndedTimestamp": None,
                "isPinned": rng.random() < 0.002,
                "content": content,
                "author": author,
                "attachments": attachments,
                "embeds": embeds,
                "stickers": stickers,
                "reactions": reactions,
                "mentions": mentions,
                "inlineEmojis": inline,
            }
            if reference is not None:
                msg["reference"] = reference
            if interaction is not None:
                msg["interaction"] = interaction
            counts[kind] += 1
            counts["with_attachments"] += bool(attachments)
            counts["with_reactions"] += bool(reactions)
            counts["bot_author"] += bool(author["isBot"])
            counts["empty_content"] += not content
            recent.append(mid)
            body = orjson.dumps(msg, option=opt).replace(b"\n", b"\n    ")
            out.write((b"\n    " if i == 0 else b",\n    ") + body)
        out.write(b"\n  ]" if messages else b"]")
        out.write(f',\n  "messageCount": {messages}\n}}\n'.encode())
        out.fh.flush()
        size = out.bytes
    meta = {
        "format": "discord",
        "shape": shape,
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "messages": messages,
        "conversations": 1,
        "records": messages,
        "bytes": size,
        "files": 1,
        "authors": n_authors,
        "counts": dict(sorted(counts.items())),
        "channel_id": channel_id,
        "generate_seconds": round(time.perf_counter() - t0, 2),
    }
    _write_meta(output, meta)
    return meta


# -- Slack workspace export ------------------------------------------------------------------------

_SLACK_ZONE = timezone(timedelta(hours=-8))  # day files follow the workspace's Pacific calendar
_ALNUM = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"


def _slack_id(rng: random.Random, prefix: str, n: int = 10) -> str:
    return prefix + "".join(rng.choices(_ALNUM, k=n))


def _ts(micros: int) -> str:
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


class _SlackText:
    """Slack mrkdwn ``text`` and the ``rich_text`` block that mirrors it, built from one token
    list so the two agree (as they do in real exports)."""

    def __init__(self, rng: random.Random, gen: TextGen) -> None:
        self.rng = rng
        self.gen = gen

    def build(
        self, users: list[str], channels: list[tuple[str, str]]
    ) -> tuple[str, list[dict[str, Any]]]:
        rng = self.rng
        sentence = self.gen.sentence()
        tokens: list[tuple[str, Any]] = []
        roll = rng.random()
        if roll < 0.12:
            tokens.append(("user", rng.choice(users)))
            tokens.append(("text", " "))
        elif roll < 0.14:
            tokens.append(("broadcast", "here"))
            tokens.append(("text", " "))
        if rng.random() < 0.05:
            sentence = sentence.replace(" and ", " &amp; ", 1).replace(" to ", " -&gt; ", 1)
        tokens.append(("text", sentence))
        roll = rng.random()
        if roll < 0.04:
            tokens.append(("text", " see "))
            tokens.append(("channel", rng.choice(channels)))
        elif roll < 0.08:
            tokens.append(("text", " "))
            tokens.append(("link", rng.choice(_URLS)))
        text_parts: list[str] = []
        elements: list[dict[str, Any]] = []
        for kind, value in tokens:
            if kind == "text":
                text_parts.append(value)
                plain = value.replace("&amp;", "&").replace("&gt;", ">").replace("&lt;", "<")
                elements.append({"type": "text", "text": plain})
            elif kind == "user":
                text_parts.append(f"<@{value}>")
                elements.append({"type": "user", "user_id": value})
            elif kind == "broadcast":
                text_parts.append(f"<!{value}>")
                elements.append({"type": "broadcast", "range": value})
            elif kind == "channel":
                cid, name = value
                text_parts.append(f"<#{cid}|{name}>" if rng.random() < 0.7 else f"<#{cid}>")
                elements.append({"type": "channel", "channel_id": cid})
            else:
                text_parts.append(f"<{value}>")
                elements.append({"type": "link", "url": value})
        block = {
            "type": "rich_text",
            "block_id": "".join(rng.choices(_ALNUM, k=5)),
            "elements": [{"type": "rich_text_section", "elements": elements}],
        }
        return "".join(text_parts), [block]


def _slack_users(rng: random.Random, n: int, team: str) -> list[dict[str, Any]]:
    first = [
        "Alex",
        "Sam",
        "Kim",
        "Jo",
        "Max",
        "Lee",
        "Ana",
        "Tom",
        "Eva",
        "Raj",
        "Mei",
        "Ole",
        "Zoë",
        "Björn",
        "Даша",
        "李",
    ]
    last = ["Smith", "Nguyen", "García", "Müller", "Kowalski", "Okafor", "Tanaka", "Ivanova"]
    out = []
    for i in range(n):
        uid = _slack_id(rng, "U" if rng.random() > 0.05 else "W")
        fn, ln = rng.choice(first), rng.choice(last)
        handle = f"{fn.lower()}.{ln.lower()}{i}"
        is_bot = i % 40 == 39
        avatar = _hex(rng, 12)
        profile: dict[str, Any] = {
            "title": rng.choice(["", "Engineer", "PM", "Designer", "Support"]),
            "phone": "",
            "skype": "",
            "real_name": f"{fn} {ln}",
            "real_name_normalized": f"{fn} {ln}",
            "display_name": "" if rng.random() < 0.3 else fn,
            "display_name_normalized": "",
            "fields": None,
            "status_text": "",
            "status_emoji": "",
            "avatar_hash": avatar,
            "first_name": fn,
            "last_name": ln,
            "image_72": f"https://avatars.slack-edge.com/2023-01-01/{avatar}_72.png",
            "team": team,
        }
        if is_bot:
            profile["bot_id"] = _slack_id(rng, "B")
        out.append(
            {
                "id": uid,
                "team_id": team,
                "name": handle,
                "deleted": rng.random() < 0.05,
                "color": _hex(rng, 6),
                "real_name": f"{fn} {ln}",
                "tz": "America/Los_Angeles",
                "tz_label": "Pacific Standard Time",
                "tz_offset": -28800,
                "profile": profile,
                "is_admin": i == 0,
                "is_owner": i == 0,
                "is_primary_owner": i == 0,
                "is_restricted": False,
                "is_ultra_restricted": False,
                "is_bot": is_bot,
                "is_app_user": False,
                "updated": 1_672_531_200 + i,
            }
        )
    return out


def _user_profile(u: dict[str, Any]) -> dict[str, Any]:
    p = u["profile"]
    return {
        "avatar_hash": p["avatar_hash"],
        "image_72": p["image_72"],
        "first_name": p["first_name"],
        "real_name": p["real_name"],
        "display_name": p["display_name"],
        "team": u["team_id"],
        "name": u["name"],
        "is_restricted": False,
        "is_ultra_restricted": False,
    }


def _channel_names(rng: random.Random, n: int) -> list[str]:
    stems = ["proj", "team", "help", "ops", "sales", "eng", "design", "random", "social", "ext"]
    words = ["alpha", "beta", "ingest", "billing", "search", "mobile", "infra", "growth", "café"]
    names = ["general", "random"][:n]
    seen = set(names)
    while len(names) < n:
        name = f"{rng.choice(stems)}-{rng.choice(words)}-{len(names)}"
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


def _allocate(total: int, n: int, s: float) -> list[int]:
    """Split ``total`` messages over ``n`` channels with Zipf weights (a few busy channels, a
    long tail of quiet ones), exactly summing to ``total``."""
    weights = [1.0 / (i + 1) ** s for i in range(n)]
    wsum = sum(weights)
    counts = [int(total * w / wsum) for w in weights]
    for i in range(total - sum(counts)):
        counts[i % n] += 1
    return counts


class _DayWriter:
    """Writes one channel's messages into ``YYYY-MM-DD.json`` arrays, a file per Pacific day."""

    def __init__(self, open_member: Callable[[str], IO[bytes]], folder: str) -> None:
        self.open_member = open_member
        self.folder = folder
        self.day: str | None = None
        self.fh: IO[bytes] | None = None
        self.first = True
        self.bytes = 0
        self.files = 0

    def write(self, day: str, data: bytes) -> None:
        if day != self.day:
            self.close()
            self.day = day
            self.fh = self.open_member(f"{self.folder}/{day}.json")
            self.files += 1
            self.fh.write(b"[\n")
            self.bytes += 2
            self.first = True
        assert self.fh is not None
        chunk = (b"    " if self.first else b",\n    ") + data
        self.fh.write(chunk)
        self.bytes += len(chunk)
        self.first = False

    def close(self) -> None:
        if self.fh is not None:
            self.fh.write(b"\n]\n")
            self.bytes += 3
            self.fh.close()
            self.fh = None


def generate_slack(
    output: Path,
    *,
    messages: int,
    channels: int = 200,
    users: int = 1000,
    seed: int = DEFAULT_SEED,
    span_days: float = 365.0,
    as_zip: bool = False,
) -> dict[str, Any]:
    """Write a Slack workspace export (a directory, or a ``.zip`` with ``as_zip``)."""
    rng = random.Random(seed + 1)
    gen = TextGen(rng, median=60, sigma=1.0, cap=3000)
    stext = _SlackText(rng, gen)
    team = _slack_id(rng, "T")
    n_users = max(4, min(users, max(4, messages // 20)))
    n_channels = max(1, min(channels, max(1, messages // 5)))
    user_objs = _slack_users(rng, n_users, team)
    humans = [u for u in user_objs if not u["is_bot"]]
    human_ids = [u["id"] for u in humans]
    human_cum = _zipf_cum(len(humans), 1.0)
    profiles = {u["id"]: _user_profile(u) for u in humans}
    names = _channel_names(rng, n_channels)
    chan_objs = []
    for i, name in enumerate(names):
        members = sorted(rng.sample(human_ids, min(len(human_ids), rng.randrange(3, 300))))
        created = 1_672_531_200 - rng.randrange(10**7)
        chan_objs.append(
            {
                "id": _slack_id(rng, "C"),
                "name": name,
                "created": str(created) if i % 2 else created,  # both spellings occur
                "creator": rng.choice(human_ids),
                "is_archived": rng.random() < 0.05,
                "is_general": i == 0,
                "members": members,
                "topic": {"value": f"Topic of #{name}", "creator": members[0], "last_set": created},
                "purpose": {"value": gen.sentence(60), "creator": "", "last_set": "0"},
                "pins": [],
            }
        )
    chan_refs = [(c["id"], c["name"]) for c in chan_objs]
    bots = [
        {"id": _slack_id(rng, "B"), "app_id": _slack_id(rng, "A"), "name": name}
        for name in ("deploybot", "github", "pagerduty", "jira")
    ]
    per_channel = _allocate(messages, n_channels, 0.8)
    span_us = int(span_days * 86_400 * 1_000_000)

    zf: zipfile.ZipFile | None = None
    if as_zip:
        output.parent.mkdir(parents=True, exist_ok=True)
        zf = zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1)

        def open_member(name: str) -> IO[bytes]:
            assert zf is not None
            info = zipfile.ZipInfo(f"export/{name}", date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.flag_bits |= 0x800
            return zf.open(info, "w", force_zip64=True)
    else:
        output.mkdir(parents=True, exist_ok=True)

        def open_member(name: str) -> IO[bytes]:
            path = output / name
            path.parent.mkdir(parents=True, exist_ok=True)
            return open(path, "wb")

    def write_index(name: str, obj: Any) -> int:
        data = orjson.dumps(obj, option=orjson.OPT_INDENT_2)
        with open_member(name) as fh:
            fh.write(data)
        return len(data)

    t0 = time.perf_counter()
    total_bytes = write_index("users.json", user_objs) + write_index("channels.json", chan_objs)
    counts: Counter[str] = Counter()
    files = 2
    opt = orjson.OPT_INDENT_2
    for ci, chan in enumerate(chan_objs):
        budget = per_channel[ci]
        writer = _DayWriter(open_member, chan["name"])
        # (ts_micros, seq, parent message dict, reply index) for replies still to be written
        pending: list[tuple[int, int, dict[str, Any], int]] = []
        seq = 0
        emitted = 0
        top_gap = span_us / max(1.0, budget / 1.4)
        now = 1_672_531_200_000_000 + rng.randrange(86_400_000_000)
        next_top = now
        last_ts = 0
        while emitted < budget:
            committed = emitted + len(pending)
            if pending and (committed >= budget or pending[0][0] <= next_top):
                ts_us, _, parent, k = heapq.heappop(pending)
                ts_us = max(ts_us, last_ts + 1)
                msg = _slack_reply(rng, stext, parent, k, ts_us, human_ids, chan_refs, profiles)
                counts["thread_reply"] += 1
                if msg.get("subtype") == "thread_broadcast":
                    counts["thread_broadcast"] += 1
            else:
                ts_us = max(next_top, last_ts + 1)
                next_top = ts_us + 1 + int(rng.expovariate(1.0 / top_gap))
                user = rng.choices(humans, cum_weights=human_cum)[0]
                roll = rng.random()
                if roll < 0.03:
                    bot = rng.choice(bots)
                    msg = {
                        "type": "message",
                        "subtype": "bot_message",
                        "text": "",
                        "ts": _ts(ts_us),
                        "bot_id": bot["id"],
                        "username": bot["name"],
                        "bot_profile": {
                            **bot,
                            "deleted": False,
                            "team_id": team,
                            "updated": 1_672_531_200,
                        },
                        "attachments": [
                            {
                                "fallback": f"[{bot['name']}] {gen.sentence(50)}",
                                "text": gen.sentence(120),
                                "title": gen.sentence(30),
                                "color": "36a64f",
                                "id": 1,
                            }
                        ],
                    }
                    counts["bot_message"] += 1
                elif roll < 0.045:
                    msg = {
                        "type": "message",
                        "subtype": "channel_join",
                        "ts": _ts(ts_us),
                        "user": user["id"],
                        "text": f"<@{user['id']}> has joined the channel",
                        "user_profile": profiles[user["id"]],
                    }
                    counts["channel_join"] += 1
                else:
                    text, blocks = stext.build(human_ids, chan_refs)
                    msg = {
                        "client_msg_id": _uuid(rng),
                        "type": "message",
                        "text": text,
                        "user": user["id"],
                        "ts": _ts(ts_us),
                        "blocks": blocks,
                        "team": team,
                        "user_team": team,
                        "source_team": team,
                        "user_profile": profiles[user["id"]],
                    }
                    counts["message"] += 1
                    if rng.random() < 0.04:
                        fid = _slack_id(rng, "F")
                        ext, stem = rng.choice(_FILE_KINDS)
                        msg["files"] = [
                            _slack_file(rng, fid, f"{stem}.{ext}", user["id"], team, ts_us)
                        ]
                        msg["upload"] = False
                        counts["with_files"] += 1
                    # plan a thread now, so the parent can carry reply_count/replies like the
                    # exporter writes them; the replies are emitted later, often in later files
                    room = budget - committed - 1
                    if room > 0 and rng.random() < 0.09:
                        k = min(room, 1 + int(rng.expovariate(1 / 4.5)), 200)
                        gap = rng.choice([600e6, 3600e6, 6 * 3600e6, 36 * 3600e6])
                        t = ts_us
                        replies = []
                        for _ in range(k):
                            t += 1 + int(rng.expovariate(1.0 / gap))
                            ru = rng.choices(humans, cum_weights=human_cum)[0]["id"]
                            replies.append({"user": ru, "ts": _ts(t)})
                        users_in = sorted({r["user"] for r in replies})
                        msg.update(
                            {
                                "thread_ts": msg["ts"],
                                "reply_count": k,
                                "reply_users_count": len(users_in),
                                "latest_reply": replies[-1]["ts"],
                                "reply_users": users_in[:5],
                                "is_locked": False,
                                "subscribed": False,
                                "replies": replies,
                            }
                        )
                        for j, r in enumerate(replies):
                            r_us = int(r["ts"].replace(".", ""))
                            heapq.heappush(pending, (r_us, seq, msg, j))
                            seq += 1
                        counts["thread_parent"] += 1
            if "subtype" not in msg:
                if rng.random() < 0.04:
                    msg["edited"] = {"user": msg.get("user", ""), "ts": _ts(ts_us + 60_000_000)}
                    counts["edited"] += 1
                if rng.random() < 0.08:
                    msg["reactions"] = [
                        {"name": name, "users": rs, "count": len(rs)}
                        for name, rs in (
                            (n, sorted(set(rng.choices(human_ids, k=rng.randrange(1, 6)))))
                            for n in rng.sample(
                                [
                                    "thumbsup",
                                    "eyes",
                                    "tada",
                                    "joy",
                                    "white_check_mark",
                                    "thumbsup::skin-tone-2",
                                    "party-parrot",
                                ],
                                rng.randrange(1, 3),
                            )
                        )
                    ]
                    counts["with_reactions"] += 1
            day = datetime.fromtimestamp(ts_us // 1_000_000, _SLACK_ZONE).strftime("%Y-%m-%d")
            writer.write(day, orjson.dumps(msg, option=opt).replace(b"\n", b"\n    "))
            last_ts = ts_us
            emitted += 1
        writer.close()
        total_bytes += writer.bytes
        files += writer.files
    if zf is not None:
        zf.close()
    meta = {
        "format": "slack",
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "messages": messages,
        "records": messages,
        "conversations": n_channels,
        "users": n_users,
        "bytes": total_bytes,
        "zip_bytes": output.stat().st_size if as_zip else None,
        "files": files,
        "busiest_channel_messages": max(per_channel) if per_channel else 0,
        "counts": dict(sorted(counts.items())),
        "generate_seconds": round(time.perf_counter() - t0, 2),
    }
    _write_meta(output, meta)
    return meta


def _slack_file(
    rng: random.Random, fid: str, name: str, user: str, team: str, ts_us: int
) -> dict[str, Any]:
    sec = ts_us // 1_000_000
    token = "xoxe-REDACTED-" + _hex(rng, 8)
    return {
        "id": fid,
        "created": sec,
        "timestamp": sec,
        "name": name,
        "title": name.rsplit(".", 1)[0],
        "mimetype": "image/png" if name.endswith("png") else "application/octet-stream",
        "filetype": name.rsplit(".", 1)[-1],
        "pretty_type": name.rsplit(".", 1)[-1].upper(),
        "user": user,
        "user_team": team,
        "editable": False,
        "size": int(rng.lognormvariate(11.0, 1.5)),
        "mode": "hosted" if rng.random() > 0.03 else "hidden_by_limit",
        "is_external": False,
        "external_type": "",
        "is_public": True,
        "url_private": f"https://files.slack.com/files-pri/{team}-{fid}/{name}?t={token}",
        "url_private_download": f"https://files.slack.com/files-pri/{team}-{fid}/download/{name}?t={token}",
        "permalink": f"https://bench.slack.com/files/{user}/{fid}/{name}",
    }


def _slack_reply(
    rng: random.Random,
    stext: _SlackText,
    parent: dict[str, Any],
    k: int,
    ts_us: int,
    human_ids: list[str],
    chan_refs: list[tuple[str, str]],
    profiles: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    planned = parent["replies"][k]
    user = planned["user"]
    text, blocks = stext.build(human_ids, chan_refs)
    msg: dict[str, Any] = {
        "client_msg_id": _uuid(rng),
        "type": "message",
        "text": text,
        "user": user,
        "ts": _ts(ts_us),
        "blocks": blocks,
        "team": parent.get("team"),
        "user_team": parent.get("team"),
        "source_team": parent.get("team"),
        "user_profile": profiles[user],
        "thread_ts": parent["ts"],
        "parent_user_id": parent["user"],
    }
    if rng.random() < 0.04:
        msg["subtype"] = "thread_broadcast"
        msg["root"] = {
            key: parent[key]
            for key in ("type", "text", "user", "ts", "thread_ts", "reply_count", "latest_reply")
        }
    return msg


# -- ChatGPT conversations.json --------------------------------------------------------------------

_MODELS = ["gpt-4o", "gpt-4o", "gpt-4o", "gpt-4", "o3", "gpt-5", "text-davinci-002-render-sha"]
_TITLES = [
    "Streaming JSON in Python",
    "Trip to Lisbon",
    "Fix flaky test",
    "Résumé review",
    "SQL window functions",
    "Explain few-shot vs zero-shot",
    "Birthday ideas 🎉",
    "Rust lifetimes",
    "Email to landlord",
    "Docker networking",
]


class _Tree:
    """Builds one ChatGPT mapping tree node by node, tracking the active path."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.mapping: dict[str, dict[str, Any]] = {}

    def node(self, message: dict[str, Any] | None, parent: str | None, nid: str) -> str:
        self.mapping[nid] = {"id": nid, "message": message, "parent": parent, "children": []}
        if parent is not None:
            self.mapping[parent]["children"].append(nid)
        return nid


def _gpt_message(
    nid: str,
    role: str,
    t: float | None,
    content: dict[str, Any],
    metadata: dict[str, Any],
    *,
    name: str | None = None,
    recipient: str = "all",
    weight: float = 1.0,
    end_turn: bool | None = None,
    channel: str | None = None,
) -> dict[str, Any]:
    return {
        "id": nid,
        "author": {"role": role, "name": name, "metadata": {}},
        "create_time": t,
        "update_time": None if role != "assistant" else t,
        "content": content,
        "status": "finished_successfully",
        "end_turn": end_turn,
        "weight": weight,
        "metadata": metadata,
        "recipient": recipient,
        "channel": channel,
    }


def _markdown_answer(gen: TextGen) -> str:
    rng = gen.rng
    parts = [gen.sentence(gen.length())]
    for _ in range(rng.randrange(0, 4)):
        roll = rng.random()
        if roll < 0.3:
            parts.append("### " + gen.sentence(30))
        elif roll < 0.6:
            parts.append("\n".join(f"- {gen.sentence(50)}" for _ in range(rng.randrange(2, 6))))
        elif roll < 0.75:
            parts.append(rng.choice(_CODE))
        else:
            parts.append(gen.sentence(gen.length()))
    return "\n\n".join(parts)


def generate_openai(
    output: Path,
    *,
    conversations: int,
    seed: int = DEFAULT_SEED,
    span_days: float = 730.0,
) -> dict[str, Any]:
    """Write a ChatGPT ``conversations.json`` with ``conversations`` conversations."""
    rng = random.Random(seed + 2)
    user_gen = TextGen(rng, median=110, sigma=0.9, cap=6000)
    bot_gen = TextGen(rng, median=420, sigma=0.7, cap=4000)
    counts: Counter[str] = Counter()
    output.parent.mkdir(parents=True, exist_ok=True)
    span_s = span_days * 86_400
    start_s = START_MS / 1000
    t0 = time.perf_counter()
    with open(output, "wb") as raw:
        out = _Out(io.BufferedWriter(raw, buffer_size=1 << 20))
        out.write(b"[")
        for c in range(conversations):
            # newest first, as the export lists them
            created = start_s + span_s * (1 - (c + rng.random()) / max(conversations, 1))
            conv = _gpt_conversation(rng, user_gen, bot_gen, round(created, 6), counts)
            out.write((b"" if c == 0 else b", ") + orjson.dumps(conv))
        out.write(b"]")
        out.fh.flush()
        size = out.bytes
    meta = {
        "format": "openai",
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "conversations": conversations,
        "records": counts["message_nodes"],
        "messages": counts["message_nodes"],
        "active_messages": counts["active_messages"],
        "bytes": size,
        "files": 1,
        "counts": dict(sorted(counts.items())),
        "generate_seconds": round(time.perf_counter() - t0, 2),
    }
    _write_meta(output, meta)
    return meta


def _gpt_conversation(
    rng: random.Random,
    user_gen: TextGen,
    bot_gen: TextGen,
    created: float,
    counts: Counter[str],
) -> dict[str, Any]:
    tree = _Tree(rng)
    slug = rng.choice(_MODELS)
    conv_id = _uuid(rng)
    root = tree.node(None, None, "client-created-root")
    sys_id = _uuid(rng)
    tree.node(
        _gpt_message(
            sys_id,
            "system",
            None,
            {"content_type": "text", "parts": [""]},
            {"is_visually_hidden_from_conversation": True},
            weight=0.0,
            end_turn=True,
        ),
        root,
        sys_id,
    )
    counts["message_nodes"] += 1
    counts["hidden_system"] += 1
    active: list[str] = [sys_id]
    t = created
    turns = 1 + min(80, int(rng.expovariate(1 / 5.0)))
    tip = sys_id
    for _turn in range(turns):
        t += rng.uniform(5, 600)
        uid = "aaa2" + _uuid(rng)[4:]
        if rng.random() < 0.03:
            content: dict[str, Any] = {
                "content_type": "multimodal_text",
                "parts": [
                    {
                        "content_type": "image_asset_pointer",
                        "asset_pointer": f"sediment://file_{_hex(rng, 32)}",
                        "size_bytes": rng.randrange(10**4, 10**6),
                        "width": 1024,
                        "height": 768,
                        "fovea": None,
                        "metadata": None,
                    },
                    user_gen.sentence(),
                ],
            }
            counts["multimodal"] += 1
        else:
            content = {"content_type": "text", "parts": [user_gen.sentence()]}
        meta_u = {
            "request_id": _hex(rng, 16),
            "message_source": None,
            "timestamp_": "absolute",
            "message_type": None,
        }
        # an edited prompt: a sibling user node (and its answer) left off the active path
        if rng.random() < 0.05:
            old = "aaa2" + _uuid(rng)[4:]
            tree.node(
                _gpt_message(
                    old,
                    "user",
                    round(t - 30, 2),
                    {"content_type": "text", "parts": [user_gen.sentence()]},
                    meta_u,
                ),
                tip,
                old,
            )
            ans = _uuid(rng)
            tree.node(
                _gpt_message(
                    ans,
                    "assistant",
                    round(t - 25, 6),
                    {"content_type": "text", "parts": [_markdown_answer(bot_gen)]},
                    {"model_slug": slug, "parent_id": old},
                    end_turn=True,
                ),
                old,
                ans,
            )
            counts["message_nodes"] += 2
            counts["inactive_branch_nodes"] += 2
        tree.node(_gpt_message(uid, "user", round(t, 2), content, meta_u), tip, uid)
        counts["message_nodes"] += 1
        active.append(uid)
        tip = uid
        if slug in ("o3", "gpt-5") and rng.random() < 0.5:
            th = _uuid(rng)
            t += rng.uniform(1, 20)
            thoughts = {
                "content_type": "thoughts",
                "thoughts": [
                    {
                        "summary": user_gen.sentence(30),
                        "content": bot_gen.sentence(),
                        "finished": True,
                    }
                ],
                "source_analysis_msg_id": _uuid(rng),
            }
            tree.node(
                _gpt_message(
                    th,
                    "assistant",
                    round(t, 6),
                    thoughts,
                    {"model_slug": slug},
                    channel="commentary",
                ),
                tip,
                th,
            )
            counts["message_nodes"] += 1
            counts["thoughts"] += 1
            active.append(th)
            tip = th
        if rng.random() < 0.06:
            code_id, out_id = _uuid(rng), _uuid(rng)
            t += rng.uniform(1, 10)
            tree.node(
                _gpt_message(
                    code_id,
                    "assistant",
                    round(t, 6),
                    {
                        "content_type": "code",
                        "language": "unknown",
                        "text": "import pandas as pd\ndf = pd.read_csv('data.csv')\ndf.describe()",
                    },
                    {"model_slug": slug},
                    recipient="python",
                ),
                tip,
                code_id,
            )
            tree.node(
                _gpt_message(
                    out_id,
                    "tool",
                    round(t + 2, 6),
                    {"content_type": "execution_output", "text": bot_gen.sentence(200)},
                    {"is_complete": True},
                    name="python",
                ),
                code_id,
                out_id,
            )
            counts["message_nodes"] += 2
            counts["tool_nodes"] += 2
            active.extend([code_id, out_id])
            tip = out_id
        t += rng.uniform(2, 40)
        meta_a = {
            "finish_details": {"type": "stop", "stop_tokens": [200002]},
            "is_complete": True,
            "citations": [],
            "content_references": [],
            "model_slug": slug,
            "default_model_slug": slug,
            "parent_id": tip,
            "request_id": meta_u["request_id"],
            "timestamp_": "absolute",
        }
        # a regenerated answer: a sibling assistant node that is not on the active path
        if rng.random() < 0.10:
            alt = _uuid(rng)
            tree.node(
                _gpt_message(
                    alt,
                    "assistant",
                    round(t - 1, 6),
                    {"content_type": "text", "parts": [_markdown_answer(bot_gen)]},
                    meta_a,
                    end_turn=True,
                ),
                tip,
                alt,
            )
            counts["message_nodes"] += 1
            counts["inactive_branch_nodes"] += 1
            counts["regenerated"] += 1
        aid = _uuid(rng)
        tree.node(
            _gpt_message(
                aid,
                "assistant",
                round(t, 6),
                {"content_type": "text", "parts": [_markdown_answer(bot_gen)]},
                meta_a,
                end_turn=True,
                channel="final" if slug == "gpt-5" else None,
            ),
            tip,
            aid,
        )
        counts["message_nodes"] += 1
        active.append(aid)
        tip = aid
    counts["active_messages"] += len(active)
    counts["active_user_assistant_text"] += sum(
        1
        for nid in active
        if (m := tree.mapping[nid]["message"]) is not None
        and m["author"]["role"] in ("user", "assistant")
        and m["recipient"] == "all"
        and m["content"]["content_type"] in ("text", "multimodal_text")
        and m["weight"] > 0
    )
    counts["conversations"] += 1
    gizmo = f"g-{_hex(rng, 9)}" if rng.random() < 0.05 else None
    return {
        "title": rng.choice(_TITLES) if rng.random() > 0.02 else None,
        "create_time": created,
        "update_time": round(t + 1, 6),
        "mapping": tree.mapping,
        "moderation_results": [],
        "current_node": tip,
        "plugin_ids": None,
        "conversation_id": conv_id,
        "conversation_template_id": gizmo,
        "gizmo_id": gizmo,
        "gizmo_type": "gpt" if gizmo else None,
        "is_archived": False,
        "is_starred": None,
        "safe_urls": [],
        "blocked_urls": [],
        "default_model_slug": slug,
        "conversation_origin": None,
        "voice": None,
        "async_status": None,
        "disabled_tool_ids": [],
        "is_do_not_remember": False,
        "memory_scope": "global_enabled",
        "id": conv_id,
    }


# -- CLI -------------------------------------------------------------------------------------------


def generate(
    fmt: str, output: Path, size: int, seed: int = DEFAULT_SEED, **kw: Any
) -> dict[str, Any]:
    """One entry point for ``run.py``: ``size`` is messages (discord, slack) or conversations
    (openai)."""
    if fmt == "discord":
        return generate_discord(output, messages=size, seed=seed, **kw)
    if fmt == "slack":
        return generate_slack(output, messages=size, seed=seed, **kw)
    if fmt == "openai":
        return generate_openai(output, conversations=size, seed=seed, **kw)
    raise ValueError(f"unknown format {fmt!r} (discord, slack, openai)")


def _iter_lines(meta: dict[str, Any]) -> Iterator[str]:
    yield f"{meta['format']}: {meta['records']:,} message records"
    yield f"  conversations {meta['conversations']:,}, files {meta['files']:,}"
    yield f"  {meta['bytes'] / 1e6:,.1f} MB in {meta['generate_seconds']} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="format", required=True)
    d = sub.add_parser("discord", help="DiscordChatExporter JSON (one channel)")
    d.add_argument("--messages", type=int, required=True)
    d.add_argument("--authors", type=int, default=None, help="default: messages/200 (12..5000)")
    d.add_argument("--span-days", type=float, default=730.0)
    d.add_argument(
        "--shape",
        choices=["full", "lean"],
        default="full",
        help="lean: the research baseline's shape (empty nested lists)",
    )
    d.add_argument(
        "--tz-offset-minutes",
        type=int,
        default=0,
        help="DCE writes the exporting machine's zone; e.g. -240 for EDT",
    )
    s = sub.add_parser("slack", help="Slack workspace export (directory, or .zip with --zip)")
    s.add_argument("--messages", type=int, required=True)
    s.add_argument("--channels", type=int, default=200)
    s.add_argument("--users", type=int, default=1000)
    s.add_argument("--span-days", type=float, default=365.0)
    s.add_argument("--zip", action="store_true", help="write a .zip like Slack's download")
    o = sub.add_parser("openai", help="ChatGPT conversations.json")
    o.add_argument("--conversations", type=int, required=True)
    o.add_argument("--span-days", type=float, default=730.0)
    for p in (d, s, o):
        p.add_argument("-o", "--output", type=Path, required=True)
        p.add_argument("--seed", type=int, default=DEFAULT_SEED)
        p.add_argument("--sha256", action="store_true", help="print a digest of the output")
    args = parser.parse_args(argv)
    if args.format == "discord":
        meta = generate_discord(
            args.output,
            messages=args.messages,
            seed=args.seed,
            authors=args.authors,
            span_days=args.span_days,
            tz_offset_minutes=args.tz_offset_minutes,
            shape=args.shape,
        )
    elif args.format == "slack":
        meta = generate_slack(
            args.output,
            messages=args.messages,
            channels=args.channels,
            users=args.users,
            seed=args.seed,
            span_days=args.span_days,
            as_zip=args.zip,
        )
    else:
        meta = generate_openai(
            args.output,
            conversations=args.conversations,
            seed=args.seed,
            span_days=args.span_days,
        )
    for line in _iter_lines(meta):
        print(line, file=sys.stderr)
    if args.sha256:
        print(_sha256_tree(args.output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
