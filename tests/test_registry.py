"""The registry, tested with fake entry points and isolated instances (never global state)."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from memshift.errors import AdapterConflictError, CapabilityError, UnknownFormatError
from memshift.registry import Registry


def ep(name: str, target: str) -> EntryPoint:
    return EntryPoint(name=name, value=target, group="memshift")


GOOD = ep("good", "tests.fake_plugins:good")
BROKEN = ep("broken", "tests.fake_plugins_missing_module")
CLASH = ep("clash", "tests.fake_plugins:clash")


def test_loads_plugins_from_entry_points() -> None:
    reg = Registry(entry_points=[GOOD])
    assert reg.names() == ["foo", "readonly"]
    assert reg.get("foo").name == "foo"
    assert reg.resolve("foo-json") == "foo"
    assert reg.resolve("FOO") == "foo"


def test_broken_plugin_is_isolated_and_reported() -> None:
    reg = Registry(entry_points=[BROKEN, GOOD])
    assert reg.names() == ["foo", "readonly"]
    assert len(reg.failures) == 1
    assert "broken" in str(reg.failures[0]) and "ModuleNotFoundError" in str(reg.failures[0])


def test_plugin_whose_hook_raises_does_not_break_others() -> None:
    reg = Registry(entry_points=[ep("bad", "tests.fake_plugins:raises_in_hook"), GOOD])
    assert "foo" in reg.names()
    assert any("hook exploded" in str(f) for f in reg.failures)


def test_non_adapter_is_reported() -> None:
    reg = Registry(entry_points=[ep("odd", "tests.fake_plugins:not_an_adapter"), GOOD])
    assert "foo" in reg.names()
    assert any("not an Adapter" in str(f) for f in reg.failures)


def test_name_clash_names_both_providers() -> None:
    reg = Registry(entry_points=[GOOD, CLASH])
    with pytest.raises(AdapterConflictError) as info:
        reg.get("foo")
    assert "[good]" in str(info.value) and "[clash]" in str(info.value)
    assert reg.get("readonly").name == "readonly"  # the rest still works
    assert "foo" in reg.conflicts


def test_unknown_name_suggests() -> None:
    reg = Registry(entry_points=[GOOD])
    with pytest.raises(UnknownFormatError, match="Did you mean 'foo'"):
        reg.resolve("fooo")


def test_capability_error() -> None:
    reg = Registry(entry_points=[GOOD])
    with pytest.raises(CapabilityError, match="readonly.*cannot write"):
        reg.get("readonly", "write")
    infos = {f.name: f for f in reg.formats()}
    assert infos["readonly"].can_read and not infos["readonly"].can_write


def test_register_and_unregister_in_a_test() -> None:
    from tests import fake_plugins

    reg = Registry(load_entry_points=False)
    assert reg.names() == []
    reg.register(fake_plugins.good, name="temp")
    assert "foo" in reg.names()
    reg.unregister("temp")
    assert reg.names() == []


def test_env_allow_and_block_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMSHIFT_DISABLE_PLUGINS", "good")
    assert Registry(entry_points=[GOOD]).names() == []
    monkeypatch.delenv("MEMSHIFT_DISABLE_PLUGINS")
    monkeypatch.setenv("MEMSHIFT_LOAD_PLUGINS", "clash")
    assert Registry(entry_points=[GOOD, CLASH]).names() == ["foo"]


def test_installed_registry_has_builtins(registry: Registry) -> None:
    import tomllib
    from pathlib import Path

    meta = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    builtins = set(meta["project"]["entry-points"]["memshift"])
    assert {"canonical"} <= set(registry.names())
    for info in registry.formats():
        if info.plugin in builtins:
            assert info.distribution == "memshift", info
