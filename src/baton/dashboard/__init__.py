"""The web dashboard's built assets, and the digest that tells whether they are current.

The frontend's sources live in ``frontend/`` (React + TypeScript + Vite);
``scripts/build-dashboard`` builds them into `STATIC_DIR`, which is committed and shipped
inside the Python package, so ``pip install`` needs no Node. The build also writes
``build-manifest.json`` holding `sources_digest` of the sources it was built from, so a test
can tell, without Node, that the committed build is stale against its sources.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["MANIFEST_NAME", "STATIC_DIR", "source_files", "sources_digest"]

STATIC_DIR = Path(__file__).parent / "static"
"""Where the built dashboard is (``index.html`` and ``assets/``)."""

MANIFEST_NAME = "build-manifest.json"
"""The build's record in `STATIC_DIR`: ``{"sources_sha256": ..., "files": [...]}``."""

_TOP_FILES = ("index.html", "package.json", "package-lock.json", "vite.config.ts")


def source_files(frontend_dir: Path) -> list[str]:
    """The frontend's source files the build depends on, relative POSIX paths, sorted.

    Everything under ``src/``, and ``index.html``, ``package.json``, ``package-lock.json``,
    ``vite.config.ts`` and ``tsconfig*.json`` at the top (those that exist).
    """
    found: list[str] = []
    src = frontend_dir / "src"
    if src.is_dir():
        found.extend(p.relative_to(frontend_dir).as_posix() for p in src.rglob("*") if p.is_file())
    found.extend(name for name in _TOP_FILES if (frontend_dir / name).is_file())
    found.extend(p.name for p in frontend_dir.glob("tsconfig*.json") if p.is_file())
    # Sorted by the UTF-8 bytes of the path, as the build script sorts them.
    return sorted(set(found), key=lambda p: p.encode())


def sources_digest(frontend_dir: Path) -> str:
    """SHA-256 (hex) over the sorted source paths and their contents.

    Each file adds its path, a newline, its size in bytes, a newline, then its content; the
    size makes the boundaries unambiguous. ``scripts/build-dashboard`` computes the same
    digest (``frontend/scripts/sources-digest.mjs``) and records it.

    Raises:
        FileNotFoundError: `frontend_dir` is not a directory.
    """
    if not frontend_dir.is_dir():
        raise FileNotFoundError(f"no frontend sources at {frontend_dir}")
    digest = hashlib.sha256()
    for rel in source_files(frontend_dir):
        content = (frontend_dir / rel).read_bytes()
        digest.update(f"{rel}\n{len(content)}\n".encode())
        digest.update(content)
    return digest.hexdigest()
