"""Headless Debian Chromium driven by Playwright, for the end-to-end tests (skipped, with the reason,
only where /usr/bin/chromium is absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("QUHUA_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("QUHUA_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"))
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]

requires_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                       reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)")


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium per test module (import this fixture into a module that needs it)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()
