"""A fast start: `tierbook --help`, a command's --help and a bad argument load no heavy
module (pandas, pyarrow, openpyxl, fastexcel); checked on sys.modules, not with a timer."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("pandas", "numpy", "pyarrow", "openpyxl", "fastexcel", "xlwings")

PROBE = """
import json, sys
from tierbook.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
print(json.dumps({"code": code, "loaded": sorted(m for m in %r if m in sys.modules)}), file=sys.stderr)
""" % (HEAVY,)


def start(*args: str) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120)
    return json.loads(done.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize("args", [
    ("--help",), ("segment", "--help"), ("demo", "--help"), ("split", "--help"), ("send", "--help"),
    ("serve", "--help"), ("reactivation", "plan", "--help"), ("addin", "install", "--help"),
])
def test_help_loads_no_heavy_module(args):
    got = start(*args)
    assert got == {"code": 0, "loaded": []}


@pytest.mark.parametrize("args", [("segment",), ("serve", "--port", "eighty"), ("nonsense",),
                                  ("segment", "x.xlsx", "--out", "y.xlsx", "--criterion", "vibes")])
def test_a_bad_argument_loads_no_heavy_module(args):
    got = start(*args)
    assert got == {"code": 2, "loaded": []}


def test_import_tierbook_loads_no_heavy_module_and_keeps_the_segment_function():
    probe = ("import sys, tierbook; loaded = [m for m in %r if m in sys.modules]; "
             "import tierbook.segment as engine_module, tierbook.jobs; "
             "print(loaded, callable(tierbook.segment), tierbook.segment.__module__)" % (HEAVY,))
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "[] True tierbook"
