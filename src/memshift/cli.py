"""The ``memshift`` command. The only module that talks to a terminal.

Errors from the library arrive as :class:`memshift.errors.MemshiftError` and are printed as one
line (``memshift: error: FILE: MEMBER: PATH: message``) with exit code 1 for bad data and 2 for bad
usage; ``--debug`` re-raises them with a traceback.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click

from . import __version__
from .context import Report
from .errors import LossWarning, MemshiftError, UsageError
from .pipeline import convert as _convert
from .registry import Registry, default_registry

EXIT_OK, EXIT_DATA, EXIT_USAGE = 0, 1, 2


def _registry(ctx: click.Context) -> Registry:
    reg = ctx.obj.get("registry") if ctx.obj else None
    return reg or default_registry()


@contextmanager
def _errors(debug: bool) -> Iterator[None]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LossWarning)
            yield
    except MemshiftError as exc:
        if debug:
            raise
        click.echo(f"memshift: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("memshift: interrupted; no output was written", err=True)
        sys.exit(130)


def parse_option_value(text: str) -> Any:
    """``-O key=value`` values: JSON when it parses (numbers, true/false, lists), else the string."""
    from . import jsonio

    try:
        return jsonio.loads(text)
    except Exception:
        return text


def split_options(
    pairs: Sequence[str], read_fields: set[str], write_fields: set[str], src: str, dst: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Route ``-O key=value`` to the reader, the writer or both.

    A key goes to whichever side declares it. ``src.key=`` / ``dst.key=`` (or the format's name as
    the prefix) pick a side explicitly when both declare it.
    """
    ropts: dict[str, Any] = {}
    wopts: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise UsageError(f"-O expects key=value, got {pair!r}")
        key, value = pair.split("=", 1)
        key = key.strip().replace("-", "_")
        parsed = parse_option_value(value)
        side: str | None = None
        if "." in key:
            prefix, key = key.split(".", 1)
            if prefix in ("src", "from", "read", src):
                side = "read"
            elif prefix in ("dst", "to", "write", dst):
                side = "write"
            else:
                raise UsageError(f"-O {pair}: prefix {prefix!r} is neither {src!r} nor {dst!r}")
        if side in (None, "read") and key in read_fields:
            ropts[key] = parsed
        if side in (None, "write") and key in write_fields:
            wopts[key] = parsed
        if (
            (key not in read_fields and key not in write_fields)
            or (side == "read" and key not in read_fields)
            or (side == "write" and key not in write_fields)
        ):
            known = sorted(
                {*(f"{src}.{k}" for k in read_fields), *(f"{dst}.{k}" for k in write_fields)}
            )
            raise UsageError(
                f"-O {pair}: unknown option {key!r}; available: {', '.join(known) or 'none'}"
            )
    return ropts, wopts


def render_report(report: Report, *, quiet: bool = False) -> list[str]:
    """The closing summary, a few lines a person reads at a glance."""
    lines = [
        f"{report.source_format} -> {report.destination_format}: "
        f"{report.conversations} conversation(s), read {report.read}, written {report.written}, "
        f"filtered {report.filtered_total}, rejected {report.rejected}"
    ]
    for reason, count in sorted(report.filtered.items()):
        lines.append(f"  filtered {count}: {reason}")
    for loss in sorted(report.losses.values(), key=lambda x: x.field):
        lines.append(
            f"  lost {loss.field} in {loss.count} record(s){' (' + loss.detail + ')' if loss.detail else ''}"
        )
    for warning in report.warnings:
        if not warning.startswith(f"{report.destination_format} cannot hold"):
            lines.append(f"  warning: {warning}")
    if report.rejects_file:
        lines.append(f"  rejects: {report.rejects_file}")
    if report.outputs:
        shown = (
            report.outputs
            if len(report.outputs) <= 5
            else [*report.outputs[:5], f"... {len(report.outputs) - 5} more"]
        )
        lines.append("  output: " + ", ".join(shown))
    return lines


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="memshift")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Convert conversation history and agent memory between formats.

    \b
    Examples:
      memshift formats
      memshift convert slack-export.zip --from slack --to everos -o out/
      memshift convert conversations.json --to canonical -o chat.jsonl
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


@cli.command()
@click.argument("input", metavar="INPUT")
@click.option("-o", "--output", required=True, help="Output directory, file, or - for stdout.")
@click.option("-f", "--from", "src", default=None, help="Source format (detected when omitted).")
@click.option("-t", "--to", "dst", required=True, help="Destination format.")
@click.option(
    "-O",
    "--option",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="Adapter option; repeatable. Prefix with src./dst. to pick a side.",
)
@click.option(
    "--on-error",
    type=click.Choice(["strict", "skip"]),
    default="strict",
    show_default=True,
    help="Stop at the first bad record, or skip it into --rejects.",
)
@click.option(
    "--on-loss",
    type=click.Choice(["ignore", "warn", "raise"]),
    default="warn",
    show_default=True,
    help="What to do when the destination cannot hold something.",
)
@click.option(
    "--rejects",
    type=click.Path(dir_okay=False),
    default=None,
    help="JSON Lines file for rejected records (with --on-error skip).",
)
@click.option(
    "--include-events", is_flag=True, help="Keep joins, pins and calls in chat destinations."
)
@click.option(
    "--no-overwrite", is_flag=True, help="Fail instead of replacing existing output files."
)
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@click.pass_context
def convert(
    ctx: click.Context,
    input: str,
    output: str,
    src: str | None,
    dst: str,
    options: tuple[str, ...],
    on_error: str,
    on_loss: str,
    rejects: str | None,
    include_events: bool,
    no_overwrite: bool,
    quiet: bool,
) -> None:
    """Convert INPUT (a file, directory, zip or - for stdin) to another format.

    \b
    Examples:
      memshift convert export.zip --from slack --to everos -o out/
      memshift convert export.zip -f slack -t conversationformat -o cf/ -O include_private=true
      memshift convert chat.json -f discord -t canonical -o - | head
    """
    debug = ctx.obj["debug"]
    with _errors(debug):
        reg = _registry(ctx)
        src_name = reg.resolve(src) if src else None
        writer_cls = reg.adapter_class(dst)
        reader_fields: set[str] = set()
        if src_name:
            reader_fields = set(reg.adapter_class(src_name).ReadOptions.model_fields)
        ropts, wopts = split_options(
            options,
            reader_fields,
            set(writer_cls.WriteOptions.model_fields),
            src_name or "src",
            writer_cls.name,
        )
        report = _convert(
            input,
            output,
            src=src_name,
            dst=writer_cls.name,
            src_options=ropts,
            dst_options=wopts,
            on_error=on_error,  # type: ignore[arg-type]
            on_loss=on_loss,  # type: ignore[arg-type]
            rejects=rejects,
            include_events=include_events,
            registry=reg,
            overwrite=not no_overwrite,
        )
        if not quiet:
            for line in render_report(report):
                click.echo(line, err=True)


@cli.command()
@click.pass_context
def formats(ctx: click.Context) -> None:
    """List the formats memshift can read and write, and which plugin provides each."""
    with _errors(ctx.obj["debug"]):
        reg = _registry(ctx)
        infos = reg.formats()
        rows = [("NAME", "READ", "WRITE", "PROVIDED BY", "DESCRIPTION")]
        for info in infos:
            rows.append(
                (
                    info.name,
                    "yes" if info.can_read else "-",
                    "yes" if info.can_write else "-",
                    info.provider,
                    info.description,
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        for row in rows:
            click.echo(
                "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4]
            )
        for name, providers in sorted(reg.conflicts.items()):
            click.echo(
                f"conflict: format {name!r} is provided by both {' and '.join(providers)}", err=True
            )
        for failure in reg.failures:
            click.echo(f"warning: {failure}", err=True)


def main(argv: Sequence[str] | None = None) -> None:
    cli.main(args=list(argv) if argv is not None else None, prog_name="memshift")
