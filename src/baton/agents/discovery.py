"""Tool discovery: find agents in the built-ins, installed packages and a plugins folder.

- Installed packages declare agents under the ``baton.agents`` entry-point group; an entry
  point may load an agent, a list of agents, or a zero-argument callable returning either.
- A plugins folder: every ``*.py`` file in it is imported and its module-level agents are
  registered (the seed's "drop a file into the agents folder and it is found").

A broken plugin never stops baton: its error is reported in `DiscoveryReport.errors`.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from baton.agents.protocol import Agent
from baton.agents.registry import AgentRegistry
from baton.errors import BatonError

ENTRY_POINT_GROUP = "baton.agents"


@dataclass(slots=True)
class DiscoveryReport:
    """What discovery found and what went wrong."""

    found: dict[str, str] = field(default_factory=dict[str, str])
    """Agent name -> source."""
    errors: list[str] = field(default_factory=list[str])
    """One line per plugin or entry point that could not be loaded."""


def discover(
    registry: AgentRegistry,
    *,
    builtins: Iterable[Agent] = (),
    plugin_dirs: Iterable[Path] = (),
    entry_points: bool = True,
) -> DiscoveryReport:
    """Register every agent found; return what was found and what failed."""
    report = DiscoveryReport()
    _register(registry, builtins, "builtin", report)
    if entry_points:
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            source = f"entry-point:{ep.dist.name if ep.dist else '?'}:{ep.name}"
            try:
                agents = _agents_of(ep.load())
            except Exception as exc:
                report.errors.append(f"{source}: could not load: {type(exc).__name__}: {exc}")
                continue
            _register(registry, agents, source, report)
    for folder in plugin_dirs:
        for path in sorted(folder.glob("*.py")) if folder.is_dir() else []:
            source = f"plugin:{path}"
            try:
                agents = _agents_in_file(path)
            except Exception as exc:
                report.errors.append(f"{source}: could not import: {type(exc).__name__}: {exc}")
                continue
            _register(registry, agents, source, report)
    return report


def _register(
    registry: AgentRegistry, agents: Iterable[Agent], source: str, report: DiscoveryReport
) -> None:
    for agent in agents:
        try:
            registry.register(agent, source=source)
        except BatonError as exc:
            report.errors.append(f"{source}: {exc.message}")
            continue
        report.found[agent.spec.name] = source


def _agents_of(obj: Any) -> list[Agent]:
    if isinstance(obj, Agent):
        return [obj]
    if isinstance(obj, list | tuple):
        return [a for a in obj if isinstance(a, Agent)]  # pyright: ignore[reportUnknownVariableType]
    if callable(obj):
        return _agents_of(obj())
    raise TypeError(f"expected an agent, a list of agents or a factory, got {type(obj).__name__}")


def _agents_in_file(path: Path) -> list[Agent]:
    name = f"baton_plugin_{path.stem}_{abs(hash(str(path.resolve()))):x}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return [v for k, v in vars(module).items() if not k.startswith("_") and isinstance(v, Agent)]
