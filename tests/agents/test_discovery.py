from __future__ import annotations

from pathlib import Path

import pytest

from baton.agents import AgentRegistry, agent
from baton.agents.discovery import discover


@agent(description="A built-in for the test.")
async def builtin_one() -> int:
    return 1


PLUGIN = """
from baton.agents import agent

@agent(description="Reverse a text.")
async def reverse(text: str) -> str:
    return text[::-1]

_private = reverse  # underscore names are not scanned twice
"""


def test_builtins_and_plugin_files_are_found(tmp_path: Path) -> None:
    (tmp_path / "reverse.py").write_text(PLUGIN)
    (tmp_path / "broken.py").write_text("raise RuntimeError('bad plugin')\n")
    (tmp_path / "notes.txt").write_text("not python")
    registry = AgentRegistry()
    report = discover(registry, builtins=[builtin_one], plugin_dirs=[tmp_path], entry_points=False)
    assert registry.names() == ["builtin_one", "reverse"]
    assert report.found["reverse"].startswith("plugin:")
    assert report.found["builtin_one"] == "builtin"
    assert len(report.errors) == 1
    assert "broken.py" in report.errors[0]
    assert "bad plugin" in report.errors[0]


def test_a_plugin_clashing_with_a_builtin_is_reported_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "clash.py").write_text(
        "from baton.agents import agent\n"
        "@agent(name='builtin_one', description='x')\n"
        "async def f() -> int:\n    return 2\n"
    )
    registry = AgentRegistry()
    report = discover(registry, builtins=[builtin_one], plugin_dirs=[tmp_path], entry_points=False)
    assert registry.entry("builtin_one").source == "builtin"
    assert "already registered" in report.errors[0]


def test_missing_plugin_folder_is_fine(tmp_path: Path) -> None:
    registry = AgentRegistry()
    report = discover(registry, plugin_dirs=[tmp_path / "nope"], entry_points=False)
    assert report.errors == []
    assert len(registry) == 0


def test_entry_points_are_loaded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import importlib.metadata as md

    (tmp_path / "my_baton_pkg.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    ep = md.EntryPoint(name="mine", value="my_baton_pkg:reverse", group="baton.agents")
    bad = md.EntryPoint(name="bad", value="no_such_module:thing", group="baton.agents")

    def fake_entry_points(*, group: str) -> list[md.EntryPoint]:
        assert group == "baton.agents"
        return [ep, bad]

    monkeypatch.setattr(md, "entry_points", fake_entry_points)
    registry = AgentRegistry()
    report = discover(registry)
    assert registry.names() == ["reverse"]
    assert report.found["reverse"].startswith("entry-point:")
    assert "no_such_module" in report.errors[0]
