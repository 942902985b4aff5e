"""The conformance kit memshift ships for third-party adapters: round trip and fixpoint on
hypothesis streams chosen from the declared features, the golden fixtures, and detection.

It runs against the *installed* plugin (``memshift.default_registry()`` loads entry points), so a
broken entry point fails here the same way it would for a user.
"""

from __future__ import annotations

from pathlib import Path

from memshift.testing.conformance import AdapterConformance


class TestTelegramConformance(AdapterConformance):
    format = "telegram"
    fixtures = Path(__file__).parent / "fixtures"
