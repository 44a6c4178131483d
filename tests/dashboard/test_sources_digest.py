"""`sources_digest`: what counts as a source of the dashboard's build, and what does not."""

from __future__ import annotations

import json
from pathlib import Path

from baton.dashboard import MANIFEST_NAME, STATIC_DIR, source_files, sources_digest

REPO = Path(__file__).resolve().parents[2]


def _frontend(root: Path) -> Path:
    for rel, text in {
        "index.html": "<div id=root></div>",
        "package.json": "{}",
        "package-lock.json": "{}",
        "vite.config.ts": "export default {}",
        "tsconfig.json": "{}",
        "tsconfig.node.json": "{}",
        "src/main.tsx": "render()",
        "src/lib/api.ts": "export {}",
        "node_modules/react/index.js": "ignored",
        "README.md": "ignored",
    }.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_sources_are_src_and_the_build_configuration(tmp_path: Path) -> None:
    assert source_files(_frontend(tmp_path)) == [
        "index.html",
        "package-lock.json",
        "package.json",
        "src/lib/api.ts",
        "src/main.tsx",
        "tsconfig.json",
        "tsconfig.node.json",
        "vite.config.ts",
    ]


def test_a_change_to_a_source_changes_the_digest(tmp_path: Path) -> None:
    root = _frontend(tmp_path)
    before = sources_digest(root)
    assert sources_digest(root) == before
    (root / "src/main.tsx").write_text("render(2)")
    assert sources_digest(root) != before


def test_moving_content_between_files_changes_the_digest(tmp_path: Path) -> None:
    root = _frontend(tmp_path)
    (root / "src/lib/api.ts").write_text("ab")
    (root / "src/main.tsx").write_text("c")
    before = sources_digest(root)
    (root / "src/lib/api.ts").write_text("a")
    (root / "src/main.tsx").write_text("bc")
    assert sources_digest(root) != before


def test_installed_packages_and_other_files_do_not_count(tmp_path: Path) -> None:
    root = _frontend(tmp_path)
    before = sources_digest(root)
    (root / "node_modules/react/index.js").write_text("changed")
    (root / "README.md").write_text("changed")
    assert sources_digest(root) == before


def test_the_committed_build_lists_the_sources_it_was_built_from() -> None:
    manifest = json.loads((STATIC_DIR / MANIFEST_NAME).read_text())
    assert manifest["files"] == source_files(REPO / "frontend")
