"""The command line: Typer commands over `baton.app.Baton`, rendered with Rich."""

from baton.cli.main import app as app
from baton.cli.main import main as main

__all__ = ["app", "main"]
