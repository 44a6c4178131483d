"""The committed dashboard build matches its sources (no Node needed to check)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from baton.dashboard import MANIFEST_NAME, STATIC_DIR, sources_digest

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"


def test_the_committed_build_is_current_with_its_sources() -> None:
    manifest = json.loads((STATIC_DIR / MANIFEST_NAME).read_text())
    assert manifest["sources_sha256"] == sources_digest(FRONTEND), (
        "src/baton/dashboard/static is stale against frontend/: run scripts/build-dashboard "
        "and commit the result"
    )


def test_the_page_loads_only_assets_that_ship() -> None:
    index = (STATIC_DIR / "index.html").read_text()
    referenced = re.findall(r'(?:src|href)="/?(assets/[^"]+)"', index)
    assert referenced, "index.html references no built asset"
    for asset in referenced:
        assert (STATIC_DIR / asset).is_file(), f"index.html loads {asset}, which is not built"
