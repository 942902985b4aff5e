"""Test support for memshift and for third-party adapters: hypothesis strategies
(:mod:`memshift.testing.strategies`), one helper per round-trip property
(:mod:`memshift.testing.roundtrip`), golden fixtures (:mod:`memshift.testing.golden`) and an
opt-in conformance base class (:mod:`memshift.testing.conformance`).

Nothing here is loaded automatically by pytest; import what you need.
"""
