"""Starting baton stays cheap: heavy libraries load only when something needs them.

Every CLI command, and every crash-recovery child process, imports the engine; the model
SDKs (about five seconds to import) must wait until a model is configured, and the engine
itself opens SQLAlchemy only with a database.
"""

from __future__ import annotations

import subprocess
import sys

MODEL_SDKS = ("pydantic_ai", "openai", "anthropic", "google.genai")


def _loaded_after(module: str, candidates: tuple[str, ...]) -> list[str]:
    code = f"import sys, {module}; print(' '.join(m for m in {candidates!r} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return out.stdout.split()


def test_the_engine_imports_no_model_sdk_and_no_sqlalchemy() -> None:
    assert _loaded_after("baton.app", (*MODEL_SDKS, "sqlalchemy")) == []


def test_the_cli_imports_no_model_sdk() -> None:
    assert _loaded_after("baton.cli.main", MODEL_SDKS) == []
