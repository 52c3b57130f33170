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
