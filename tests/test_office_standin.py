"""The strict Excel (Office.js) stand-in's node tests (tests/js/standin.test.js, and
tests/js/check.test.js for the task pane's Check this Excel) and the type check of the ribbon
client and check.js against Microsoft's Office.js types (tsconfig.json).

Both need node and the npm packages of package.json (scripts/test.sh runs `npm ci` when
node_modules is missing); without them these tests fail, they do not skip.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _node_env():
    env = dict(os.environ)
    # xlwings_client.js asks this Python where xlwings_server is installed
    env.setdefault("XLWINGS_SERVER_DIR", str(Path(__import__("xlwings_server").__file__).parent))
    return env


def _require(tool):
    path = shutil.which(tool)
    assert path, f"{tool} is not installed (scripts/test.sh installs nodejs from Debian)"
    assert (ROOT / "node_modules" / "@types" / "office-js" / "index.d.ts").exists(), (
        "node_modules is missing: run `npm ci --no-audit --no-fund` at the repository root"
    )
    return path


def test_excel_standin_node_tests():
    node = _require("node")
    result = subprocess.run(
        [node, "--test", "tests/js/"], cwd=ROOT, env=_node_env(), capture_output=True, text=True, timeout=300
    )
    sys.stdout.write(result.stdout[-4000:])
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-4000:]
    assert "# fail 0" in result.stdout
    # node --test runs every *.test.js of tests/js: the stand-in's and Check this Excel's (check.test.js)
    assert "ExcelApi 1.8 without LAMBDA" in result.stdout, "tests/js/check.test.js did not run"


def test_ribbon_type_check():
    _require("node")
    tsc = ROOT / "node_modules" / ".bin" / "tsc"
    assert tsc.exists(), "typescript is missing from node_modules: run `npm ci`"
    result = subprocess.run([str(tsc), "-p", "tsconfig.json"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
