"""Path confinement and atomic writes shared by the agents that touch files.

Every path a request names is resolved against the workspace and refused, with the reason,
when it would reach outside it: ``..`` climbing out, an absolute path elsewhere, a home-folder
path, or a symbolic link pointing out. The functions here are blocking; agents call them
through `anyio.to_thread.run_sync`.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from baton.errors import AgentInputError

MAX_READ_BYTES = 10 * 1024 * 1024
"""Largest file the file and data agents read into memory."""

_HINT = "use a path relative to the workspace, without '..'"


def confine(workspace: Path, path: str | Path) -> Path:
    """Resolve `path` inside `workspace` (symlinks followed) or refuse it.

    Args:
        workspace: The folder agents are confined to (need not exist yet).
        path: Relative to the workspace, or absolute but inside it.

    Returns:
        The resolved absolute path, guaranteed to lie inside the resolved workspace.

    Raises:
        AgentInputError: The path is empty or reaches outside the workspace; the message
            says which path was refused and why.
    """
    raw = str(path).strip()
    if not raw or "\x00" in raw:
        raise AgentInputError(f"refused path {raw!r}: it is empty or contains a NUL byte")
    root = workspace.resolve()
    if raw == "~" or raw.startswith("~/"):
        raise AgentInputError(
            f"refused path {raw!r}: it points into a home folder, outside the workspace {root}",
            hint=_HINT,
        )
    given = Path(raw)
    if given.is_absolute():
        lexical = Path(os.path.normpath(given))
        # Accept the workspace as spelled too (it may sit behind a symlink, e.g. /tmp on macOS).
        spelled = Path(os.path.abspath(workspace))
        if not (lexical.is_relative_to(root) or lexical.is_relative_to(spelled)):
            raise AgentInputError(
                f"refused path {raw!r}: it is an absolute path outside the workspace {root}",
                hint=_HINT,
            )
    else:
        lexical = Path(os.path.normpath(root / given))
        if not lexical.is_relative_to(root):
            raise AgentInputError(
                f"refused path {raw!r}: '..' climbs out of the workspace {root}", hint=_HINT
            )
    resolved = lexical.resolve()
    if not resolved.is_relative_to(root):
        raise AgentInputError(
            f"refused path {raw!r}: a symbolic link in it points outside the workspace "
            f"(it resolves to {resolved})",
            hint="copy the file into the workspace instead of linking to it",
        )
    return resolved


def relative_name(workspace: Path, path: Path) -> str:
    """`path` relative to the workspace, POSIX-style (``"."`` for the workspace itself)."""
    return path.relative_to(workspace.resolve()).as_posix() or "."


def read_bytes(workspace: Path, path: Path, max_bytes: int = MAX_READ_BYTES) -> bytes:
    """Read a confined regular file, refusing folders, missing files and files over `max_bytes`.

    Raises:
        AgentInputError: The file is missing, a folder, or too large.
    """
    name = relative_name(workspace, path)
    if not path.exists():
        raise AgentInputError(f"no file {name!r} in the workspace", hint=_siblings_hint(path))
    if path.is_dir():
        raise AgentInputError(f"{name!r} is a folder, not a file", hint="list it with files.list")
    size = path.stat().st_size
    if size > max_bytes:
        raise AgentInputError(f"{name!r} is {size} bytes, more than the {max_bytes} allowed")
    # O_NOFOLLOW: if the last component was swapped for a symlink since `confine` checked it,
    # the open fails instead of reading outside the workspace.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as f:
        return f.read(max_bytes + 1)[:max_bytes]


def _siblings_hint(path: Path) -> str | None:
    parent = path.parent
    if not parent.is_dir():
        return None
    names = sorted(p.name for p in parent.iterdir() if not p.name.startswith("."))[:10]
    return ("files there: " + ", ".join(names)) if names else "that folder is empty"


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file and `os.replace`.

    A crash leaves either the old file or the new one, never half of either. Parent folders are
    created. The new file keeps the old one's permissions, or gets 0o644.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
