"""The ``memshift`` command. The only module that talks to a terminal.

Errors from the library arrive as :class:`memshift.errors.MemshiftError` and are printed as one
line (``memshift: error: FILE: MEMBER: PATH: message``) with exit code 1 for bad data and 2 for bad
usage; ``--debug`` re-raises them with a traceback. click is the CLI framework (help, completion,
usage errors with exit 2); tqdm draws the progress bar.
"""

from __future__ import annotations

import sys
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from . import __version__, jsonio
from .adapter import Adapter, Feature, detect_losses
from .context import Context, Report
from .errors import LossWarning, MemshiftError, UsageError
from .model import Conversation, MemoryItem, Message
from .pipeline import TransformSpec
from .pipeline import convert as _convert
from .registry import Registry, default_registry
from .sources import open_source

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
        click.echo("memshift: interrupted; no partial output was left behind", err=True)
        sys.exit(130)


def parse_option_value(text: str) -> Any:
    """``-O key=value`` values: JSON when it parses (numbers, booleans, lists), else the string."""
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
        to_read = side in (None, "read") and key in read_fields
        to_write = side in (None, "write") and key in write_fields
        if not (to_read or to_write):
            known = sorted(
                {*(f"{src}.{k}" for k in read_fields), *(f"{dst}.{k}" for k in write_fields)}
            )
            raise UsageError(
                f"-O {pair}: unknown option {key!r}; available: {', '.join(known) or 'none'}"
            )
        if to_read:
            ropts[key] = parsed
        if to_write:
            wopts[key] = parsed
    return ropts, wopts


def render_report(report: Report) -> list[str]:
    """The closing summary, a few lines a person reads at a glance."""
    lines = [
        f"{report.source_format} -> {report.destination_format}: "
        f"{report.conversations} conversation(s), read {report.read}, written {report.written}, "
        f"filtered {report.filtered_total}, rejected {report.rejected}"
    ]
    for reason, count in sorted(report.filtered.items()):
        lines.append(f"  filtered {count}: {reason}")
    for loss in sorted(report.losses.values(), key=lambda x: x.field):
        detail = f" ({loss.detail})" if loss.detail else ""
        lines.append(f"  lost {loss.field} in {loss.count} record(s){detail}")
    for warning in report.warnings:
        if " cannot hold " not in warning:
            lines.append(f"  warning: {warning}")
    for key, value in sorted(report.notes.items()):
        lines.append(f"  note: {key}: {value}")
    if report.rejected:
        where = report.rejects_file or "not saved (use --rejects FILE)"
        lines.append(f"  rejected records: {where}")
    if report.outputs:
        shown = report.outputs[:5]
        if len(report.outputs) > 5:
            shown.append(f"... and {len(report.outputs) - 5} more")
        lines.append("  output: " + ", ".join(shown))
    return lines


class _Progress:
    """A tqdm bar over input bytes with the record count, only on a terminal."""

    def __init__(
        self, total: int | None, enabled: bool, stream: Any = None, mininterval: float = 0.2
    ) -> None:
        self.bar: Any = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(
                total=total or None,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                file=stream or sys.stderr,
                desc="converting",
                leave=False,
                dynamic_ncols=True,
                mininterval=mininterval,
            )

    def __call__(self, records: int, bytes_read: int) -> None:
        if self.bar is None:
            return
        self.bar.set_postfix_str(f"{records:,} records", refresh=False)
        self.bar.update(max(bytes_read - self.bar.n, 0))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _default_rejects(output: str) -> str:
    if output == "-":
        return "memshift-rejects.jsonl"
    path = Path(output)
    # Beside the output, never inside an output directory: importers read every *.json there.
    return str(path.parent / f"{path.name.rstrip('/') or 'output'}.rejects.jsonl")


def _transforms(
    exclude_bots: bool,
    exclude_events: bool,
    since: str | None,
    until: str | None,
    conversations: Sequence[str],
    participants: Sequence[str],
    redact: bool,
) -> list[TransformSpec]:
    steps: list[TransformSpec] = []
    if conversations or participants:
        steps.append(
            ("select", {"conversations": tuple(conversations), "participants": tuple(participants)})
        )
    if exclude_bots:
        steps.append("exclude_bots")
    if exclude_events:
        steps.append("exclude_events")
    if since or until:
        steps.append(("date_range", {"since": since, "until": until}))
    if redact:
        steps.append("redact")
    return steps


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "-V", "--version", prog_name="memshift")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Convert conversation history and agent memory between formats.

    \b
    Examples:
      memshift formats
      memshift detect slack-export.zip
      memshift inspect slack-export.zip --to everos
      memshift convert slack-export.zip --from slack --to everos -o out/
      memshift convert conversations.json --to mem0 -o memories.jsonl
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


@cli.command()
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
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
    help="Stop at the first bad record, or skip bad records into --rejects.",
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
    help="JSON Lines file for rejected records (default with --on-error skip: "
    "OUTPUT.rejects.jsonl).",
)
@click.option(
    "--include-events", is_flag=True, help="Keep joins, pins and calls in chat destinations."
)
@click.option("--exclude-events", is_flag=True, help="Leave out events even where they fit.")
@click.option("--exclude-bots", is_flag=True, help="Leave out messages from bots and integrations.")
@click.option(
    "--since",
    default=None,
    metavar="DATE",
    help="Keep messages from DATE on (UTC); whole threads are kept.",
)
@click.option(
    "--until",
    default=None,
    metavar="DATE",
    help="Keep messages before DATE (UTC); whole threads are kept.",
)
@click.option(
    "--conversation",
    "conversations",
    multiple=True,
    metavar="NAME",
    help="Keep only these conversations (id, name or glob); repeatable.",
)
@click.option(
    "--participant",
    "participants",
    multiple=True,
    metavar="ID",
    help="Keep only messages from these participants; repeatable.",
)
@click.option(
    "--redact", is_flag=True, help="Replace e-mails, phone numbers and tokens with placeholders."
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(1, 256),
    default=1,
    show_default=True,
    help="Worker processes for several inputs (output is identical for any value).",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Keep finished documents as they complete and skip them when re-run.",
)
@click.option(
    "--no-overwrite", is_flag=True, help="Fail instead of replacing existing output files."
)
@click.option(
    "--report-json",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write the report as JSON to this file.",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show a progress bar (default: only on a terminal).",
)
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@click.pass_context
def convert(
    ctx: click.Context,
    inputs: tuple[str, ...],
    output: str,
    src: str | None,
    dst: str,
    options: tuple[str, ...],
    on_error: str,
    on_loss: str,
    rejects: str | None,
    include_events: bool,
    exclude_events: bool,
    exclude_bots: bool,
    since: str | None,
    until: str | None,
    conversations: tuple[str, ...],
    participants: tuple[str, ...],
    redact: bool,
    jobs: int,
    resume: bool,
    no_overwrite: bool,
    report_json: str | None,
    progress: bool | None,
    quiet: bool,
) -> None:
    """Convert INPUT (a file, directory, zip, or - for stdin) to another format.

    Several INPUTs are converted into one output, in parallel with --jobs.

    \b
    Examples:
      memshift convert export.zip --from slack --to everos -o out/
      memshift convert export.zip -f slack -t conversationformat -o cf/ -O include_private=true
      memshift convert chat.json -t canonical -o - | head
      memshift convert a.json b.json c.json -f discord -t everos -o out/ --jobs 3
      memshift convert big.zip -f slack -t everos -o out/ --resume --on-error skip
    """
    debug = ctx.obj["debug"]
    with _errors(debug):
        reg = _registry(ctx)
        src_name = reg.resolve(src) if src else None
        if src_name is None and len(inputs) == 1 and inputs[0] != "-":
            with open_source(inputs[0]) as probe:
                found = reg.detect(probe)
            if found:
                src_name = found[0].name
                if not quiet:
                    click.echo(f"memshift: detected {src_name} ({found[0].reason})", err=True)
        writer_cls = reg.adapter_class(dst)
        reader_fields = (
            set(reg.adapter_class(src_name).ReadOptions.model_fields) if src_name else set()
        )
        ropts, wopts = split_options(
            options,
            reader_fields,
            set(writer_cls.WriteOptions.model_fields),
            src_name or "src",
            writer_cls.name,
        )
        if on_error == "skip" and rejects is None:
            rejects = _default_rejects(output)
        steps = _transforms(
            exclude_bots, exclude_events, since, until, conversations, participants, redact
        )
        show = (not quiet and sys.stderr.isatty()) if progress is None else (progress and not quiet)
        common: dict[str, Any] = dict(
            src=src_name,
            dst=writer_cls.name,
            src_options=ropts,
            dst_options=wopts,
            on_error=on_error,
            on_loss=on_loss,
            rejects=rejects,
            include_events=include_events,
            transforms=steps,
            overwrite=not no_overwrite,
        )
        if len(inputs) > 1:
            from .parallel import convert_many

            report = convert_many(list(inputs), output, jobs=jobs, **common)
        else:
            total = None
            if show and inputs[0] != "-":
                with open_source(inputs[0]) as probe:
                    total = probe.size()
            bar = _Progress(total, show)
            try:
                # No callback when no bar is drawn: the progress stage runs once per record.
                report = _convert(
                    inputs[0],
                    output,
                    registry=reg,
                    progress=bar if show else None,
                    resume=resume,
                    **common,
                )
            finally:
                bar.close()
        if report_json:
            Path(report_json).write_bytes(jsonio.dumps(report.to_dict(), indent=True))
        if not quiet:
            for line in render_report(report):
                click.echo(line, err=True)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def formats(ctx: click.Context, as_json: bool) -> None:
    """List the formats memshift can read and write, what each can hold, and which plugin and
    version provides it."""
    with _errors(ctx.obj["debug"]):
        reg = _registry(ctx)
        infos = reg.formats()
        if as_json:
            click.echo(jsonio.dumps([info.__dict__ for info in infos], indent=True).decode())
            return
        rows = [("NAME", "READ", "WRITE", "PROVIDED BY", "HOLDS")]
        for info in infos:
            rows.append(
                (
                    info.name,
                    "yes" if info.can_read else "-",
                    "yes" if info.can_write else "-",
                    info.provider,
                    "everything"
                    if len(info.features) == len(Feature)
                    else ", ".join(info.features),
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        for row in rows:
            click.echo("  ".join(c.ljust(widths[i]) for i, c in enumerate(row[:4])) + "  " + row[4])
        for name, providers in sorted(reg.conflicts.items()):
            click.echo(
                f"conflict: format {name!r} is provided by both {' and '.join(providers)}", err=True
            )
        for failure in reg.failures:
            click.echo(f"warning: {failure}", err=True)


@cli.command()
@click.argument("input", metavar="INPUT")
@click.pass_context
def detect(ctx: click.Context, input: str) -> None:
    """Tell which format INPUT is, how sure memshift is, and why.

    \b
    Example:
      memshift detect ~/Downloads/slack-export.zip
    """
    with _errors(ctx.obj["debug"]):
        reg = _registry(ctx)
        with open_source(input) as source:
            found = reg.detect(source)
        if not found:
            raise UsageError(f"{input}: no known format recognises this input")
        best = found[0]
        click.echo(f"{best.name}  confidence {best.confidence:.2f}  ({best.reason})")
        for other in found[1:4]:
            click.echo(
                f"  also possible: {other.name}  "
                f"confidence {other.confidence:.2f}  ({other.reason})"
            )


def _span(first: datetime | None, last: datetime | None) -> str:
    if first is None or last is None:
        return "no timestamps"
    return f"{first.isoformat()} .. {last.isoformat()}"


@cli.command()
@click.argument("input", metavar="INPUT")
@click.option("-f", "--from", "src", default=None, help="Source format (detected when omitted).")
@click.option(
    "-t", "--to", "dst", default=None, help="Also check what this destination would lose or refuse."
)
@click.option(
    "-O",
    "--option",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="Reader option; repeatable.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def inspect(
    ctx: click.Context,
    input: str,
    src: str | None,
    dst: str | None,
    options: tuple[str, ...],
    as_json: bool,
) -> None:
    """Summarise INPUT without writing anything: conversations, messages, participants, the date
    span, kinds, attachments, what the default filters would drop, and with --to, every limit of
    that destination the data would break.

    \b
    Examples:
      memshift inspect slack-export.zip
      memshift inspect facts.json --from zep --to zep
    """
    with _errors(ctx.obj["debug"]):
        reg = _registry(ctx)
        with open_source(input) as source:
            if src:
                name = reg.resolve(src)
            else:
                found = reg.detect(source)
                if not found:
                    raise UsageError(f"{input}: cannot tell the format; name it with --from")
                name = found[0].name
            reader = reg.get(name, "read")
            writer: Adapter | None = reg.get(dst, "write") if dst else None
            ropts, _ = split_options(options, set(reader.ReadOptions.model_fields), set(), name, "")
            context = Context(on_error="skip")
            stats = _inspect(
                reader, reader.ReadOptions.model_validate(ropts), source, context, writer
            )
        if as_json:
            click.echo(jsonio.dumps(stats, indent=True).decode())
            return
        click.echo(f"{input}: {name}")
        for key in (
            "conversations",
            "messages",
            "memory_items",
            "participants",
            "attachments",
            "reactions",
            "threads",
            "rejected",
        ):
            click.echo(f"  {key}: {stats[key]}")
        click.echo(f"  date span: {stats['date_span']}")
        click.echo(f"  message kinds: {stats['message_kinds']}")
        click.echo(f"  roles: {stats['roles']}")
        if stats["skipped_by_reader"]:
            click.echo(f"  left out by reader options: {stats['skipped_by_reader']}")
        if writer is not None:
            click.echo(f"  to {writer.name}:")
            for reason, count in stats["would_filter"].items():
                click.echo(f"    would filter {count}: {reason}")
            for field, count in stats["would_lose"].items():
                click.echo(f"    would lose {field} in {count} record(s)")
            violations = stats["limit_violations"]
            if violations:
                click.echo(f"    limit violations: {sum(v['count'] for v in violations.values())}")
                for limit, v in violations.items():
                    click.echo(f"      {limit}: {v['count']} record(s), e.g. {v['example']}")
            else:
                click.echo("    limit violations: none")


def _inspect(
    reader: Adapter, ropts: Any, source: Any, context: Context, writer: Adapter | None
) -> dict[str, Any]:
    kinds: Counter[str] = Counter()
    roles: Counter[str] = Counter()
    participants: set[str] = set()
    threads: set[tuple[str, str]] = set()
    convs = msgs = mems = atts = reacts = 0
    first: datetime | None = None
    last: datetime | None = None
    would_filter: Counter[str] = Counter()
    would_lose: Counter[str] = Counter()
    violations: dict[str, dict[str, Any]] = {}
    features = writer.features if writer else frozenset()
    namespace = writer.ext_namespace() if writer else ""
    for record in reader.read(source, ropts, context):
        if isinstance(record, Conversation):
            convs += 1
            participants.update(p.id for p in record.participants)
        elif isinstance(record, Message):
            msgs += 1
            kinds[record.type] += 1
            roles[record.role] += 1
            if record.sender_id:
                participants.add(record.sender_id)
            atts += len(record.attachments)
            reacts += len(record.reactions)
            if record.thread_id:
                threads.add((record.conversation_id, record.thread_id))
            ts = record.timestamp
            if ts is not None:
                first = ts if first is None or ts < first else first
                last = ts if last is None or ts > last else last
            if writer is not None:
                if record.type == "event" and Feature.EVENTS not in features:
                    would_filter["events (--include-events)"] += 1
                    continue
                if not record.active and Feature.BRANCHES not in features:
                    would_filter["inactive branches"] += 1
                    continue
                if Feature.CONVERSATIONS not in features:
                    would_filter["messages (the destination holds memory items only)"] += 1
                    continue
        elif isinstance(record, MemoryItem):
            mems += 1
            if writer is not None and Feature.MEMORY not in features:
                would_filter["memory items (the destination holds conversations only)"] += 1
                continue
        if writer is not None:
            for field in detect_losses(record, features, namespace):
                would_lose[field] += 1
            for problem in writer.limit_violations(record):
                limit = problem.split(":", 1)[0]
                entry = violations.setdefault(
                    limit, {"count": 0, "example": f"{getattr(record, 'id', '?')}: {problem}"}
                )
                entry["count"] += 1
    return {
        "conversations": convs,
        "messages": msgs,
        "memory_items": mems,
        "participants": len(participants),
        "attachments": atts,
        "reactions": reacts,
        "threads": len(threads),
        "rejected": context.report.rejected,
        "date_span": _span(first, last),
        "message_kinds": dict(sorted(kinds.items())),
        "roles": dict(sorted(roles.items())),
        "skipped_by_reader": dict(sorted(context.report.filtered.items())),
        "would_filter": dict(sorted(would_filter.items())),
        "would_lose": dict(sorted(would_lose.items())),
        "limit_violations": violations,
    }


@cli.command()
@click.argument("input", metavar="INPUT")
@click.option("-f", "--format", "fmt", required=True, help="The format whose rules to check.")
@click.pass_context
def validate(ctx: click.Context, input: str, fmt: str) -> None:
    """Check INPUT against the format's own rules (for ConversationFormat, EverCore's
    --validate-only rules). Exit 0 when valid, 1 with one line per problem otherwise.

    \b
    Example:
      memshift validate out/general.json --format conversationformat
    """
    with _errors(ctx.obj["debug"]):
        reg = _registry(ctx)
        adapter = reg.get(fmt, "read")
        with open_source(input) as source:
            problems = adapter.validate(source)
        if problems:
            for problem in problems:
                click.echo(f"invalid: {problem}")
            sys.exit(EXIT_DATA)
        click.echo(f"valid {adapter.name}: {input}")


@cli.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the shell completion script.

    \b
    Example:
      eval "$(memshift completion bash)"
    """
    from click.shell_completion import get_completion_class

    cls = get_completion_class(shell)
    assert cls is not None
    click.echo(cls(cli, {}, "memshift", "_MEMSHIFT_COMPLETE").source())


def main(argv: Sequence[str] | None = None) -> None:
    cli.main(args=list(argv) if argv is not None else None, prog_name="memshift")
