"""Print the README's Quick start commands, one per line, so CI runs exactly what it says."""

import re
import sys
from pathlib import Path

text = Path(__file__).resolve().parents[1].joinpath("README.md").read_text()
section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
block = re.search(r"```sh\n(.*?)```", section, re.S)
if block is None:
    sys.exit("README: no sh block under Quick start")
commands = [line for line in block.group(1).splitlines() if line.strip()]
if len(commands) != 2:
    sys.exit(f"README: Quick start must have exactly two commands, found {len(commands)}")
print("\n".join(commands))
