"""Write docs/cli.md from the CLI's own help texts (run after changing the CLI; a test checks
that the page is current)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from memshift.cli import cli

PAGE = Path(__file__).parent / "cli.md"


def render() -> str:
    parts = [
        "# CLI reference\n",
        "Generated from the command's own help by `python docs/gen_cli_reference.py`; "
        "`tests/test_docs_cli.py` fails when it is out of date.\n",
        "Exit codes: `0` success (also when records were rejected under `--on-error skip`), "
        "`1` a data error (bad input, a refused record, a loss under `--on-loss raise`), "
        "`2` a usage error (unknown format or option, bad flag). See [errors](errors.md).\n",
    ]
    # The group's context_settings (help option names, width) apply only through make_context,
    # so they are passed explicitly: the page must not depend on what ran before in-process.
    settings = {
        "terminal_width": 100,
        "max_content_width": 100,
        "help_option_names": ["-h", "--help"],
    }
    ctx = click.Context(cli, info_name="memshift", **settings)  # type: ignore[arg-type]
    parts.append("## memshift\n\n```text\n" + cli.get_help(ctx) + "\n```\n")
    for name in sorted(cli.list_commands(ctx)):
        command = cli.get_command(ctx, name)
        assert command is not None
        sub = click.Context(
            command,
            info_name=f"memshift {name}",
            parent=ctx,
            terminal_width=100,
            max_content_width=100,
        )
        parts.append(f"## memshift {name}\n\n```text\n{command.get_help(sub)}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    PAGE.write_text(render())
    sys.stderr.write(f"wrote {PAGE}\n")
