"""Fixtures shared by the test modules."""

from __future__ import annotations

from pathlib import Path

import pytest

from tierbook import jobs
from tierbook.demo import demo_path


@pytest.fixture(scope="session")
def cli_file(tmp_path_factory) -> Path:
    """`tierbook segment` of the demo export: the file the ribbon's book is compared with
    (read only; a test that changes it works on a copy)."""
    out = tmp_path_factory.mktemp("cli") / "tierbook.xlsx"
    jobs.segment_file(demo_path(), out)
    return out


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def chromium(tmp_path):
    """A headless Debian chromium with a fresh profile, driven by Playwright (the test
    extra; never its own browser download): a Playwright browser context."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is needed (scripts/test.sh installs it)"
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, accept_downloads=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"])
        try:
            yield context
        finally:
            context.close()
