"""Screenshots of the pages, at the size of the browser's window: always into test-artifacts/, and
into docs/screenshots/ (the ones the README and docs/console.md show) when WABOT_DOCS_SCREENSHOTS
is set, so that an ordinary test run leaves the committed pictures alone:

    WABOT_DOCS_SCREENSHOTS=1 python3 -m pytest tests/browser
"""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
DOCS = ROOT / "docs" / "screenshots"


def viewport_screenshot(page, name: str) -> Path:
    """`name`.png of what the window shows (not the whole page: the committed files stay small)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    if os.environ.get("WABOT_DOCS_SCREENSHOTS"):
        DOCS.mkdir(parents=True, exist_ok=True)
        (DOCS / f"{name}.png").write_bytes(path.read_bytes())
    return path
