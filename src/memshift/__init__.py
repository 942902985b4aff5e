"""memshift: convert conversation history and agent memory between formats.

The public API is a handful of functions that take format names; the registry of adapters stays
behind them::

    from memshift import convert
    report = convert("slack-export.zip", "out/", src="slack", dst="everos")
"""

from __future__ import annotations

from . import jsondoc as jsondoc
from . import jsonio as jsonio
from .adapter import Adapter, Feature, Options, Sniff
from .context import Context, Report
from .errors import (
    AdapterConflictError,
    CapabilityError,
    DataError,
    DetectionError,
    Location,
    Loss,
    LossError,
    LossWarning,
    MemshiftError,
    OptionsError,
    OutputError,
    PluginError,
    PluginLoadError,
    ReadError,
    UnknownFormatError,
    UnsafeInputError,
    UsageError,
    WriteError,
)
from .hookspecs import hookimpl
from .model import (
    SCHEMA_VERSION,
    Attachment,
    Conversation,
    MemoryItem,
    Mention,
    Message,
    Participant,
    Provenance,
    Reaction,
    Record,
    Scope,
    Triple,
)
from .pipeline import Documents, convert, detect, detect_all, formats, read, write
from .registry import Registry, default_registry
from .sinks import Sink
from .sources import Source, open_source

__version__ = "0.1.0"

__all__ = [
    "SCHEMA_VERSION",
    "Adapter",
    "AdapterConflictError",
    "Attachment",
    "CapabilityError",
    "Context",
    "Conversation",
    "DataError",
    "DetectionError",
    "Documents",
    "Feature",
    "Location",
    "Loss",
    "LossError",
    "LossWarning",
    "MemoryItem",
    "MemshiftError",
    "Mention",
    "Message",
    "Options",
    "OptionsError",
    "OutputError",
    "Participant",
    "PluginError",
    "PluginLoadError",
    "Provenance",
    "Reaction",
    "ReadError",
    "Record",
    "Registry",
    "Report",
    "Scope",
    "Sink",
    "Sniff",
    "Source",
    "Triple",
    "UnknownFormatError",
    "UnsafeInputError",
    "UsageError",
    "WriteError",
    "__version__",
    "convert",
    "default_registry",
    "detect",
    "detect_all",
    "formats",
    "hookimpl",
    "open_source",
    "read",
    "write",
]
