#!/usr/bin/env bash
# The third-party path, end to end: install this plugin with pip (not editable, exactly as a user
# would), run its tests against the installed memshift, check that `memshift formats` lists it,
# convert a Telegram export to EverOS through the installed `memshift` command and check the
# documents, then uninstall it again so the environment is left as it was found.
#
# Uses `python` and `memshift` from PATH (CI puts the project's .venv/bin first).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
PYTHON="${PYTHON:-python}"
WORK="$(mktemp -d)"

cleanup() {
  "$PYTHON" -m pip uninstall -y -q memshift-telegram >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
  echo "memshift-telegram CI: $*" >&2
  exit 1
}

echo "memshift-telegram CI: pip install $HERE"
# Build from a copy so the build leaves nothing behind in the source tree.
cp -R "$HERE" "$WORK/src-copy"
rm -rf "$WORK/src-copy/.pytest_cache" "$WORK/src-copy/.hypothesis" "$WORK/src-copy/.mypy_cache" "$WORK/src-copy/.ruff_cache"
"$PYTHON" -m pip install -q "$WORK/src-copy"

echo "memshift-telegram CI: the plugin's own tests (conformance kit + edge cases)"
(cd "$WORK" && "$PYTHON" -m pytest -q -p no:cacheprovider "$HERE/tests")

echo "memshift-telegram CI: memshift formats lists telegram"
memshift formats > "$WORK/formats.txt"
grep -Eq '^telegram[[:space:]]+yes[[:space:]]+yes[[:space:]]+memshift-telegram ' "$WORK/formats.txt" \
  || { cat "$WORK/formats.txt" >&2; fail "telegram is not listed by memshift formats"; }

echo "memshift-telegram CI: detect and convert a full-account export to everos"
FIXTURE="$HERE/tests/fixtures/telegram/full-account-export/input.json"
memshift detect "$FIXTURE" | grep -q telegram || fail "memshift detect does not name telegram"
memshift convert "$FIXTURE" --from telegram --to everos -o "$WORK/everos"

"$PYTHON" - "$WORK/everos" <<'PY'
"""The EverOS documents hold every message of the three chats, in order, with exact times."""
import json
import pathlib
import sys

out = pathlib.Path(sys.argv[1])
docs = {p.name: json.loads(p.read_text()) for p in sorted(out.glob("*.json"))}
assert sorted(docs) == ["1500000042.json", "5123456789.json", "987001.json"], sorted(docs)
messages = [m for doc in docs.values() for m in doc["messages"]]
assert len(messages) == 6, len(messages)
ids = [m["message_id"] for m in docs["1500000042.json"]["messages"]]
assert ids == ["88001", "88002"], ids
first = docs["1500000042.json"]["messages"][0]
# 2023-11-20T19:30:00 local (Berlin, UTC+1) is date_unixtime 1700505000.
assert first["timestamp"] == 1700505000000, first
assert docs["1500000042.json"]["group_meta"]["name"] == "Berlin Flat Swap"
print(f"memshift-telegram CI: everos output ok ({len(docs)} documents, {len(messages)} messages)")
PY

echo "memshift-telegram CI: Telegram -> canonical -> Telegram keeps the messages"
memshift convert "$FIXTURE" --from telegram --to canonical -o "$WORK/records.jsonl" -q
memshift convert "$WORK/records.jsonl" --from canonical --to telegram -o "$WORK/telegram" -q
"$PYTHON" - "$FIXTURE" "$WORK/telegram" <<'PY'
import json
import pathlib
import sys

original = json.loads(pathlib.Path(sys.argv[1]).read_text())
chats = original["chats"]["list"] + original["left_chats"]["list"]
written = sorted(pathlib.Path(sys.argv[2]).glob("*/result.json"))
assert len(written) == len(chats), written
for chat, path in zip(chats, written):
    doc = json.loads(path.read_text())
    assert doc["id"] == chat["id"] and doc["messages"] == chat["messages"], path
print(f"memshift-telegram CI: round trip ok ({len(written)} chats equal as parsed JSON)")
PY

echo "memshift-telegram CI: passed"
